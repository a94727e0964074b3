//! Test support shared by the crates' integration tests: real `redis-server` processes the
//! test owns (so it can kill, restart and pause them), a Redis Cluster of real servers, a
//! real nginx running the shipped load-balancer config, Prometheus's promtool, and the shared
//! services' URLs.
//! Never a mock: everything here is the real server binary.

mod cluster;
mod nginx;
mod promtool;
mod server;

pub use cluster::RedisCluster;
pub use nginx::Nginx;
pub use promtool::{promtool, run_promtool};
pub use server::RedisServer;

use std::net::TcpListener;

/// A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed before returning).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The shared Redis of the test run (`SYNCTV_TEST_REDIS_URL`, default the local 6379).
pub fn shared_redis_url() -> String {
    std::env::var("SYNCTV_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The shared PostgreSQL server's admin URL (`SYNCTV_TEST_PG_URL`).
pub fn pg_admin_url() -> String {
    std::env::var("SYNCTV_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A key prefix no other test uses.
pub fn unique_prefix(name: &str) -> String {
    let n: u64 = std::process::id() as u64 * 1_000_003
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    format!("t-{name}-{n:x}:")
}
