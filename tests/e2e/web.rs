//! The web app in a real browser against the whole network: `web/test/browser/flow.mjs` (headless Chromium
//! driven by playwright-core, a wallet injected as an EIP-6963 provider sending to anvil as the artist)
//! connects, watches a job's mosaic fill until every task is paid, cancels a second job and withdraws the
//! refund, saving a screenshot of each step in web/test-results/; the chain is then checked here. Needs the built app (`npm run build` in web/, which
//! `scripts/test.sh` runs first) and Chromium (`scripts/setup.sh` installs Debian's).

use crate::harness::{Net, SERIAL, check};
use anyhow::{Context, Result, ensure};
use std::process::Stdio;
use std::time::Duration;
use tessera_bindings::DistributedRender::JobCancelled;
use tessera_localnet::Account;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_connects_watches_a_job_paid_cancels_another_and_withdraws() -> Result<()> {
    let _one = SERIAL.lock().await;
    let root = tessera_localnet::repo_root();
    let web = root.join("web");
    ensure!(
        web.join("dist/index.html").is_file(),
        "web/dist is missing: run `npm ci && npm run build` in web/ (scripts/test.sh does)"
    );
    let mut net = Net::start("web", true).await?;
    net.ln.spawn_daemon("w1", "run", Account::Worker, &[])?;
    net.verifiers().await?;
    let paid = net.post(1, "2x2", 4, &[])?;
    // A job no worker takes (a renderer nobody runs): it stays open until the artist cancels it.
    let open = net.post(1, "1x1", 4, &["--renderer", "tessera-pt/unclaimed"])?;
    // The screenshots outlive the network's folder: web/test-results/ (not committed).
    let out = web.join("test-results");
    let cli = net.ln.cli(&[])?;
    let envs: Vec<(String, String)> = cli
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
        .collect();
    let get = |k: &str| {
        envs.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .with_context(|| format!("{k} is not in the CLI's environment"))
    };
    let artist = net.ln.address(Account::Artist)?;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("test/browser/flow.mjs")
        .current_dir(&web)
        .env("TESSERA_WEB_DIST", web.join("dist"))
        .env("TESSERA_WEB_OUT", &out)
        .env("TESSERA_INDEXER_URL", get("TESSERA_INDEXER_URL")?)
        .env("TESSERA_RPC_URL", get("TESSERA_RPC_URL")?)
        .env("TESSERA_IPFS_API", get("TESSERA_IPFS_API")?)
        .env("TESSERA_CHAIN_ID", net.ln.deployment.chain_id.to_string())
        .env("TESSERA_ARTIST", artist.to_string())
        .env("TESSERA_PAID_JOB", paid.to_string())
        .env("TESSERA_CANCEL_JOB", open.to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let run = match tokio::time::timeout(Duration::from_secs(600), cmd.output()).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(net.with_logs(anyhow::anyhow!(
                "the browser test did not finish in 10 minutes (screenshots so far in {})",
                out.display()
            )));
        }
    };
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}");
    if !run.status.success() {
        return Err(net.with_logs(anyhow::anyhow!(
            "the browser test failed: {}\n(screenshots in {})",
            String::from_utf8_lossy(&run.stderr),
            out.display()
        )));
    }
    check(
        stdout.contains("[web-test] no console errors"),
        "the browser test ran to its end",
    )?;
    // What the page did, as the chain has it.
    let cancelled = net.events::<JobCancelled>(open).await?;
    check(
        cancelled.len() == 1 && cancelled[0].artist == artist,
        "the second job was cancelled by the artist",
    )?;
    let credit = net
        .market
        .market
        .balanceOf(artist, alloy::primitives::Address::ZERO)
        .call()
        .await?;
    check(
        credit.is_zero(),
        &format!("the refund was withdrawn ({credit} wei left)"),
    )?;
    for i in 0..4 {
        check(
            net.task(paid, i).await?.state == tessera_bindings::TaskState::Paid,
            &format!("task {i} of job {paid} paid"),
        )?;
    }
    for f in [
        "1-jobs-connected",
        "2-job-paid",
        "3-task-committee",
        "4-job-cancelled",
        "5-withdrawn",
    ] {
        check(
            out.join(format!("{f}.png")).is_file(),
            &format!("screenshot {f}"),
        )?;
    }
    net.shutdown().await
}
