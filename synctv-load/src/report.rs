//! The run's result: latency percentiles, rates, and every sign that the run did not
//! measure what it claims (missing deliveries, seq gaps or duplicates, resyncs, errors,
//! late publisher ticks, CPU at saturation). Printed for people, written as JSON for
//! scripts.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::args::Args;
use crate::cpu::Usage;
use crate::stats::Stats;

#[derive(Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |ns: u64| ns as f64 / 1e6;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1e6,
        }
    }
}

#[derive(Serialize)]
pub struct Report {
    pub label: String,
    pub nodes: Vec<String>,
    pub rooms: usize,
    pub members: usize,
    pub publishers_per_room: usize,
    pub rate_per_publisher: f64,
    pub duration_s: f64,
    /// Deliveries to members other than the sender, sent in the measured phase.
    pub latency: Latency,
    /// Publishers receiving their own frame (the origin node's local path).
    pub echo_latency: Latency,
    pub events_per_s: f64,
    pub deliveries_per_s: f64,
    pub events_sent: u64,
    pub deliveries_expected: u64,
    pub deliveries_missing: u64,
    pub seq_gaps: u64,
    pub seq_duplicates: u64,
    pub resyncs: u64,
    pub unexpected_closes: u64,
    pub late_publisher_ticks: u64,
    pub errors: BTreeMap<String, u64>,
    pub cpu: Vec<Usage>,
    /// Busy share of all the host's cores over the measured phase: well above the sum of
    /// `cpu` means something else was running.
    pub machine_cpu_percent: f64,
    /// No gap, duplicate, missing delivery, resync, close or error.
    pub clean: bool,
}

impl Report {
    pub fn build(args: &Args, stats: &Stats, cpu: Vec<Usage>, machine_cpu_percent: f64) -> Self {
        let secs = args.duration.as_secs_f64();
        let remote = stats.remote.merged();
        let expected = stats.expected.load(Relaxed);
        let delivered = stats.delivered.load(Relaxed);
        let errors = stats.errors();
        let mut r = Self {
            label: args.label.clone(),
            nodes: args.nodes.clone(),
            rooms: args.rooms,
            members: args.members,
            publishers_per_room: args.publishers_per_room,
            rate_per_publisher: args.rate,
            duration_s: secs,
            latency: Latency::of(&remote),
            echo_latency: Latency::of(&stats.echo.merged()),
            events_per_s: stats.sent_measured.load(Relaxed) as f64 / secs,
            deliveries_per_s: remote.len() as f64 / secs,
            events_sent: stats.sent.load(Relaxed),
            deliveries_expected: expected,
            deliveries_missing: expected.saturating_sub(delivered),
            seq_gaps: stats.gaps.load(Relaxed),
            seq_duplicates: stats.duplicates.load(Relaxed),
            resyncs: stats.resyncs.load(Relaxed),
            unexpected_closes: stats.unexpected_closes.load(Relaxed),
            late_publisher_ticks: stats.late_sends.load(Relaxed),
            errors,
            cpu,
            machine_cpu_percent,
            clean: false,
        };
        r.clean = r.deliveries_missing == 0
            && r.seq_gaps == 0
            && r.seq_duplicates == 0
            && r.resyncs == 0
            && r.unexpected_closes == 0
            && r.errors.is_empty();
        r
    }

    pub fn print(&self) {
        let l = &self.latency;
        let e = &self.echo_latency;
        let label = if self.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.label)
        };
        println!(
            "synctv-load{label}: {} rooms x {} members, {} publisher(s)/room at {}/s, {:.0}s, nodes {}",
            self.rooms,
            self.members,
            self.publishers_per_room,
            self.rate_per_publisher,
            self.duration_s,
            self.nodes.join(",")
        );
        println!(
            "  latency (other members, {} deliveries): p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  mean {:.3} ms",
            l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms
        );
        println!(
            "  echo to the sender ({}): p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            e.count, e.p50_ms, e.p99_ms, e.max_ms
        );
        println!(
            "  events/s {:.1}  deliveries/s {:.1}  (sent {}, deliveries owed {}, missing {})",
            self.events_per_s,
            self.deliveries_per_s,
            self.events_sent,
            self.deliveries_expected,
            self.deliveries_missing
        );
        println!(
            "  seq gaps {}  duplicates {}  resyncs {}  unexpected closes {}  late publisher ticks {}",
            self.seq_gaps,
            self.seq_duplicates,
            self.resyncs,
            self.unexpected_closes,
            self.late_publisher_ticks
        );
        if !self.errors.is_empty() {
            println!("  errors: {:?}", self.errors);
        }
        for c in &self.cpu {
            let pid = c.pid.map_or("self".to_owned(), |p| p.to_string());
            println!(
                "  cpu {} ({pid}): {:.0}% of one core",
                c.name, c.percent_of_one_core
            );
        }
        println!(
            "  machine: {:.0}% of all cores busy",
            self.machine_cpu_percent
        );
        println!(
            "  {}",
            if self.clean {
                "clean: every delivery arrived once, in seq order"
            } else {
                "NOT CLEAN: see the counters above"
            }
        );
    }
}
