//! Distributed locks: work that must run on one node at a time (migrations when several
//! nodes start together, the cluster's housekeeping). A lock has a random token and a TTL:
//! only the holder's token releases it, and a holder that dies loses it when the TTL runs
//! out. [`LocalLocks`] serves one process; the Redis implementation a cluster.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::{Error, Result};

#[async_trait]
pub trait LockService: Send + Sync + 'static {
    /// Take `name` for `ttl_ms` if nobody holds it; the token that releases it.
    async fn try_lock(&self, name: &str, ttl_ms: u64) -> Result<Option<String>>;

    /// Release `name` if `token` still holds it; false when it had expired (or was taken
    /// over after expiring).
    async fn unlock(&self, name: &str, token: &str) -> Result<bool>;
}

/// A held lock. Release it with [`LockGuard::release`]; dropping it without releasing leaves
/// it to expire.
pub struct LockGuard {
    service: Arc<dyn LockService>,
    name: String,
    token: String,
}

impl LockGuard {
    pub async fn release(self) -> Result<bool> {
        self.service.unlock(&self.name, &self.token).await
    }
}

/// Take `name`, or `None` if another node holds it.
pub async fn try_acquire(
    service: &Arc<dyn LockService>,
    name: &str,
    ttl_ms: u64,
) -> Result<Option<LockGuard>> {
    Ok(service
        .try_lock(name, ttl_ms)
        .await?
        .map(|token| LockGuard {
            service: service.clone(),
            name: name.to_string(),
            token,
        }))
}

/// Take `name`, waiting (polling) up to `wait` for its holder to release it.
pub async fn acquire(
    service: &Arc<dyn LockService>,
    name: &str,
    ttl_ms: u64,
    wait: Duration,
) -> Result<LockGuard> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut delay = Duration::from_millis(20);
    loop {
        if let Some(g) = try_acquire(service, name, ttl_ms).await? {
            return Ok(g);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Broker(format!(
                "lock {name} still held by another node after {wait:?}"
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

pub(crate) fn token() -> String {
    format!("{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    let a = uuid::Uuid::new_v4().as_u128();
    a ^ u128::from(synctv_core::time::now_ms())
}

#[derive(Default)]
pub struct LocalLocks {
    held: Mutex<HashMap<String, (String, u64)>>,
}

#[async_trait]
impl LockService for LocalLocks {
    async fn try_lock(&self, name: &str, ttl_ms: u64) -> Result<Option<String>> {
        let now = synctv_core::time::now_ms();
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(name).is_some_and(|(_, until)| *until > now) {
            return Ok(None);
        }
        let t = token();
        held.insert(name.to_string(), (t.clone(), now + ttl_ms));
        Ok(Some(t))
    }

    async fn unlock(&self, name: &str, token: &str) -> Result<bool> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(name).is_some_and(|(t, _)| t == token) {
            held.remove(name);
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_holder_releases_and_ttl_frees() {
        let s: Arc<dyn LockService> = Arc::new(LocalLocks::default());
        let g = try_acquire(&s, "a", 60_000).await.unwrap().unwrap();
        assert!(try_acquire(&s, "a", 60_000).await.unwrap().is_none());
        assert!(!s.unlock("a", "forged").await.unwrap());
        assert!(g.release().await.unwrap());
        let short = try_acquire(&s, "a", 1).await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let taken = try_acquire(&s, "a", 60_000).await.unwrap();
        assert!(taken.is_some(), "an expired lock can be taken");
        assert!(
            !short.release().await.unwrap(),
            "the expired holder cannot release it"
        );
    }
}
