//! The `tessera` binary end to end: wallets on disk and a job estimate on a real scene; against a real anvil,
//! submit's verification checks, committees in `job status`, and appeals.
#![allow(clippy::cast_possible_truncation)]

use std::path::PathBuf;
use std::process::Command;

fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn wallet_new_import_and_address() {
    let dir = tmp("wallet");
    let out = tessera()
        .args(["wallet", "new", "--name", "artist.json"])
        .env("TESSERA_KEYSTORE_DIR", &dir)
        .env("TESSERA_KEYSTORE_PASSWORD", "hunter2-but-longer")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let address = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    assert!(
        address.starts_with("0x") && address.len() == 42,
        "{address}"
    );
    let shown = tessera()
        .args(["wallet", "address", "--keystore"])
        .arg(dir.join("artist.json"))
        .env("TESSERA_KEYSTORE_PASSWORD", "hunter2-but-longer")
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), address);
    let wrong = tessera()
        .args(["wallet", "address", "--keystore"])
        .arg(dir.join("artist.json"))
        .env("TESSERA_KEYSTORE_PASSWORD", "nope")
        .output()
        .expect("run");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong password"));
    // Import reads the key from the environment, never from a flag.
    let imported = tessera()
        .args(["wallet", "import", "--name", "dev.json"])
        .env("TESSERA_KEYSTORE_DIR", &dir)
        .env("TESSERA_KEYSTORE_PASSWORD", "pw")
        .env(
            "TESSERA_PRIVATE_KEY",
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&imported.stdout)
            .trim()
            .to_lowercase(),
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    );
    let again = tessera()
        .args(["wallet", "new", "--name", "artist.json"])
        .env("TESSERA_KEYSTORE_DIR", &dir)
        .env("TESSERA_KEYSTORE_PASSWORD", "x")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn job_estimate_prints_the_bill_and_a_preview() {
    let dir = tmp("estimate");
    let scene = dir.join("cornell.glb");
    std::fs::write(&scene, tessera_render::testscenes::cornell_box()).expect("scene");
    let preview = dir.join("preview.png");
    let out = tessera()
        .args(["job", "estimate"])
        .arg(&scene)
        .args([
            "--width",
            "320",
            "--height",
            "180",
            "--spp",
            "8",
            "--frames",
            "3",
            "--regions",
            "2x2",
        ])
        .args(["--price-gwei-per-msample", "1000", "--preview"])
        .arg(&preview)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("tasks               12"), "{stdout}");
    // 320 x 180 x 8 x 3 = 1.3824 M samples, 0.1152 M per task -> 116 gwei per task at 1000 gwei/M.
    assert!(stdout.contains("reward per task     116 gwei"), "{stdout}");
    assert!(stdout.contains("bounty to escrow"), "{stdout}");
    assert!(std::fs::metadata(&preview).expect("preview written").len() > 100);
    // The same scene as a .gltf with its buffer beside it is packed into the same scene: same bill.
    let (mut doc, bin) =
        tessera_render::testscenes::unpack_glb(&tessera_render::testscenes::cornell_box());
    std::fs::write(dir.join("cornell.bin"), &bin).expect("bin");
    doc["buffers"][0]["uri"] = serde_json::json!("cornell.bin");
    let gltf = dir.join("cornell.gltf");
    std::fs::write(&gltf, serde_json::to_vec(&doc).expect("json")).expect("gltf");
    let packed = tessera()
        .args(["job", "estimate"])
        .arg(&gltf)
        .args([
            "--width",
            "320",
            "--height",
            "180",
            "--spp",
            "8",
            "--frames",
            "3",
            "--regions",
            "2x2",
        ])
        .output()
        .expect("run");
    let packed_out = String::from_utf8_lossy(&packed.stdout);
    assert!(
        packed.status.success(),
        "{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    assert!(
        packed_out.contains("reward per task     116 gwei"),
        "{packed_out}"
    );
    // The look: a frame rate, a sky and an environment map written into the scene before the preview.
    let hdr = dir.join("sky.hdr");
    std::fs::write(
        &hdr,
        tessera_render::scene::write_hdr(8, 4, &[[1.5f32; 3]; 32]),
    )
    .expect("hdr");
    let looked = tessera()
        .args(["job", "estimate"])
        .arg(&scene)
        .args([
            "--width",
            "64",
            "--height",
            "36",
            "--spp",
            "2",
            "--fps",
            "30",
            "--env",
            "0.5,0.5,0.6",
            "--env-map",
        ])
        .arg(&hdr)
        .output()
        .expect("run");
    assert!(
        looked.status.success(),
        "{}",
        String::from_utf8_lossy(&looked.stderr)
    );
    let bad_look = tessera()
        .args(["job", "estimate"])
        .arg(&scene)
        .args(["--fps", "0"])
        .output()
        .expect("run");
    assert!(!bad_look.status.success());
    assert!(
        String::from_utf8_lossy(&bad_look.stderr).contains("fps 0 is outside"),
        "{}",
        String::from_utf8_lossy(&bad_look.stderr)
    );
    // A .gltf that reaches outside its folder is refused, naming the URI.
    doc["buffers"][0]["uri"] = serde_json::json!("../../etc/passwd");
    std::fs::write(&gltf, serde_json::to_vec(&doc).expect("json")).expect("gltf");
    let hostile = tessera()
        .args(["job", "estimate"])
        .arg(&gltf)
        .output()
        .expect("run");
    assert!(!hostile.status.success());
    assert!(
        String::from_utf8_lossy(&hostile.stderr).contains("../../etc/passwd"),
        "{}",
        String::from_utf8_lossy(&hostile.stderr)
    );
    // A file that is not a scene: the error names it.
    std::fs::write(dir.join("bad.glb"), b"nope").expect("write");
    let bad = tessera()
        .args(["job", "estimate"])
        .arg(dir.join("bad.glb"))
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot be rendered"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The lines of stdout, each parsed as one JSON document.
fn documents(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect()
}

/// `tessera --json job estimate SCENE ARGS`, which must succeed with exactly one document: that document.
fn estimate_json(scene: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = tessera()
        .args(["--json", "job", "estimate"])
        .arg(scene)
        .args(args)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut docs = documents(&out.stdout);
    assert_eq!(docs.len(), 1, "{docs:?}");
    docs.remove(0)
}

#[test]
fn json_output_is_one_document_per_line_and_failures_are_error_documents() {
    let dir = tmp("json");
    let scene = dir.join("cornell.glb");
    std::fs::write(&scene, tessera_render::testscenes::cornell_box()).expect("scene");
    let e = &estimate_json(
        &scene,
        &[
            "--width",
            "320",
            "--height",
            "180",
            "--spp",
            "8",
            "--frames",
            "3",
            "--regions",
            "2x2",
            "--verifier-fee-bps",
            "500",
        ],
    );
    assert_eq!(e["kind"], "estimate");
    assert_eq!(e["tasks"], 12);
    assert_eq!(e["frames"], 3);
    assert_eq!(e["regions"], serde_json::json!([2, 2]));
    assert_eq!(e["regionSize"], serde_json::json!([160, 90]));
    // The same bill as the text: 116 gwei per task, a 5% fee of 5.8 gwei (in wei, as submit computes it),
    // 12 tasks.
    assert_eq!(e["rewardPerTaskWei"], "116000000000");
    assert_eq!(e["verifierFeePerTaskWei"], "5800000000");
    assert_eq!(e["bountyWei"], (12u64 * 121_800_000_000).to_string());
    assert!((e["msamples"].as_f64().expect("msamples") - 1.3824).abs() < 1e-9);
    assert!(e["measuredMsamplesPerSecond"].as_f64().expect("speed") > 0.0);
    assert!(e["triangles"].as_u64().expect("triangles") > 0);
    // A reward given as submit takes it: the fee in wei exactly as submit escrows it (1001 gwei x 5%).
    let r = &estimate_json(
        &scene,
        &[
            "--width",
            "64",
            "--height",
            "36",
            "--spp",
            "1",
            "--frames",
            "2",
            "--reward",
            "0.000001001",
        ],
    );
    assert_eq!(r["rewardPerTaskWei"], "1001000000000");
    assert_eq!(r["verifierFeePerTaskWei"], "50050000000");
    assert_eq!(r["bountyWei"], (2u64 * 1_051_050_000_000).to_string());
    // The flag may also come after the subcommand.
    let after = tessera()
        .args(["job", "estimate"])
        .arg(&scene)
        .args(["--width", "64", "--height", "36", "--spp", "1", "--json"])
        .output()
        .expect("run");
    assert!(after.status.success());
    assert_eq!(documents(&after.stdout)[0]["kind"], "estimate");
    // A failure is an error document with the text message's words, and status 1.
    std::fs::write(dir.join("bad.glb"), b"nope").expect("write");
    let bad = tessera()
        .args(["--json", "job", "estimate"])
        .arg(dir.join("bad.glb"))
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    let docs = documents(&bad.stdout);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(docs[0]["kind"], "error");
    let message = docs[0]["error"].as_str().expect("error text");
    assert!(message.contains("cannot be rendered"), "{message}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains(message),
        "the text error carries the same words"
    );
    // A usage error too.
    let usage = tessera()
        .args(["--json", "job", "estimate", "--width", "wide"])
        .output()
        .expect("run");
    assert!(!usage.status.success());
    let docs = documents(&usage.stdout);
    assert_eq!(docs[0]["kind"], "error");
    let text = docs[0]["error"].as_str().expect("text");
    assert!(
        text.contains("--width") && !text.starts_with("error:") && !text.contains('\n'),
        "{docs:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn output_check_accepts_genuine_outputs_and_names_a_tampered_cell() {
    let dir = tmp("check");
    let scene = dir.join("cornell.glb");
    std::fs::write(&scene, tessera_render::testscenes::cornell_box()).expect("scene");
    let render = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["output", "check", "--raw"])
        .arg(dir.join("missing.tsr"))
        .arg("--leaves")
        .arg(dir.join("missing.json"))
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&render.stderr).contains("missing.tsr"));
    // Produce outputs through the library, as a worker would.
    let s = tessera_render::RenderSettings {
        width: 40,
        height: 24,
        samples_per_pixel: 2,
        max_bounces: 2,
        frame_start: 0,
        frame_count: 1,
        regions_x: 1,
        regions_y: 1,
        cell_size: 8,
        seed: 3,
    };
    let sc = tessera_render::load_glb(
        &tessera_render::testscenes::cornell_box(),
        &tessera_render::LoadOptions {
            aspect: 40.0 / 24.0,
            ..tessera_render::LoadOptions::default()
        },
    )
    .expect("scene");
    let img = tessera_render::render_region(
        &sc,
        &s,
        s.full_frame(),
        &tessera_render::Backend::Cpu,
        &|_, _| {},
    )
    .expect("render");
    tessera_render::output::write_raw(&dir.join("t.tsr"), &img, 40, 24, 8).expect("raw");
    tessera_render::output::write_leaves(&dir.join("t.json"), &img, 8).expect("leaves");
    let root = tessera_common::to_hex(&img.root);
    let ok = tessera()
        .args(["output", "check", "--raw"])
        .arg(dir.join("t.tsr"))
        .arg("--leaves")
        .arg(dir.join("t.json"))
        .args(["--root", &root])
        .output()
        .expect("run");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), root);
    let mut raw = std::fs::read(dir.join("t.tsr")).expect("raw");
    raw[40] ^= 0x40;
    std::fs::write(dir.join("bad.tsr"), raw).expect("write");
    let bad = tessera()
        .args(["output", "check", "--raw"])
        .arg(dir.join("bad.tsr"))
        .arg("--leaves")
        .arg(dir.join("t.json"))
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cell 0"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------------------------
// Against a real anvil (tessera-devnet): submit's checks, a committee's progress in `job status`, appeals.
// ---------------------------------------------------------------------------------------------------------

use alloy::primitives::utils::parse_ether;
use alloy::primitives::{Address, U256, keccak256};
use tessera_bindings::IDistributedRenderTypes::JobSpec;
use tessera_bindings::{DistributedRender, Phase, cells, committee};
use tessera_devnet::{DeployParams, Devnet, cell_hashes, job_spec, mined, register_verifier};

const PASSWORD: &str = "artist-password";

/// A devnet with the contracts deployed, their deployment file, and the artist's keystore.
struct Net {
    dev: Devnet,
    market: Address,
    params: DeployParams,
    dir: PathBuf,
}

impl Net {
    async fn start(tag: &str) -> anyhow::Result<Self> {
        let dev = Devnet::start().await?;
        let params = DeployParams::default();
        let deployment = dev.deploy(params).await?;
        let dir = tmp(tag);
        std::fs::write(
            dir.join("deployment.json"),
            serde_json::to_string(&deployment)?,
        )?;
        let out = tessera()
            .args(["wallet", "import", "--name", "artist.json"])
            .env("TESSERA_KEYSTORE_DIR", &dir)
            .env("TESSERA_KEYSTORE_PASSWORD", PASSWORD)
            .env("TESSERA_PRIVATE_KEY", &dev.actor_keys()[1])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(Self {
            market: deployment.distributed_render,
            dev,
            params,
            dir,
        })
    }

    /// Runs `tessera` against this chain as the artist; no indexer answers (status reads the chain).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = tessera()
            .args(args)
            .env("TESSERA_RPC_URL", self.dev.endpoint())
            .env("TESSERA_DEPLOYMENT", self.dir.join("deployment.json"))
            .env("TESSERA_INDEXER_URL", "http://127.0.0.1:9")
            .env("TESSERA_IPFS_API", "http://127.0.0.1:9")
            .env("TESSERA_KEYSTORE", self.dir.join("artist.json"))
            .env("TESSERA_KEYSTORE_PASSWORD", PASSWORD)
            .env_remove("TESSERA_KEYSTORE_PASSWORD_FILE")
            .output()
            .expect("run tessera");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `run`, which must fail: its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(!ok, "tessera {args:?} succeeded: {stdout}");
        stderr
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn job_submit_refuses_bad_verification_terms_before_sending() -> anyhow::Result<()> {
    let net = Net::start("submit").await?;
    let scene = net.dir.join("cornell.glb");
    std::fs::write(&scene, tessera_render::testscenes::cornell_box())?;
    let scene = scene.display().to_string();
    let submit = |extra: &[&str]| {
        let mut args = vec![
            "job", "submit", &scene, "--width", "64", "--height", "64", "--spp", "1",
        ];
        if !extra.contains(&"--reward") {
            args.extend_from_slice(&["--reward", "0.001"]);
        }
        args.extend_from_slice(extra);
        net.fails(&args)
    };
    let e = submit(&["--quorum", "0"]);
    assert!(
        e.contains("--quorum 0 is out of range") && e.contains("1 to 7 seats"),
        "{e}"
    );
    let e = submit(&["--quorum", "8"]);
    assert!(e.contains("--quorum 8 is out of range"), "{e}");
    let e = submit(&["--verifier-fee-bps", "50"]);
    assert!(
        e.contains("--verifier-fee-bps 50 is below the minimum of 100"),
        "{e}"
    );
    let e = submit(&[
        "--reward",
        "0.000000000000000001",
        "--verifier-fee-bps",
        "100",
    ]);
    assert!(e.contains("the verifier fee is 0 wei per task"), "{e}");
    // The market's shortest window is read from the contract (the devnet deploys with 10 s).
    let e = submit(&["--challenge-window", "9s"]);
    assert!(
        e.contains("--challenge-window 9s is shorter than this market's minimum of 10s"),
        "{e}"
    );
    // The registry is read from the contract: empty, then one ticket against the default quorum of 3.
    let e = submit(&[]);
    assert!(
        e.contains("the verifier registry has no active tickets"),
        "{e}"
    );
    register_verifier(&net.dev.verifier, net.market, 1, net.params.ticket_stake).await?;
    let e = submit(&[]);
    assert!(
        e.contains("--quorum 3 asks for a first committee of 3 seats")
            && e.contains("has 1 active tickets")
            && e.contains("at most 1"),
        "{e}"
    );
    // Nothing was posted.
    let next = net.dev.artist.market(net.market).nextJobId().call().await?;
    assert_eq!(next, U256::from(1), "no job was sent");
    Ok(())
}

/// Claims and submits an honest result for `task` as the worker.
async fn claim_and_submit(net: &Net, job: U256, task: u32) -> anyhow::Result<()> {
    let worker = net.dev.worker.market(net.market);
    mined(worker.claimTasks(job, vec![task])).await?;
    let root = cells::root_of(&cell_hashes(u64::from(task), false))
        .ok_or_else(|| anyhow::anyhow!("no cells"))?;
    mined(worker.submitResult(job, U256::from(task), "bafyoutput".into(), root)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn job_status_shows_committees_and_the_artist_appeals_a_verdict() -> anyhow::Result<()> {
    let net = Net::start("appeal").await?;
    let (dev, market) = (&net.dev, net.market);
    for v in [&dev.verifier, &dev.verifier2] {
        register_verifier(v, market, 4, net.params.ticket_stake).await?;
    }
    mined(dev.worker.market(market).stake().value(parse_ether("1")?)).await?;
    let deadline = u32::try_from(dev.now().await? + 86_400)?;
    let spec = JobSpec {
        optimistic: false,
        quorum: 2,
        challengeWindow: 600,
        ..job_spec(3, 10_000_000_000_000_000, 5_000_000_000_000_000, deadline)
    };
    let value = tessera_devnet::escrow(&spec);
    let r = mined(dev.artist.market(market).submitRenderJob(spec).value(value)).await?;
    let job = r
        .decoded_log::<DistributedRender::JobSubmitted>()
        .ok_or_else(|| anyhow::anyhow!("no JobSubmitted"))?
        .jobId;
    let id = job.to_string();
    claim_and_submit(&net, job, 0).await?;
    claim_and_submit(&net, job, 1).await?;

    // Before any draw: task 0 awaits its first committee.
    let (ok, out, err) = net.run(&["job", "status", &id]);
    assert!(ok, "{err}");
    assert!(
        out.contains(
            "verification  awaiting draw, level 0: draw 1 of 2 seats due, seeded by block"
        ),
        "{out}"
    );
    assert!(out.contains("  task    2  open"), "{out}");

    // Task 1: a unanimous first committee approves; its verdict stands in the appeal window.
    let voters = [&dev.verifier, &dev.verifier2];
    let phase = dev.vote_round(market, job, 1, &voters, true).await?;
    assert_eq!(phase, Phase::Appealable);

    // Task 0: the committee is drawn and (when it has two members) the first member commits.
    let m = dev.owner.market(market);
    let v = m.getVerification(job, U256::ZERO).call().await?;
    let (head, _) = dev.head().await?;
    let seed = u64::try_from(v.seedBlock)?;
    if head <= seed {
        dev.mine(seed - head + 1).await?;
    }
    mined(m.drawCommittee(job, U256::ZERO)).await?;
    let members = m.getMembers(job, U256::ZERO, U256::ZERO).call().await?;
    let committed = if members.len() > 1 {
        let voter = voters
            .iter()
            .find(|a| a.address == members[0].verifier)
            .expect("a registered verifier");
        let salt = keccak256(b"salt");
        let c = committee::commitment(
            job.to(),
            0,
            0,
            0,
            voter.address,
            true,
            tessera_devnet::fixed_render_proof(),
            salt,
        );
        mined(
            voter
                .market(market)
                .commitVote(job, U256::ZERO, U256::ZERO, c),
        )
        .await?;
        1
    } else {
        0
    };

    let (ok, out, err) = net.run(&["job", "status", &id]);
    assert!(ok, "{err}");
    eprintln!("{out}");
    let n = members.len();
    assert!(
        out.contains(&format!(
            "verification  commit, level 0, draw 1: 2 seats, {n} member{}, committed {committed}/{n}, revealed 0/{n}; verdict none; not challenged",
            if n == 1 { "" } else { "s" }
        )),
        "{out}"
    );
    assert!(out.contains("commit until  "), "{out}");
    assert!(out.contains("(unix "), "{out}");
    assert!(
        out.contains(&format!(
            "member 0      {}",
            members[0].verifier.to_string().to_lowercase()
        )),
        "{out}"
    );
    if committed == 1 {
        assert!(
            out.contains("committed\n") && out.contains("drawn, no vote yet"),
            "{out}"
        );
    }
    // The same facts as fields with --json: one status document (read from the chain: no indexer answers).
    let (ok, doc, err) = net.run(&["--json", "job", "status", &id]);
    assert!(ok, "{err}");
    let docs = documents(doc.as_bytes());
    assert_eq!(docs.len(), 1, "{doc}");
    let st = &docs[0];
    assert_eq!(st["kind"], "status");
    assert_eq!(st["source"], "chain");
    assert_eq!(st["job"]["taskCount"], 3);
    assert_eq!(st["settled"], false);
    assert_eq!(st["counts"]["submitted"], 2);
    assert_eq!(st["counts"]["open"], 1);
    let t0 = &st["tasks"][0];
    assert_eq!(t0["task"], 0);
    assert_eq!(t0["state"], "submitted");
    let v = &t0["verification"];
    assert_eq!(v["phase"], "commit");
    assert_eq!(v["level"], 0);
    assert_eq!(v["seats"], 2);
    assert_eq!(v["members"], n);
    assert_eq!(v["committed"], committed);
    assert_eq!(v["verdict"], "none");
    assert!(v["phaseEndsAt"].as_u64().expect("a deadline") > 0);
    assert_eq!(v["committee"].as_array().expect("members").len(), n);
    assert_eq!(
        v["committee"][0]["verifier"],
        members[0].verifier.to_string().to_lowercase()
    );
    let t1 = &st["tasks"][1]["verification"];
    assert_eq!(t1["phase"], "appealable");
    assert_eq!(t1["verdict"], "approve");
    assert_eq!(t1["decidedLevel"], 0);
    assert_eq!(st["tasks"][2]["verification"], serde_json::Value::Null);
    assert!(
        out.contains("verification  appealable, level 0, draw 1:")
            && out.contains("verdict approve (level 0)")
            && out.contains("appeal until  ")
            && out.contains("revealed approve"),
        "{out}"
    );

    // Task 0 has no verdict yet, task 2 no result: both refused in words, before any transaction.
    let e = net.fails(&["job", "appeal", &id, "0", "--yes"]);
    assert!(
        e.contains("task 0 of job 1 has no verdict to appeal yet: its level 0 committee is in its commit phase"),
        "{e}"
    );
    let e = net.fails(&["job", "appeal", &id, "2", "--yes"]);
    assert!(
        e.contains("task 2 of job 1 is open, which does not allow an appeal"),
        "{e}"
    );

    // Without --yes the bond is shown and nothing is paid unless confirmed (stdin is closed here).
    let e = net.fails(&["job", "appeal", &id, "1"]);
    assert!(
        e.contains("appeal the approve verdict (level 0) of task 1 of job 1: a committee of 5 seats at level 1")
            && e.contains("the bond is 0.005000000000000000 ETH")
            && e.contains("not appealed"),
        "{e}"
    );

    // Appeal with --yes: the artist pays the bond of a level-1 committee (5 seats x 0.001 ETH).
    let before = dev.artist.eth().await?;
    let (ok, out, err) = net.run(&["job", "appeal", &id, "1", "--yes"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("task 1 of job 1 appealed to level 1: 0.005000000000000000 ETH bond paid; a committee of 5 seats"),
        "{out}"
    );
    let spent = before - dev.artist.eth().await?;
    assert!(spent >= parse_ether("0.005")?, "bond paid: {spent}");
    assert!(spent < parse_ether("0.006")?, "bond and gas only: {spent}");
    let v = m.getVerification(job, U256::from(1)).call().await?;
    assert_eq!(Phase::try_from(v.phase)?, Phase::AwaitingDraw);
    assert_eq!(v.level, U256::from(1));
    let (ok, out, err) = net.run(&["job", "status", &id]);
    assert!(ok, "{err}");
    assert!(
        out.contains("verification  awaiting draw, level 1: draw 2 of 5 seats due")
            && out.contains("verdict approve (level 0)"),
        "{out}"
    );
    // A second appeal at once is refused in words: the new committee has not voted.
    let e = net.fails(&["job", "appeal", &id, "1", "--yes"]);
    assert!(
        e.contains("task 1 of job 1 has no verdict to appeal"),
        "{e}"
    );
    Ok(())
}
