//! docker-compose.yml and the Dockerfile: the services the cluster needs, wired the way the
//! node and the load balancer expect (the same JWT secret and shared URLs everywhere, one
//! NODE_NAME each, readiness healthchecks, a stop grace longer than the drain, nginx running
//! the config `cluster::nginx` tests, Prometheus scraping every node with the rules).

use std::collections::BTreeSet;

use serde_yaml_ng::Value;
use synctv_core::config::Config;

use super::*;

pub const SYNCTV_SERVICES: [&str; 3] = ["synctv-1", "synctv-2", "synctv-3"];

pub fn compose() -> Value {
    yaml("docker-compose.yml")
}

fn service<'a>(c: &'a Value, name: &str) -> &'a Value {
    let s = &c["services"][name];
    assert!(s.is_mapping(), "docker-compose.yml has a `{name}` service");
    s
}

/// `"30s"`, `"1m30s"` (compose durations) in seconds.
fn seconds(d: &str) -> u64 {
    humantime::parse_duration(d)
        .unwrap_or_else(|e| panic!("duration {d:?}: {e}"))
        .as_secs()
}

fn healthcheck_cmd(s: &Value, name: &str) -> String {
    let test = seq_of(
        &s["healthcheck"]["test"],
        &format!("{name}.healthcheck.test"),
    );
    test.iter()
        .map(|v| str_of(v, "a healthcheck word").to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn depends_healthy(s: &Value, on: &str) -> bool {
    s["depends_on"][on]["condition"].as_str() == Some("service_healthy")
}

/// The `host:port` of every `server` line between the upstream markers.
pub fn upstream_servers(conf: &str) -> Vec<String> {
    conf.lines()
        .skip_while(|l| !l.contains("BEGIN synctv upstream servers"))
        .take_while(|l| !l.contains("END synctv upstream servers"))
        .filter_map(|l| l.trim().strip_prefix("server "))
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// The compose file's load balancer runs `shipped` (deploy/nginx/synctv.conf, the file
/// `cluster::nginx` puts in front of real nodes) as its site config, and that file's
/// upstream is the compose file's synctv services on their port.
pub fn assert_compose_nginx_runs(shipped: &Path) {
    let c = compose();
    let nginx = service(&c, "nginx");
    let rel = shipped
        .canonicalize()
        .unwrap()
        .strip_prefix(repo().canonicalize().unwrap())
        .unwrap()
        .display()
        .to_string();
    let mount = format!("./{rel}:/etc/nginx/conf.d/default.conf:ro");
    let volumes: Vec<&str> = seq_of(&nginx["volumes"], "nginx.volumes")
        .iter()
        .map(|v| str_of(v, "a volume"))
        .collect();
    assert!(
        volumes.contains(&mount.as_str()),
        "compose's nginx mounts {rel} as its site: {volumes:?}"
    );
    let conf = std::fs::read_to_string(shipped).unwrap();
    let want: Vec<String> = SYNCTV_SERVICES
        .iter()
        .map(|s| format!("{s}:8080"))
        .collect();
    assert_eq!(
        upstream_servers(&conf),
        want,
        "{rel}'s upstream is compose's nodes"
    );
    for s in SYNCTV_SERVICES {
        assert!(
            depends_healthy(nginx, s),
            "nginx starts after {s} is healthy"
        );
    }
}

#[test]
fn compose_has_postgres_redis_three_nodes_nginx_and_prometheus() {
    let c = compose();
    let names: BTreeSet<&str> = c["services"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| str_of(k, "a service name"))
        .collect();
    let mut want: BTreeSet<&str> = ["postgres", "redis", "nginx", "prometheus"].into();
    want.extend(SYNCTV_SERVICES);
    assert_eq!(names, want);
    let built: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| c["services"][*n]["build"].as_str() == Some("."))
        .collect();
    assert_eq!(
        built, SYNCTV_SERVICES,
        "three nodes built from the Dockerfile"
    );
    for (name, probe) in [("postgres", "pg_isready"), ("redis", "redis-cli ping")] {
        let cmd = healthcheck_cmd(service(&c, name), name);
        assert!(cmd.contains(probe), "{name}'s healthcheck: {cmd}");
    }
}

#[test]
fn compose_nodes_share_secret_and_urls_and_have_their_own_name() {
    let c = compose();
    let drain = Config::default().server.shutdown_drain_secs;
    let mut secrets = BTreeSet::new();
    for name in SYNCTV_SERVICES {
        let s = service(&c, name);
        let env = &s["environment"];
        let var = |k: &str| str_of(&env[k], &format!("{name}: {k}")).to_string();
        assert_eq!(var("NODE_NAME"), name, "{name}: NODE_NAME is its own");
        assert_eq!(
            var("SYNCTV__DATABASE__URL"),
            "postgres://synctv:synctv@postgres:5432/synctv"
        );
        assert_eq!(var("SYNCTV__REDIS__URL"), "redis://redis:6379");
        let secret = var("SYNCTV__AUTH__JWT_SECRET");
        assert!(
            secret.starts_with("${SYNCTV_JWT_SECRET:?"),
            "{name}: the secret comes from the environment and is required: {secret}"
        );
        secrets.insert(secret);
        let pg = &c["services"]["postgres"]["environment"];
        assert_eq!(pg["POSTGRES_USER"].as_str(), Some("synctv"));
        assert_eq!(pg["POSTGRES_DB"].as_str(), Some("synctv"));
        for dep in ["postgres", "redis"] {
            assert!(depends_healthy(s, dep), "{name} waits for healthy {dep}");
        }
        let health = healthcheck_cmd(s, name);
        assert!(
            health.contains("http://127.0.0.1:8080/ready"),
            "{name}: the healthcheck asks /ready: {health}"
        );
        let grace = seconds(str_of(&s["stop_grace_period"], "stop_grace_period"));
        let close = Config::default().ws.close_grace_ms.div_ceil(1000);
        assert!(
            grace > drain + close,
            "{name}: stop_grace_period {grace}s outlasts the drain ({drain}s) and the close ({close}s)"
        );
        assert_eq!(s["stop_signal"].as_str(), Some("SIGTERM"));
    }
    assert_eq!(secrets.len(), 1, "one JWT secret for every node");
}

#[test]
fn compose_prometheus_scrapes_every_node_with_the_rules() {
    let c = compose();
    let p = service(&c, "prometheus");
    let volumes: Vec<&str> = seq_of(&p["volumes"], "prometheus.volumes")
        .iter()
        .map(|v| str_of(v, "a volume"))
        .collect();
    for f in ["prometheus.yml", "alerts.yml"] {
        let m = format!("./deploy/prometheus/{f}:/etc/prometheus/{f}:ro");
        assert!(volumes.contains(&m.as_str()), "{m} in {volumes:?}");
    }
    let conf = yaml("deploy/prometheus/prometheus.yml");
    assert_eq!(
        seq_of(&conf["rule_files"], "rule_files"),
        [Value::from("alerts.yml")]
    );
    let jobs = seq_of(&conf["scrape_configs"], "scrape_configs");
    let job = jobs
        .iter()
        .find(|j| j["job_name"].as_str() == Some("synctv"))
        .expect("a scrape job named synctv (the rules select job=\"synctv\")");
    let targets: Vec<&str> = seq_of(&job["static_configs"][0]["targets"], "targets")
        .iter()
        .map(|t| str_of(t, "a target"))
        .collect();
    let want: Vec<String> = SYNCTV_SERVICES
        .iter()
        .map(|s| format!("{s}:8080"))
        .collect();
    assert_eq!(targets, want, "every node, directly");
}

/// The image: non-root, the port the compose file and nginx use, health on /health, SIGTERM.
#[test]
fn dockerfile_builds_the_server_and_runs_it_unprivileged() {
    let d = read("Dockerfile");
    let has = |s: &str| assert!(d.contains(s), "the Dockerfile has `{s}`");
    has("FROM rust:");
    has("cargo build --release --locked -p synctv-api --bin synctv");
    has("--mount=type=cache,target=/usr/local/cargo/registry");
    has("slim");
    has("ca-certificates");
    has("COPY config.yaml /app/config.yaml");
    has("ENV SYNCTV__SERVER__BIND=0.0.0.0:8080");
    has("EXPOSE 8080");
    has("STOPSIGNAL SIGTERM");
    has("USER 10001:10001");
    has("http://127.0.0.1:8080/health");
    let healthcheck = d.lines().any(|l| l.starts_with("HEALTHCHECK "));
    assert!(healthcheck, "a HEALTHCHECK instruction");
    let ignore = read(".dockerignore");
    for kept_out in ["/target", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == kept_out),
            ".dockerignore leaves out {kept_out}"
        );
    }
    for needed in ["Cargo.toml", "Cargo.lock", "config.yaml", "migrations"] {
        assert!(
            !ignore.lines().any(|l| l.trim() == needed),
            ".dockerignore keeps {needed}: the build needs it"
        );
    }
}
