//! The process's file limit bounds how many sockets a node can hold: every WebSocket and
//! every HTTP connection is a file. At start the soft limit is raised to the hard limit (as
//! Go's runtime does), and `limits.max_connections` is lowered to what then fits, leaving
//! room for HTTP connections, the database pool, Redis and log files, so the node refuses
//! the next socket with a clear 503 instead of failing `accept` for everyone.

/// Files kept free of WebSockets for everything else.
const HEADROOM: u64 = 1024;

/// Raise the soft file limit as far as allowed; the soft limit afterwards (None when it
/// cannot be read, or is unlimited).
pub fn raise() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
    }
}

/// The connection limit that fits `file_limit`.
pub fn effective_max_connections(configured: usize, file_limit: Option<u64>) -> usize {
    match file_limit {
        Some(files) => {
            let fits = files.saturating_sub(HEADROOM).max(files / 2).max(1);
            configured.min(usize::try_from(fits).unwrap_or(usize::MAX))
        }
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_leaves_headroom() {
        assert_eq!(effective_max_connections(100_000, Some(20_000)), 18_976);
        assert_eq!(effective_max_connections(100_000, Some(1024)), 512);
        assert_eq!(effective_max_connections(500, Some(1_048_576)), 500);
        assert_eq!(effective_max_connections(500, None), 500);
    }
}
