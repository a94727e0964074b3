//! deploy/prometheus/ and its copy in k8s/ through the real promtool: the rules load, their
//! unit tests (alerts_test.yml) pass, both scrape configs load with the rules, the
//! Kubernetes copy of the rules is the file itself, and a live cluster node's /metrics
//! (after real traffic, so labelled series exist) passes `promtool check metrics` and
//! carries every metric the rules read.

use std::collections::BTreeSet;

use serde_json::json;
use synctv_testkit::run_promtool;

use super::*;
use crate::cluster::Cluster;

const ALERTS: &str = "deploy/prometheus/alerts.yml";

/// Run promtool in `dir`; panic with its output unless it succeeds.
fn promtool_ok(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = run_promtool(dir, args, stdin);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let dir = repo().join("deploy/prometheus");
    promtool_ok(&dir, &["check", "rules", "alerts.yml"], None);
    promtool_ok(&dir, &["test", "rules", "alerts_test.yml"], None);
    // The compose config: its static targets need no resolving; rule_files are loaded.
    let out = promtool_ok(&dir, &["check", "config", "prometheus.yml"], None);
    assert!(out.contains("1 rule files found"), "{out}");
}

/// Alert names, and every `synctv_*` metric the expressions read (histogram series by
/// their family name).
fn rules() -> (Vec<String>, BTreeSet<String>) {
    let doc = yaml(ALERTS);
    let mut names = Vec::new();
    let mut metrics = BTreeSet::new();
    for group in seq_of(&doc["groups"], "groups") {
        for rule in seq_of(&group["rules"], "rules") {
            let name = str_of(&rule["alert"], "alert").to_string();
            let severity = rule["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("critical" | "warning")),
                "{name}: severity critical or warning, got {severity:?}"
            );
            for a in ["summary", "description"] {
                assert!(rule["annotations"][a].is_string(), "{name}: annotation {a}");
            }
            let expr = str_of(&rule["expr"], "expr");
            for (i, _) in expr.match_indices("synctv_") {
                let m: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                metrics.insert(m.strip_suffix("_bucket").unwrap_or(&m).to_string());
            }
            names.push(name);
        }
    }
    (names, metrics)
}

#[test]
fn kubernetes_carries_the_same_rules_and_a_scrape_job_promtool_accepts() {
    let docs = yaml_docs("k8s/prometheus.yaml");
    let cm = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .expect("a ConfigMap in k8s/prometheus.yaml");
    let embedded = str_of(&cm["data"]["alerts.yml"], "data.alerts.yml");
    assert!(
        embedded == read(ALERTS),
        "k8s/prometheus.yaml's alerts.yml differs from {ALERTS}: paste the file into it again, \
         indented by four spaces under `alerts.yml: |`"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alerts.yml"), embedded).unwrap();
    let prom = str_of(&cm["data"]["prometheus.yml"], "data.prometheus.yml");
    let mut conf: Value = serde_yaml_ng::from_str(prom).unwrap();
    let job = seq_of(&conf["scrape_configs"], "scrape_configs")
        .iter()
        .find(|j| j["job_name"].as_str() == Some("synctv"))
        .expect("a scrape job named synctv (the rules select job=\"synctv\")");
    assert_eq!(
        job["kubernetes_sd_configs"][0]["role"].as_str(),
        Some("pod"),
        "every pod, not the Service"
    );
    std::fs::write(dir.path().join("prometheus.yml"), prom).unwrap();
    let out = run_promtool(dir.path(), &["check", "config", "prometheus.yml"], None);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return;
    }
    // Debian's promtool is built without Kubernetes discovery. Then check everything but
    // the discovery block: the same job with one static target instead.
    assert!(
        text.contains("field kubernetes_sd_configs not found"),
        "promtool refused k8s/prometheus.yaml's prometheus.yml:\n{text}"
    );
    eprintln!(
        "NOTE: this promtool has no Kubernetes discovery; k8s/prometheus.yaml's scrape job \
         was checked with a static target in place of kubernetes_sd_configs"
    );
    let job = conf["scrape_configs"][0].as_mapping_mut().unwrap();
    job.remove("kubernetes_sd_configs");
    job.insert(
        "static_configs".into(),
        serde_yaml_ng::from_str("[{targets: ['synctv-0:8080']}]").unwrap(),
    );
    std::fs::write(
        dir.path().join("prometheus.yml"),
        serde_yaml_ng::to_string(&conf).unwrap(),
    )
    .unwrap();
    let out = promtool_ok(dir.path(), &["check", "config", "prometheus.yml"], None);
    assert!(out.contains("1 rule files found"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_nodes_metrics_pass_promtool_and_carry_what_the_rules_read() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    // Traffic that creates the labelled series: HTTP routes (and /ready, as probes ask it),
    // sockets on both nodes, a chat carried from one node to the other, an error frame.
    let owner = a
        .register(&format!("owner{}", crate::cluster::rand_suffix()))
        .await;
    let room = a.create_room(&owner, json!({"name": "metrics"})).await;
    let room = room["room_id"].as_str().unwrap().to_string();
    let guest = b.guest("guest").await;
    let mut on_a = a.record(&room, &owner, "", "on-a").await;
    let on_b = b.record(&room, &guest, "", "on-b").await;
    on_b.wait("welcome", |f| !f.is_empty()).await;
    let seq = on_a.chat("hello from a").await;
    on_b.wait_seq(seq).await;
    let r = on_a.send_ref(json!({"type": "no_such_frame"})).await;
    assert_eq!(on_a.answer(&r).await["type"], "error");
    for n in [a, b] {
        let (status, _) = n.get("/ready", None).await;
        assert_eq!(status, 200);
    }

    let (alerts, read) = rules();
    assert!(alerts.len() >= 7, "{alerts:?}");
    for (i, n) in [a, b].into_iter().enumerate() {
        let body = n.metrics().await;
        let out = promtool_ok(
            repo().as_path(),
            &["check", "metrics"],
            Some(body.as_bytes()),
        );
        assert!(
            out.trim().is_empty(),
            "node {i}: promtool check metrics found problems:\n{out}"
        );
        for m in &read {
            assert!(
                body.contains(&format!("# TYPE {m} ")),
                "node {i}: the rules read {m}, which the node does not export:\n{body}"
            );
        }
        for (name, labels) in [
            (
                "synctv_http_requests_total",
                &[r#"method="GET""#, r#"route="/ready""#, r#"status="200""#][..],
            ),
            (
                "synctv_redis_pubsub_messages_total",
                &[r#"channel="canary""#][..],
            ),
            (
                "synctv_event_delivery_duration_seconds_bucket",
                &["le="][..],
            ),
        ] {
            let found = body.lines().any(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix('{'))
                    .is_some_and(|r| {
                        r.contains(r#"node=""#) && labels.iter().all(|x| r.contains(x))
                    })
            });
            assert!(found, "node {i}: {name}{{{labels:?}, node}} in:\n{body}");
        }
    }
    drop((on_a, on_b));
    cluster.stop().await;
}
