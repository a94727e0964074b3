//! `MetaCache`: what a node caches of room metadata (room rows with settings and password
//! hash, members' roles) so that access checks do not hit the database on every socket and
//! request. Bounded (LRU) and short-lived (TTL); every change invalidates the entry on every
//! node at once through the broker's broadcast channel (`cache_invalidate`, or `cache_clear`
//! after a subscription loss, when invalidations may have been missed).
//!
//! A load that started before an invalidation must not put its (possibly stale) value back:
//! every invalidation bumps a generation, and a loaded value is stored only if the
//! generation did not move while it was being read.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;
use metrics::Counter;

pub struct MetaCache<V> {
    lru: Mutex<LruCache<String, (V, u64)>>,
    ttl_ms: u64,
    generation: AtomicU64,
    hits: Counter,
    misses: Counter,
    invalidations: Counter,
}

impl<V: Clone> MetaCache<V> {
    pub fn new(
        capacity: usize,
        ttl_ms: u64,
        hits: Counter,
        misses: Counter,
        invalidations: Counter,
    ) -> Self {
        Self {
            lru: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            ttl_ms,
            generation: AtomicU64::new(0),
            hits,
            misses,
            invalidations,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, (V, u64)>> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value of `key`, or `load`'s (cached for next time).
    pub async fn get_or_load<E, F, Fut>(&self, key: &str, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let now = synctv_core::time::now_ms();
        if let Some((v, until)) = self.lock().get(key)
            && *until > now
        {
            self.hits.increment(1);
            return Ok(v.clone());
        }
        self.misses.increment(1);
        let generation = self.generation.load(Ordering::Acquire);
        let v = load().await?;
        let mut lru = self.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            lru.put(key.to_string(), (v.clone(), now + self.ttl_ms));
        }
        Ok(v)
    }

    /// Drop `key` on this node.
    pub fn invalidate(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().pop(key);
        self.invalidations.increment(1);
    }

    /// Drop everything on this node.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().clear();
        self.invalidations.increment(1);
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

    fn cache(ttl_ms: u64) -> MetaCache<u32> {
        MetaCache::new(8, ttl_ms, Counter::noop(), Counter::noop(), Counter::noop())
    }

    #[tokio::test]
    async fn caches_until_invalidated() {
        let c = cache(60_000);
        let v: Result<u32, ()> = c.get_or_load("k", || async { Ok(1) }).await;
        assert_eq!(v, Ok(1));
        let v: Result<u32, ()> = c.get_or_load("k", || async { Ok(2) }).await;
        assert_eq!(v, Ok(1), "served from the cache");
        c.invalidate("k");
        let v: Result<u32, ()> = c.get_or_load("k", || async { Ok(3) }).await;
        assert_eq!(v, Ok(3));
        c.clear();
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn a_load_racing_an_invalidation_is_not_cached() {
        let c = cache(60_000);
        let v: Result<u32, ()> = c
            .get_or_load("k", || async {
                c.invalidate("k"); // a change lands while we read the old value
                Ok(1)
            })
            .await;
        assert_eq!(v, Ok(1));
        assert!(c.is_empty(), "the possibly stale value was not kept");
    }

    #[tokio::test]
    async fn entries_expire() {
        let c = cache(0);
        let _: Result<u32, ()> = c.get_or_load("k", || async { Ok(1) }).await;
        let v: Result<u32, ()> = c.get_or_load("k", || async { Ok(2) }).await;
        assert_eq!(v, Ok(2));
    }
}
