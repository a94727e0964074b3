//! Command-line arguments. Every knob has a default that makes a small, quick run, so
//! `synctv-load --nodes http://127.0.0.1:8080` alone measures something meaningful.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Load and latency tool for synctv nodes.
///
/// Creates rooms, connects members to the given nodes (publishers on the first node,
/// everyone else on the others when more than one is given, so every measured delivery
/// crosses between nodes), has the publishers send chat frames carrying their send time,
/// and measures receive time minus send time for every delivery to every other member.
/// It talks to the nodes only through the public HTTP API and WebSockets.
#[derive(Parser, Debug, Clone)]
#[command(name = "synctv-load", version)]
pub struct Args {
    /// Base URLs of the nodes, comma-separated (http://host:port; no TLS). Publishers connect to the
    /// first, subscribers round-robin to the others (or to the first when it is alone).
    #[arg(long, value_delimiter = ',', required = true)]
    pub nodes: Vec<String>,

    /// Number of rooms.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,

    /// Members per room, publishers included.
    #[arg(long, default_value_t = 10)]
    pub members: usize,

    /// Members of each room that publish chat frames.
    #[arg(long, default_value_t = 1)]
    pub publishers_per_room: usize,

    /// Chat frames per second each publisher sends.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,

    /// How long the measured phase lasts (after the warmup), e.g. `20s`.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,

    /// Publishing before the measured phase; its deliveries are checked but not timed.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,

    /// After publishing stops, how long to wait for the last deliveries.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub drain: Duration,

    /// How members get their identity: guests (cheap, no rate limit) or registered users
    /// (argon2 hashing on the node, and register is rate limited per IP).
    #[arg(long, value_enum, default_value_t = Identity::Guest)]
    pub identity: Identity,

    /// HTTP requests and WebSocket handshakes in flight at once while setting up.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,

    /// How long setup steps (one request, one handshake and its welcome, settling) may take.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub setup_timeout: Duration,

    /// Process ids whose CPU use over the measured phase is reported (same host only:
    /// read from /proc), e.g. the nodes' and redis-server's.
    #[arg(long, value_delimiter = ',')]
    pub cpu_pids: Vec<u32>,

    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,

    /// A label for this run, echoed in the report.
    #[arg(long, default_value = "")]
    pub label: String,

    /// Worker threads of the tool's runtime (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Guest,
    Register,
}

impl Args {
    /// Refuse combinations that cannot produce a measurement, with a message saying why.
    pub fn validate(&self) -> Result<(), String> {
        if self.rooms == 0 {
            return Err("--rooms must be at least 1".into());
        }
        if self.members < 2 {
            return Err("--members must be at least 2 (a publisher and someone to hear it)".into());
        }
        if self.publishers_per_room == 0 || self.publishers_per_room >= self.members {
            return Err("--publishers-per-room must be between 1 and --members - 1".into());
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return Err("--rate must be a positive number of frames per second".into());
        }
        if self.duration.is_zero() {
            return Err("--duration must be positive".into());
        }
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        for n in &self.nodes {
            if !n.starts_with("http://") {
                return Err(format!(
                    "--nodes: {n:?} is not an http:// URL (the tool speaks no TLS)"
                ));
            }
        }
        Ok(())
    }
}
