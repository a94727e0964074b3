//! Loading and validating [`Config`]: defaults, then the YAML file, then `NODE_NAME`, then
//! `SYNCTV__SECTION__KEY` environment variables (each layer overrides the previous one).
//! Every error names the key it is about, so a bad deployment fails at start with a message
//! an operator can act on, instead of misbehaving later.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Yaml};

use super::Config;
use crate::{Error, Result};

/// The placeholder secret shipped in examples. Accepted only on a single node with SQLite.
pub const SAMPLE_JWT_SECRET: &str = "change-me-to-a-long-random-secret-shared-by-all-nodes";

/// Where to read the configuration from.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The YAML file to read.
    pub path: PathBuf,
    /// True when the path was given explicitly (`--config`): then a missing file is an error.
    /// The default path may be absent: the built-in defaults apply.
    pub explicit: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            path: PathBuf::from("config.yaml"),
            explicit: false,
        }
    }
}

impl Config {
    /// Load from file and process environment, then validate.
    pub fn load(opts: &LoadOptions) -> Result<Config> {
        Self::load_from(opts, Env::prefixed("SYNCTV__").split("__"))
    }

    fn load_from(opts: &LoadOptions, env: Env) -> Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if opts.path.exists() {
            fig = fig.merge(Yaml::file_exact(&opts.path));
        } else if opts.explicit {
            return Err(Error::Config(format!(
                "--config: file {} does not exist",
                opts.path.display()
            )));
        }
        if let Ok(name) = std::env::var("NODE_NAME")
            && !name.trim().is_empty()
        {
            fig = fig.merge(Serialized::default("cluster.node_name", name));
        }
        let config: Config = fig.merge(env).extract().map_err(describe)?;
        config.validate()?;
        Ok(config)
    }

    /// Check values and combinations that types alone cannot express.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &str, why: &str| {
            if !ok {
                problems.push(format!("{key}: {why}"));
            }
        };
        let s = &self.server;
        check(
            s.shutdown_drain_secs <= 3600,
            "server.shutdown_drain_secs",
            "must be at most 3600",
        );
        check(
            s.max_body_bytes >= 1024,
            "server.max_body_bytes",
            "must be at least 1024",
        );

        let db = &self.database;
        check(
            db.url.starts_with("sqlite:") || db.is_shared(),
            "database.url",
            "must start with sqlite:, postgres:// or postgresql://",
        );
        check(
            db.max_connections >= 1,
            "database.max_connections",
            "must be at least 1",
        );
        check(
            db.acquire_timeout_secs >= 1,
            "database.acquire_timeout_secs",
            "must be at least 1",
        );

        let r = &self.redis;
        if r.enabled() {
            check(
                r.url.starts_with("redis://") || r.url.starts_with("rediss://"),
                "redis.url",
                "must be empty (single node) or start with redis:// or rediss://",
            );
            check(
                false,
                "redis.url",
                "cluster mode (Redis) is not available in this build yet; leave it empty",
            );
        }

        let a = &self.auth;
        let shared = db.is_shared() || r.enabled();
        if shared {
            check(
                !a.jwt_secret.is_empty(),
                "auth.jwt_secret",
                "must be set when the database or Redis is shared by several nodes",
            );
            check(
                a.jwt_secret != SAMPLE_JWT_SECRET,
                "auth.jwt_secret",
                "is the sample secret; set a long random secret shared by all nodes",
            );
        }
        check(
            a.jwt_secret.is_empty() || a.jwt_secret.len() >= 32,
            "auth.jwt_secret",
            "must be at least 32 characters",
        );
        check(
            a.token_ttl_secs >= 60,
            "auth.token_ttl_secs",
            "must be at least 60",
        );
        check(
            (1..=128).contains(&a.min_password_len),
            "auth.min_password_len",
            "must be between 1 and 128",
        );
        check(
            a.password_hash_memory_kib >= 1024,
            "auth.password_hash_memory_kib",
            "must be at least 1024",
        );

        let w = &self.ws;
        check(
            w.read_buffer_bytes >= 512,
            "ws.read_buffer_bytes",
            "must be at least 512",
        );
        check(
            (1024..=16 << 20).contains(&w.max_message_bytes),
            "ws.max_message_bytes",
            "must be between 1024 and 16777216",
        );
        check(
            w.send_queue_len >= 1,
            "ws.send_queue_len",
            "must be at least 1",
        );
        check(
            w.heartbeat_interval_secs >= 1,
            "ws.heartbeat_interval_secs",
            "must be at least 1",
        );
        check(
            w.idle_timeout_secs > w.heartbeat_interval_secs,
            "ws.idle_timeout_secs",
            "must be greater than ws.heartbeat_interval_secs",
        );
        check(w.rate_per_sec >= 1, "ws.rate_per_sec", "must be at least 1");
        check(w.rate_burst >= 1, "ws.rate_burst", "must be at least 1");
        check(
            w.max_rate_violations >= 1,
            "ws.max_rate_violations",
            "must be at least 1",
        );

        let rm = &self.rooms;
        check(
            (1..=1_000_000).contains(&rm.history_size),
            "rooms.history_size",
            "must be between 1 and 1000000",
        );
        check(
            rm.history_ttl_secs >= 1,
            "rooms.history_ttl_secs",
            "must be at least 1",
        );
        check(
            rm.recent_chat <= 1000,
            "rooms.recent_chat",
            "must be at most 1000",
        );
        check(
            rm.max_chat_len >= 1,
            "rooms.max_chat_len",
            "must be at least 1",
        );
        check(
            rm.max_name_len >= 1,
            "rooms.max_name_len",
            "must be at least 1",
        );
        check(
            rm.max_movie_url_len >= 16,
            "rooms.max_movie_url_len",
            "must be at least 16",
        );
        check(
            rm.max_movie_title_len >= 1,
            "rooms.max_movie_title_len",
            "must be at least 1",
        );
        check(
            rm.max_playlist_len >= 1,
            "rooms.max_playlist_len",
            "must be at least 1",
        );
        check(
            rm.sweep_interval_secs >= 1,
            "rooms.sweep_interval_secs",
            "must be at least 1",
        );

        check(
            self.limits.max_connections >= 1,
            "limits.max_connections",
            "must be at least 1",
        );
        check(
            matches!(self.log.format.as_str(), "text" | "json"),
            "log.format",
            "must be text or json",
        );

        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems.join("; ")))
        }
    }

    /// The node's display name: `cluster.node_name`, else the host name, else "synctv".
    pub fn node_name(&self) -> String {
        if !self.cluster.node_name.trim().is_empty() {
            return self.cluster.node_name.trim().to_string();
        }
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "synctv".into())
    }

    /// The SQLite file of the database URL, if it is a file-backed SQLite URL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        let rest = self.database.url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or("");
        (!path.is_empty() && !path.starts_with(":memory:")).then(|| Path::new(path))
    }
}

/// Turn figment's errors into one message that names each offending key and its source.
fn describe(err: figment::Error) -> Error {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = match e.metadata.as_ref() {
                Some(m) if m.name.contains("environment") => {
                    format!(
                        " (from environment variable SYNCTV__{})",
                        key.to_uppercase().replace('.', "__")
                    )
                }
                Some(m) => match &m.source {
                    Some(src) => format!(" (from {} {src})", m.name),
                    None => format!(" (from {})", m.name),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("{key}: {}{source}", e.kind)
            }
        })
        .collect();
    Error::Config(lines.join("; "))
}

#[cfg(test)]
// figment::Jail's closures must return figment's (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load(jail_path: &str, explicit: bool) -> Result<Config> {
        Config::load_from(
            &LoadOptions {
                path: jail_path.into(),
                explicit,
            },
            Env::prefixed("SYNCTV__").split("__"),
        )
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
}

#[cfg(test)]
mod shipped_file {
    use super::*;

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
}
