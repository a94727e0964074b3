//! The real `synctv` binary: configuration sources, refusal of bad configuration, SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_synctv");

/// A running server process and the address it reported.
pub(crate) struct Proc {
    pub child: Child,
    pub addr: String,
    /// Every line it wrote to stdout so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    /// Kill it at once (SIGKILL): no drain, no deregistration, like a crashed machine.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_hard();
        }
    }
}

/// Start the binary in `cwd` with `args` and `envs`; wait for its "listening" line (text
/// or JSON logs).
pub(crate) fn start(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("RUST_LOG").env("SYNCTV__LOG__LEVEL", "info");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn synctv");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line.clone());
            // The "listening" line: `addr=<addr>` in text logs, `"addr":"<addr>"` in JSON.
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
            } else if let Some(addr) = line.split("\"addr\":\"").nth(1) {
                let _ = tx.send(addr.split('"').next().unwrap_or("").to_string());
            }
        }
    });
    match rx.recv_timeout(WAIT) {
        Ok(addr) => Proc { child, addr, log },
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "synctv did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Run the binary expecting it to refuse to start; returns its stderr.
pub(crate) fn refuse(cwd: &Path, envs: &[(&str, &str)]) -> String {
    refuse_with(cwd, &[], envs)
}

/// `refuse` with command-line arguments.
pub(crate) fn refuse_with(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "synctv should refuse to start with {envs:?}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Send a request and read its JSON answer.
async fn call(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// SIGTERM, then wait (at most 30s) for the exit.
pub(crate) fn terminate(p: &mut Proc) -> std::process::ExitStatus {
    let pid = libc::pid_t::try_from(p.child.id()).unwrap();
    // SAFETY: kill(2) with a child's pid and a valid signal number touches no memory of ours.
    assert_eq!(
        unsafe { libc::kill(pid, libc::SIGTERM) },
        0,
        "SIGTERM delivered"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "synctv did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_need_no_config_and_sigterm_drains_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = start(
        dir.path(),
        &[],
        &[
            ("SYNCTV__SERVER__BIND", "127.0.0.1:0"),
            ("SYNCTV__SERVER__SHUTDOWN_DRAIN_SECS", "1"),
        ],
    );
    assert!(
        dir.path().join("data/synctv.db").is_file(),
        "embedded SQLite under ./data"
    );
    assert!(dir.path().join("data/jwt_secret").is_file());
    let http = reqwest::Client::new();
    let base = format!("http://{}", p.addr);
    let ready = call(http.get(format!("{base}/ready"))).await;
    assert_eq!(ready["status"], "ready");
    // A connected client gets the shutdown notice, then 1001.
    let reg = call(
        http.post(format!("{base}/api/auth/register"))
            .json(&json!({"username": "u", "password": "secret-pw"})),
    )
    .await;
    let token = reg["token"].as_str().unwrap();
    let room = call(
        http.post(format!("{base}/api/rooms"))
            .bearer_auth(token)
            .json(&json!({"name": "r"})),
    )
    .await;
    let url = format!(
        "ws://{}/api/rooms/{}/ws?token={token}",
        p.addr,
        room["room_id"].as_str().unwrap()
    );
    let mut c = WsClient::connect(&url).await.unwrap();
    c.welcome().await;
    c.event("member_joined").await;
    let status = tokio::task::spawn_blocking(move || {
        let s = terminate(&mut p);
        (s, p)
    });
    assert_eq!(c.recv().await["type"], "shutdown");
    let (_, closed) = c.closed().await;
    assert_eq!(closed, Closed::Code(1001, "server shutting down".into()));
    let (status, _p) = status.await.unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn config_file_and_environment_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere/custom.db");
    std::fs::write(
        dir.path().join("my.yaml"),
        format!(
            "server:\n  bind: 127.0.0.1:1\n  data_dir: {}\ndatabase:\n  url: sqlite://{}\ncluster:\n  node_name: from-file\n",
            dir.path().join("d").display(),
            db.display()
        ),
    )
    .unwrap();
    // The file says port 1; the environment overrides it.
    let mut p = start(
        dir.path(),
        &["--config", "my.yaml"],
        &[
            ("SYNCTV__SERVER__BIND", "127.0.0.1:0"),
            ("NODE_NAME", "node-name-from-env"),
        ],
    );
    assert!(db.is_file(), "database.url from the file");
    assert!(!p.addr.ends_with(":1"), "server.bind from the environment");
    let body = reqwest::blocking_get(&format!("http://{}/api/cluster/status", p.addr));
    assert!(
        body.contains("node-name-from-env"),
        "NODE_NAME overrides the file: {body}"
    );
    assert!(terminate(&mut p).success());
}

#[test]
fn invalid_configuration_stops_the_start_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let err = refuse(dir.path(), &[("SYNCTV__WS__SEND_QUEUE_LEN", "lots")]);
    assert!(
        err.contains("ws.send_queue_len") && err.contains("SYNCTV__WS__SEND_QUEUE_LEN"),
        "{err}"
    );
    let err = refuse(dir.path(), &[("SYNCTV__SERVER__BIND", "nowhere")]);
    assert!(err.contains("server.bind"), "{err}");
    let err = refuse(dir.path(), &[("SYNCTV__WS__IDLE_TIMEOUT_SECS", "1")]);
    assert!(err.contains("ws.idle_timeout_secs"), "{err}");
    let pg = pg_admin_url();
    let err = refuse(dir.path(), &[("SYNCTV__DATABASE__URL", pg.as_str())]);
    assert!(
        err.contains("auth.jwt_secret"),
        "a shared database needs a configured secret: {err}"
    );
    let sample = synctv_core::config::SAMPLE_JWT_SECRET;
    let err = refuse(
        dir.path(),
        &[
            ("SYNCTV__DATABASE__URL", pg.as_str()),
            ("SYNCTV__AUTH__JWT_SECRET", sample),
        ],
    );
    assert!(err.contains("sample secret"), "{err}");
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["--config", "missing.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}

mod reqwest {
    pub use ::reqwest::*;

    /// A small blocking GET (the async client needs a runtime, these tests have none).
    pub fn blocking_get(url: &str) -> String {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}

/// Secrets never reach the logs, even at debug level: passwords (account and room), tokens
/// (in headers and in the WebSocket query string) and the JWT secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "jwt-secret-that-must-not-leak-0123456789";
    // Debug level (`start` sets info; this overrides it) logs far more: requests, SQL,
    // sockets.
    let mut p = start(
        dir.path(),
        &[],
        &[
            ("SYNCTV__SERVER__BIND", "127.0.0.1:0"),
            ("SYNCTV__SERVER__SHUTDOWN_DRAIN_SECS", "0"),
            ("SYNCTV__AUTH__JWT_SECRET", secret),
            ("SYNCTV__LOG__LEVEL", "debug"),
            ("SYNCTV__LOG__FORMAT", "json"),
        ],
    );
    let http = reqwest::Client::new();
    let base = format!("http://{}", p.addr);
    let (password, room_password) = ("account-pw-must-not-leak", "room-pw-must-not-leak");
    let reg = call(
        http.post(format!("{base}/api/auth/register"))
            .json(&json!({"username": "u", "password": password})),
    )
    .await;
    let token = reg["token"].as_str().unwrap().to_string();
    let _ = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "u", "password": "wrong-pw-must-not-leak"}))
        .send()
        .await
        .unwrap();
    let room = call(
        http.post(format!("{base}/api/rooms"))
            .bearer_auth(&token)
            .json(&json!({"name": "r", "password": room_password})),
    )
    .await;
    let other = call(
        http.post(format!("{base}/api/auth/register"))
            .json(&json!({"username": "v", "password": password})),
    )
    .await;
    let other_token = other["token"].as_str().unwrap();
    let url = format!(
        "ws://{}/api/rooms/{}/ws?token={other_token}&password={room_password}",
        p.addr,
        room["room_id"].as_str().unwrap()
    );
    let mut c = WsClient::connect(&url).await.unwrap();
    c.welcome().await;
    c.chat("hello").await;
    let p = tokio::task::spawn_blocking(move || {
        terminate(&mut p);
        p
    })
    .await
    .unwrap();
    let log = p.log.lock().unwrap().join("\n");
    assert!(log.contains("synctv listening"), "the log was captured");
    assert!(log.lines().count() > 10, "debug logging was on:\n{log}");
    let signature = token.rsplit('.').next().unwrap();
    for leak in [
        secret,
        password,
        room_password,
        "wrong-pw-must-not-leak",
        signature,
        other_token.rsplit('.').next().unwrap(),
        "$argon2",
    ] {
        assert!(!log.contains(leak), "{leak} is in the log");
    }
}
