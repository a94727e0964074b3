//! A real nginx in front of test nodes, running the load-balancer config the project ships
//! (`deploy/nginx/synctv.conf`, the one docker-compose uses), so a test exercises exactly
//! that file. Only two things are changed: the upstream server list (between the config's
//! `BEGIN`/`END synctv upstream servers` markers) becomes the test's nodes, and `listen 80`
//! becomes a free port on 127.0.0.1.
//!
//! The shipped file is an http-context snippet; a generated `nginx.conf` around it keeps
//! everything nginx writes (pid, logs, temp files) inside a temp dir, so it runs as any
//! user and never touches the distribution's `/var/log/nginx` or `/var/lib/nginx`.

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BEGIN: &str = "BEGIN synctv upstream servers";
const END: &str = "END synctv upstream servers";

/// One nginx (master and workers, in their own process group) on a free port.
pub struct Nginx {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// The config the project ships (and docker-compose mounts).
    pub fn shipped_config() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/synctv.conf")
    }

    /// nginx with the shipped config, balancing over `upstreams` (`host:port` each).
    pub fn start<A: ToString>(upstreams: &[A]) -> Nginx {
        Self::start_with(&Self::shipped_config(), upstreams)
    }

    /// nginx with the snippet at `conf`, balancing over `upstreams`. Panics, with nginx's
    /// own messages, when it does not come up.
    pub fn start_with<A: ToString>(conf: &Path, upstreams: &[A]) -> Nginx {
        let shipped = std::fs::read_to_string(conf)
            .unwrap_or_else(|e| panic!("reading {}: {e}", conf.display()));
        let upstreams: Vec<String> = upstreams.iter().map(|a| a.to_string()).collect();
        let bin = binary();
        // free_port() closes its listener before nginx binds, so another process may take
        // the port in between: then nginx fails to bind and we try another one.
        let mut last_failure = String::new();
        for _ in 0..3 {
            let port = crate::free_port();
            let dir = tempfile::tempdir().expect("temp dir");
            // nginx creates only the last component of its temp paths.
            std::fs::create_dir(dir.path().join("tmp")).expect("temp dir for nginx");
            std::fs::write(
                dir.path().join("synctv.conf"),
                render(&shipped, &upstreams, port),
            )
            .expect("write the site config");
            std::fs::write(dir.path().join("nginx.conf"), main_conf(dir.path()))
                .expect("write nginx.conf");
            let child = spawn(&bin, dir.path());
            let mut nginx = Nginx { port, dir, child };
            match nginx.wait_ready() {
                Ok(()) => return nginx,
                Err(why) => last_failure = why,
            }
        }
        panic!("nginx did not start: {last_failure}");
    }

    /// `127.0.0.1:<port>`, for `http://` and `ws://` URLs.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What nginx logged so far (errors and warnings), for failure messages.
    pub fn error_log(&self) -> String {
        let mut s = read(&self.dir.path().join("stderr.log"));
        s.push_str(&read(&self.dir.path().join("error.log")));
        s
    }

    /// The access log (one line per request, with the upstream that served it).
    pub fn access_log(&self) -> String {
        read(&self.dir.path().join("access.log"))
    }

    /// Wait until the port accepts connections while nginx is still running.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}:\n{}", self.error_log()));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "nothing answered on {} within 10s:\n{}",
            self.port,
            self.error_log()
        ))
    }
}

impl Drop for Nginx {
    /// Kill master and workers together: workers outlive a killed master otherwise, and
    /// would keep the port and the proxied sockets open.
    fn drop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: signals the process group this struct created (see `spawn`), nothing else.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// `/usr/sbin/nginx` (not on a normal user's PATH on Debian), else `nginx` from PATH.
fn binary() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.exists() {
        return sbin;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "nginx is not installed (neither /usr/sbin/nginx nor nginx on PATH): \
             scripts/test installs Debian's nginx package, or run `apt-get install nginx`"
        )
    })
}

fn spawn(bin: &Path, dir: &Path) -> Child {
    let path = |name: &str| dir.join(name).display().to_string();
    let stderr = std::fs::File::create(dir.join("stderr.log")).expect("stderr log");
    Command::new(bin)
        // -e: the log for messages before the config is read (the compiled-in default may
        // be a file under /var/log/nginx that a normal user cannot open).
        .args(["-e", &path("error.log")])
        .args(["-p", &path("")])
        .args(["-c", &path("nginx.conf")])
        .args([
            "-g",
            &format!(
                "daemon off; pid {}; error_log {} notice;",
                path("nginx.pid"),
                path("error.log")
            ),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        // Its own process group, so Drop can kill the workers with the master.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
}

/// The main config around the site snippet: every path nginx writes points into `dir`.
fn main_conf(dir: &Path) -> String {
    let p = |name: &str| dir.join(name).display().to_string();
    // As root nginx would run its workers as `nobody`, who cannot enter the private temp
    // dir; as any other user the `user` directive is ignored (with a warning), so leave it
    // out then.
    // SAFETY: geteuid has no preconditions.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    format!(
        "{user}
worker_processes 2;
lock_file {lock};
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$remote_addr \"$request\" $status upstream=$upstream_addr';
    access_log {access} upstream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
",
        lock = p("nginx.lock"),
        access = p("access.log"),
        tmp = p("tmp"),
        site = p("synctv.conf"),
    )
}

/// The shipped snippet with its upstream `server` lines replaced by one per address (each
/// keeping the parameters of the first shipped line, e.g. `max_fails`) and its one
/// `listen` directive replaced by `listen 127.0.0.1:<port>`. Everything else is kept as is.
pub fn render(shipped: &str, upstreams: &[String], port: u16) -> String {
    assert!(!upstreams.is_empty(), "nginx needs at least one upstream");
    let lines: Vec<&str> = shipped.lines().collect();
    let marker = |m: &str| {
        lines
            .iter()
            .position(|l| l.trim_start().starts_with('#') && l.contains(m))
            .unwrap_or_else(|| panic!("the nginx config has no `# {m}` marker line"))
    };
    let (begin, end) = (marker(BEGIN), marker(END));
    assert!(begin < end, "`{BEGIN}` must come before `{END}`");
    let template = lines[begin + 1..end]
        .iter()
        .find(|l| l.trim_start().starts_with("server "))
        .expect("a `server` line between the upstream markers");
    let indent = &template[..template.len() - template.trim_start().len()];
    let params: Vec<&str> = template
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .skip(2)
        .collect();
    let mut out: Vec<String> = lines[..=begin].iter().map(|l| l.to_string()).collect();
    for a in upstreams {
        let mut line = format!("{indent}server {a}");
        for p in &params {
            line.push(' ');
            line.push_str(p);
        }
        line.push(';');
        out.push(line);
    }
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    let listens: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("listen "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        listens.len(),
        1,
        "the nginx config must have exactly one `listen` line"
    );
    let l = &out[listens[0]];
    let indent = &l[..l.len() - l.trim_start().len()];
    out[listens[0]] = format!("{indent}listen 127.0.0.1:{port};");
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn read(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_swaps_only_the_servers_and_the_port() {
        let shipped = std::fs::read_to_string(Nginx::shipped_config()).unwrap();
        let ups = vec!["127.0.0.1:1001".to_string(), "127.0.0.1:1002".to_string()];
        let out = render(&shipped, &ups, 4321);
        assert!(out.contains("    server 127.0.0.1:1001 max_fails=3 fail_timeout=10s;\n"));
        assert!(out.contains("    server 127.0.0.1:1002 max_fails=3 fail_timeout=10s;\n"));
        assert!(out.contains("    listen 127.0.0.1:4321;\n"));
        assert!(!out.contains("synctv-1:8080") && !out.contains("listen 80;"));
        // Every other line is the shipped one.
        let kept = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| {
                    let t = l.trim_start();
                    !t.starts_with("server ") && !t.starts_with("listen ")
                })
                .map(String::from)
                .collect()
        };
        assert_eq!(kept(&out), kept(&shipped));
    }
}
