//! Loading and validating [`Config`]: defaults, then the YAML file, then `NODE_NAME`, then
//! `SYNCTV__SECTION__KEY` environment variables (each layer overrides the previous one).
//! Every error names the key it is about, so a bad deployment fails at start with a message
//! an operator can act on, instead of misbehaving later.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

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

/// What a welcome frame may grow to at most (see [`Config::welcome_max_bytes`]).
pub const WELCOME_CEILING: usize = 16 << 20;

impl Config {
    /// Load from file and process environment, then validate.
    pub fn load(opts: &LoadOptions) -> Result<Config> {
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
        let typed_env = Env::prefixed("SYNCTV__").split("__").ignore(STRING_KEYS);
        let config: Config = fig
            .merge(typed_env)
            .merge(VerbatimEnv)
            .extract()
            .map_err(describe)?;
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
        check(
            (1..=3600).contains(&s.header_read_timeout_secs),
            "server.header_read_timeout_secs",
            "must be between 1 and 3600",
        );
        check(
            (1..=86_400).contains(&s.http_idle_timeout_secs),
            "server.http_idle_timeout_secs",
            "must be between 1 and 86400",
        );
        check(
            (1..=1_000_000).contains(&s.max_http_connections),
            "server.max_http_connections",
            "must be between 1 and 1000000",
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
                r.urls()
                    .iter()
                    .all(|u| u.starts_with("redis://") || u.starts_with("rediss://")),
                "redis.url",
                "must be empty (single node) or start with redis:// or rediss://",
            );
            check(
                r.cluster_mode || r.urls().len() == 1,
                "redis.url",
                "lists several servers: set redis.cluster_mode: true for a Redis Cluster",
            );
            check(
                db.is_shared(),
                "database.url",
                "must be a PostgreSQL URL when redis.url is set: the nodes of a cluster share one database",
            );
            check(
                !r.key_prefix.contains(['{', '}']),
                "redis.key_prefix",
                "must not contain braces (they would change the Redis Cluster hash slot)",
            );
            check(
                r.command_timeout_ms >= 10,
                "redis.command_timeout_ms",
                "must be at least 10",
            );
            check(
                r.canary_interval_ms >= 10,
                "redis.canary_interval_ms",
                "must be at least 10",
            );
            check(
                r.canary_timeout_ms > r.canary_interval_ms,
                "redis.canary_timeout_ms",
                "must be greater than redis.canary_interval_ms",
            );
            check(
                r.reconnect_min_ms >= 1 && r.reconnect_max_ms >= r.reconnect_min_ms,
                "redis.reconnect_max_ms",
                "must be at least redis.reconnect_min_ms (at least 1)",
            );
            check(
                r.dedup_capacity >= 1,
                "redis.dedup_capacity",
                "must be at least 1",
            );
            check(
                r.meta_ttl_secs > self.rooms.history_ttl_secs,
                "redis.meta_ttl_secs",
                "must be greater than rooms.history_ttl_secs",
            );
        } else {
            check(!r.cluster_mode, "redis.cluster_mode", "needs redis.url");
        }
        check(
            self.rooms.chat_retention_interval_secs >= 1,
            "rooms.chat_retention_interval_secs",
            "must be at least 1",
        );
        let cl = &self.cluster;
        check(
            cl.node_ttl_secs >= 1,
            "cluster.node_ttl_secs",
            "must be at least 1",
        );
        check(
            cl.lock_ttl_secs >= 1,
            "cluster.lock_ttl_secs",
            "must be at least 1",
        );
        check(
            cl.housekeeping_interval_secs >= 1,
            "cluster.housekeeping_interval_secs",
            "must be at least 1",
        );
        check(
            cl.cache_capacity >= 1,
            "cluster.cache_capacity",
            "must be at least 1",
        );
        check(
            cl.operator_token.is_empty() || cl.operator_token.len() >= 16,
            "cluster.operator_token",
            "must be at least 16 characters",
        );

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
            (1..=128).contains(&rm.min_password_len),
            "rooms.min_password_len",
            "must be between 1 and 128",
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
            rm.max_playlist_bytes >= rm.max_movie_url_len + 4 * rm.max_movie_title_len,
            "rooms.max_playlist_bytes",
            "must hold at least one movie of the longest URL and title",
        );
        check(
            self.limits.max_connections >= 1,
            "limits.max_connections",
            "must be at least 1",
        );
        check(
            self.welcome_max_bytes() <= WELCOME_CEILING,
            "rooms",
            "the room limits allow a welcome snapshot above 16 MiB: lower recent_chat, \
             max_chat_len, max_playlist_bytes or limits.max_connections_per_room",
        );
        for p in &self.server.trusted_proxies {
            check(
                p.parse::<ipnet::IpNet>().is_ok() || p.parse::<std::net::IpAddr>().is_ok(),
                "server.trusted_proxies",
                "entries must be IP addresses or CIDR ranges",
            );
        }
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

    /// The largest welcome frame these limits allow, in bytes. Every socket's first frame
    /// is a welcome with the whole room: it must always be deliverable, so the socket's
    /// write buffer is sized from this and the limits must keep it below 16 MiB. A JSON
    /// string costs at most 6 bytes per character (`\u00XX`); members are bounded by
    /// `limits.max_connections_per_room` (per node: in a cluster, per node times nodes).
    pub fn welcome_max_bytes(&self) -> usize {
        let r = &self.rooms;
        let text = |chars: usize| chars * 6;
        let members = match self.limits.max_connections_per_room {
            0 => self.limits.max_connections,
            n => n,
        };
        let playlist = 2 * r.max_playlist_bytes + r.max_playlist_len * 160;
        let chat = r.recent_chat * (text(r.max_chat_len) + text(r.max_name_len) + 200);
        let member_list = members * (text(r.max_name_len) + 250);
        4096 + text(r.max_name_len) + playlist + chat + member_list
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

/// Keys whose values are text. figment's `Env` guesses types (`7` becomes a number, `true` a
/// boolean, a long digit string a float), which would refuse `NODE_NAME=7` or mangle an
/// all-digit secret; these keys are read verbatim by [`VerbatimEnv`] instead.
const STRING_KEYS: &[&str] = &[
    "server.public_address",
    "server.data_dir",
    "database.url",
    "redis.url",
    "redis.key_prefix",
    "cluster.node_name",
    "cluster.operator_token",
    "auth.jwt_secret",
    "log.level",
    "log.format",
];

/// `SYNCTV__SECTION__KEY` variables of [`STRING_KEYS`], as strings, exactly as set.
struct VerbatimEnv;

impl Provider for VerbatimEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable(s)")
    }

    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for key in STRING_KEYS {
            let var = format!("SYNCTV__{}", key.to_uppercase().replace('.', "__"));
            if let Ok(value) = std::env::var(&var) {
                let (section, field) = key.split_once('.').expect("keys are section.field");
                let entry = dict
                    .entry(section.to_string())
                    .or_insert_with(|| Value::from(Dict::new()));
                if let Value::Dict(_, fields) = entry {
                    fields.insert(field.to_string(), Value::from(value));
                }
            }
        }
        Ok(Profile::Default.collect(dict))
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
