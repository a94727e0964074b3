//! Prometheus's `promtool`, for tests that check the shipped alert rules and scrape config
//! and a live node's `/metrics` with the real tool. Found like nginx: never skipped, a
//! missing promtool fails the test and says how to get one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `SYNCTV_TEST_PROMTOOL` (scripts/test exports it), else `promtool` on PATH.
pub fn promtool() -> PathBuf {
    if let Some(p) = std::env::var_os("SYNCTV_TEST_PROMTOOL").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "SYNCTV_TEST_PROMTOOL={} is not a file",
            p.display()
        );
        return p;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "promtool is not installed (no SYNCTV_TEST_PROMTOOL, none on PATH): scripts/test \
             installs Debian's prometheus package, or run `apt-get install prometheus`"
        )
    })
}

/// Run `promtool <args>` in `dir`, with `stdin` piped in when given.
pub fn run_promtool(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let bin = promtool();
    let mut child = Command::new(&bin)
        .current_dir(dir)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("promtool's stdin");
        pipe.write_all(input).expect("writing to promtool");
    }
    child.wait_with_output().expect("promtool's output")
}
