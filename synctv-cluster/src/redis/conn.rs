//! Connections to Redis: the command connection (one multiplexed connection that reconnects
//! by itself, or the cluster client that routes by slot), and how Redis errors map onto
//! [`Error::Unavailable`] (the node serves alone) versus [`Error::Broker`].

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};
use synctv_core::config::RedisConfig;

use crate::Error;

/// The command connection: plain Redis or Redis Cluster. Cloning is cheap; clones share
/// the connection.
#[derive(Clone)]
pub enum Commands {
    Plain(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Commands::Plain(c) => c.req_packed_command(cmd),
            Commands::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Commands::Plain(c) => c.req_packed_commands(pipeline, offset, count),
            Commands::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Commands::Plain(c) => c.get_db(),
            Commands::Cluster(c) => c.get_db(),
        }
    }
}

pub fn timeouts(cfg: &RedisConfig) -> (Duration, Duration) {
    (
        Duration::from_millis(cfg.connect_timeout_ms),
        Duration::from_millis(cfg.command_timeout_ms),
    )
}

/// Connect the command connection.
pub async fn connect_commands(cfg: &RedisConfig) -> Result<Commands, RedisError> {
    let (connect, response) = timeouts(cfg);
    let urls = cfg.urls();
    if cfg.cluster_mode {
        let client = ClusterClientBuilder::new(urls)
            .connection_timeout(connect)
            .response_timeout(response)
            .retries(2)
            .min_retry_wait(cfg.reconnect_min_ms)
            .max_retry_wait(cfg.reconnect_max_ms)
            .build()?;
        let conn = tokio::time::timeout(connect * 2, client.get_async_connection())
            .await
            .map_err(|_| timeout_error("connecting to the Redis Cluster"))??;
        Ok(Commands::Cluster(conn))
    } else {
        let client = redis::Client::open(urls[0].as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(response))
            .set_min_delay(Duration::from_millis(cfg.reconnect_min_ms))
            .set_max_delay(Duration::from_millis(cfg.reconnect_max_ms))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            connect * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| timeout_error("connecting to Redis"))??;
        Ok(Commands::Plain(conn))
    }
}

pub fn timeout_error(what: &'static str) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, what))
}

/// Whether the error means "Redis cannot be reached or cannot serve right now".
pub fn is_unavailable(e: &RedisError) -> bool {
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
    {
        return true;
    }
    match e.kind() {
        ErrorKind::ClusterConnectionNotFound | ErrorKind::Io => true,
        ErrorKind::Server(k) => matches!(
            k,
            ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::Moved
                | ServerErrorKind::Ask
        ),
        ErrorKind::Extension => matches!(e.code(), Some("OOM" | "BUSY" | "NOREPLICAS")),
        _ => false,
    }
}

/// Map a Redis error; every failure also counts in `synctv_redis_connection_errors_total`.
pub fn map_err(e: RedisError, errors: &metrics::Counter) -> Error {
    errors.increment(1);
    if is_unavailable(&e) {
        Error::Unavailable(e.to_string())
    } else {
        Error::Broker(e.to_string())
    }
}
