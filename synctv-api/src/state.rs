//! `AppState`: cheap handles shared by every request and socket.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use synctv_cluster::manager::{ClusterManager, ClusterOptions};
use synctv_cluster::node::NodeInfo;
use synctv_core::auth::{PasswordHasher, TokenKeys, resolve_jwt_secret};
use synctv_core::config::Config;
use synctv_core::store::Store;
use tokio_util::task::TaskTracker;

use crate::Result;
use crate::metrics::ApiMetrics;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

pub struct AppInner {
    pub config: Config,
    pub store: Store,
    pub cluster: ClusterManager,
    pub tokens: TokenKeys,
    pub hasher: PasswordHasher,
    pub metrics: ApiMetrics,
    /// argon2 concurrency, password attempts, guest and room creation rates.
    pub throttles: crate::throttle::Throttles,
    /// Who the client is behind the configured proxies.
    pub proxies: crate::client_addr::TrustedProxies,
    /// Register/login attempts per client IP; `None` when disabled.
    pub auth_limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    pub started: Instant,
    /// Every WebSocket session task, so shutdown can wait for their last writes.
    pub sessions: TaskTracker,
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.inner
    }
}

impl AppState {
    /// Build the state for a node listening on `local_addr`. In cluster mode this connects
    /// to Redis (and fails when it is unreachable).
    pub async fn new(config: Config, store: Store, local_addr: SocketAddr) -> Result<AppState> {
        let secret = resolve_jwt_secret(&config)?;
        let tokens = TokenKeys::new(&secret, config.auth.token_ttl_secs);
        let hasher = PasswordHasher::new(config.auth.password_hash_memory_kib)?;
        let address = if config.server.public_address.is_empty() {
            local_addr.to_string()
        } else {
            config.server.public_address.clone()
        };
        let node = NodeInfo::new(config.node_name(), address);
        let metrics = ApiMetrics::new(&node.name, &config.metrics);
        metrics.set_node(node.node_id.as_str(), &node.name);
        let opts = ClusterOptions::from_config(&config, node, metrics.cluster.clone());
        let cluster = ClusterManager::from_config(&config, store.clone(), opts).await?;
        let auth_limiter = NonZeroU32::new(config.limits.auth_per_sec).map(|rate| {
            let burst = NonZeroU32::new(config.limits.auth_burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Ok(AppState {
            inner: Arc::new(AppInner {
                proxies: crate::client_addr::TrustedProxies::new(&config.server.trusted_proxies),
                throttles: crate::throttle::Throttles::new(&config.limits),
                config,
                store,
                cluster,
                tokens,
                hasher,
                metrics,
                auth_limiter,
                started: Instant::now(),
                sessions: TaskTracker::new(),
            }),
        })
    }

    pub fn is_draining(&self) -> bool {
        self.cluster.connections().is_draining()
    }
}
