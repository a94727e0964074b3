//! The HTTP listener under hostile or careless clients: half-sent requests, idle keep-alive
//! connections, more connections than the cap, and a process out of file descriptors.
//! Raw TCP clients, so the bytes on the wire are exactly the ones under test.

use std::io;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// One HTTP/1.1 response read off a raw socket: status, lower-cased head, body.
struct RawResponse {
    status: u16,
    head: String,
    body: String,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Read one response (its body sized by `content-length`) from `s`.
async fn read_response(s: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let parse = |buf: &[u8]| -> Option<RawResponse> {
        let text = std::str::from_utf8(buf).ok()?;
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let head = head.to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        (rest.len() >= len).then(|| RawResponse {
            status: head[9..12].parse().unwrap(),
            body: rest[..len].to_string(),
            head,
        })
    };
    loop {
        if let Some(r) = parse(&buf) {
            return r;
        }
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk))
            .await
            .expect("a response within the wait time")
            .expect("read");
        assert!(n > 0, "connection closed mid-response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `GET path` on a fresh connection.
async fn get(addr: SocketAddr, path: &str) -> RawResponse {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    read_response(&mut s).await
}

/// Wait until the server ends `s` (EOF or reset), asserting it sent nothing first.
async fn closed_by_server(mut s: TcpStream) {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
        Err(_) => panic!("the server kept a stalled connection open"),
        Ok(Ok(0)) => {}
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Ok(Ok(n)) => panic!(
            "unexpected answer: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Ok(Err(e)) => panic!("read: {e}"),
    }
}

/// The value of `name` (with its labels, e.g. `x{a="b"}`) in the exposition, 0 if absent.
/// A sample by name and, optionally, some of its labels (`name{a="b"}`): every series also
/// carries `node`, so labels are matched as a subset.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let (base, want) = match name.split_once('{') {
        Some((b, l)) => (b, l.trim_end_matches('}').split(',').collect::<Vec<_>>()),
        None => (name, Vec::new()),
    };
    app.metrics()
        .await
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(base)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            let have: Vec<&str> = labels.split(',').collect();
            want.iter()
                .all(|w| have.contains(w))
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0.0)
}

const REQUEST_TIMEOUTS: &str = r#"synctv_http_connection_timeouts_total{timeout="request"}"#;
const IDLE_TIMEOUTS: &str = r#"synctv_http_connection_timeouts_total{timeout="idle"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_and_health_keeps_answering() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| c.server.header_read_timeout_secs = 5).await;
    // Each stalled connection costs this process two descriptors (client and server side).
    let limit = synctv_api::listener::soft_file_limit().unwrap_or(1024) as usize;
    let n = 2000.min(limit.saturating_sub(512) / 4);
    let stalls: [&[u8]; 4] = [
        b"",
        b"GET /hea",
        b"GET /health HTTP/1.1\r\nHost: test\r\n",
        b"POST /api/auth/guest HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n{\"na",
    ];
    let mut stalled = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(stalls[i % stalls.len()]).await.unwrap();
        stalled.push(s);
    }
    // Accepted in order, so by the time this request is served every stalled one holds a
    // connection of its own.
    let r = get(app.addr, "/health").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "ok");
    let open = metric(&app, "synctv_http_connections_active").await;
    assert!(
        open >= n as f64,
        "{open} open connections, expected {n} stalled ones"
    );

    futures_util::future::join_all(stalled.into_iter().map(closed_by_server)).await;
    assert!(metric(&app, REQUEST_TIMEOUTS).await >= n as f64);
    let r = get(app.addr, "/health").await;
    assert_eq!(r.status, 200, "{}", r.body);
    eventually("the stalled connections' slots are released", || async {
        metric(&app, "synctv_http_connections_active").await < 10.0
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_but_websockets_are_not() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.server.http_idle_timeout_secs = 1;
        c.server.header_read_timeout_secs = 600;
    })
    .await;
    let owner = app.register("idler").await;
    let room = app.create_room(&owner, json!({"name": "idle"})).await;
    let mut ws = app.ws(room["room_id"].as_str().unwrap(), &owner, "").await;
    ws.welcome().await;

    // A keep-alive connection serves several requests, then idles after its last answer.
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut s).await.status, 200);
    }
    closed_by_server(s).await;
    // The idle deadline closed it, not the (far longer) request deadline.
    assert!(metric(&app, IDLE_TIMEOUTS).await >= 1.0);
    assert_eq!(metric(&app, REQUEST_TIMEOUTS).await, 0.0);

    // The WebSocket went quiet before that connection did, and still works.
    let (_, ack) = ws
        .request(json!({"type": "ping", "client_time_ms": 1}))
        .await;
    assert_eq!(ack["type"], "ack");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_get_503_overloaded_until_some_close() {
    const CAP: usize = 4;
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.server.max_http_connections = CAP;
        c.server.header_read_timeout_secs = 600;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..CAP {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    for _ in 0..3 {
        let r = get(app.addr, "/health").await;
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            r.head.contains("content-type: application/json"),
            "{}",
            r.head
        );
        assert!(r.head.contains("connection: close"), "{}", r.head);
        let body = r.json();
        assert_eq!(body["error"]["code"], "overloaded", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }

    idle.truncate(CAP - 2);
    eventually("a closed connection frees its slot", || async {
        get(app.addr, "/health").await.status == 200
    })
    .await;
    drop(idle);
    eventually("refusals are counted", || async {
        metric(&app, "synctv_http_connections_refused_total").await >= 3.0
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections_that_have_no_request_under_way() {
    let mut app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.server.header_read_timeout_secs = 600;
        c.server.http_idle_timeout_secs = 600;
    })
    .await;
    let silent = TcpStream::connect(app.addr).await.unwrap();
    let mut partial = TcpStream::connect(app.addr).await.unwrap();
    partial.write_all(b"GET /health HT").await.unwrap();
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.status, 200);

    app.trigger_shutdown();
    // Neither deadline is anywhere near: the shutdown closes them.
    for s in [silent, partial, idle] {
        closed_by_server(s).await;
    }
    app.join().await.expect("run() returns Ok");
}

/// The real binary, out of file descriptors: accepting fails (EMFILE), the loop waits and
/// retries, and serves again once descriptors are free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_does_not_stop_the_listener() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_synctv"))
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("SYNCTV__LOG__LEVEL", "warn,synctv_api=info")
        .env("SYNCTV__SERVER__BIND", "127.0.0.1:0")
        .env("SYNCTV__SERVER__SHUTDOWN_DRAIN_SECS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn synctv");
    let lines = log_lines(child.stdout.take().unwrap());
    // Killed on drop, whatever happens below.
    let server = crate::binary::Proc {
        child,
        addr: wait_line(&lines, "synctv listening")
            .split("addr=")
            .nth(1)
            .and_then(|a| a.split_whitespace().next())
            .expect("the listening line names the address")
            .to_string(),
        log: Default::default(),
    };
    let addr: SocketAddr = server.addr.parse().unwrap();
    assert_eq!(get(addr, "/health").await.status, 200);

    let pid = libc::pid_t::try_from(server.child.id()).unwrap();
    let (soft, hard) = file_limits(pid);
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64;
    set_file_limit(pid, open + 2, hard);
    let mut clients = Vec::new();
    for _ in 0..8 {
        // The kernel completes these handshakes; the server cannot accept them all.
        clients.push(TcpStream::connect(addr).await.unwrap());
    }
    wait_line(&lines, "accepting a connection failed");

    set_file_limit(pid, soft, hard);
    drop(clients);
    let r = get(addr, "/health").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let metrics = get(addr, "/metrics").await.body;
    let errors: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("synctv_http_accept_errors_total{")?
                .split_once("} ")
        })
        .and_then(|(_, v)| v.trim().parse().ok())
        .expect("accept errors are counted");
    assert!(errors >= 1.0);
}

fn log_lines(out: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The first log line containing `needle` (panics after the wait time).
fn wait_line(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("no log line with {needle:?}"),
        }
    }
}

/// The soft and hard open-file limits of process `pid`, from `/proc/<pid>/limits`.
fn file_limits(pid: libc::pid_t) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-file limit");
    let mut values = line["Max open files".len()..]
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(libc::RLIM_INFINITY));
    (values.next().unwrap(), values.next().unwrap())
}

fn set_file_limit(pid: libc::pid_t, soft: u64, hard: u64) {
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: prlimit(2) reads `new` (a valid local) and writes nothing (null old limit).
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", io::Error::last_os_error());
}
