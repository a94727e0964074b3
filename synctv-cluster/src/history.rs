//! A room's replay history (in-process broker): the last `size` events, each kept at most
//! `ttl_ms`. Entries hold the exact frames live clients received, so a replay is
//! byte-identical.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy)]
pub struct HistoryLimits {
    pub size: usize,
    pub ttl_ms: u64,
}

#[derive(Debug)]
pub struct History<T> {
    entries: VecDeque<(u64, u64, T)>,
    limits: HistoryLimits,
}

impl<T: Clone> History<T> {
    pub fn new(limits: HistoryLimits) -> Self {
        Self {
            entries: VecDeque::new(),
            limits,
        }
    }

    /// Append the entry of `seq` (seqs arrive consecutively) sent at `ts_ms`.
    pub fn push(&mut self, seq: u64, ts_ms: u64, item: T) {
        self.entries.push_back((seq, ts_ms, item));
        while self.entries.len() > self.limits.size {
            self.entries.pop_front();
        }
    }

    /// Drop entries older than the TTL.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some((_, ts, _)) = self.entries.front() {
            if ts.saturating_add(self.limits.ttl_ms) >= now_ms {
                break;
            }
            self.entries.pop_front();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries with `since < seq <= upto`, if every one of them is still retained.
    pub fn range(&self, since: u64, upto: u64) -> Option<Vec<T>> {
        if since >= upto {
            return (since == upto).then(Vec::new);
        }
        let first = self.entries.front()?.0;
        let last = self.entries.back()?.0;
        if since + 1 < first || upto > last {
            return None;
        }
        let start = usize::try_from(since + 1 - first).ok()?;
        let count = usize::try_from(upto - since).ok()?;
        Some(
            self.entries
                .iter()
                .skip(start)
                .take(count)
                .map(|(_, _, f)| f.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn history(size: usize, ttl_ms: u64) -> History<Bytes> {
        History::new(HistoryLimits { size, ttl_ms })
    }

    fn frames(v: &[Bytes]) -> Vec<String> {
        v.iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn range_returns_exactly_the_missed_frames() {
        let mut h = history(10, 1000);
        for s in 1..=5 {
            h.push(s, 0, Bytes::from(format!("{s}")));
        }
        assert_eq!(frames(&h.range(2, 5).unwrap()), ["3", "4", "5"]);
        assert_eq!(frames(&h.range(0, 5).unwrap()), ["1", "2", "3", "4", "5"]);
        assert_eq!(h.range(5, 5).unwrap().len(), 0);
        assert_eq!(frames(&h.range(1, 3).unwrap()), ["2", "3"]);
        assert!(
            h.range(6, 5).is_none(),
            "a client ahead of the server cannot resume"
        );
        assert!(h.range(4, 9).is_none(), "cannot replay what was not sent");
    }

    #[test]
    fn size_bound_makes_old_points_unresumable() {
        let mut h = history(3, 1000);
        for s in 1..=5 {
            h.push(s, 0, Bytes::from(format!("{s}")));
        }
        assert_eq!(h.len(), 3);
        assert!(h.range(1, 5).is_none());
        assert_eq!(frames(&h.range(2, 5).unwrap()), ["3", "4", "5"]);
    }

    #[test]
    fn ttl_expires_old_frames() {
        let mut h = history(10, 100);
        h.push(1, 0, Bytes::from_static(b"1"));
        h.push(2, 50, Bytes::from_static(b"2"));
        h.expire(120);
        assert_eq!(h.len(), 1);
        assert!(h.range(0, 2).is_none());
        assert_eq!(frames(&h.range(1, 2).unwrap()), ["2"]);
        h.expire(1000);
        assert!(h.is_empty());
        assert!(h.range(1, 2).is_none());
    }
}
