//! The synctv server binary: load config, open the database, bind, serve (`run` joins the
//! cluster and migrates) until SIGTERM or ctrl-c, drain, exit 0.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use synctv_core::config::{Config, LoadOptions};
use synctv_core::store::Store;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "synctv", version, about = "Watch-together room sync server")]
struct Args {
    /// Configuration file (YAML). Environment variables SYNCTV__SECTION__KEY override it.
    #[arg(long, short, value_name = "PATH")]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = match args.config {
        Some(path) => LoadOptions {
            path,
            explicit: true,
        },
        None => LoadOptions::default(),
    };
    let config = Config::load(&opts)?;
    init_tracing(&config);
    tokio::runtime::Runtime::new()?.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database)
        .await
        .with_context(|| format!("database.url: cannot open {}", redact(&config.database.url)))?;
    let shutdown = shutdown_signal().context("installing signal handlers")?;
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .with_context(|| format!("server.bind: cannot listen on {}", config.server.bind))?;
    synctv_api::run(config, store, listener, shutdown).await?;
    Ok(())
}

fn init_tracing(config: &Config) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Hide a password in a database URL for error messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Resolves on SIGTERM or SIGINT (ctrl-c). The handlers are installed now, before the
/// server starts, so a signal arriving right after start-up is never lost to the default
/// action (which would kill the process without a drain).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
