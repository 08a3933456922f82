//! Shared set-up: a local network per test, small jobs posted with the CLI, waiting on the chain.

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, ensure};
use std::path::PathBuf;
use std::time::Duration;
use tessera_bindings::TaskState;
use tessera_bindings::market::{Market, TaskView};
use tessera_localnet::{Localnet, Options, wait_for};

/// Length of each verification phase of the tests' jobs (commit, reveal, appeal window).
pub(crate) const PHASE: &str = "20s";

/// How many networks run at once: the tests mostly wait on the chain's clock (leases, verification phases),
/// so two share two cores well; `TESSERA_E2E_PARALLEL` sets another number (1: one at a time).
pub(crate) static SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| {
        let n = std::env::var("TESSERA_E2E_PARALLEL")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(2);
        tokio::sync::Semaphore::new(n)
    });

/// A slot to run a network in, held for the whole test.
pub(crate) async fn slot() -> tokio::sync::SemaphorePermit<'static> {
    SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed")
}

pub(crate) struct Net {
    pub(crate) ln: Localnet,
    pub(crate) market: Market,
}

pub(crate) fn scene() -> PathBuf {
    tessera_localnet::repo_root().join("assets/scenes/complete.glb")
}

impl Net {
    pub(crate) async fn start(tag: &str, indexer: bool) -> Result<Self> {
        Self::start_for(tag, indexer, Vec::new()).await
    }

    /// `start`, with the IPFS node open to the pages of `web_origins` (the web app's test server).
    pub(crate) async fn start_for(
        tag: &str,
        indexer: bool,
        web_origins: Vec<String>,
    ) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("tessera-e2e-{tag}-{}", std::process::id()));
        let ln = Localnet::start(Options {
            dir,
            indexer,
            poll_ms: 100,
            web_origins,
        })
        .await?;
        let market = Market::read_only(&ln.dev.endpoint(), ln.deployment.clone()).await?;
        Ok(Self { ln, market })
    }

    /// Starts the default verifiers (three, `TICKETS` tickets each) and waits until they are registered.
    pub(crate) async fn verifiers(&mut self) -> Result<()> {
        self.ln.spawn_verifiers(&[])?;
        let want = tessera_localnet::TICKETS * tessera_localnet::VERIFIERS.len() as u64;
        self.registered(want).await
    }

    /// Starts one verifier daemon as `account` holding `tickets` tickets, and waits until the registry holds
    /// `total` active tickets.
    pub(crate) async fn verifier(
        &mut self,
        name: &str,
        account: tessera_localnet::Account,
        tickets: u64,
        total: u64,
    ) -> Result<()> {
        let t = tickets.to_string();
        self.ln
            .spawn_daemon(name, "verify", account, &["--tickets", &t])?;
        self.registered(total).await
    }

    /// Registers anvil account `index` as a verifier with `tickets` tickets, without a daemon behind it (a
    /// key the test votes with, or none at all); returns it.
    pub(crate) async fn register_key(
        &self,
        index: usize,
        tickets: u64,
    ) -> Result<tessera_devnet::Actor> {
        let actor = self.ln.dev.actor(index)?;
        let stake = self.market.market.TICKET_STAKE().call().await?;
        tessera_devnet::register_verifier(
            &actor,
            self.ln.deployment.distributed_render,
            tickets,
            stake,
        )
        .await?;
        Ok(actor)
    }

    /// Waits until the verifier registry holds at least `tickets` active tickets.
    pub(crate) async fn registered(&self, tickets: u64) -> Result<()> {
        wait_for(
            &format!("{tickets} active verifier tickets"),
            Duration::from_secs(60),
            || async move {
                let r = self.market.market.registry().call().await?;
                Ok((r.activeTickets >= U256::from(tickets)).then_some(()))
            },
        )
        .await
        .map_err(|e| self.with_logs(e))
    }

    /// Posts a job of `frames` x `regions` tasks of the demo scene with the CLI; `spp` sets its cost. Unless
    /// `extra` says otherwise: 8 px cells, committees of one seat, 20 s verification phases.
    pub(crate) fn post(&self, frames: u32, regions: &str, spp: u32, extra: &[&str]) -> Result<u64> {
        let scene = scene().display().to_string();
        let (frames, spp) = (frames.to_string(), spp.to_string());
        let mut defaults = Vec::new();
        for (flag, value) in [
            ("--cell-size", "8"),
            ("--quorum", "1"),
            ("--challenge-window", PHASE),
            ("--reward", "0.002"),
            ("--stake", "0.001"),
        ] {
            if !extra.contains(&flag) {
                defaults.extend([flag, value]);
            }
        }
        let mut args = vec![
            "job",
            "submit",
            scene.as_str(),
            "--width",
            "128",
            "--height",
            "72",
            "--spp",
            spp.as_str(),
            "--bounces",
            "2",
            "--frames",
            frames.as_str(),
            "--regions",
            regions,
        ];
        args.extend(defaults);
        args.extend_from_slice(extra);
        let out = self.ln.cli_ok(&args)?;
        out.trim().parse().context("job id on stdout")
    }

    pub(crate) async fn task(&self, job: u64, i: u64) -> Result<TaskView> {
        self.market.task(job, i).await
    }

    /// Waits until every task of `job` is paid.
    pub(crate) async fn all_paid(&self, job: u64, timeout: Duration) -> Result<()> {
        let n = self.market.job(job).await?.task_count;
        wait_for(
            &format!("every task of job {job} paid"),
            timeout,
            || async move {
                for i in 0..n {
                    if self.task(job, i).await?.state != TaskState::Paid {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            },
        )
        .await
        .map_err(|e| self.with_logs(e))
    }

    /// Waits until task `i` of `job` is in `state` (and, when given, held by `worker`).
    pub(crate) async fn task_in(
        &self,
        job: u64,
        i: u64,
        state: TaskState,
        worker: Option<Address>,
        timeout: Duration,
    ) -> Result<TaskView> {
        wait_for(
            &format!("task {i} of job {job} {state:?}"),
            timeout,
            || async move {
                let v = self.task(job, i).await?;
                Ok((v.state == state && worker.is_none_or(|w| w == v.worker)).then_some(v))
            },
        )
        .await
        .map_err(|e| self.with_logs(e))
    }

    /// Decoded events `E` about `job`.
    pub(crate) async fn events<E: SolEvent>(&self, job: u64) -> Result<Vec<E>> {
        let logs = self.market.job_logs(vec![E::SIGNATURE_HASH], job).await?;
        logs.iter()
            .map(|l| Ok(l.log_decode::<E>()?.inner.data))
            .collect()
    }

    /// [`check`], with every daemon's log tail attached when it fails (for what the chain shows of the daemons'
    /// work: a count that is off says little without their logs).
    pub(crate) fn check(&self, ok: bool, what: &str) -> Result<()> {
        check(ok, what).map_err(|e| self.with_logs(e))
    }

    /// An error with every daemon's log tail attached.
    pub(crate) fn with_logs(&self, e: anyhow::Error) -> anyhow::Error {
        let mut text = format!("{e:#}");
        for p in self.ln.daemons.values() {
            let log = p.log();
            let tail: Vec<&str> = log.lines().rev().take(25).collect();
            text.push_str(&format!("\n--- {} ---\n", p.name));
            for l in tail.into_iter().rev() {
                text.push_str(l);
                text.push('\n');
            }
        }
        anyhow::anyhow!(text)
    }

    /// Stops everything; on success the working folder (logs included) is removed.
    pub(crate) async fn shutdown(self) -> Result<()> {
        let dir = self.ln.dir.clone();
        self.ln.shutdown().await?;
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}

/// Wei in ether units.
pub(crate) fn ether(s: &str) -> Result<U256> {
    Ok(alloy::primitives::utils::parse_ether(s)?)
}

/// Fails unless `cond`.
pub(crate) fn check(cond: bool, what: &str) -> Result<()> {
    ensure!(cond, "{what}");
    Ok(())
}
