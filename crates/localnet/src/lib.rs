//! A whole Tessera network on one machine, every part a real process: anvil (through `tessera-devnet`), a
//! database on the private Postgres cluster (`scripts/pg.sh`), the local IPFS node
//! (`scripts/ipfs-devnode`), the contracts, the indexer, workers and verifiers (the release or debug binaries
//! next to the running executable), and the artist's CLI. The main job (`tessera-localnet demo`) and the
//! end-to-end tests (`tests/`) both run on it.

use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera_bindings::Deployment;
use tessera_devnet::{DeployParams, Devnet};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the binaries are: `TESSERA_BIN_DIR`, else the folder of the running executable (for tests, the
/// profile folder above `deps/`).
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("TESSERA_BIN_DIR") {
        return Ok(PathBuf::from(d));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe
        .parent()
        .context("executable without a folder")?
        .to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

fn bin(name: &str) -> Result<PathBuf> {
    let p = bin_dir()?.join(name);
    ensure!(
        p.is_file(),
        "{} is missing: build the binaries first (cargo build --bins, or --release for the demo)",
        p.display()
    );
    Ok(p)
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A child process whose output goes to a log file; restartable with the same command line.
pub struct Proc {
    /// Name (also the log file's).
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn spawn(
        name: &str,
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        logs: &Path,
    ) -> Result<Self> {
        let mut p = Self {
            name: name.to_owned(),
            program,
            args,
            env,
            log: logs.join(format!("{name}.log")),
            child: None,
        };
        p.start()?;
        Ok(p)
    }

    /// Starts it (again), appending to its log.
    pub fn start(&mut self) -> Result<()> {
        ensure!(self.child.is_none(), "{} is running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for k in [
            "TESSERA_RPC_URL",
            "TESSERA_DEPLOYMENT",
            "TESSERA_INDEXER_URL",
            "TESSERA_IPFS_API",
            "TESSERA_KEYSTORE",
            "TESSERA_CONFIG",
            "TESSERA_DATA_DIR",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        self.child = Some(
            cmd.spawn()
                .with_context(|| format!("starting {}", self.program.display()))?,
        );
        Ok(())
    }

    /// SIGKILL, no cleanup (a crash).
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM, then waits up to 10 s (then SIGKILL). Returns whether it exited by itself.
    pub fn stop(&mut self) -> Result<bool> {
        let Some(mut c) = self.child.take() else {
            return Ok(true);
        };
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .ok();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if c.try_wait()?.is_some() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        c.kill().ok();
        c.wait()?;
        Ok(false)
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

/// The local IPFS node (js-ipfs with the Kubo RPC API, loopback only, no bootstrap peers).
pub struct IpfsNode {
    /// The process.
    pub proc: Proc,
    /// RPC API base URL.
    pub api: String,
}

impl IpfsNode {
    fn start(dir: &Path, logs: &Path, web_origins: &[String]) -> Result<Self> {
        let script = repo_root().join("scripts/ipfs-devnode/start.sh");
        ensure!(
            repo_root()
                .join("scripts/ipfs-devnode/node_modules/ipfs")
                .is_dir(),
            "the IPFS dev node is not installed: run scripts/setup.sh"
        );
        let api_port = free_port()?;
        let env = vec![
            ("IPFS_PATH".into(), dir.display().to_string()),
            ("IPFS_API_PORT".into(), api_port.to_string()),
            ("IPFS_GATEWAY_PORT".into(), free_port()?.to_string()),
            ("IPFS_RPC_PORT".into(), free_port()?.to_string()),
            // The web app uploads scenes and reads outputs from the browser: its origin, and only it, may
            // call the node (a page open elsewhere in the same browser may not).
            ("IPFS_CORS_ORIGINS".into(), web_origins.join(",")),
        ];
        let proc = Proc::spawn(
            "ipfs",
            "bash".into(),
            vec![script.display().to_string()],
            env,
            logs,
        )?;
        Ok(Self {
            proc,
            api: format!("http://127.0.0.1:{api_port}"),
        })
    }

    /// Waits until the node answers.
    pub async fn ready(&mut self) -> Result<()> {
        let c = tessera_ipfs::IpfsClient::new(tessera_ipfs::ClientConfig::new(self.api.clone()))?;
        let t = Instant::now();
        loop {
            if c.version().await.is_ok() {
                return Ok(());
            }
            if !self.proc.running() || t.elapsed() > Duration::from_secs(60) {
                bail!("the IPFS node did not start:\n{}", self.proc.log());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder for keystores, data, logs and the deployment file (created; emptied first).
    pub dir: PathBuf,
    /// Start the indexer.
    pub indexer: bool,
    /// Poll interval of the daemons, ms.
    pub poll_ms: u64,
    /// Origins of the web pages that may call the IPFS node's RPC API (the web app's: uploads and reads);
    /// none, and browsers are refused, as a Kubo node refuses them by default.
    pub web_origins: Vec<String>,
}

/// The verifiers a local network runs by default: three accounts with `TICKETS` registry tickets each, so
/// that a committee of the CLI's default size (3 seats) can be drawn for several tasks at once, and an appeal
/// committee (7 seats) can be drawn too.
pub const VERIFIERS: [(&str, Account); 3] = [
    ("verifier-1", Account::Verifier),
    ("verifier-2", Account::Verifier2),
    ("verifier-3", Account::Verifier3),
];

/// Registry tickets each default verifier holds.
pub const TICKETS: u64 = 4;

/// Which funded account an operator uses (anvil's accounts, as `tessera-devnet` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Account {
    /// Account 1.
    Artist,
    /// Account 2.
    Worker,
    /// Account 6.
    Worker2,
    /// Account 3.
    Verifier,
    /// Account 7.
    Verifier2,
    /// Account 8.
    Verifier3,
    /// Account 5 (a spare: the tests' cheating worker).
    Spare,
    /// Account 9 (a spare: a cheating worker's second key).
    Spare2,
}

impl Account {
    /// Its index among anvil's accounts.
    pub fn index(self) -> usize {
        match self {
            Self::Artist => 1,
            Self::Worker => 2,
            Self::Verifier => 3,
            Self::Spare => 5,
            Self::Worker2 => 6,
            Self::Verifier2 => 7,
            Self::Verifier3 => 8,
            Self::Spare2 => 9,
        }
    }
}

/// The running network.
pub struct Localnet {
    /// The chain.
    pub dev: Devnet,
    /// The contracts.
    pub deployment: Deployment,
    /// Its file.
    pub deployment_path: PathBuf,
    /// IPFS.
    pub ipfs: IpfsNode,
    /// The indexer, if started.
    pub indexer: Option<Proc>,
    /// The indexer's API base URL (a closed port when there is none).
    pub indexer_url: String,
    /// The indexer's database URL.
    pub database_url: Option<String>,
    /// Workers and verifiers by name.
    pub daemons: BTreeMap<String, Proc>,
    /// The working folder.
    pub dir: PathBuf,
    opts: Options,
    password_file: PathBuf,
}

impl Localnet {
    /// Starts anvil, deploys, starts IPFS and (optionally) Postgres and the indexer.
    pub async fn start(opts: Options) -> Result<Self> {
        let dir = opts.dir.clone();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
        }
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        // The IPFS node takes seconds to start: let it, while the chain and the indexer come up.
        let ipfs = IpfsNode::start(&dir.join("ipfs"), &logs, &opts.web_origins)?;
        // Blocks every second besides one per transaction: committees are drawn from the hash of the block
        // after a result's, and verification phases end by the clock, both of which need blocks to keep
        // coming when nobody sends a transaction.
        let dev = Devnet::start_with(&["--block-time", "1", "--mixed-mining"]).await?;
        let deployment = dev.deploy(DeployParams::default()).await?;
        let deployment_path = Deployment::path_for(&dir.join("deployments"), deployment.chain_id);
        std::fs::create_dir_all(dir.join("deployments"))?;
        std::fs::write(&deployment_path, serde_json::to_vec_pretty(&deployment)?)?;
        let password_file = dir.join("password");
        std::fs::write(&password_file, "localnet-password\n")?;
        let mut net = Self {
            dev,
            deployment,
            deployment_path,
            ipfs,
            indexer: None,
            indexer_url: format!("http://127.0.0.1:{}", free_port()?),
            database_url: None,
            daemons: BTreeMap::new(),
            dir,
            opts,
            password_file,
        };
        if net.opts.indexer {
            net.start_indexer().await?;
        }
        net.ipfs.ready().await?;
        Ok(net)
    }

    async fn start_indexer(&mut self) -> Result<()> {
        let db = tessera_devnet::postgres::fresh_database("localnet").await?;
        let port = free_port()?;
        self.indexer_url = format!("http://127.0.0.1:{port}");
        let ws = self.dev.endpoint().replacen("http://", "ws://", 1);
        let p = Proc::spawn(
            "indexer",
            bin("tessera-indexer")?,
            vec![
                "--rpc-url".into(),
                ws,
                "--deployment".into(),
                self.deployment_path.display().to_string(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--poll-interval-ms".into(),
                "200".into(),
                // The web app is served from another local origin (the demo's, the browser tests').
                "--cors-origins".into(),
                "*".into(),
            ],
            vec![("TESSERA_DATABASE_URL".into(), db.clone())],
            &self.dir.join("logs"),
        )?;
        self.indexer = Some(p);
        self.database_url = Some(db);
        let http = reqwest::Client::new();
        let t = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/ready", self.indexer_url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            let ix = self.indexer.as_mut().context("indexer")?;
            if !ix.running() || t.elapsed() > Duration::from_secs(60) {
                bail!("the indexer did not become ready:\n{}", ix.log());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The keystore of `account` (created the first time).
    pub fn keystore(&self, account: Account) -> Result<PathBuf> {
        let dir = self.dir.join("keystores");
        let name = format!("{account:?}.json").to_lowercase();
        let path = dir.join(&name);
        if !path.is_file() {
            let key = self.dev.actor_keys()[account.index()].clone();
            tessera_wallet::import(
                &dir,
                Some(&name),
                &key,
                &tessera_wallet::Password::new("localnet-password"),
            )?;
        }
        Ok(path)
    }

    /// The address of `account`.
    pub fn address(&self, account: Account) -> Result<alloy::primitives::Address> {
        let key: alloy::signers::local::PrivateKeySigner =
            self.dev.actor_keys()[account.index()].parse()?;
        Ok(key.address())
    }

    /// Environment every daemon and the CLI get.
    fn env(&self, account: Account) -> Result<Vec<(String, String)>> {
        Ok(vec![
            ("TESSERA_RPC_URL".into(), self.dev.endpoint()),
            (
                "TESSERA_DEPLOYMENT".into(),
                self.deployment_path.display().to_string(),
            ),
            ("TESSERA_INDEXER_URL".into(), self.indexer_url.clone()),
            ("TESSERA_IPFS_API".into(), self.ipfs.api.clone()),
            (
                "TESSERA_KEYSTORE".into(),
                self.keystore(account)?.display().to_string(),
            ),
            (
                "TESSERA_KEYSTORE_PASSWORD_FILE".into(),
                self.password_file.display().to_string(),
            ),
        ])
    }

    /// Starts a worker (`mode` "run") or a verifier ("verify") as `account`, named `name`, with extra flags.
    pub fn spawn_daemon(
        &mut self,
        name: &str,
        mode: &str,
        account: Account,
        extra: &[&str],
    ) -> Result<()> {
        let mut env = self.env(account)?;
        env.push((
            "TESSERA_DATA_DIR".into(),
            self.dir.join("data").join(name).display().to_string(),
        ));
        env.push(("TESSERA_POLL_MS".into(), self.opts.poll_ms.to_string()));
        env.push(("TESSERA_BACKEND".into(), "cpu".into()));
        // Workers bond 0.05 ETH; a verifier sends what its tickets need when it registers.
        if mode == "run" {
            env.push((
                "TESSERA_STAKE_TARGET_WEI".into(),
                "50000000000000000".into(),
            ));
        }
        env.push(("RUST_LOG".into(), "info".into()));
        let mut args = vec![mode.to_owned()];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let p = Proc::spawn(
            name,
            bin("tessera-worker")?,
            args,
            env,
            &self.dir.join("logs"),
        )?;
        self.daemons.insert(name.to_owned(), p);
        Ok(())
    }

    /// Starts the default verifiers ([`VERIFIERS`], [`TICKETS`] tickets each), with extra flags.
    pub fn spawn_verifiers(&mut self, extra: &[&str]) -> Result<()> {
        let tickets = TICKETS.to_string();
        for (name, account) in VERIFIERS {
            let mut args = vec!["--tickets", tickets.as_str()];
            args.extend_from_slice(extra);
            self.spawn_daemon(name, "verify", account, &args)?;
        }
        Ok(())
    }

    /// A daemon by name.
    pub fn daemon(&mut self, name: &str) -> Result<&mut Proc> {
        self.daemons
            .get_mut(name)
            .with_context(|| format!("no daemon {name}"))
    }

    /// The artist's CLI (`tessera`), configured for this network.
    pub fn cli(&self, args: &[&str]) -> Result<Command> {
        let mut c = Command::new(bin("tessera")?);
        c.args(args);
        for (k, v) in self.env(Account::Artist)? {
            c.env(k, v);
        }
        Ok(c)
    }

    /// Runs the CLI and returns its stdout; fails with its stderr.
    pub fn cli_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.cli(args)?.output()?;
        if !out.status.success() {
            bail!(
                "tessera {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Stops every process (SIGTERM), the daemons first, and drops the indexer's database.
    pub async fn shutdown(mut self) -> Result<()> {
        let mut unclean = Vec::new();
        for (name, p) in &mut self.daemons {
            if !p.stop()? {
                unclean.push(name.clone());
            }
        }
        if let Some(ix) = self.indexer.as_mut() {
            ix.stop()?;
        }
        self.ipfs.proc.stop()?;
        if let Some(url) = &self.database_url {
            drop_database(url).await.ok();
        }
        ensure!(
            unclean.is_empty(),
            "daemons that ignored SIGTERM: {unclean:?}"
        );
        Ok(())
    }
}

async fn drop_database(url: &str) -> Result<()> {
    use sqlx::Connection;
    let admin = tessera_devnet::postgres::cluster_url()?;
    let name = url.rsplit('/').next().context("database name")?;
    ensure!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Polls `f` until it yields `Some`, up to `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let t = Instant::now();
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if t.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
