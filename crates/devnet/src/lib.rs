//! A local chain for tests, benchmarks and the local network: a spawned anvil on loopback with funded actors,
//! each with its own signing provider, helpers to move its clock and to reorg it, transactions awaited in a
//! way that survives reorgs, fixtures for cell hashes, and committee helpers that register verifiers and play
//! a verification round as they would; [`postgres`] gives fresh databases on the project's private cluster.

pub mod postgres;

use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, ensure};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tessera_bindings::DistributedRender::DistributedRenderInstance;
use tessera_bindings::IDistributedRenderTypes::{JobSpec, RenderSettings};
use tessera_bindings::{Phase, committee};

/// The native anvil: `ANVIL` if set, else the one `npm ci` installed in this repository, else `PATH`.
pub fn anvil_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if local.is_file() {
        return Ok(local);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("anvil");
        if p.is_file() {
            return Ok(p);
        }
    }
    anyhow::bail!(
        "anvil not found: run `scripts/setup.sh` (installs it under node_modules) or set ANVIL=/path/to/anvil"
    )
}

/// One funded account on the chain.
pub struct Actor {
    /// Its address.
    pub address: Address,
    /// Its key.
    pub signer: PrivateKeySigner,
    /// A provider that signs with its key.
    pub provider: DynProvider,
}

impl Actor {
    fn new(signer: PrivateKeySigner, url: &alloy::transports::http::reqwest::Url) -> Self {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_http(url.clone())
            .erased();
        Self {
            address: signer.address(),
            signer,
            provider,
        }
    }

    /// The market at `at`, called as this actor.
    pub fn market(&self, at: Address) -> DistributedRenderInstance<DynProvider> {
        DistributedRenderInstance::new(at, self.provider.clone())
    }

    /// Its ETH balance.
    pub async fn eth(&self) -> Result<U256> {
        Ok(self.provider.get_balance(self.address).await?)
    }
}

/// A spawned anvil with named actors (anvil's accounts 0..=6).
pub struct Devnet {
    anvil: AnvilInstance,
    /// anvil's folder of persisted states.
    cache: PathBuf,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Deploys and owns the contracts (account 0).
    pub owner: Actor,
    /// Posts jobs (account 1).
    pub artist: Actor,
    /// Renders (account 2).
    pub worker: Actor,
    /// Verifies (account 3).
    pub verifier: Actor,
    /// Receives protocol fees (account 4).
    pub treasury: Actor,
    /// A second verifier (account 5).
    pub verifier2: Actor,
    /// A second worker (account 6).
    pub worker2: Actor,
}

impl Devnet {
    /// Spawns anvil on 127.0.0.1 (a free port).
    pub async fn start() -> Result<Self> {
        Self::start_with(&[]).await
    }

    /// Spawns anvil on 127.0.0.1 with extra arguments (e.g. `--gas-limit`).
    pub async fn start_with(args: &[&str]) -> Result<Self> {
        // anvil persists old states under ~/.foundry/anvil/tmp and never removes them when it is killed:
        // give each instance its own folder, removed on drop (a 100k-event benchmark leaves gigabytes).
        static INSTANCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let cache = std::env::temp_dir().join(format!(
            "tessera-anvil-{}-{}",
            std::process::id(),
            INSTANCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        // Old states stay in memory only (tests reorg a few blocks deep): persisting them to disk made a
        // 100k-event benchmark write ~10 GB and run several times slower. `--prune-history` (which keeps
        // none) excludes the flag.
        let persisted: &[&str] = if args.contains(&"--prune-history") {
            &[]
        } else {
            &["--max-persisted-states", "0"]
        };
        let anvil = Anvil::at(anvil_path()?)
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--cache-path")
            .arg(cache.display().to_string())
            .args(persisted.iter().copied())
            .args(args.iter().copied())
            .try_spawn()
            .context("spawning anvil")?;
        let url = anvil.endpoint_url();
        let actor = |i: usize| Actor::new(PrivateKeySigner::from(anvil.keys()[i].clone()), &url);
        Ok(Self {
            chain_id: anvil.chain_id(),
            owner: actor(0),
            artist: actor(1),
            worker: actor(2),
            verifier: actor(3),
            treasury: actor(4),
            verifier2: actor(5),
            worker2: actor(6),
            anvil,
            cache,
        })
    }

    /// An actor for any of anvil's funded accounts (0..=9; 7..=9 have no name here), with a fresh provider.
    pub fn actor(&self, index: usize) -> Result<Actor> {
        let key = self
            .anvil
            .keys()
            .get(index)
            .with_context(|| format!("anvil has no account {index}"))?;
        Ok(Actor::new(
            PrivateKeySigner::from(key.clone()),
            &self.anvil.endpoint_url(),
        ))
    }

    /// The HTTP RPC URL.
    pub fn endpoint(&self) -> String {
        self.anvil.endpoint()
    }

    /// New providers for every actor: alloy caches nonces, and a reorg takes mined nonces back.
    pub fn renew_providers(&mut self) {
        let url = self.anvil.endpoint_url();
        for a in [
            &mut self.owner,
            &mut self.artist,
            &mut self.worker,
            &mut self.verifier,
            &mut self.treasury,
            &mut self.verifier2,
            &mut self.worker2,
        ] {
            *a = Actor::new(a.signer.clone(), &url);
        }
    }

    /// A raw JSON-RPC call (anvil's `anvil_*` and `evm_*` methods).
    pub async fn rpc(&self, method: &'static str, params: Value) -> Result<Value> {
        Ok(self
            .owner
            .provider
            .raw_request::<_, Value>(method.into(), params)
            .await?)
    }

    /// Advances the clock by `seconds` and mines a block.
    pub async fn warp(&self, seconds: u64) -> Result<()> {
        self.rpc("evm_increaseTime", serde_json::json!([seconds]))
            .await?;
        self.rpc("evm_mine", serde_json::json!([])).await?;
        Ok(())
    }

    /// Mines `blocks` empty blocks.
    pub async fn mine(&self, blocks: u64) -> Result<()> {
        self.rpc("anvil_mine", serde_json::json!([format!("{blocks:#x}")]))
            .await?;
        Ok(())
    }

    /// The latest block's number and hash.
    pub async fn head(&self) -> Result<(u64, B256)> {
        let b = self
            .owner
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .context("no latest block")?;
        Ok((b.header.number, b.header.hash))
    }

    /// The latest block's timestamp.
    pub async fn now(&self) -> Result<u64> {
        let b = self
            .owner
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .context("no latest block")?;
        Ok(b.header.timestamp)
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.anvil.child_mut().kill();
        let _ = self.anvil.child_mut().wait();
        let _ = std::fs::remove_dir_all(&self.cache);
    }
}

/// Parameters of a local deployment.
#[derive(Debug, Clone, Copy)]
pub struct DeployParams {
    /// Protocol fee in basis points of the reward.
    pub fee_bps: u16,
    /// Wei behind one verifier ticket (= one committee seat's bond).
    pub ticket_stake: U256,
    /// Seconds between requesting an unstake and withdrawing it.
    pub unbonding_delay: u64,
    /// Wei per seat of an appeal's committee.
    pub appeal_bond_per_seat: U256,
    /// Wei a data-availability challenge bonds.
    pub data_challenge_bond: U256,
    /// Shortest challenge window a job may set, in seconds.
    pub min_challenge_window: u64,
}

impl Default for DeployParams {
    fn default() -> Self {
        Self {
            fee_bps: 100,
            ticket_stake: U256::from(100_000_000_000_000_000u128),
            unbonding_delay: 3600,
            appeal_bond_per_seat: U256::from(1_000_000_000_000_000u128),
            data_challenge_bond: U256::from(1_000_000_000_000_000u128),
            min_challenge_window: 10,
        }
    }
}

impl Devnet {
    /// Deploys `DistributedRender` (owned by `owner`, fees to `treasury`) and the test token, the way
    /// `contracts/script/Deploy.s.sol` does on a local chain, and returns what its deployment file holds.
    pub async fn deploy(&self, params: DeployParams) -> Result<tessera_bindings::Deployment> {
        let deployment_block = self.owner.provider.get_block_number().await? + 1;
        let market = tessera_bindings::DistributedRender::deploy(
            self.owner.provider.clone(),
            self.owner.address,
            self.treasury.address,
            params.fee_bps,
            params.ticket_stake,
            U256::from(params.unbonding_delay),
            params.appeal_bond_per_seat,
            params.data_challenge_bond,
            U256::from(params.min_challenge_window),
        )
        .await
        .context("deploying DistributedRender")?;
        let token = tessera_bindings::TestToken::deploy(self.owner.provider.clone())
            .await
            .context("deploying TestToken")?;
        market
            .setTokenAllowed(*token.address(), true)
            .send()
            .await?
            .get_receipt()
            .await
            .context("allowing TestToken")?;
        Ok(tessera_bindings::Deployment {
            chain_id: self.chain_id,
            distributed_render: *market.address(),
            test_token: *token.address(),
            owner: self.owner.address,
            treasury: self.treasury.address,
            deployment_block,
        })
    }

    /// The private keys of anvil's funded accounts (0..=6 are the actors, 7..=9 spare), as 0x-hex: for
    /// keystores of local networks.
    pub fn actor_keys(&self) -> Vec<String> {
        self.anvil
            .keys()
            .iter()
            .map(|k| format!("0x{}", alloy::hex::encode(k.to_bytes())))
            .collect()
    }
}

/// Sends a contract call and waits for its receipt, which must show success. Polls for the receipt: alloy's
/// block heartbeat skips block numbers it has seen, and a reorg reuses them.
pub async fn mined<P: Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
) -> Result<TransactionReceipt> {
    let pending = call.send().await?;
    let hash = *pending.tx_hash();
    let provider = pending.provider().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await? {
            ensure!(
                receipt.status(),
                "transaction {} reverted",
                receipt.transaction_hash
            );
            return Ok(receipt);
        }
        ensure!(
            Instant::now() < deadline,
            "transaction {hash} not mined within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// ETH spent on gas by a receipt.
pub fn gas_cost(r: &TransactionReceipt) -> U256 {
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

/// Made-up raw-data hashes of a task's six cells; `forged` changes cell 2.
pub fn cell_hashes(task: u64, forged: bool) -> Vec<B256> {
    (0..6u64)
        .map(|i| {
            keccak256(format!(
                "{} task {task} cell {i}",
                if forged && i == 2 { "forged" } else { "honest" }
            ))
        })
        .collect()
}

/// Registers `actor` as a verifier holding `tickets` tickets of `ticket_stake` wei each (sent with the call).
pub async fn register_verifier(
    actor: &Actor,
    market: Address,
    tickets: u64,
    ticket_stake: U256,
) -> Result<()> {
    mined(
        actor
            .market(market)
            .registerVerifier(U256::from(tickets))
            .value(ticket_stake * U256::from(tickets)),
    )
    .await
    .context("registering a verifier")?;
    Ok(())
}

/// The render proof the committee helpers reveal (any fixed value: honest renders agree bit for bit).
pub fn fixed_render_proof() -> B256 {
    keccak256(b"tessera devnet render proof")
}

impl Devnet {
    /// Plays one round of a task's verification as `voters` would: draws the due committee (mining past its seed
    /// block), then every member (each must be one of `voters`) commits and reveals `approve` with
    /// [`fixed_render_proof`]. Returns the standing verdict's phase after the round.
    pub async fn vote_round(
        &self,
        market: Address,
        job: U256,
        task: u64,
        voters: &[&Actor],
        approve: bool,
    ) -> Result<Phase> {
        let m = self.owner.market(market);
        let t = U256::from(task);
        let v = m.getVerification(job, t).call().await?;
        let phase = Phase::try_from(v.phase)?;
        if matches!(phase, Phase::None | Phase::AwaitingDraw) {
            let (head, _) = self.head().await?;
            let seed = u64::try_from(v.seedBlock).context("seed block")?;
            if head <= seed {
                self.mine(seed - head + 1).await?;
            }
            // A daemon may draw first: then its draw stands.
            if let Err(e) = mined(m.drawCommittee(job, t)).await {
                let v = m.getVerification(job, t).call().await?;
                if Phase::try_from(v.phase)? != Phase::Commit {
                    return Err(e.context("drawing the committee"));
                }
            }
        }
        let v = m.getVerification(job, t).call().await?;
        ensure!(
            Phase::try_from(v.phase)? == Phase::Commit,
            "no commit phase after the draw (phase {})",
            v.phase
        );
        let draw = u64::try_from(v.draws).context("draws")? - 1;
        let (_, _, _, attempt, _) = {
            let r = m.getTask(job, t).call().await?;
            (r.state, r.worker, r.until, r.attempt, r.cellRoot)
        };
        let attempt = u64::try_from(attempt).context("attempt")?;
        let job_id = u64::try_from(job).context("job id")?;
        let members = m.getMembers(job, t, U256::from(draw)).call().await?;
        let proof = fixed_render_proof();
        let mut cast = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let voter = voters
                .iter()
                .find(|a| a.address == member.verifier)
                .with_context(|| format!("member {} is none of the voters", member.verifier))?;
            let salt = committee::salt(keccak256(voter.address), job_id, task, attempt, draw);
            let c = committee::commitment(
                job_id,
                task,
                attempt,
                draw,
                voter.address,
                approve,
                proof,
                salt,
            );
            mined(voter.market(market).commitVote(job, t, U256::from(i), c))
                .await
                .context("committing a vote")?;
            cast.push((i, voter, salt));
        }
        for (i, voter, salt) in cast {
            mined(
                voter
                    .market(market)
                    .revealVote(job, t, U256::from(i), approve, proof, salt),
            )
            .await
            .context("revealing a vote")?;
        }
        let v = m.getVerification(job, t).call().await.ok();
        Ok(v.map_or(Ok(Phase::None), |v| Phase::try_from(v.phase))?)
    }

    /// Runs out the current verification phase of a task (by advancing the clock) and calls `finalizeTask`.
    pub async fn finalize(&self, market: Address, job: U256, task: u64) -> Result<()> {
        let m = self.owner.market(market);
        let v = m.getVerification(job, U256::from(task)).call().await?;
        let ends = u64::try_from(v.phaseEndsAt).context("phase end")?;
        let now = self.now().await?;
        if now < ends {
            self.warp(ends - now).await?;
        }
        mined(m.finalizeTask(job, U256::from(task)))
            .await
            .context("finalizing")?;
        Ok(())
    }
}

/// A valid ETH job of `frames` single-region 64×64 frames, optimistic, quorum 1 (the registry must hold a
/// ticket when it is posted), 10% verifier fee, 600 s leases and a 300 s challenge window; callers change what
/// their scenario needs with struct update syntax.
pub fn job_spec(frames: u32, reward: u128, stake_per_task: u128, deadline: u32) -> JobSpec {
    JobSpec {
        sceneCid: "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am".into(),
        rendererId: "tessera-pt/0.1".into(),
        settings: RenderSettings {
            width: 64,
            height: 64,
            samplesPerPixel: 4,
            maxBounces: 2,
            frameStart: 0,
            frameCount: frames,
            regionsX: 1,
            regionsY: 1,
            cellSize: 16,
            seed: 1,
        },
        token: Address::ZERO,
        rewardPerTask: alloy::primitives::Uint::from(reward),
        verifierFeeBps: 1000,
        workerStakePerTask: alloy::primitives::Uint::from(stake_per_task),
        deadline,
        leaseDuration: 600,
        challengeWindow: 300,
        quorum: 1,
        optimistic: true,
    }
}

/// The escrow `submitRenderJob` takes for `spec`: per task, the reward plus the verifier fee.
pub fn escrow(spec: &JobSpec) -> U256 {
    let reward = U256::from(spec.rewardPerTask);
    let fee = reward * U256::from(spec.verifierFeeBps) / U256::from(10_000u32);
    (reward + fee) * U256::from(spec.settings.frameCount)
}
