//! The artist's commands that move escrow (cancel, reclaim, accept, withdraw) and the errors the CLI gives
//! for the usual mistakes.

use crate::harness::{Net, check, ether};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use std::time::Duration;
use tessera_bindings::DistributedRender::{JobCancelled, OpenTasksReclaimed, TaskPaid};
use tessera_bindings::{PayReason, TaskState};
use tessera_devnet::mined;

fn fails_with(net: &Net, args: &[&str], needle: &str) -> anyhow::Result<()> {
    let out = net.ln.cli(args)?.output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(
        !out.status.success(),
        &format!("`tessera {}` should fail", args.join(" ")),
    )?;
    check(
        err.contains(needle),
        &format!(
            "`tessera {}` said: {err} (expected {needle:?})",
            args.join(" ")
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reclaim_and_accept_return_or_pay_escrow_and_mistakes_are_named()
-> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let net = Net::start("artist", true).await?;
    // Jobs need a registry that can seat their committee (one seat here); nobody needs to vote.
    net.register_key(3, 1).await?;
    let artist = net.ln.address(tessera_localnet::Account::Artist)?;
    let market = &net.market.market;
    // 3 tasks x (0.002 reward + 5% verifier fee).
    let escrow = ether("0.0063")?;

    // Cancel: the open tasks' escrow is credited, then withdrawn to the wallet.
    let a = net.post(3, "1x1", 4, &[])?;
    let out = net.ln.cli_ok(&["job", "cancel", &a.to_string()])?;
    check(
        out.contains("0.0063"),
        &format!("cancel reports the refund: {out}"),
    )?;
    check(
        net.events::<JobCancelled>(a).await?.len() == 1,
        "JobCancelled emitted",
    )?;
    check(
        market.balanceOf(artist, Address::ZERO).call().await? == escrow,
        "escrow credited",
    )?;
    let before = net.ln.dev.artist.provider.get_balance(artist).await?;
    net.ln.cli_ok(&["withdraw"])?;
    let after = net.ln.dev.artist.provider.get_balance(artist).await?;
    check(
        after > before && after - before > ether("0.0062")?,
        "withdrawn to the wallet, less gas",
    )?;
    fails_with(&net, &["job", "cancel", &a.to_string()], "was cancelled")?;
    fails_with(&net, &["withdraw"], "nothing to withdraw")?;

    // Reclaim: refused before the deadline (and the error says when it is), credited after.
    let b = net.post(3, "1x1", 4, &["--deadline", "120s"])?;
    fails_with(
        &net,
        &["job", "reclaim", &b.to_string()],
        "can be reclaimed only after it",
    )?;
    net.ln.dev.warp(121).await?;
    net.ln.cli_ok(&["job", "reclaim", &b.to_string()])?;
    check(
        net.events::<OpenTasksReclaimed>(b).await?.len() == 1,
        "OpenTasksReclaimed emitted",
    )?;
    check(
        market.balanceOf(artist, Address::ZERO).call().await? == escrow,
        "reclaimed escrow credited",
    )?;

    // Accept: a submitted task is paid at once, as accepted by the artist.
    let c = net.post(1, "1x1", 4, &[])?;
    fails_with(
        &net,
        &["job", "accept", &c.to_string(), "0"],
        "is open, which does not allow this",
    )?;
    let w = &net.ln.dev.worker;
    let m = w.market(net.ln.deployment.distributed_render);
    mined(m.stake().value(ether("0.01")?)).await?;
    mined(m.claimTasks(U256::from(c), vec![0])).await?;
    mined(m.submitResult(
        U256::from(c),
        U256::ZERO,
        "bafkqaaa".into(),
        B256::repeat_byte(7),
    ))
    .await?;
    net.ln.cli_ok(&["job", "accept", &c.to_string(), "0"])?;
    check(
        net.task(c, 0).await?.state == TaskState::Paid,
        "accepted task paid",
    )?;
    let paid = net.events::<TaskPaid>(c).await?;
    check(
        paid.len() == 1 && paid[0].reason == PayReason::AcceptedByArtist as u8,
        "paid as accepted by the artist",
    )?;

    // An ERC-20 job: the CLI approves the escrow, the contract pulls it; cancelling credits it back in the
    // token, and `withdraw --token` pays it out.
    let token_addr = net.ln.deployment.test_token;
    let token = tessera_bindings::TestToken::new(token_addr, net.ln.dev.artist.provider.clone());
    mined(token.mint(artist, ether("1")?)).await?;
    let d = net.post(3, "1x1", 4, &["--token", &token_addr.to_string()])?;
    check(
        token.balanceOf(artist).call().await? == ether("1")? - escrow,
        "the token escrow left the artist",
    )?;
    net.ln.cli_ok(&["job", "cancel", &d.to_string()])?;
    check(
        market.balanceOf(artist, token_addr).call().await? == escrow,
        "token escrow credited",
    )?;
    net.ln
        .cli_ok(&["withdraw", "--token", &token_addr.to_string()])?;
    check(
        token.balanceOf(artist).call().await? == ether("1")?,
        "token escrow withdrawn",
    )?;

    // A USDT-style token (no return values; approve only from zero). Refused by name until the market's owner
    // allows it; then, with an allowance already set, the CLI clears it before approving the escrow.
    let usdt = tessera_bindings::UsdtStyleToken::deploy(net.ln.dev.owner.provider.clone()).await?;
    let usdt_addr = usdt.address().to_string();
    // A fresh provider for the artist's key: the CLI has sent with it since the devnet's provider cached a nonce.
    let fresh = net.ln.dev.actor(1)?;
    check(fresh.address == artist, "anvil account 1 is the artist")?;
    let usdt_artist =
        tessera_bindings::UsdtStyleToken::new(*usdt.address(), fresh.provider.clone());
    mined(usdt_artist.mint(artist, ether("1")?)).await?;
    mined(usdt_artist.approve(*market.address(), U256::from(1))).await?;
    let refused = net
        .post(3, "1x1", 4, &["--token", &usdt_addr])
        .expect_err("a token off the allow-list is refused");
    check(
        format!("{refused:#}").contains(&format!("does not accept token {usdt_addr}")),
        &format!("the refusal names the token: {refused:#}"),
    )?;
    let as_owner = tessera_bindings::DistributedRender::new(
        *market.address(),
        net.ln.dev.owner.provider.clone(),
    );
    mined(as_owner.setTokenAllowed(*usdt.address(), true)).await?;
    let u = net.post(3, "1x1", 4, &["--token", &usdt_addr])?;
    check(
        usdt.balanceOf(artist).call().await? == ether("1")? - escrow,
        "the USDT-style escrow left the artist",
    )?;
    net.ln.cli_ok(&["job", "cancel", &u.to_string()])?;
    net.ln.cli_ok(&["withdraw", "--token", &usdt_addr])?;
    check(
        usdt.balanceOf(artist).call().await? == ether("1")?,
        "USDT-style escrow withdrawn",
    )?;

    // Mistakes the CLI names.
    fails_with(&net, &["job", "status", "999"], "does not exist")?;
    fails_with(&net, &["job", "cancel", "999"], "job 999 does not exist")?;
    fails_with(
        &net,
        &["job", "accept", &c.to_string(), "5"],
        "task 5 does not exist",
    )?;
    // Another account is not the artist.
    let other = net.ln.keystore(tessera_localnet::Account::Spare)?;
    let out = net
        .ln
        .cli(&["job", "cancel", &c.to_string()])?
        .env("TESSERA_KEYSTORE", &other)
        .output()?;
    check(
        String::from_utf8_lossy(&out.stderr).contains("is not the artist of job"),
        &format!("not the artist: {}", String::from_utf8_lossy(&out.stderr)),
    )?;
    // No funds: a fresh key with nothing on it.
    let broke = net.ln.dir.join("broke");
    std::fs::create_dir_all(&broke)?;
    let out = net
        .ln
        .cli(&["wallet", "new", "--name", "broke.json"])?
        .env("TESSERA_KEYSTORE_DIR", &broke)
        .output()?;
    check(out.status.success(), "new wallet")?;
    let out = net
        .ln
        .cli(&[
            "job",
            "submit",
            &crate::harness::scene().display().to_string(),
            "--width",
            "64",
            "--height",
            "64",
            "--reward",
            "0.01",
            "--quorum",
            "1",
        ])?
        .env("TESSERA_KEYSTORE", broke.join("broke.json"))
        .output()?;
    check(
        String::from_utf8_lossy(&out.stderr).contains("no funds"),
        &format!("no funds: {}", String::from_utf8_lossy(&out.stderr)),
    )?;
    // Wrong chain: a deployment file for another chain id.
    let wrong = net.ln.dir.join("wrong-chain.json");
    let mut d = net.ln.deployment.clone();
    d.chain_id = 1;
    std::fs::write(&wrong, serde_json::to_vec(&d)?)?;
    let out = net
        .ln
        .cli(&["job", "cancel", &c.to_string()])?
        .env("TESSERA_DEPLOYMENT", &wrong)
        .output()?;
    check(
        String::from_utf8_lossy(&out.stderr).contains("wrong chain"),
        &format!("wrong chain: {}", String::from_utf8_lossy(&out.stderr)),
    )?;
    tokio::time::sleep(Duration::from_millis(1)).await;
    net.shutdown().await
}
