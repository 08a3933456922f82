//! `tessera`, the artist's command line: keystore wallets, job estimates, the chain-facing commands
//! (submit, status, fetch, accept, cancel, reclaim, withdraw) in [`market`], and the committees' progress and
//! appeals in [`verification`]. Results go to stdout, diagnostics to stderr; with `--json` the results are
//! JSON documents, one per line ([`json`]).

mod json;
mod market;
mod verification;

use alloy::primitives::U256;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Instant;
use tessera_common::task::RenderSettings;
use tessera_common::verify::cells_needed;
use tessera_wallet::{Password, PasswordSource};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: render on a decentralized marketplace"
)]
struct Cli {
    /// Write results (and a failure) to stdout as JSON documents, one per line; diagnostics stay on
    /// stderr. The documents' shapes are in docs/cli.md.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Keystore wallets.
    #[command(subcommand)]
    Wallet(WalletCmd),
    /// Jobs.
    #[command(subcommand)]
    Job(JobCmd),
    /// Task outputs.
    #[command(subcommand)]
    Output(OutputCmd),
    /// Withdraw credited payouts and refunds.
    Withdraw {
        /// ERC-20 token (default: ETH).
        #[arg(long)]
        token: Option<alloy::primitives::Address>,
        #[command(flatten)]
        net: market::NetArgs,
        #[command(flatten)]
        key: market::KeyArgs,
    },
}

#[derive(Debug, Subcommand)]
enum OutputCmd {
    /// Check a task's raw data against its leaves document and, optionally, the root committed on-chain.
    Check {
        /// Raw data (TSRAW001).
        #[arg(long)]
        raw: PathBuf,
        /// Leaves document (JSON).
        #[arg(long)]
        leaves: PathBuf,
        /// The committed cell root, 0x-prefixed hex.
        #[arg(long)]
        root: Option<String>,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct PasswordArgs {
    /// File holding the keystore password (else TESSERA_KEYSTORE_PASSWORD, else a prompt).
    #[arg(long, env = "TESSERA_KEYSTORE_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
}

impl PasswordArgs {
    fn source(&self) -> PasswordSource {
        match &self.password_file {
            Some(p) => PasswordSource::File(p.clone()),
            None if std::env::var_os("TESSERA_KEYSTORE_PASSWORD").is_some() => {
                PasswordSource::Env("TESSERA_KEYSTORE_PASSWORD".into())
            }
            None => PasswordSource::Prompt,
        }
    }

    /// A new password: from the file or env, or typed twice.
    fn new_password(&self) -> Result<Password> {
        let source = self.source();
        if source != PasswordSource::Prompt {
            return Ok(tessera_wallet::read_password(&source)?);
        }
        let a = rpassword::prompt_password("New keystore password: ")
            .context("reading the password")?;
        let b = rpassword::prompt_password("Repeat it: ").context("reading the password")?;
        if a != b {
            bail!("the passwords differ");
        }
        if a.is_empty() {
            bail!("an empty password would leave the key unprotected");
        }
        Ok(Password::new(a))
    }
}

pub(crate) fn default_keystores() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".tessera/keystores"),
        |h| PathBuf::from(h).join(".tessera/keystores"),
    )
}

/// Where a new keystore goes.
#[derive(Debug, clap::Args)]
struct KeystoreTarget {
    /// Folder of keystores.
    #[arg(long, env = "TESSERA_KEYSTORE_DIR", default_value_os_t = default_keystores())]
    dir: PathBuf,
    /// File name of the keystore.
    #[arg(long, default_value = "default.json")]
    name: String,
}

impl KeystoreTarget {
    /// Refuses to overwrite an existing keystore.
    fn check_free(&self) -> Result<()> {
        let path = self.dir.join(&self.name);
        if path.exists() {
            bail!("{} already exists; choose another --name", path.display());
        }
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
enum WalletCmd {
    /// Create a new key, encrypted in a keystore.
    New {
        #[command(flatten)]
        target: KeystoreTarget,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Encrypt an existing private key, read from TESSERA_PRIVATE_KEY or a prompt (never from a flag).
    Import {
        #[command(flatten)]
        target: KeystoreTarget,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Print a keystore's address.
    Address {
        /// The keystore file.
        #[arg(long, env = "TESSERA_KEYSTORE")]
        keystore: Option<PathBuf>,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[derive(Debug, Subcommand)]
enum JobCmd {
    /// Render a low-sample preview locally and estimate the job's compute, time and bounty.
    Estimate(EstimateArgs),
    /// Add the scene to IPFS and post the job with its escrow (prints the job id).
    Submit(Box<market::SubmitArgs>),
    /// Per-task progress from the indexer (the chain when it is down), and each submitted task's verification
    /// from the chain; --watch follows it live.
    Status {
        /// Job id.
        id: u64,
        /// Follow the job until every task is settled.
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        net: market::NetArgs,
    },
    /// Download every task's outputs, check them against the roots committed on-chain, assemble the frames.
    Fetch {
        /// Job id.
        id: u64,
        /// Output folder.
        #[arg(short, long)]
        out: PathBuf,
        /// Also write each assembled frame as OpenEXR (`frame-NNNN.exr`: linear RGB as rendered, 32-bit
        /// floats, ZIP-compressed), for compositing.
        #[arg(long)]
        exr: bool,
        /// With `--exr`, write 16-bit half floats instead of 32-bit floats.
        #[arg(long, requires = "exr")]
        half: bool,
        /// Also write each assembled frame denoised by Intel Open Image Denoise (`frame-NNNN-denoised.png`,
        /// and `.exr` with `--exr`); the raw data and its checks are untouched.
        #[arg(long)]
        denoise: bool,
        #[command(flatten)]
        net: market::NetArgs,
    },
    /// Accept a submitted task now (pays the worker without waiting for verification).
    Accept {
        /// Job id.
        id: u64,
        /// Task index.
        task: u64,
        #[command(flatten)]
        net: market::NetArgs,
        #[command(flatten)]
        key: market::KeyArgs,
    },
    /// Appeal a task's verdict to a larger committee (or dispute an optimistic result), paying the bond.
    Appeal {
        /// Job id.
        id: u64,
        /// Task index.
        task: u64,
        /// Pay the bond without asking.
        #[arg(long, short)]
        yes: bool,
        #[command(flatten)]
        net: market::NetArgs,
        #[command(flatten)]
        key: market::KeyArgs,
    },
    /// Cancel a job: its open tasks' escrow is credited back.
    Cancel {
        /// Job id.
        id: u64,
        #[command(flatten)]
        net: market::NetArgs,
        #[command(flatten)]
        key: market::KeyArgs,
    },
    /// After the deadline: credit back the escrow of tasks still open.
    Reclaim {
        /// Job id.
        id: u64,
        #[command(flatten)]
        net: market::NetArgs,
        #[command(flatten)]
        key: market::KeyArgs,
    },
}

#[derive(Debug, clap::Args)]
struct EstimateArgs {
    /// The scene: a `.glb`, or a `.gltf` with its side files (packed into one `.glb` as a job would be).
    scene: PathBuf,
    #[command(flatten)]
    shape: ShapeArgs,
    #[command(flatten)]
    look: LookArgs,
    /// Price in gwei per million path samples.
    #[arg(long, default_value_t = 1000.0)]
    price_gwei_per_msample: f64,
    /// Reward per task in ether (or whole token units), as `job submit --reward` takes it: the bill is then
    /// this reward instead of one from --price-gwei-per-msample.
    #[arg(long)]
    reward: Option<String>,
    /// Verifier fee in basis points of the reward.
    #[arg(long, default_value_t = 500)]
    verifier_fee_bps: u32,
    /// Write the preview image here.
    #[arg(long)]
    preview: Option<PathBuf>,
}

/// The image and its split into tasks, as `job estimate` and `job submit` take them.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ShapeArgs {
    /// Image width.
    #[arg(long, default_value_t = 1920)]
    pub(crate) width: u32,
    /// Image height.
    #[arg(long, default_value_t = 1080)]
    pub(crate) height: u32,
    /// Samples per pixel.
    #[arg(long, default_value_t = 64)]
    pub(crate) spp: u32,
    /// Maximum bounces.
    #[arg(long, default_value_t = 8)]
    pub(crate) bounces: u32,
    /// Number of frames.
    #[arg(long, default_value_t = 1)]
    pub(crate) frames: u32,
    /// Regions per frame as COLSxROWS (tasks = frames x COLS x ROWS).
    #[arg(long, default_value = "1x1", value_parser = parse_regions)]
    pub(crate) regions: (u32, u32),
}

/// The look a job's scene is rendered with (`tessera_render::scene::Look`), written into the scene before
/// it is estimated or uploaded; what is not given keeps the scene's own look (by default 24 fps under a
/// dim grey sky).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct LookArgs {
    /// Frames per second the scene's animation was authored at (frame f is sampled at f / fps seconds).
    #[arg(long)]
    pub(crate) fps: Option<f32>,
    /// Constant environment radiance r,g,b (linear; with --env-map, the map's multiplier).
    #[arg(long, value_parser = parse_rgb)]
    pub(crate) env: Option<[f32; 3]>,
    /// An equirectangular environment map (Radiance .hdr), packed into the scene.
    #[arg(long)]
    pub(crate) env_map: Option<PathBuf>,
}

impl LookArgs {
    /// `glb` with the look given on the command line written into it, or as it is when none is given.
    pub(crate) fn apply(&self, glb: Vec<u8>) -> Result<Vec<u8>> {
        if self.fps.is_none() && self.env.is_none() && self.env_map.is_none() {
            return Ok(glb);
        }
        let limits = tessera_render::Limits::default();
        let current =
            tessera_render::scene::read_look(&glb, &limits).context("reading the scene's look")?;
        let hdr = match &self.env_map {
            Some(p) => Some(
                std::fs::read(p)
                    .with_context(|| format!("reading environment map {}", p.display()))?,
            ),
            None => None,
        };
        if current.environment_map.is_some() && hdr.is_none() {
            bail!(
                "the scene already holds an environment map: give --env-map again to keep or replace it"
            );
        }
        tessera_render::scene::embed_look(
            &glb,
            self.fps.unwrap_or(current.fps),
            self.env.unwrap_or(current.environment),
            hdr.as_deref(),
            &limits,
        )
        .context("the look (--fps, --env, --env-map)")
    }
}

fn parse_rgb(s: &str) -> Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|x| x.trim().parse::<f32>().map_err(|e| format!("{x:?}: {e}")))
        .collect::<Result<_, _>>()?;
    <[f32; 3]>::try_from(v).map_err(|_| "expected r,g,b".to_string())
}

fn parse_regions(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s.split_once('x').ok_or("expected COLSxROWS, e.g. 2x2")?;
    let p = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{v:?}: {e}"));
    Ok((p(a)?, p(b)?))
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Usage errors are failures too: with --json they come as an error document.
            if e.use_stderr() && std::env::args_os().any(|a| a == "--json") {
                // clap's first line, without its "error: " prefix and the usage lines under it.
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                json::emit(&json::error(first.strip_prefix("error: ").unwrap_or(first)));
            }
            e.exit()
        }
    };
    if cli.json {
        json::enable();
    }
    if let Err(e) = run(cli) {
        if json::on() {
            json::emit(&json::error(&format!("{e:#}")));
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Wallet(WalletCmd::New { target, password }) => {
            target.check_free()?;
            let w =
                tessera_wallet::create(&target.dir, Some(&target.name), &password.new_password()?)?;
            report(&w);
        }
        Command::Wallet(WalletCmd::Import { target, password }) => {
            target.check_free()?;
            let key = match std::env::var("TESSERA_PRIVATE_KEY") {
                Ok(k) => k,
                Err(_) => rpassword::prompt_password("Private key (hex): ")
                    .context("reading the private key")?,
            };
            let w = tessera_wallet::import(
                &target.dir,
                Some(&target.name),
                &key,
                &password.new_password()?,
            )?;
            report(&w);
        }
        Command::Wallet(WalletCmd::Address { keystore, password }) => {
            let path = keystore.unwrap_or_else(|| default_keystores().join("default.json"));
            let w = tessera_wallet::open(&path, &password.source())?;
            json::say(
                || w.address().to_string(),
                || serde_json::json!({"kind": "wallet", "address": lower(w.address())}),
            );
        }
        Command::Job(JobCmd::Estimate(a)) => estimate(&a)?,
        Command::Job(JobCmd::Submit(a)) => block_on(market::submit(*a))?,
        Command::Job(JobCmd::Status { id, watch, net }) => {
            block_on(market::status(net, id, watch))?
        }
        Command::Job(JobCmd::Fetch {
            id,
            out,
            exr,
            half,
            denoise,
            net,
        }) => {
            let exr = exr.then_some(if half {
                tessera_render::output::ExrPrecision::Half
            } else {
                tessera_render::output::ExrPrecision::Full
            });
            block_on(market::fetch(net, id, &out, exr, denoise))?;
        }
        Command::Job(JobCmd::Accept { id, task, net, key }) => {
            block_on(market::act(
                net,
                key,
                market::Action::Accept { job: id, task },
            ))?;
        }
        Command::Job(JobCmd::Appeal {
            id,
            task,
            yes,
            net,
            key,
        }) => block_on(verification::appeal(net, key, id, task, yes))?,
        Command::Job(JobCmd::Cancel { id, net, key }) => {
            block_on(market::act(net, key, market::Action::Cancel { job: id }))?;
        }
        Command::Job(JobCmd::Reclaim { id, net, key }) => {
            block_on(market::act(net, key, market::Action::Reclaim { job: id }))?;
        }
        Command::Withdraw { token, net, key } => {
            block_on(market::act(net, key, market::Action::Withdraw { token }))?;
        }
        Command::Output(OutputCmd::Check { raw, leaves, root }) => {
            let raw_bytes =
                std::fs::read(&raw).with_context(|| format!("reading {}", raw.display()))?;
            let doc: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&leaves).with_context(|| format!("reading {}", leaves.display()))?,
            )
            .with_context(|| format!("{} is not JSON", leaves.display()))?;
            let expected = root.as_deref().map(parse_root).transpose()?;
            let got = tessera_render::output::check_outputs(&raw_bytes, &doc, expected.as_ref())
                .context("the outputs do not match their commitment")?;
            let root = tessera_common::to_hex(&got);
            json::say(
                || root.clone(),
                || serde_json::json!({"kind": "outputCheck", "cellRoot": root}),
            );
        }
    }
    Ok(())
}

fn block_on<F: std::future::Future<Output = Result<()>>>(f: F) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(f)
}

/// A 0x-prefixed 32-byte hex root.
fn parse_root(s: &str) -> Result<[u8; 32]> {
    tessera_common::parse_hex32(s)
        .context("--root must be 32 bytes of hex (64 digits, 0x optional)")
}

/// Where the keystore went (stderr) and its address (stdout).
fn report(w: &tessera_wallet::Wallet) {
    eprintln!("keystore written to {}", w.path().display());
    json::say(
        || w.address().to_string(),
        || {
            serde_json::json!({
                "kind": "wallet",
                "address": lower(w.address()),
                "keystore": w.path().display().to_string(),
            })
        },
    );
}

/// An address as the JSON documents write it: lowercase 0x-hex.
pub(crate) fn lower(a: alloy::primitives::Address) -> String {
    a.to_string().to_lowercase()
}

fn estimate(a: &EstimateArgs) -> Result<()> {
    let settings = RenderSettings {
        width: a.shape.width,
        height: a.shape.height,
        samples_per_pixel: a.shape.spp,
        max_bounces: a.shape.bounces,
        frame_start: 0,
        frame_count: a.shape.frames,
        regions_x: a.shape.regions.0,
        regions_y: a.shape.regions.1,
        cell_size: 16,
        seed: 1,
    };
    settings.validate().context("invalid job settings")?;
    if !(a.price_gwei_per_msample.is_finite() && a.price_gwei_per_msample >= 0.0) {
        bail!("--price-gwei-per-msample must be a non-negative number");
    }
    let bytes = tessera_render::read_scene(&a.scene, &tessera_render::Limits::default())
        .with_context(|| format!("reading scene {}", a.scene.display()))?;
    let bytes = a.look.apply(bytes)?;
    // Preview: a quarter of the resolution per side, a quarter of the samples (at least 1).
    let pw = (a.shape.width / 4).max(16).min(a.shape.width);
    let ph = (a.shape.height / 4).max(16).min(a.shape.height);
    let preview = RenderSettings {
        width: pw,
        height: ph,
        samples_per_pixel: (a.shape.spp / 4).max(1),
        frame_count: 1,
        regions_x: 1,
        regions_y: 1,
        ..settings
    };
    let t0 = Instant::now();
    let scene =
        tessera_render::load_job_scene(&bytes, &settings, 0, tessera_render::Limits::default())
            .with_context(|| format!("the scene {} cannot be rendered", a.scene.display()))?;
    let load_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let img = tessera_render::render_region(
        &scene,
        &preview,
        preview.full_frame(),
        &tessera_render::Backend::Cpu,
        &|_, _| {},
    )?;
    let secs = t1.elapsed().as_secs_f64().max(1e-6);
    let preview_samples = f64::from(pw) * f64::from(ph) * f64::from(preview.samples_per_pixel);
    let msps = preview_samples / secs / 1e6;
    if let Some(p) = &a.preview {
        tessera_render::output::write_png(p, pw, ph, &img.pixels)?;
        eprintln!("preview written to {}", p.display());
    }

    let tasks = settings.task_count();
    let region = settings.region(0);
    let total_ms = f64::from(a.shape.width)
        * f64::from(a.shape.height)
        * f64::from(a.shape.spp)
        * f64::from(a.shape.frames)
        / 1e6;
    let per_task_ms = total_ms / tasks as f64;
    // The bill in wei, as `job submit` computes its escrow: the verifier fee is reward x bps / 10^4, rounded
    // down; the reward is --reward, or the price of a task's samples rounded up to whole gwei.
    let reward = match &a.reward {
        Some(r) => alloy::primitives::utils::parse_ether(r)
            .with_context(|| format!("--reward {r:?} is not an amount in ether"))?,
        None => {
            // Non-negative and finite (checked above); the cast saturates for absurd prices.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let gwei = (per_task_ms * a.price_gwei_per_msample).ceil() as u128;
            U256::from(gwei) * U256::from(1_000_000_000u64)
        }
    };
    let fee = reward * U256::from(a.verifier_fee_bps) / U256::from(10_000u32);
    let bounty = (reward + fee) * U256::from(tasks);
    // Cell size keeping 99.9% detection of a 10% forgery at <= 2% verification cost.
    let cell = [32u32, 16, 8, 4]
        .into_iter()
        .find(|&c| {
            let (cx, cy) = tessera_common::task::cell_grid(region, c);
            let n = u64::from(cx) * u64::from(cy);
            let k = cells_needed(n, 0.10, 0.999);
            (k as f64) / (n as f64) <= 0.02
        })
        .unwrap_or(4);
    let render_s = total_ms / msps + load_s * tasks as f64;
    if json::on() {
        json::emit(&serde_json::json!({
            "kind": "estimate",
            "scene": a.scene.display().to_string(),
            "triangles": scene.stats.triangles,
            "loadSeconds": load_s,
            "tasks": tasks,
            "frames": a.shape.frames,
            "regions": [a.shape.regions.0, a.shape.regions.1],
            "regionSize": [region.width, region.height],
            "msamples": total_ms,
            "msamplesPerTask": per_task_ms,
            "measuredMsamplesPerSecond": msps,
            "preview": {"width": pw, "height": ph, "spp": preview.samples_per_pixel},
            "renderSeconds": render_s,
            "priceGweiPerMsample": a.price_gwei_per_msample,
            "rewardPerTaskWei": reward.to_string(),
            "verifierFeeBps": a.verifier_fee_bps,
            "verifierFeePerTaskWei": fee.to_string(),
            "bountyWei": bounty.to_string(),
            "suggestedCellSize": cell,
        }));
        return Ok(());
    }
    println!(
        "scene               {} ({} triangles, loaded in {load_s:.2}s)",
        a.scene.display(),
        scene.stats.triangles
    );
    println!(
        "tasks               {tasks} ({} frames x {}x{} regions of {}x{} px)",
        a.shape.frames, a.shape.regions.0, a.shape.regions.1, region.width, region.height
    );
    println!("path samples        {total_ms:.1} M ({per_task_ms:.2} M per task)");
    println!(
        "measured speed      {msps:.2} Msamples/s on this machine's CPU ({}x{} at {} spp preview)",
        pw, ph, preview.samples_per_pixel
    );
    println!("render time here    {render_s:.1} s for the whole job");
    println!(
        "reward per task     {} gwei{}",
        gwei(reward),
        if a.reward.is_some() {
            String::new()
        } else {
            format!(" at {} gwei per Msample", a.price_gwei_per_msample)
        }
    );
    println!(
        "verifier fee        {} bps = {} gwei per task",
        a.verifier_fee_bps,
        gwei(fee)
    );
    println!(
        "bounty to escrow    {} ETH",
        alloy::primitives::utils::format_ether(bounty)
    );
    println!(
        "suggested cell size {cell} px (99.9% detection of a 10% forgery within 2% verification cost)"
    );
    Ok(())
}

/// Wei as gwei, without trailing zeros (`116`, `50.05`).
fn gwei(wei: alloy::primitives::U256) -> String {
    let s = alloy::primitives::utils::format_units(wei, "gwei").unwrap_or_else(|_| wei.to_string());
    match s.split_once('.') {
        Some((whole, frac)) if frac.trim_end_matches('0').is_empty() => whole.to_owned(),
        Some((whole, frac)) => format!("{whole}.{}", frac.trim_end_matches('0')),
        None => s,
    }
}
