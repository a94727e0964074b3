//! Tests of configuration loading: layering, key-naming errors, refusals, and that the
//! shipped config.yaml equals the built-in defaults.
// figment::Jail's closures must return figment's (large) error type.
#![allow(clippy::result_large_err)]

use std::path::Path;

use figment::providers::{Format, Yaml};
use figment::{Figment, Jail};

use super::{Config, LoadOptions, SAMPLE_JWT_SECRET};
use crate::{Error, Result};

fn load(jail_path: &str, explicit: bool) -> Result<Config> {
    Config::load(&LoadOptions {
        path: jail_path.into(),
        explicit,
    })
}

fn config_err(r: Result<Config>) -> String {
    match r {
        Err(Error::Config(msg)) => msg,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn defaults_need_no_file() {
    Jail::expect_with(|_| {
        let c = load("config.yaml", false).unwrap();
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.url, "sqlite://data/synctv.db");
        assert!(!c.redis.enabled());
        assert_eq!(c.redis.key_prefix, "synctv:");
        assert_eq!(c.rooms.history_size, 1000);
        assert_eq!(c.rooms.history_ttl_secs, 300);
        Ok(())
    });
}

#[test]
fn explicit_missing_file_is_an_error() {
    Jail::expect_with(|_| {
        let msg = config_err(load("nope.yaml", true));
        assert!(msg.contains("--config"), "{msg}");
        Ok(())
    });
}

#[test]
fn env_overrides_file() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "c.yaml",
            "server:\n  bind: 127.0.0.1:9000\n  shutdown_drain_secs: 3\n",
        )?;
        jail.set_env("SYNCTV__SERVER__BIND", "127.0.0.1:9100");
        jail.set_env("SYNCTV__CLUSTER__NODE_NAME", "node-a");
        let c = load("c.yaml", true).unwrap();
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:9100");
        assert_eq!(c.server.shutdown_drain_secs, 3);
        assert_eq!(c.node_name(), "node-a");
        Ok(())
    });
}

#[test]
fn node_name_env_is_used_and_synctv_var_wins() {
    Jail::expect_with(|jail| {
        jail.set_env("NODE_NAME", "from-node-name");
        assert_eq!(load("x.yaml", false).unwrap().node_name(), "from-node-name");
        jail.set_env("SYNCTV__CLUSTER__NODE_NAME", "explicit");
        assert_eq!(load("x.yaml", false).unwrap().node_name(), "explicit");
        Ok(())
    });
}

#[test]
fn bad_type_names_the_key_and_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("SYNCTV__WS__SEND_QUEUE_LEN", "lots");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("ws.send_queue_len"), "{msg}");
        assert!(msg.contains("SYNCTV__WS__SEND_QUEUE_LEN"), "{msg}");
        Ok(())
    });
}

#[test]
fn bad_bind_address_names_the_key() {
    Jail::expect_with(|jail| {
        jail.create_file("c.yaml", "server:\n  bind: not-an-address\n")?;
        let msg = config_err(load("c.yaml", true));
        assert!(msg.contains("server.bind"), "{msg}");
        Ok(())
    });
}

#[test]
fn unknown_keys_are_refused() {
    Jail::expect_with(|jail| {
        jail.create_file("c.yaml", "server:\n  bnd: 127.0.0.1:1\n")?;
        let msg = config_err(load("c.yaml", true));
        assert!(msg.contains("bnd"), "{msg}");
        Ok(())
    });
}

#[test]
fn sample_secret_refused_with_shared_database() {
    Jail::expect_with(|jail| {
        jail.set_env(
            "SYNCTV__DATABASE__URL",
            "postgres://postgres@127.0.0.1/synctv",
        );
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("auth.jwt_secret"), "{msg}");
        jail.set_env("SYNCTV__AUTH__JWT_SECRET", SAMPLE_JWT_SECRET);
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("sample secret"), "{msg}");
        jail.set_env("SYNCTV__AUTH__JWT_SECRET", "x".repeat(40));
        assert!(load("x.yaml", false).is_ok());
        Ok(())
    });
}

#[test]
fn sample_secret_allowed_on_single_sqlite_node() {
    Jail::expect_with(|jail| {
        jail.set_env("SYNCTV__AUTH__JWT_SECRET", SAMPLE_JWT_SECRET);
        assert!(load("x.yaml", false).is_ok());
        Ok(())
    });
}

#[test]
fn invalid_combinations_name_their_keys() {
    Jail::expect_with(|jail| {
        jail.set_env("SYNCTV__WS__HEARTBEAT_INTERVAL_SECS", "30");
        jail.set_env("SYNCTV__WS__IDLE_TIMEOUT_SECS", "10");
        jail.set_env("SYNCTV__DATABASE__URL", "mysql://x");
        jail.set_env("SYNCTV__LOG__FORMAT", "xml");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("ws.idle_timeout_secs"), "{msg}");
        assert!(msg.contains("database.url"), "{msg}");
        assert!(msg.contains("log.format"), "{msg}");
        Ok(())
    });
}

#[test]
fn sqlite_path_is_extracted() {
    let mut c = Config::default();
    assert_eq!(c.sqlite_path(), Some(Path::new("data/synctv.db")));
    c.database.url = "sqlite:///tmp/x.db?mode=rwc".into();
    assert_eq!(c.sqlite_path(), Some(Path::new("/tmp/x.db")));
    c.database.url = "sqlite::memory:".into();
    assert_eq!(c.sqlite_path(), None);
    c.database.url = "postgres://x/y".into();
    assert_eq!(c.sqlite_path(), None);
}

/// The repository's config.yaml documents exactly the built-in defaults.
#[test]
fn config_yaml_matches_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config.yaml");
    let from_file: Config = Figment::from(Yaml::file_exact(path))
        .extract()
        .expect("config.yaml parses");
    let a = serde_json::to_value(&from_file).unwrap();
    let b = serde_json::to_value(Config::default()).unwrap();
    assert_eq!(a, b, "config.yaml and Config::default() disagree");
}

#[test]
fn string_settings_accept_values_that_look_like_numbers_or_booleans() {
    Jail::expect_with(|jail| {
        let digits = "1".repeat(40);
        jail.set_env("SYNCTV__AUTH__JWT_SECRET", &digits);
        jail.set_env("SYNCTV__CLUSTER__NODE_NAME", "7");
        jail.set_env("SYNCTV__REDIS__KEY_PREFIX", "true");
        let c = load("x.yaml", false).unwrap();
        assert_eq!(c.auth.jwt_secret, digits);
        assert_eq!(c.node_name(), "7");
        assert_eq!(c.redis.key_prefix, "true");
        Ok(())
    });
}

#[test]
fn cluster_mode_needs_a_shared_database_and_secret() {
    Jail::expect_with(|jail| {
        jail.set_env("SYNCTV__REDIS__URL", "redis://127.0.0.1:6379");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("database.url"), "{msg}");
        assert!(msg.contains("auth.jwt_secret"), "{msg}");
        jail.set_env("SYNCTV__DATABASE__URL", "postgres://db/synctv");
        jail.set_env("SYNCTV__AUTH__JWT_SECRET", "s".repeat(40));
        let c = load("x.yaml", false).unwrap();
        assert!(c.redis.enabled());
        assert_eq!(c.redis.urls(), ["redis://127.0.0.1:6379"]);
        assert_eq!(c.cluster.node_ttl_secs, 15);
        assert_eq!(c.redis.dedup_window_secs, 60);
        Ok(())
    });
}

#[test]
fn several_redis_urls_need_cluster_mode() {
    Jail::expect_with(|jail| {
        jail.set_env("SYNCTV__DATABASE__URL", "postgres://db/synctv");
        jail.set_env("SYNCTV__AUTH__JWT_SECRET", "s".repeat(40));
        jail.set_env("SYNCTV__REDIS__URL", "redis://a:7000, redis://b:7001");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("redis.cluster_mode"), "{msg}");
        jail.set_env("SYNCTV__REDIS__CLUSTER_MODE", "true");
        let c = load("x.yaml", false).unwrap();
        assert_eq!(c.redis.urls(), ["redis://a:7000", "redis://b:7001"]);
        jail.set_env("SYNCTV__REDIS__URL", "http://a:7000");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("redis.url"), "{msg}");
        Ok(())
    });
}

#[test]
fn cluster_settings_are_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("SYNCTV__DATABASE__URL", "postgres://db/synctv");
        jail.set_env("SYNCTV__AUTH__JWT_SECRET", "s".repeat(40));
        jail.set_env("SYNCTV__REDIS__URL", "redis://a:7000");
        jail.set_env("SYNCTV__REDIS__KEY_PREFIX", "x{y}:");
        jail.set_env("SYNCTV__REDIS__CANARY_TIMEOUT_MS", "500");
        jail.set_env("SYNCTV__CLUSTER__OPERATOR_TOKEN", "short");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("redis.key_prefix"), "{msg}");
        assert!(msg.contains("redis.canary_timeout_ms"), "{msg}");
        assert!(msg.contains("cluster.operator_token"), "{msg}");
        Ok(())
    });
}

#[test]
fn room_limits_keep_the_welcome_deliverable() {
    let c = Config::default();
    c.validate().expect("defaults are valid");
    let w = c.welcome_max_bytes();
    assert!((1 << 20..3 << 20).contains(&w), "default welcome bound {w}");
    let mut big = Config::default();
    big.rooms.recent_chat = 5000;
    let err = big.validate().unwrap_err().to_string();
    assert!(err.contains("welcome snapshot above 16 MiB"), "{err}");
    let mut tiny = Config::default();
    tiny.rooms.max_playlist_bytes = 100;
    let err = tiny.validate().unwrap_err().to_string();
    assert!(err.contains("rooms.max_playlist_bytes"), "{err}");
    let mut proxies = Config::default();
    proxies.server.trusted_proxies = vec!["10.0.0.0/8".into(), "::1".into(), "nope".into()];
    let err = proxies.validate().unwrap_err().to_string();
    assert!(err.contains("server.trusted_proxies"), "{err}");
}

#[test]
fn http_connection_settings_are_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("SYNCTV__SERVER__HEADER_READ_TIMEOUT_SECS", "0");
        jail.set_env("SYNCTV__SERVER__HTTP_IDLE_TIMEOUT_SECS", "0");
        jail.set_env("SYNCTV__SERVER__MAX_HTTP_CONNECTIONS", "0");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("server.header_read_timeout_secs"), "{msg}");
        assert!(msg.contains("server.http_idle_timeout_secs"), "{msg}");
        assert!(msg.contains("server.max_http_connections"), "{msg}");
        Ok(())
    });
}

#[test]
fn sqlite_synchronous_defaults_to_full_and_takes_normal() {
    Jail::expect_with(|jail| {
        use super::SqliteSynchronous;
        let c = load("x.yaml", false).unwrap();
        assert_eq!(c.database.sqlite_synchronous, SqliteSynchronous::Full);
        jail.set_env("SYNCTV__DATABASE__SQLITE_SYNCHRONOUS", "normal");
        let c = load("x.yaml", false).unwrap();
        assert_eq!(c.database.sqlite_synchronous, SqliteSynchronous::Normal);
        jail.set_env("SYNCTV__DATABASE__SQLITE_SYNCHRONOUS", "off");
        let msg = config_err(load("x.yaml", false));
        assert!(msg.contains("database.sqlite_synchronous"), "{msg}");
        assert!(msg.contains("full"), "{msg}");
        Ok(())
    });
}
