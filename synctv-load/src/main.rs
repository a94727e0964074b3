//! synctv-load: end-to-end latency and throughput of synctv nodes, measured from outside
//! through the public HTTP API and WebSockets only, so it can be pointed at any server
//! that speaks the protocol. See `--help` and docs/benchmarks.md.
//!
//! - [`args`]: the command line; [`plan`]: who connects where.
//! - [`api`]: identities and rooms over HTTP; [`setup`]: connecting and settling.
//! - [`member`]: one socket's reader (seq check, timing); [`publish`]: the paced sender.
//! - [`clock`], [`stats`], [`cpu`], [`report`]: what is measured and how it is told.
//!
//! Exit status: 0 for a clean run, 2 when the run completed but some client saw a gap, a
//! duplicate, a missing delivery, a resync, an unexpected close or an error frame, 1 when
//! it could not run.

mod api;
mod args;
mod clock;
mod cpu;
mod frame;
mod member;
mod plan;
mod publish;
mod report;
mod setup;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use futures_util::{StreamExt, stream};
use tokio::time::Instant;

use crate::args::Args;
use crate::report::Report;
use crate::setup::Joined;
use crate::stats::Stats;

/// Histogram shards: enough that members rarely share a lock at the same instant.
const SHARDS: usize = 16;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = args.validate() {
        eprintln!("synctv-load: {e}");
        return ExitCode::from(1);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("synctv-load: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(r) if r.clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(2),
        Err(e) => {
            eprintln!("synctv-load: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<Report> {
    let stats = Arc::new(Stats::new(SHARDS));
    let closing = Arc::new(AtomicBool::new(false));
    let api = api::Api::new(args.setup_timeout)?;
    let joined = setup::run(&args, &api, &stats, &closing).await?;
    let (publishers, subscribers): (Vec<Joined>, Vec<Joined>) =
        joined.into_iter().partition(|j| j.seat.publisher);

    // One timeline for everyone: a short lead so every publisher is scheduled before the
    // first tick, then the warmup, then the measured phase.
    let lead = Duration::from_millis(200);
    let start = Instant::now() + lead;
    let start_ns = clock::now_ns() + lead.as_nanos() as u64;
    let measure_from = start + args.warmup;
    let stop = measure_from + args.duration;
    let from_ns = start_ns + args.warmup.as_nanos() as u64;
    stats.set_window(from_ns, from_ns + args.duration.as_nanos() as u64);
    eprintln!(
        "publishing: {} publishers at {}/s each for {:?} warmup + {:?} measured",
        publishers.len(),
        args.rate,
        args.warmup,
        args.duration
    );
    let others = (args.members - 1) as u64;
    let total = publishers.len();
    let tasks: Vec<_> = publishers
        .into_iter()
        .enumerate()
        .map(|(k, mut j)| {
            let s = publish::Schedule::staggered(args.rate, k, total, start, stop);
            let stats = stats.clone();
            tokio::spawn(async move {
                publish::run(&mut j.member.sink, s, others, stats).await;
                j
            })
        })
        .collect();

    tokio::time::sleep_until(measure_from).await;
    let (before, machine_before) = (cpu::sample(&args.cpu_pids), cpu::Machine::read());
    tokio::time::sleep_until(stop).await;
    let (after, machine_after) = (cpu::sample(&args.cpu_pids), cpu::Machine::read());
    let mut everyone = subscribers;
    for t in tasks {
        everyone.push(t.await.context("a publisher task panicked")?);
    }
    drain(&stats, args.drain).await;

    let machine = cpu::Machine::busy_percent(machine_before, machine_after);
    let report = Report::build(&args, &stats, cpu::usage(&before, &after), machine);
    closing.store(true, Relaxed);
    stream::iter(everyone.into_iter().map(|j| member::close(j.member)))
        .buffer_unordered(args.concurrency.max(256))
        .collect::<()>()
        .await;
    report.print();
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// Wait for the deliveries still in flight, at most `limit`.
async fn drain(stats: &Stats, limit: Duration) {
    let deadline = Instant::now() + limit;
    while stats.delivered.load(Relaxed) < stats.expected.load(Relaxed) && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
