//! CPU use of processes on this host over the measured phase, read from /proc (Linux
//! only; elsewhere nothing is reported). Latency only measures the hop while nobody is
//! CPU-bound: with 2 cores, a node at 100% measures its own queue. The report shows it.

use std::time::{Duration, Instant};

/// Clock ticks per second of /proc times (USER_HZ, 100 on every Linux in practice).
const TICKS_PER_SEC: f64 = 100.0;

/// Busy and total jiffies of the whole machine (first line of /proc/stat), so a run can
/// tell when something else on the host was using the CPU (compilers, other tests).
#[derive(Clone, Copy, Default)]
pub struct Machine {
    busy: u64,
    total: u64,
}

impl Machine {
    pub fn read() -> Self {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| machine_of(&s))
            .unwrap_or_default()
    }

    /// Busy share of all cores between two readings, in percent (0 when unknown).
    pub fn busy_percent(before: Self, after: Self) -> f64 {
        let total = after.total.saturating_sub(before.total);
        if total == 0 {
            return 0.0;
        }
        100.0 * after.busy.saturating_sub(before.busy) as f64 / total as f64
    }
}

/// `cpu user nice system idle iowait irq softirq steal ...`: idle and iowait are not busy.
fn machine_of(stat: &str) -> Option<Machine> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = f.iter().sum();
    let idle = f.get(3)? + f.get(4)?;
    Some(Machine {
        busy: total - idle,
        total,
    })
}

/// One reading of a process's user + system time.
pub struct Sample {
    pid: Option<u32>,
    name: String,
    ticks: u64,
}

/// CPU use of one process over an interval, in percent of one core.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    /// `None` for the load tool itself.
    pub pid: Option<u32>,
    pub name: String,
    pub percent_of_one_core: f64,
}

/// Read the given processes and this one (`pid: None`); unreadable ones are skipped.
pub fn sample(pids: &[u32]) -> (Instant, Vec<Sample>) {
    let at = Instant::now();
    let mut out: Vec<Sample> = pids.iter().filter_map(|&p| read(Some(p))).collect();
    out.extend(read(None));
    (at, out)
}

fn read(pid: Option<u32>) -> Option<Sample> {
    let dir = pid.map_or("/proc/self".to_owned(), |p| format!("/proc/{p}"));
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    let ticks = ticks_of(&stat)?;
    let name = match pid {
        None => "synctv-load".to_owned(),
        Some(_) => std::fs::read_to_string(format!("{dir}/comm"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    };
    Some(Sample { pid, name, ticks })
}

/// utime + stime from a /proc/<pid>/stat line (fields 14 and 15; the command name in
/// parentheses may hold spaces, so count from the last `)`).
fn ticks_of(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn usage(before: &(Instant, Vec<Sample>), after: &(Instant, Vec<Sample>)) -> Vec<Usage> {
    let wall: Duration = after.0 - before.0;
    after
        .1
        .iter()
        .filter_map(|a| {
            let b = before.1.iter().find(|b| b.pid == a.pid)?;
            let cpu = a.ticks.saturating_sub(b.ticks) as f64 / TICKS_PER_SEC;
            Some(Usage {
                pid: a.pid,
                name: a.name.clone(),
                percent_of_one_core: 100.0 * cpu / wall.as_secs_f64().max(1e-9),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let line = "42 (tokio worker) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0";
        assert_eq!(ticks_of(line), Some(300));
    }

    #[test]
    fn machine_busy_share() {
        let a = machine_of("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3").unwrap();
        let b = machine_of("cpu  200 0 200 1400 200 0 0 0 0 0\n").unwrap();
        assert_eq!(Machine::busy_percent(a, b), 20.0);
    }

    #[test]
    fn reads_itself() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let (_, s) = sample(&[]);
            assert_eq!(s.len(), 1);
        }
    }
}
