//! A multi-task job from submit to every task paid, with two workers, three verifiers drawn into committees
//! of three seats, and the indexer, and the artist's fetch checking every output against the roots on-chain.

use crate::harness::{Net, check};
use std::time::Duration;
use tessera_bindings::DistributedRender::{CommitteeDrawn, TaskClaimed, TaskPaid, VoteRevealed};
use tessera_bindings::PayReason;
use tessera_localnet::Account;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_task_job_is_rendered_verified_paid_and_fetched() -> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("round-trip", true).await?;
    // Withdraw every credit at once, so that withdrawals are exercised too.
    let metrics = format!("127.0.0.1:{}", tessera_localnet::free_port()?);
    net.ln.spawn_daemon(
        "w1",
        "run",
        Account::Worker,
        &[
            "--withdraw-threshold-wei",
            "1",
            "--metrics-listen",
            &metrics,
        ],
    )?;
    net.ln.spawn_daemon(
        "w2",
        "run",
        Account::Worker2,
        &["--withdraw-threshold-wei", "1"],
    )?;
    net.verifiers().await?;
    // The job names its look (a frame rate and a brighter sky, carried in the scene): workers and verifiers
    // must render with it alike, or verification fails.
    let job = net.post(
        2,
        "2x1",
        4,
        &["--quorum", "3", "--fps", "30", "--env", "0.4,0.4,0.45"],
    )?;
    net.all_paid(job, Duration::from_secs(240)).await?;

    // Each task claimed once, judged by one drawn committee of three seats that approved it, paid as
    // verified to the worker that claimed it.
    let claims = net.events::<TaskClaimed>(job).await?;
    let paid = net.events::<TaskPaid>(job).await?;
    let drawn = net.events::<CommitteeDrawn>(job).await?;
    let votes = net.events::<VoteRevealed>(job).await?;
    net.check(
        claims.len() == 4,
        &format!("{} claims for 4 tasks", claims.len()),
    )?;
    net.check(
        paid.len() == 4 && drawn.len() == 4,
        &format!(
            "4 payments ({}) and 4 committees ({})",
            paid.len(),
            drawn.len()
        ),
    )?;
    let mut verifiers = std::collections::BTreeSet::new();
    for (_, a) in tessera_localnet::VERIFIERS {
        verifiers.insert(net.ln.address(a)?);
    }
    for d in &drawn {
        let seats: u64 = d.seats.iter().map(|s| s.to::<u64>()).sum();
        net.check(seats == 3, &format!("a committee of 3 seats, not {seats}"))?;
        net.check(
            d.members.iter().all(|m| verifiers.contains(m)),
            "members are registered verifiers",
        )?;
    }
    for p in &paid {
        net.check(p.reason == PayReason::Verified as u8, "paid as verified")?;
        let claimant = claims
            .iter()
            .find(|c| c.taskIndex == p.taskIndex)
            .map(|c| c.worker);
        net.check(claimant == Some(p.worker), "paid to its claimant")?;
    }
    net.check(
        votes
            .iter()
            .all(|v| v.approve && verifiers.contains(&v.verifier)),
        "every revealed vote approves, from a drawn verifier",
    )?;
    let members: usize = drawn.iter().map(|d| d.members.len()).sum();
    net.check(
        votes.len() == members,
        &format!("every member revealed ({} of {members})", votes.len()),
    )?;
    let workers: std::collections::BTreeSet<_> = claims.iter().map(|c| c.worker).collect();
    check(workers.len() == 2, "both workers took tasks")?;

    // The workers withdrew their earnings (threshold 1 wei): nothing stays credited.
    let w1 = net.ln.address(Account::Worker)?;
    tessera_localnet::wait_for(
        "worker earnings withdrawn",
        Duration::from_secs(30),
        || async {
            Ok(net
                .market
                .market
                .balanceOf(w1, alloy::primitives::Address::ZERO)
                .call()
                .await?
                .is_zero()
                .then_some(()))
        },
    )
    .await?;

    // The artist fetches and checks every output, and gets both frames assembled.
    let out = net.ln.dir.join("fetched");
    let printed = net.ln.cli_ok(&[
        "job",
        "fetch",
        &job.to_string(),
        "-o",
        &out.display().to_string(),
        "--exr",
        "--denoise",
    ])?;
    check(
        printed.lines().count() == 8,
        &format!("two frames listed, as PNG and OpenEXR, raw and denoised: {printed}"),
    )?;
    for f in [
        "frame-0000.png",
        "frame-0001.png",
        "frame-0000.exr",
        "frame-0001.exr",
        "frame-0000-denoised.png",
        "frame-0001-denoised.exr",
        "task-3/raw.tsr",
        "task-3/leaves.json",
    ] {
        check(out.join(f).is_file(), &format!("{f} fetched"))?;
    }
    // Each OpenEXR frame holds the verified raw values bit for bit where its tasks' regions lie (2 frames x
    // 2 regions: tasks 0 and 1 make frame 0, tasks 2 and 3 frame 1).
    for t in 0..4u32 {
        let (w, _, exr) =
            tessera_render::output::read_exr(&out.join(format!("frame-{:04}.exr", t / 2)))?;
        let (hdr, px) = tessera_render::output::parse_raw(&std::fs::read(
            out.join(format!("task-{t}/raw.tsr")),
        )?)?;
        let [_, _, x, y, rw, rh, _, _] = hdr;
        for row in 0..rh {
            let (src, n) = ((row * rw * 3) as usize, (rw * 3) as usize);
            let dst = (((y + row) * w + x) * 3) as usize;
            check(
                exr[dst..dst + n]
                    .iter()
                    .map(|v| v.to_bits())
                    .eq(px[src..src + n].iter().map(|v| v.to_bits())),
                &format!("task {t}, row {row}: the OpenEXR frame holds the verified raw values"),
            )?;
        }
    }
    // A tampered download is refused: change one float of a fetched raw file and check it against the root.
    let raw_path = out.join("task-0/raw.tsr");
    let mut raw = std::fs::read(&raw_path)?;
    let last = raw.len() - 1;
    raw[last] ^= 1;
    std::fs::write(&raw_path, &raw)?;
    let root = net.task(job, 0).await?.cell_root.to_string();
    let bad = net
        .ln
        .cli(&[
            "output",
            "check",
            "--raw",
            &raw_path.display().to_string(),
            "--leaves",
            &out.join("task-0/leaves.json").display().to_string(),
            "--root",
            &root,
        ])?
        .output()?;
    check(!bad.status.success(), "a tampered raw file fails the check")?;

    // The worker's metrics count what it did. It learns of its payments when it next follows its tasks, which
    // may come after the chain shows them paid: wait for its paid outcomes (its claims are counted at once). A
    // worker that took no task (the other may take them all while its first scene fetch runs in the
    // background) has no outcome to count.
    let claims_w1 = claims.iter().filter(|c| c.worker == w1).count();
    let metrics_url = format!("http://{metrics}/metrics");
    let text = tessera_localnet::wait_for(
        "the worker's paid outcomes in its metrics",
        Duration::from_secs(60),
        || {
            let url = metrics_url.clone();
            async move {
                let text = reqwest::get(url).await?.text().await?;
                let done =
                    claims_w1 == 0 || text.contains("tessera_worker_outcomes_total{kind=\"paid\"}");
                Ok(done.then_some(text))
            }
        },
    )
    .await?;
    check(
        text.contains(&format!("tessera_worker_claims_total {claims_w1}")),
        &format!("claims metric = {claims_w1}: {text}"),
    )?;
    // Every task paid: no render is still running.
    check(
        text.contains("tessera_worker_render_running_seconds 0"),
        &format!("render running metric: {text}"),
    )?;

    // The indexer agrees.
    let view: serde_json::Value =
        reqwest_json(&format!("{}/v1/jobs/{job}", net.ln.indexer_url)).await?;
    check(
        view["data"]["job"]["tasks"]["paid"] == 4,
        &format!("indexer view: {}", view["data"]["job"]["tasks"]),
    )?;
    // `status` prints every task paid.
    let status = net.ln.cli_ok(&["job", "status", &job.to_string()])?;
    check(status.matches(" paid ").count() == 4, &status)?;
    net.shutdown().await
}

async fn reqwest_json(url: &str) -> anyhow::Result<serde_json::Value> {
    Ok(reqwest::get(url).await?.error_for_status()?.json().await?)
}
