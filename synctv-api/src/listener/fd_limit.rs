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
