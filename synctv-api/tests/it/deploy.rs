//! The deployment files run, as far as this machine can run them: every YAML file of the
//! repository parses; docker-compose.yml, the Dockerfile and k8s/ agree with each other and
//! with what the node does (ports, probes, drain, secrets); the real binary starts from the
//! Kubernetes ConfigMap and Secret and refuses their placeholders; promtool accepts the
//! alert rules, runs their unit tests and accepts a live node's /metrics; `docker compose
//! config` accepts the compose file where Docker Compose is installed. nginx with the
//! compose file's config in front of three nodes is `cluster::nginx`.
//!
//! Not run here (no container engine, no Kubernetes cluster): building the image, `docker
//! compose up`, `kubectl apply`.

pub mod compose;
mod k8s;
mod prometheus;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every document of a YAML file, with `<<` merge keys applied (compose uses them).
pub fn yaml_docs(rel: &str) -> Vec<Value> {
    parse_docs(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn parse_docs(text: &str) -> Result<Vec<Value>, serde_yaml_ng::Error> {
    let mut docs = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        let mut v = Value::deserialize(de)?;
        v.apply_merge()?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// The one document of a single-document YAML file.
pub fn yaml(rel: &str) -> Value {
    let mut docs = yaml_docs(rel);
    assert_eq!(docs.len(), 1, "{rel} holds one YAML document");
    docs.remove(0)
}

pub fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is a string, got {v:?}"))
}

pub fn seq_of<'a>(v: &'a Value, what: &str) -> &'a [Value] {
    v.as_sequence()
        .unwrap_or_else(|| panic!("{what} is a list, got {v:?}"))
}

/// Every `*.yml`/`*.yaml` file under the repository root, outside build output and VCS.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "data" | "node_modules") {
                yaml_files(&path, out);
            }
        } else if name.ends_with(".yml") || name.ends_with(".yaml") {
            out.push(path);
        }
    }
}

#[test]
fn every_yaml_file_in_the_repository_parses() {
    let mut files = Vec::new();
    yaml_files(&repo(), &mut files);
    let rel: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(repo()).unwrap().display().to_string())
        .collect();
    for want in [
        "config.yaml",
        "docker-compose.yml",
        "deploy/prometheus/prometheus.yml",
        "deploy/prometheus/alerts.yml",
        "k8s/deployment.yaml",
    ] {
        assert!(rel.iter().any(|r| r == want), "{want} among {rel:?}");
    }
    for (path, name) in files.iter().zip(&rel) {
        let text = std::fs::read_to_string(path).unwrap();
        let docs = parse_docs(&text).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
        assert!(!docs.is_empty(), "{name} holds no YAML document");
        if name.starts_with("k8s/") {
            for d in &docs {
                for key in ["apiVersion", "kind"] {
                    assert!(d[key].is_string(), "{name}: every manifest has {key}");
                }
                assert!(d["metadata"]["name"].is_string(), "{name}: metadata.name");
            }
        }
    }
}

/// `docker compose config` resolves and validates the file against Compose's own schema.
/// This machine has a Docker client but no Compose plugin (and no engine), so here the test
/// says so and checks nothing more; where Compose is installed it must accept the file, and
/// must refuse it without the JWT secret, naming the variable.
#[test]
fn docker_compose_config_accepts_the_compose_file() {
    let compose = |secret: Option<&str>| {
        let mut cmd = Command::new("docker");
        cmd.current_dir(repo())
            .args([
                "compose",
                "--file",
                "docker-compose.yml",
                "config",
                "--quiet",
            ])
            .env_remove("SYNCTV_JWT_SECRET");
        if let Some(s) = secret {
            cmd.env("SYNCTV_JWT_SECRET", s);
        }
        cmd.output()
    };
    let available = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!(
            "NOT RUN: `docker compose` is not installed here, so `docker compose config` \
             did not check docker-compose.yml (the structural checks in deploy::compose did)"
        );
        return;
    }
    let out = compose(Some(crate::common::TEST_SECRET)).unwrap();
    assert!(
        out.status.success(),
        "docker compose config refused docker-compose.yml:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = compose(None).unwrap();
    assert!(!out.status.success(), "the JWT secret is required");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SYNCTV_JWT_SECRET"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
