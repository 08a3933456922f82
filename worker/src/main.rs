//! `tessera-worker run` renders tasks for pay; `tessera-worker verify` checks other workers' results.
//! SIGINT or SIGTERM stops either after the current step; the state store makes a restart resume.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::time::Duration;
use tessera_worker::config::{CommonArgs, Config, VerifierArgs, WorkerArgs};
use tessera_worker::{Ctx, verifier::Verifier, worker::Worker};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(
    name = "tessera-worker",
    version,
    about = "Tessera node operator: render tasks, or verify results"
)]
struct Cli {
    /// Log format: text or json.
    #[arg(
        long,
        env = "TESSERA_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    log_format: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Claim, render and submit tasks.
    Run {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Serve on drawn verification committees: check, commit and reveal votes, challenge, appeal.
    Verify {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        verifier: VerifierArgs,
    },
}

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(run(cli.mode));
    // A render thread still running after shutdown is abandoned: its task resumes on restart.
    rt.shutdown_timeout(Duration::from_secs(1));
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(mode: Mode) -> Result<()> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stop requested");
        let _ = tx.send(true);
    });
    let (cfg, name) = match &mode {
        Mode::Run { common, worker } => (
            Config::resolve(common.clone(), worker.clone(), VerifierArgs::default())?,
            "worker",
        ),
        Mode::Verify { common, verifier } => (
            Config::resolve(common.clone(), WorkerArgs::default(), verifier.clone())?,
            "verifier",
        ),
    };
    let ctx = Ctx::open(cfg, name, rx.clone()).await?;
    let store = ctx.store.clone();
    // The moment a stop is asked for, this run's load marks go: the round in progress may outlast a
    // supervisor's grace period (a transaction being sent), and its SIGKILL is no scene's doing.
    {
        let store = store.clone();
        let mut rx = rx;
        tokio::spawn(async move {
            if rx.wait_for(|s| *s).await.is_ok()
                && let Err(e) = store.abandon_run()
            {
                tracing::warn!(error = %format!("{e:#}"), "clearing this run's load marks");
            }
        });
    }
    if let Some(addr) = ctx.cfg.metrics_listen {
        let m = ctx.metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = m.serve(addr).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
    }
    let result = match mode {
        Mode::Run { .. } => Worker::new(ctx).run().await,
        Mode::Verify { .. } => match Verifier::new(ctx) {
            Ok(v) => v.run().await,
            Err(e) => Err(e),
        },
    };
    // Stopping of its own accord, with renders perhaps still running (they are abandoned): none of them ended
    // this run, so its load marks go before the runtime lets them go.
    if let Err(e) = store.abandon_run() {
        tracing::warn!(error = %format!("{e:#}"), "clearing this run's load marks");
    }
    result
}
