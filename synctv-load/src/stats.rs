//! What the members observe, shared by all of them: latency histograms, counters and the
//! measurement window. Recording is a few atomic adds and one short, uncontended lock of a
//! histogram shard, so measuring does not become the bottleneck it measures.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hdrhistogram::Histogram;

/// Latencies up to a minute, in nanoseconds, at three significant digits.
const MAX_NS: u64 = 60_000_000_000;

/// A histogram split into shards (members pick one by their index), merged for the report.
pub struct Latencies {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Latencies {
    fn new(shards: usize) -> Self {
        let h = Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds");
        Self {
            shards: (0..shards.max(1)).map(|_| Mutex::new(h.clone())).collect(),
        }
    }

    pub fn record(&self, shard: usize, ns: u64) {
        let mut h = self.shards[shard % self.shards.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        h.saturating_record(ns.max(1));
    }

    pub fn merged(&self) -> Histogram<u64> {
        let mut out = Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds");
        for s in &self.shards {
            let h = s.lock().unwrap_or_else(|p| p.into_inner());
            out.add(&*h).expect("same bounds");
        }
        out
    }
}

/// Everything the run counts. Counters cover the whole publishing time (warmup included)
/// unless they say "measured".
pub struct Stats {
    /// Deliveries of a chat frame to a member other than its sender.
    pub remote: Latencies,
    /// A publisher receiving its own chat frame back (the origin node's local path).
    pub echo: Latencies,
    window_from_ns: AtomicU64,
    window_until_ns: AtomicU64,
    pub sent: AtomicU64,
    pub sent_measured: AtomicU64,
    /// Deliveries to other members that were owed (sent x other members of the room).
    pub expected: AtomicU64,
    pub delivered: AtomicU64,
    pub gaps: AtomicU64,
    pub duplicates: AtomicU64,
    /// Welcomes after the first one (the node resynced the member).
    pub resyncs: AtomicU64,
    pub unexpected_closes: AtomicU64,
    /// Publisher ticks that came more than a period late (the tool itself was starved).
    pub late_sends: AtomicU64,
    /// Error frames by code, failed sends, close codes.
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn new(shards: usize) -> Self {
        Self {
            remote: Latencies::new(shards),
            echo: Latencies::new(shards),
            window_from_ns: AtomicU64::new(u64::MAX),
            window_until_ns: AtomicU64::new(u64::MAX),
            sent: AtomicU64::new(0),
            sent_measured: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            unexpected_closes: AtomicU64::new(0),
            late_sends: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    /// Frames sent in `[from, until)` (by their send time) are the measured ones.
    pub fn set_window(&self, from_ns: u64, until_ns: u64) {
        self.window_from_ns.store(from_ns, Relaxed);
        self.window_until_ns.store(until_ns, Relaxed);
    }

    pub fn in_window(&self, send_ns: u64) -> bool {
        send_ns >= self.window_from_ns.load(Relaxed) && send_ns < self.window_until_ns.load(Relaxed)
    }

    /// A publisher sent a chat frame that `others` members should receive.
    pub fn on_sent(&self, send_ns: u64, others: u64) {
        self.sent.fetch_add(1, Relaxed);
        self.expected.fetch_add(others, Relaxed);
        if self.in_window(send_ns) {
            self.sent_measured.fetch_add(1, Relaxed);
        }
    }

    /// A member received one of our chat frames.
    pub fn on_chat(&self, shard: usize, send_ns: u64, recv_ns: u64, own: bool) {
        if !own {
            self.delivered.fetch_add(1, Relaxed);
        }
        if self.in_window(send_ns) {
            let h = if own { &self.echo } else { &self.remote };
            h.record(shard, recv_ns.saturating_sub(send_ns));
        }
    }

    pub fn error(&self, what: impl Into<String>) {
        let mut m = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(what.into()).or_insert(0) += 1;
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_window_is_timed_but_everything_is_counted() {
        let s = Stats::new(4);
        s.set_window(100, 200);
        s.on_sent(50, 3);
        s.on_sent(150, 3);
        s.on_chat(0, 50, 60, false);
        s.on_chat(1, 150, 1_150, false);
        s.on_chat(2, 150, 2_150, false);
        s.on_chat(3, 150, 160, true);
        assert_eq!(s.sent.load(Relaxed), 2);
        assert_eq!(s.sent_measured.load(Relaxed), 1);
        assert_eq!(s.expected.load(Relaxed), 6);
        assert_eq!(s.delivered.load(Relaxed), 3);
        let r = s.remote.merged();
        assert_eq!(r.len(), 2);
        assert!(r.max() >= 2_000 && r.min() <= 1_001);
        assert_eq!(s.echo.merged().len(), 1);
    }
}
