//! The web app in a real browser against the whole network: `web/test/browser/flow.mjs` (headless Chromium
//! driven by playwright-core, a wallet injected as an EIP-6963 provider sending to anvil as the artist)
//! connects, posts a 4-task job in ETH and a 1-task job in an ERC-20 from the page (scene uploaded to IPFS,
//! approval first), sees a revert in words, watches both paid (the ETH job's frame verified in the browser
//! and downloaded), cancels a third job while its event stream is cut and checks that the resumed stream
//! delivers every event recorded meanwhile, and withdraws the refund, saving a screenshot of each step in
//! web/test-results/; the chain is then checked here. Needs the built app (`npm run build` in web/, which
//! `scripts/test.sh` runs first) and Chromium (`scripts/setup.sh` installs Debian's).

use crate::harness::{Net, check};
use anyhow::{Context, Result, ensure};
use std::process::Stdio;
use std::time::Duration;
use tessera_bindings::DistributedRender::JobCancelled;
use tessera_localnet::Account;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_posts_jobs_in_eth_and_a_token_watches_them_paid_cancels_another_and_withdraws()
-> Result<()> {
    let _slot = crate::harness::slot().await;
    let root = tessera_localnet::repo_root();
    let web = root.join("web");
    ensure!(
        web.join("dist/index.html").is_file(),
        "web/dist is missing: run `npm ci && npm run build` in web/ (scripts/test.sh does)"
    );
    // The page's server listens on a port chosen here, so that the IPFS node lets that origin in; the port
    // stays bound until the browser test is about to take it (another network starting meanwhile could
    // otherwise be given it).
    let holder = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = holder.local_addr()?.port();
    let mut net = Net::start_for("web", true, vec![format!("http://127.0.0.1:{port}")]).await?;
    net.ln.spawn_daemon("w1", "run", Account::Worker, &[])?;
    net.verifiers().await?;
    // The artist's tokens for the ERC-20 job the page posts.
    let token = net.ln.deployment.test_token;
    let artist = net.ln.address(Account::Artist)?;
    let erc20 = tessera_bindings::TestToken::new(token, net.ln.dev.artist.provider.clone());
    erc20
        .mint(
            artist,
            alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(18u64)),
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    let tokens_before = erc20.balanceOf(artist).call().await?;
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
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("test/browser/flow.mjs")
        .current_dir(&web)
        .env("TESSERA_WEB_DIST", web.join("dist"))
        .env("TESSERA_WEB_OUT", &out)
        .env("TESSERA_WEB_PORT", port.to_string())
        .env("TESSERA_INDEXER_URL", get("TESSERA_INDEXER_URL")?)
        .env("TESSERA_RPC_URL", get("TESSERA_RPC_URL")?)
        .env("TESSERA_IPFS_API", get("TESSERA_IPFS_API")?)
        .env("TESSERA_CHAIN_ID", net.ln.deployment.chain_id.to_string())
        .env("TESSERA_ARTIST", artist.to_string())
        .env("TESSERA_SCENE", crate::harness::scene())
        .env("TESSERA_TOKEN", token.to_string())
        .env(
            "TESSERA_MARKET",
            net.ln.deployment.distributed_render.to_string(),
        )
        .env("TESSERA_CANCEL_JOB", open.to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    drop(holder);
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
    // `[web-test] posted <kind> job <id> scene <cid>`: the job and the CID the page showed.
    let posted = |kind: &str| -> Result<(u64, String)> {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("[web-test] posted {kind} job ")))
            .with_context(|| format!("the browser test posted no {kind} job"))?;
        let (id, cid) = line.split_once(" scene ").context("a scene CID")?;
        Ok((
            id.trim().parse().context("a job id")?,
            cid.trim().to_owned(),
        ))
    };
    let ((eth_job, eth_cid), (token_job, token_cid)) = (posted("eth")?, posted("token")?);
    let eth = net.market.job(eth_job).await?;
    let tj = net.market.job(token_job).await?;
    check(
        eth.spec.sceneCid == eth_cid && tj.spec.sceneCid == token_cid,
        "the jobs name the scene CIDs the page showed after its upload",
    )?;
    // And the CID is the chosen file's: the node gives back its bytes.
    let ipfs =
        tessera_ipfs::IpfsClient::new(tessera_ipfs::ClientConfig::new(net.ln.ipfs.api.clone()))?;
    let scene = std::fs::read(crate::harness::scene())?;
    check(
        ipfs.cat(&eth_cid, 1 << 30).await? == scene,
        "the uploaded scene is the file chosen in the page",
    )?;
    check(
        eth.artist == artist && eth.token.is_zero() && eth.task_count == 4,
        "the page's ETH job: the artist's, in ETH, 4 tasks",
    )?;
    check(
        eth.spec.rendererId == tessera_render::RENDERER_ID && eth.spec.settings.cellSize == 8,
        "the page's job names the renderer and the cell size it was given",
    )?;
    for i in 0..4 {
        check(
            net.task(eth_job, i).await?.state == tessera_bindings::TaskState::Paid,
            &format!("task {i} of job {eth_job} paid"),
        )?;
    }
    let reward = alloy::primitives::U256::from(tj.spec.rewardPerTask);
    // One task of 0.002 tokens and a 5% verifier fee.
    let escrow = reward
        + reward * alloy::primitives::U256::from(tj.spec.verifierFeeBps)
            / alloy::primitives::U256::from(10_000u32);
    check(
        tj.token == token
            && tj.task_count == 1
            && reward == alloy::primitives::U256::from(2_000_000_000_000_000u64),
        "the page's token job: in the ERC-20, 1 task of 0.002",
    )?;
    check(
        net.task(token_job, 0).await?.state == tessera_bindings::TaskState::Paid,
        &format!("the task of job {token_job} paid"),
    )?;
    check(
        erc20.balanceOf(artist).call().await? == tokens_before - escrow,
        "the token escrow (approved from the page) left the artist",
    )?;
    let cancelled = net.events::<JobCancelled>(open).await?;
    check(
        cancelled.len() == 1 && cancelled[0].artist == artist,
        "the third job was cancelled by the artist",
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
    for f in [
        "1-jobs-connected",
        "2-posted-eth",
        "3-job-paid-frame",
        "4-task-committee",
        "5-posted-token",
        "6-revert-in-words",
        "7-token-job-paid",
        "8-network-workers",
        "9-job-cancelled-stream-resumed",
        "10-withdrawn",
    ] {
        check(
            out.join(format!("{f}.png")).is_file(),
            &format!("screenshot {f}"),
        )?;
    }
    net.shutdown().await
}
