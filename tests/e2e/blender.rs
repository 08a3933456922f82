//! The Blender add-on against the whole network: `blender -b --factory-startup` installs the add-on from
//! the zip `scripts/package-blender-addon.sh` makes and runs `tests/blender/addon_test.py` (a scene built
//! with bpy: Check naming a volume shader, then Check, Estimate, Submit, Watch and Fetch, the frames checked
//! against the scene's own animation), with a worker and three verifiers behind it.

use crate::harness::Net;
use anyhow::{Context, Result, ensure};
use std::process::Stdio;
use std::time::Duration;
use tessera_localnet::Account;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blender_add_on_checks_estimates_submits_watches_and_fetches() -> Result<()> {
    let _slot = crate::harness::slot().await;
    let blender = std::env::var_os("BLENDER").unwrap_or_else(|| "blender".into());
    let version = std::process::Command::new(&blender)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "{} cannot be run: scripts/setup.sh installs Blender (Debian's blender), or set BLENDER",
                blender.to_string_lossy()
            )
        })?;
    ensure!(version.status.success(), "blender --version failed");

    let mut net = Net::start("blender", true).await?;
    net.ln.spawn_daemon("w1", "run", Account::Worker, &[])?;
    net.verifiers().await?;
    let dir = net.ln.dir.join("blender");
    std::fs::create_dir_all(dir.join("user"))?;
    let root = tessera_localnet::repo_root();
    let zip = dir.join("tessera_blender.zip");
    let packed = std::process::Command::new("bash")
        .arg(root.join("scripts/package-blender-addon.sh"))
        .arg(&zip)
        .output()?;
    ensure!(
        packed.status.success(),
        "packaging the add-on: {}",
        String::from_utf8_lossy(&packed.stderr)
    );

    // Blender gets the CLI's network settings (and the artist's keystore) as the artist's shell would.
    let cli = net.ln.cli(&[])?;
    let mut cmd = tokio::process::Command::new(&blender);
    cmd.args([
        "-b",
        "--factory-startup",
        "--python-exit-code",
        "1",
        "--python",
    ])
    .arg(root.join("tests/blender/addon_test.py"))
    .env("TESSERA_ADDON_ZIP", &zip)
    .env("TESSERA_CLI", cli.get_program())
    .env("TESSERA_TEST_DIR", dir.join("shot"))
    // The add-on is installed into this folder, not the user's Blender configuration.
    .env("BLENDER_USER_SCRIPTS", dir.join("user"))
    .stdin(Stdio::null())
    .kill_on_drop(true);
    for (k, v) in cli.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = tokio::time::timeout(Duration::from_secs(900), cmd.output())
        .await
        .context("blender did not finish in 15 minutes")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let steps: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("[addon-test]"))
        .collect();
    eprintln!("{}", steps.join("\n"));
    if !out.status.success() {
        let tail: Vec<&str> = stdout.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(net.with_logs(anyhow::anyhow!(
            "the add-on test failed:\n{}\n{}",
            tail.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    ensure!(
        steps
            .last()
            .is_some_and(|l| l.trim_end().ends_with("] done")),
        "the add-on test did not reach its end"
    );
    net.shutdown().await
}
