//! `MessageDeduplicator`: the ids of events this node sent recently, so that their echo from
//! Redis is recognized and dropped without decoding it. An LRU bounded in size, whose
//! entries also expire after a time window (`redis.dedup_window_secs`): an echo arrives
//! within milliseconds, and memory stays bounded under any publish rate.
//!
//! Dropping the echo is an optimization and a signal, not what makes delivery exactly-once:
//! the hub drops anything at or below a room's applied `seq` as well.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use synctv_core::ids::EventId;

pub struct MessageDeduplicator {
    seen: Mutex<LruCache<EventId, u64>>,
    window_ms: u64,
}

impl MessageDeduplicator {
    pub fn new(capacity: usize, window_ms: u64) -> Self {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            seen: Mutex::new(LruCache::new(cap)),
            window_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<EventId, u64>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remember that this node sent `id` at `now_ms`.
    pub fn sent(&self, id: &EventId, now_ms: u64) {
        self.lock().put(id.clone(), now_ms);
    }

    /// Forget `id` (its publish failed: an echo, if any, must not be dropped).
    pub fn forget(&self, id: &EventId) {
        self.lock().pop(id);
    }

    /// Whether `id` is this node's own event, sent within the window; the entry is consumed
    /// (each event echoes once).
    pub fn is_own(&self, id: &str, now_ms: u64) -> bool {
        let mut seen = self.lock();
        match seen.pop(id) {
            Some(at) => now_ms.saturating_sub(at) <= self.window_ms,
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_ids_are_recognized_once_within_the_window() {
        let d = MessageDeduplicator::new(10, 1000);
        let id = EventId::from("e1");
        d.sent(&id, 100);
        assert!(!d.is_own("other", 100));
        assert!(d.is_own("e1", 500));
        assert!(!d.is_own("e1", 500), "an echo is dropped once");
        d.sent(&id, 100);
        assert!(!d.is_own("e1", 5000), "too old for the window");
    }

    #[test]
    fn capacity_bounds_memory() {
        let d = MessageDeduplicator::new(2, 1000);
        for i in 0..5 {
            d.sent(&EventId::from(format!("e{i}")), 0);
        }
        assert_eq!(d.len(), 2);
        assert!(d.is_own("e4", 0));
        assert!(!d.is_own("e0", 0));
    }
}
