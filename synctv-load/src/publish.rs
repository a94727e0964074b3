//! A publisher: chat frames at a fixed rate, each stamped with its send time. Ticks are
//! scheduled on an absolute timeline (not "sleep a period after each send") so the rate
//! does not drift; publishers start at staggered offsets within one period, so rooms do not
//! all fire in the same instant (that burst would measure the tool, not the hop). A tick
//! that comes more than a period late is counted and skipped rather than sent in a burst.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::SinkExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::clock::now_ns;
use crate::frame;
use crate::member::Sink;
use crate::stats::Stats;

pub struct Schedule {
    pub period: Duration,
    /// First tick.
    pub first: Instant,
    /// No tick at or after this.
    pub stop: Instant,
}

impl Schedule {
    /// Publisher `k` of `n`, all starting at `start` at `rate` frames per second each.
    pub fn staggered(rate: f64, k: usize, n: usize, start: Instant, stop: Instant) -> Self {
        let period = Duration::from_secs_f64(1.0 / rate);
        let offset = period.mul_f64(k as f64 / n.max(1) as f64);
        Self {
            period,
            first: start + offset,
            stop,
        }
    }
}

/// Publish until the schedule ends (or the socket fails); `others` members should receive
/// each frame.
pub async fn run(sink: &mut Sink, s: Schedule, others: u64, stats: Arc<Stats>) {
    let mut tick: u32 = 0;
    loop {
        let at = s.first + s.period * tick;
        if at >= s.stop {
            return;
        }
        tokio::time::sleep_until(at).await;
        let send_ns = now_ns();
        if let Err(e) = sink.send(Message::text(frame::chat(send_ns))).await {
            stats.error(format!("send failed: {e}"));
            return;
        }
        stats.on_sent(send_ns, others);
        tick += 1;
        let now = Instant::now();
        let next = s.first + s.period * tick;
        if now > next + s.period {
            stats.late_sends.fetch_add(1, Relaxed);
            // Skip what was missed; sending it now would be a burst the rate never asked for.
            let behind = (now - s.first).as_secs_f64() / s.period.as_secs_f64();
            tick = behind.ceil() as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staggered_offsets_spread_over_one_period() {
        let start = Instant::now();
        let stop = start + Duration::from_secs(1);
        let a = Schedule::staggered(10.0, 0, 4, start, stop);
        let b = Schedule::staggered(10.0, 2, 4, start, stop);
        assert_eq!(a.period, Duration::from_millis(100));
        assert_eq!(a.first, start);
        assert_eq!(b.first - start, Duration::from_millis(50));
    }
}
