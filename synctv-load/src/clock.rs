//! The one clock every send and receive time is read from. Publishers and subscribers run
//! in this one process, so latency is a difference of two readings of the same clock: no
//! clock sync is involved. Readings are nanoseconds on a wall-clock scale (Unix time when
//! the process started plus monotonic time since), so they never go backwards and still
//! read as a plausible timestamp in a chat text.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    instant: Instant,
    unix_ns: u64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        instant: Instant::now(),
        unix_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    })
}

/// Now, in nanoseconds (monotonic within the process).
pub fn now_ns() -> u64 {
    let a = anchor();
    a.unix_ns + a.instant.elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_unix_scaled() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
        // After 2020 and before 2100.
        assert!(a > 1_577_836_800_000_000_000 && a < 4_102_444_800_000_000_000);
    }
}
