//! k8s/: the Deployment's shape (three replicas, NODE_NAME from the pod's name, probes on
//! the node's own endpoints, a termination grace longer than the drain), the objects it
//! names exist and select it, and the pod's configuration really starts a node: the real
//! binary, run with the ConfigMap's file and the environment the pod spec gives it (the
//! Secret's values replaced by this machine's PostgreSQL and Redis), joins the cluster
//! under the pod's name and drains on SIGTERM; with the Secret's placeholders it refuses to
//! start.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;
use synctv_core::config::{Config, LoadOptions};

use super::*;
use crate::binary;
use crate::cluster::OPERATOR_TOKEN;
use crate::common::{TEST_SECRET, TestDb};

/// Every manifest under k8s/, by (kind, name).
fn manifests() -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("k8s")).unwrap() {
        let path = entry.unwrap().path();
        let rel = format!("k8s/{}", path.file_name().unwrap().to_string_lossy());
        for doc in yaml_docs(&rel) {
            let kind = str_of(&doc["kind"], "kind").to_string();
            let name = str_of(&doc["metadata"]["name"], "metadata.name").to_string();
            assert!(
                out.insert((kind.clone(), name.clone()), doc).is_none(),
                "{kind} {name} is defined once"
            );
        }
    }
    out
}

fn get<'a>(m: &'a BTreeMap<(String, String), Value>, kind: &str, name: &str) -> &'a Value {
    m.get(&(kind.to_string(), name.to_string()))
        .unwrap_or_else(|| panic!("k8s/ defines {kind} {name}"))
}

fn container(deploy: &Value) -> &Value {
    let cs = seq_of(
        &deploy["spec"]["template"]["spec"]["containers"],
        "containers",
    );
    assert_eq!(cs.len(), 1, "one container per pod");
    &cs[0]
}

/// The ConfigMap's config.yaml, loaded by synctv's own loader (unknown keys and invalid
/// values fail here as they would at the pod's start).
fn configmap_config(m: &BTreeMap<(String, String), Value>) -> (tempfile::TempDir, Config) {
    let text = str_of(
        &get(m, "ConfigMap", "synctv-config")["data"]["config.yaml"],
        "config.yaml",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).unwrap();
    let config = Config::load(&LoadOptions {
        path,
        explicit: true,
    })
    .unwrap_or_else(|e| panic!("k8s/configmap.yaml's config.yaml: {e}"));
    (dir, config)
}

fn secret_data(m: &BTreeMap<(String, String), Value>) -> BTreeMap<String, String> {
    get(m, "Secret", "synctv")["stringData"]
        .as_mapping()
        .expect("the Secret's stringData")
        .iter()
        .map(|(k, v)| (str_of(k, "a key").into(), str_of(v, "a value").into()))
        .collect()
}

const SECRET_KEYS: [&str; 4] = [
    "SYNCTV__AUTH__JWT_SECRET",
    "SYNCTV__CLUSTER__OPERATOR_TOKEN",
    "SYNCTV__DATABASE__URL",
    "SYNCTV__REDIS__URL",
];

#[test]
fn deployment_runs_three_named_nodes_with_probes_and_a_grace_longer_than_the_drain() {
    let m = manifests();
    let d = get(&m, "Deployment", "synctv");
    assert_eq!(d["spec"]["replicas"].as_u64(), Some(3));
    let labels = &d["spec"]["template"]["metadata"]["labels"];
    assert_eq!(
        &d["spec"]["selector"]["matchLabels"], labels,
        "the selector is the pods' labels"
    );
    let c = container(d);
    let env = seq_of(&c["env"], "env");
    let node_name = env
        .iter()
        .find(|e| e["name"].as_str() == Some("NODE_NAME"))
        .expect("NODE_NAME in the container's env");
    assert_eq!(
        node_name["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("metadata.name"),
        "NODE_NAME is the pod's name (downward API)"
    );
    let port = &seq_of(&c["ports"], "ports")[0];
    assert_eq!(port["name"].as_str(), Some("http"));
    assert_eq!(port["containerPort"].as_u64(), Some(8080));
    for (probe, path) in [
        ("livenessProbe", "/health"),
        ("readinessProbe", "/ready"),
        ("startupProbe", "/health"),
    ] {
        assert_eq!(c[probe]["httpGet"]["path"].as_str(), Some(path), "{probe}");
        assert_eq!(
            c[probe]["httpGet"]["port"].as_str(),
            Some("http"),
            "{probe}"
        );
    }

    // The kill comes terminationGracePeriodSeconds after termination starts: the preStop
    // sleep, the drain and the close flush must fit before it.
    let (_dir, config) = configmap_config(&m);
    assert_eq!(
        config.server.bind.port(),
        8080,
        "the ConfigMap binds the container port"
    );
    let pre_stop: Vec<&str> = seq_of(&c["lifecycle"]["preStop"]["exec"]["command"], "preStop")
        .iter()
        .map(|v| str_of(v, "a word"))
        .collect();
    assert_eq!(pre_stop[0], "sleep");
    let sleep: u64 = pre_stop[1].parse().unwrap();
    let grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    let drain = config.server.shutdown_drain_secs;
    let close = config.ws.close_grace_ms.div_ceil(1000);
    assert!(
        grace > sleep + drain + close,
        "terminationGracePeriodSeconds {grace} > preStop {sleep} + drain {drain} + close {close}"
    );

    // The ConfigMap is mounted where the container's --config points.
    let args: Vec<&str> = seq_of(&c["args"], "args")
        .iter()
        .map(|v| str_of(v, "an arg"))
        .collect();
    assert_eq!(args, ["--config", "/etc/synctv/config.yaml"]);
    let mount = seq_of(&c["volumeMounts"], "volumeMounts")
        .iter()
        .find(|v| v["mountPath"].as_str() == Some("/etc/synctv"))
        .expect("a mount at /etc/synctv");
    let volume = seq_of(&d["spec"]["template"]["spec"]["volumes"], "volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert_eq!(volume["configMap"]["name"].as_str(), Some("synctv-config"));

    // The image's user (Dockerfile: USER 10001:10001), so runAsNonRoot can be enforced.
    let pod_sec = &d["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(pod_sec["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod_sec["runAsUser"].as_u64(), Some(10001));
    let secret_ref = &seq_of(&c["envFrom"], "envFrom")[0]["secretRef"]["name"];
    assert_eq!(secret_ref.as_str(), Some("synctv"), "env from the Secret");
}

#[test]
fn service_pdb_and_secret_match_the_deployment() {
    let m = manifests();
    let d = get(&m, "Deployment", "synctv");
    let labels = d["spec"]["template"]["metadata"]["labels"].clone();
    let svc = get(&m, "Service", "synctv");
    assert_eq!(
        svc["spec"]["selector"], labels,
        "the Service selects the pods"
    );
    let sp = &seq_of(&svc["spec"]["ports"], "ports")[0];
    assert_eq!(sp["targetPort"].as_str(), Some("http"));
    let pdb = get(&m, "PodDisruptionBudget", "synctv");
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], labels);
    let max_unavailable = pdb["spec"]["maxUnavailable"].as_u64().unwrap();
    assert!(max_unavailable < d["spec"]["replicas"].as_u64().unwrap());
    let keys: Vec<String> = secret_data(&m).into_keys().collect();
    assert_eq!(keys, SECRET_KEYS, "the Secret holds the cluster's settings");
    let annotations = &d["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(annotations["prometheus.io/port"].as_str(), Some("8080"));
}

/// The environment the kubelet gives the container: its `env` (fieldRefs resolved to
/// `pod`'s name and 127.0.0.1, `$(VAR)` expanded) and the Secret through `envFrom`.
fn pod_env(c: &Value, secret: &BTreeMap<String, String>, pod: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = secret.clone().into_iter().collect();
    for e in seq_of(&c["env"], "env") {
        let name = str_of(&e["name"], "env name").to_string();
        let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("metadata.name") => pod.to_string(),
            Some("status.podIP") => "127.0.0.1".to_string(),
            Some(other) => panic!("a fieldRef this test does not resolve: {other}"),
            None => {
                let mut v = str_of(&e["value"], "env value").to_string();
                for (k, val) in &env {
                    v = v.replace(&format!("$({k})"), val);
                }
                v
            }
        };
        env.push((name, value));
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_spec_starts_a_cluster_node_named_after_the_pod() {
    let m = manifests();
    let c = container(get(&m, "Deployment", "synctv"));
    let (dir, _) = configmap_config(&m);
    let db = TestDb::new(crate::common::DbKind::Postgres).await;
    let redis = synctv_testkit::shared_redis_url();
    let mut secret = secret_data(&m);
    for (key, real) in [
        ("SYNCTV__AUTH__JWT_SECRET", TEST_SECRET),
        ("SYNCTV__DATABASE__URL", db.url.as_str()),
        ("SYNCTV__REDIS__URL", redis.as_str()),
        ("SYNCTV__CLUSTER__OPERATOR_TOKEN", OPERATOR_TOKEN),
    ] {
        secret.insert(key.into(), real.into());
    }
    let pod = "synctv-7d9f6b5c4-x2x9q";
    let mut env = pod_env(c, &secret, pod);
    // Test-only: a free port instead of the container's 8080, and keys of its own in the
    // shared Redis.
    let prefix = synctv_testkit::unique_prefix("k8s");
    env.push(("SYNCTV__SERVER__BIND".into(), "127.0.0.1:0".into()));
    env.push(("SYNCTV__REDIS__KEY_PREFIX".into(), prefix));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args: Vec<&str> = ["--config", "config.yaml"].into();
    let mut p = binary::start(dir.path(), &args, &env_refs);

    let http = reqwest::Client::new();
    let base = format!("http://{}", p.addr);
    let ready: serde_json::Value = http
        .get(format!("{base}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"]["cluster_mode"], true, "{ready}");
    let status: serde_json::Value = http
        .get(format!("{base}/api/cluster/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = status.to_string();
    assert!(text.contains(pod), "listed under the pod's name: {text}");
    assert!(text.contains("127.0.0.1:8080"), "at $(POD_IP):8080: {text}");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("node_name=\"{pod}\"")),
        "synctv_node_info names the pod:\n{metrics}"
    );
    let exit = tokio::task::spawn_blocking(move || binary::terminate(&mut p))
        .await
        .unwrap();
    assert!(
        exit.success(),
        "SIGTERM: drained and exited 0, got {exit:?}"
    );
}

#[test]
fn the_secret_placeholders_are_refused_at_start() {
    let m = manifests();
    let c = container(get(&m, "Deployment", "synctv"));
    let (dir, _) = configmap_config(&m);
    let env = pod_env(c, &secret_data(&m), "synctv-0");
    let mut env_refs: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env_refs.push(("SYNCTV__SERVER__BIND", "127.0.0.1:0"));
    let err = binary::refuse_with(dir.path(), &["--config", "config.yaml"], &env_refs);
    assert!(
        err.contains("auth.jwt_secret") && err.contains("sample secret"),
        "the placeholder JWT secret is refused: {err}"
    );
    assert!(
        err.contains("cluster.operator_token"),
        "the placeholder operator token is refused: {err}"
    );
}
