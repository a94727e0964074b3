//! How many connections the process can hold: its soft limit on open files, less a reserve
//! for everything else a node opens (database and Redis connections, the SQLite files, logs,
//! refused connections that linger for their answer).

/// The soft `RLIMIT_NOFILE` of this process, when the platform has one.
pub fn soft_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raise the soft file limit to the hard one (as Go's runtime does at start): a node's
/// sockets are files. Returns the soft limit afterwards.
pub fn raise_soft_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let lim = getrlimit(Resource::Nofile);
        if lim.current < lim.maximum {
            let raised = rustix::process::Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::debug!(error = %e, "could not raise the open-file limit");
            }
        }
    }
    soft_file_limit()
}

/// Files kept free of WebSockets for plain HTTP, the database pool, Redis and logs.
const WS_HEADROOM: u64 = 1024;

/// The WebSocket limit that fits `soft_limit` (`limits.max_connections`, lowered).
pub fn websocket_cap(configured: usize, soft_limit: Option<u64>) -> usize {
    match soft_limit {
        Some(files) => {
            let fits = files.saturating_sub(WS_HEADROOM).max(files / 2).max(1);
            configured.min(usize::try_from(fits).unwrap_or(usize::MAX))
        }
        None => configured,
    }
}

/// Files kept free for things other than HTTP connections: a quarter of the limit, at most
/// this many.
const MAX_RESERVE: u64 = 256;

/// The connection cap actually enforced: the configured one, lowered to what `soft_limit`
/// leaves after the reserve (never below 1).
pub fn connection_cap(configured: usize, soft_limit: Option<u64>) -> usize {
    match soft_limit {
        None => configured,
        Some(limit) => {
            let usable = limit - (limit / 4).min(MAX_RESERVE);
            let usable = usize::try_from(usable).unwrap_or(usize::MAX);
            configured.min(usable).max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_websocket_cap_leaves_headroom() {
        use super::websocket_cap;
        assert_eq!(websocket_cap(100_000, Some(20_000)), 18_976);
        assert_eq!(websocket_cap(100_000, Some(1024)), 512);
        assert_eq!(websocket_cap(500, Some(1_048_576)), 500);
        assert_eq!(websocket_cap(500, None), 500);
    }

    use super::*;

    #[test]
    fn the_cap_leaves_a_reserve_below_the_file_limit() {
        assert_eq!(connection_cap(20_000, Some(20_000)), 19_744);
        assert_eq!(connection_cap(20_000, Some(1024)), 768);
        assert_eq!(connection_cap(100, Some(1024)), 100);
        assert_eq!(connection_cap(20_000, Some(1)), 1);
        assert_eq!(connection_cap(20_000, None), 20_000);
        assert_eq!(connection_cap(20_000, Some(u64::MAX)), 20_000);
    }

    #[test]
    fn this_process_has_a_limit() {
        if cfg!(unix) {
            assert!(soft_file_limit().is_some_and(|l| l > 0));
        }
    }
}
