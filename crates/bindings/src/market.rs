//! The market as one account sees it (the worker, the verifier and the artist's CLI share this): the contract
//! called with the account's key, transactions sent and awaited (reverts explained in words), task states read
//! with `getTask`, verifications with `getVerification` and `getMembers`, and the job book, built from
//! `JobSubmitted` and `JobCancelled` logs, which holds every job's full spec.

use crate::DistributedRender::{self, DistributedRenderInstance, JobCancelled, JobSubmitted};
use crate::IDistributedRenderTypes::{JobSpec, VerifierInfo};
use crate::{Deployment, MemberState, Phase, TaskState, Verdict, errors};
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tessera_common::task::RenderSettings;

/// How long a sent transaction may take to be mined.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a sent transaction may wait for a block before it is sent again at the same nonce with higher
/// fees (see [`Market::send`]); at most `RECEIPT_TIMEOUT / BUMP_AFTER` replacements follow one call.
const BUMP_AFTER: Duration = Duration::from_secs(30);
/// A replacement's fee cap and tip never pass this many times the first bid's, whatever the node estimates:
/// enough to follow the steepest rise EIP-1559 allows on Ethereum over `RECEIPT_TIMEOUT` (1/8 a block, 15
/// blocks of 12 s: 5.9x the base fee, against a first cap of twice it), and a bound on what a hostile node's
/// estimate can spend.
const MAX_BID_FACTOR: u128 = 8;
/// Blocks per `eth_getLogs` request.
const LOG_RANGE: u64 = 5_000;

/// A replacement's bid (a fee cap, a tip or a gas price, in wei) after `last`: at least 1/8 above it plus one
/// wei (nodes replace a pending transaction only for 10% more), raised to the node's `estimate` when that is
/// higher, but the estimate counts only up to `MAX_BID_FACTOR` times the `first` bid.
fn raised_bid(last: u128, estimate: u128, first: u128) -> u128 {
    // A first bid of 0 (a legacy chain's free gas) still lets the estimate count from 1 wei up.
    let ceiling = first.max(1).saturating_mul(MAX_BID_FACTOR);
    last.saturating_add(last / 8)
        .saturating_add(1)
        .max(estimate.min(ceiling))
}

/// Why a transaction was not sent.
enum Broadcast {
    /// The node answered with a refusal (or it could not be signed): it does not hold it.
    Refused(anyhow::Error),
    /// No answer came: the node may hold it.
    NoAnswer(anyhow::Error),
}

/// A task as `getTask` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskView {
    /// State.
    pub state: TaskState,
    /// The lease holder (zero when never claimed).
    pub worker: Address,
    /// Lease end; while submitted, the end of the current verification phase (0 when a draw is due).
    pub until: u64,
    /// Attempt counter (rejections and expiries).
    pub attempt: u64,
    /// Committed root while submitted.
    pub cell_root: B256,
}

/// A submitted task's verification as `getVerification` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationState {
    /// Where it stands.
    pub phase: Phase,
    /// Appeal level of the current or next draw.
    pub level: u64,
    /// Draws made; the current one is `draws - 1`.
    pub draws: u64,
    /// Seats and members of the current draw.
    pub seats: u64,
    /// Members of the current draw.
    pub members: u64,
    /// Members that committed.
    pub committed: u64,
    /// Members that revealed.
    pub revealed: u64,
    /// The standing verdict and the level that reached it.
    pub verdict: Verdict,
    /// Level of the standing verdict.
    pub decided_level: u64,
    /// Deferrals of the pending draw.
    pub deferrals: u64,
    /// End of the current phase (unix seconds; 0 when a draw is due now).
    pub phase_ends_at: u64,
    /// Block whose hash seeds the next draw (phases None and AwaitingDraw).
    pub seed_block: u64,
    /// Whether the current draw's data was challenged.
    pub challenged: bool,
}

impl VerificationState {
    /// Whether a draw can be made now: one is due (the first draw of a job that is not optimistic, or after
    /// an appeal, an escalation or a deferral), its seed block is mined (`head` is past it) and its retry time
    /// passed. A seed older than 256 blocks cannot be read: `drawCommittee` then re-anchors the draw.
    pub fn draw_due(&self, head: u64, now: u64) -> bool {
        matches!(self.phase, Phase::None | Phase::AwaitingDraw)
            && self.seed_block != 0
            && head > self.seed_block
            && now >= self.phase_ends_at
    }

    /// Whether votes can be committed now.
    pub fn commit_open(&self, now: u64) -> bool {
        self.phase == Phase::Commit && now < self.phase_ends_at
    }

    /// Whether committed votes can be revealed now (the reveal phase, or a commit phase that ran out with
    /// commitments in it: the first reveal starts the reveal phase).
    pub fn reveal_open(&self, now: u64) -> bool {
        (self.phase == Phase::Reveal && now < self.phase_ends_at)
            || (self.phase == Phase::Commit && now >= self.phase_ends_at && self.committed > 0)
    }

    /// Whether the standing verdict can be appealed now (below the last level, within the appeal window).
    pub fn appealable(&self, now: u64) -> bool {
        self.phase == Phase::Appealable && now < self.phase_ends_at
    }

    /// Whether `finalizeTask` moves the task on now: the current phase ended (for an optimistic result
    /// nobody disputed, its window), and no draw is due instead.
    pub fn finalizable(&self, now: u64, optimistic: bool) -> bool {
        match self.phase {
            Phase::None => optimistic && self.phase_ends_at != 0 && now >= self.phase_ends_at,
            Phase::AwaitingDraw => false,
            _ => now >= self.phase_ends_at,
        }
    }
}

/// The committee a due draw would give (`previewCommittee`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The draw's index.
    pub draw: u64,
    /// Its seed.
    pub seed: B256,
    /// Members, distinct.
    pub members: Vec<Address>,
    /// Seats of each member.
    pub seats: Vec<u64>,
}

/// One member of a draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The verifier.
    pub verifier: Address,
    /// Seats it holds in the draw.
    pub seats: u64,
    /// Where it stands.
    pub state: MemberState,
}

/// The market, as one account.
#[derive(Clone)]
pub struct Market {
    /// A provider that signs with the operator's key.
    pub provider: DynProvider,
    /// The market contract.
    pub market: DistributedRenderInstance<DynProvider>,
    /// The operator's address.
    pub me: Address,
    /// Where the contracts are.
    pub deployment: Deployment,
    /// The highest block this client has seen (a head it read, a receipt it got), shared by its clones. Its
    /// reads of the market's state are made at that block (see [`Market::pin`]), and a head below it is read
    /// again (see [`Market::head`]): a node behind it (another backend of a load balancer, a lagging
    /// provider) answers a read with an error, which the caller retries, never with an older state taken
    /// for the current one (a submission not yet there read as settled, a committee read as empty).
    seen: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether the caller pins the head itself ([`Market::pin`]).
    pinned: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Since when the node has answered heads below the highest seen (see [`Market::head`]).
    behind_since: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
    /// How long the node may stay behind before its head is taken (`BEHIND_TAKEN` unless set).
    behind_taken: Duration,
    /// How long a transaction waits for a block before it is replaced (`BUMP_AFTER` unless set).
    bump_after: Duration,
    /// The operator's key: transactions are filled and signed here, never rebuilt from a node's answer
    /// (`None` for a read-only client).
    wallet: Option<EthereumWallet>,
}

/// Reads of a head below the highest block seen before a call gives up (see [`Market::head`]).
const HEAD_TRIES: u32 = 4;

/// How long a node must stay behind the highest block seen before its head is taken (see [`Market::head`]):
/// far longer than a load balancer's backends lag, short enough that a chain reset is followed.
const BEHIND_TAKEN: Duration = Duration::from_secs(120);

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market")
            .field("me", &self.me)
            .field("market", self.market.address())
            .finish_non_exhaustive()
    }
}

fn parse_url(rpc_url: &str) -> Result<alloy::transports::http::reqwest::Url> {
    rpc_url
        .parse()
        .with_context(|| format!("RPC URL {rpc_url:?} is not a URL"))
}

fn u64_of(v: U256, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| anyhow!("{what} {v} does not fit 64 bits"))
}

impl Market {
    /// Connects as `signer` and checks that the RPC serves the deployment's chain.
    pub async fn connect(
        rpc_url: &str,
        deployment: Deployment,
        signer: PrivateKeySigner,
    ) -> Result<Self> {
        let me = signer.address();
        let wallet = EthereumWallet::from(signer);
        // Transactions are filled and signed by `send` itself (nonce from the node's pending count, taken
        // after gas estimation: a call that reverts at estimation leaves no gap that would stall every later
        // transaction of the account). The provider's fillers stay for any other sender.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(wallet.clone())
            .connect_http(parse_url(rpc_url)?)
            .erased();
        let mut m = Self::over(provider, rpc_url, deployment, me).await?;
        m.wallet = Some(wallet);
        Ok(m)
    }

    /// Connects without a key, for reading.
    pub async fn read_only(rpc_url: &str, deployment: Deployment) -> Result<Self> {
        let provider = ProviderBuilder::new()
            .connect_http(parse_url(rpc_url)?)
            .erased();
        Self::over(provider, rpc_url, deployment, Address::ZERO).await
    }

    async fn over(
        provider: DynProvider,
        rpc_url: &str,
        deployment: Deployment,
        me: Address,
    ) -> Result<Self> {
        let chain_id = provider
            .get_chain_id()
            .await
            .with_context(|| format!("reaching the chain RPC at {rpc_url}"))?;
        if chain_id != deployment.chain_id {
            bail!(
                "wrong chain: the RPC at {rpc_url} serves chain {chain_id}, the deployment file is for chain {} \
                 (point --rpc-url at that chain, or --deployment at deployments/{chain_id}.json)",
                deployment.chain_id
            );
        }
        let market = DistributedRender::new(deployment.distributed_render, provider.clone());
        Ok(Self {
            provider,
            market,
            me,
            deployment,
            seen: std::sync::Arc::default(),
            pinned: std::sync::Arc::default(),
            behind_since: std::sync::Arc::default(),
            behind_taken: BEHIND_TAKEN,
            bump_after: BUMP_AFTER,
            wallet: None,
        })
    }

    /// Records block `n` as seen (it exists on the chain this client follows).
    fn note(&self, n: u64) {
        self.seen.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// The highest block seen so far (0 before any).
    pub fn seen(&self) -> u64 {
        self.seen.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The block the market's state is read at: the highest block seen — the round's head when the caller
    /// pinned one ([`Market::pin`]), or its own receipts since — else the head, read first (a client that
    /// reads now and then: a head cached for a while would miss what others did meanwhile).
    async fn at(&self) -> Result<alloy::eips::BlockId> {
        if !self.pinned.load(std::sync::atomic::Ordering::SeqCst) {
            self.head().await?;
        }
        Ok(alloy::eips::BlockId::number(self.seen()))
    }

    /// Reads the head and makes it the block every state read is made at (with this client's receipts
    /// since): a daemon pins once per round, and its reads of the round are one snapshot of the chain, with
    /// one `eth_blockNumber` for the round instead of one per read.
    pub async fn pin(&self) -> Result<u64> {
        let n = self.head().await?;
        self.pinned.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(n)
    }

    /// The chain's head block number (`eth_blockNumber`), never below one already seen: a node answering
    /// with a lower one (a lagging backend) is asked again, up to `HEAD_TRIES` times half a second apart,
    /// and then refused with an error (the caller's round is tried again: it reads nothing older than what
    /// it has seen, its own receipts included). Only a node that has stayed behind for `BEHIND_TAKEN` (a
    /// reorg to a shorter chain that nothing extends, a chain reset) has its head taken, with a warning.
    pub async fn head(&self) -> Result<u64> {
        let mut tries = 1;
        loop {
            let n = self.provider.get_block_number().await?;
            let seen = self.seen();
            if n >= seen {
                self.note(n);
                *self.lock_behind() = None;
                return Ok(n);
            }
            if tries < HEAD_TRIES {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let since = *self.lock_behind().get_or_insert_with(Instant::now);
            if since.elapsed() < self.behind_taken {
                bail!(
                    "the RPC node is at block {n}, behind block {seen} already seen: it lags (for {:?}); retrying",
                    since.elapsed()
                );
            }
            // Lowered only from the value compared with (a higher block noted meanwhile stays).
            if self
                .seen
                .compare_exchange(
                    seen,
                    n,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                )
                .is_ok()
            {
                tracing::warn!(
                    head = n,
                    seen,
                    "the RPC node has stayed behind a block already seen for {:?} (a reorg to a shorter chain, a reset): its head is taken",
                    self.behind_taken
                );
                *self.lock_behind() = None;
                return Ok(n);
            }
        }
    }

    /// Sets how long a node may stay behind the highest block seen before its head is taken (120 s by
    /// default; see [`Market::head`]).
    pub fn set_behind_taken(&mut self, limit: Duration) {
        self.behind_taken = limit;
    }

    /// Sets how long a sent transaction waits for a block before it is replaced with higher fees (30 s by
    /// default; see [`Market::send`]).
    pub fn set_bump_after(&mut self, wait: Duration) {
        self.bump_after = wait;
    }

    fn lock_behind(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.behind_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The latest block's timestamp (the contract's clock).
    pub async fn now(&self) -> Result<u64> {
        let b = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .context("the RPC has no latest block")?;
        // A lagging node's clock is a little behind: harmless (a phase looks open a moment longer, and a
        // transaction sent on it reverts), so it is taken, and its block noted when it is ahead.
        self.note(b.header.number);
        Ok(b.header.timestamp)
    }

    /// One task's state.
    pub async fn task(&self, job: u64, index: u64) -> Result<TaskView> {
        let r = self
            .market
            .getTask(U256::from(job), U256::from(index))
            .call()
            .block(self.at().await?)
            .await
            .map_err(|e| {
                anyhow!(
                    "reading task {index} of job {job}: {}",
                    errors::describe(&e)
                )
            })?;
        Ok(TaskView {
            state: TaskState::try_from(r.state)?,
            worker: r.worker,
            until: u64_of(r.until, "lease end")?,
            attempt: u64_of(r.attempt, "attempt")?,
            cell_root: r.cellRoot,
        })
    }

    /// A submitted task's verification (`getVerification`).
    pub async fn verification(&self, job: u64, task: u64) -> Result<VerificationState> {
        let v = self
            .market
            .getVerification(U256::from(job), U256::from(task))
            .call()
            .block(self.at().await?)
            .await
            .map_err(|e| {
                anyhow!(
                    "reading the verification of task {task} of job {job}: {}",
                    errors::describe(&e)
                )
            })?;
        Ok(VerificationState {
            phase: Phase::try_from(v.phase)?,
            level: u64_of(v.level, "level")?,
            draws: u64_of(v.draws, "draws")?,
            seats: u64_of(v.seats, "seats")?,
            members: u64_of(v.members, "members")?,
            committed: u64_of(v.committed, "committed")?,
            revealed: u64_of(v.revealed, "revealed")?,
            verdict: Verdict::try_from(v.verdict)?,
            decided_level: u64_of(v.decidedLevel, "decided level")?,
            deferrals: u64_of(v.deferrals, "deferrals")?,
            phase_ends_at: u64_of(v.phaseEndsAt, "phase end")?,
            seed_block: u64_of(v.seedBlock, "seed block")?,
            challenged: v.challenged,
        })
    }

    /// The members of draw `draw` of a task's current submission (`getMembers`).
    pub async fn members(&self, job: u64, task: u64, draw: u64) -> Result<Vec<Member>> {
        let m = self
            .market
            .getMembers(U256::from(job), U256::from(task), U256::from(draw))
            .call()
            .block(self.at().await?)
            .await
            .map_err(|e| {
                anyhow!(
                    "reading draw {draw} of task {task} of job {job}: {}",
                    errors::describe(&e)
                )
            })?;
        m.into_iter()
            .map(|m| {
                Ok(Member {
                    verifier: m.verifier,
                    seats: u64_of(m.seats, "seats")?,
                    state: MemberState::try_from(m.state)?,
                })
            })
            .collect()
    }

    /// The committee the due draw would give now (`previewCommittee`): `None` when no draw can be made (not due,
    /// seed not mined, or too old).
    pub async fn preview_committee(&self, job: u64, task: u64) -> Result<Option<Preview>> {
        match self
            .market
            .previewCommittee(U256::from(job), U256::from(task))
            .call()
            .block(self.at().await?)
            .await
        {
            Ok(p) => Ok(Some(Preview {
                draw: u64_of(p.draw, "draw")?,
                seed: p.seed,
                members: p.members,
                seats: p
                    .seats
                    .into_iter()
                    .map(|s| u64_of(s, "seats"))
                    .collect::<Result<_>>()?,
            })),
            Err(e) if errors::explain(&e).is_some() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Appeals the standing verdict of a task (or disputes an optimistic result), paying the bond the contract
    /// asks for at the next level; returns the bond paid.
    pub async fn appeal(&self, job: u64, task: u64) -> Result<U256> {
        let v = self.verification(job, task).await?;
        let now = self.now().await?;
        let dispute = v.phase == Phase::None;
        if !dispute && !v.appealable(now) {
            bail!(
                "task {task} of job {job} cannot be appealed now: its verification is in the {} phase{}",
                v.phase,
                if v.phase == Phase::Appealable {
                    " and the appeal window is over"
                } else {
                    ""
                }
            );
        }
        let level = if dispute { 0 } else { v.level + 1 };
        let bond = self
            .market
            .appealBond(U256::from(job), U256::from(level))
            .call()
            .await?;
        self.send(
            self.market
                .appealVerdict(U256::from(job), U256::from(task))
                .value(bond),
            &format!("appealing task {task} of job {job} to level {level}"),
        )
        .await?;
        Ok(bond)
    }

    /// This account's verifier record (`verifierOf`).
    pub async fn verifier_info(&self) -> Result<VerifierInfo> {
        Ok(self
            .market
            .verifierOf(self.me)
            .call()
            .block(self.at().await?)
            .await?)
    }

    /// Free (bonded, unlocked) stake.
    pub async fn free_stake(&self) -> Result<u128> {
        let s = self
            .market
            .stakeOf(self.me)
            .call()
            .block(self.at().await?)
            .await?;
        Ok(s.bonded.saturating_sub(s.locked))
    }

    /// Credited ETH balance.
    pub async fn balance(&self) -> Result<U256> {
        Ok(self
            .market
            .balanceOf(self.me, Address::ZERO)
            .call()
            .block(self.at().await?)
            .await?)
    }

    /// Sends a call and waits for a successful receipt; a revert is explained in words.
    ///
    /// The transaction is filled here (gas from the call's estimate, nonce from the node's pending count,
    /// fees from its EIP-1559 estimate or, without a base fee, its gas price) and signed here, so its hash is
    /// known before it is sent. One not in a block after `BUMP_AFTER` (30 s; its fee cap fell below a base
    /// fee that rose after it was sent, or the node dropped it) is signed again from the same request, with
    /// only the fees changed: the cap and tip each at least 1/8 above the last bid (nodes ask for 10% more to
    /// replace a pending transaction), raised to the node's current estimate but never past
    /// `MAX_BID_FACTOR` (8) times the first fee cap (or gas price); every `BUMP_AFTER` until `RECEIPT_TIMEOUT` (180 s). A stuck
    /// transaction would otherwise hold back every later one of the account (their nonces follow it), a
    /// claim or a submission past its lease. Every version is watched, one whose sending failed too (the
    /// node may have taken it): whichever is mined is the receipt, and the one nonce makes at most one of
    /// them count.
    pub async fn send<D: CallDecoder>(
        &self,
        call: CallBuilder<&DynProvider, D>,
        what: &str,
    ) -> Result<TransactionReceipt> {
        let described = |e: alloy::contract::Error| anyhow!("{what}: {}", errors::describe(&e));
        let wallet = self
            .wallet
            .as_ref()
            .ok_or_else(|| anyhow!("{what}: this client has no key to send with"))?;
        let gas = call.estimate_gas().await.map_err(described)?;
        let mut req = call.into_transaction_request();
        req.from = Some(self.me);
        req.gas = Some(gas);
        req.chain_id = Some(self.deployment.chain_id);
        req.nonce = Some(
            self.provider
                .get_transaction_count(self.me)
                .pending()
                .await
                .map_err(|e| described(e.into()))?,
        );
        match self.provider.estimate_eip1559_fees().await {
            Ok(f) => {
                req.max_fee_per_gas = Some(f.max_fee_per_gas);
                req.max_priority_fee_per_gas = Some(f.max_priority_fee_per_gas);
            }
            Err(e) if !matches!(e, alloy::transports::RpcError::UnsupportedFeature(_)) => {
                return Err(described(e.into()));
            }
            // A chain without a base fee.
            Err(_) => {
                req.gas_price = Some(
                    self.provider
                        .get_gas_price()
                        .await
                        .map_err(|e| described(e.into()))?,
                );
            }
        }
        let first_bid = req.clone();
        let mut hashes = Vec::new();
        match self.broadcast(wallet, req.clone(), &mut hashes).await {
            Ok(_) => {}
            // The node answered with a refusal (a nonce taken, funds short), or it could not be signed.
            Err(Broadcast::Refused(e)) => return Err(e.context(what.to_owned())),
            // No answer (a dropped connection, a timeout): the node may have taken it, so it is watched.
            Err(Broadcast::NoAnswer(e)) => {
                tracing::warn!(target: "market", what, tx = ?hashes.last(), error = %format!("{e:#}"), "sending got no answer; watching for the transaction");
            }
        }
        let started = Instant::now();
        let mut last_send = started;
        loop {
            // A failed receipt read says nothing of the transaction (a provider's hiccup): read again until
            // the deadline, which names the last error.
            let mut last_error = None;
            for &hash in &hashes {
                match self.provider.get_transaction_receipt(hash).await {
                    Ok(Some(r)) => {
                        if let Some(n) = r.block_number {
                            self.note(n);
                        }
                        if !r.status() {
                            bail!("{what}: transaction {hash} reverted");
                        }
                        return Ok(r);
                    }
                    Ok(None) => {}
                    Err(e) => last_error = Some(e),
                }
            }
            if started.elapsed() > RECEIPT_TIMEOUT {
                let list = hashes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let nonce = req.nonce.unwrap_or_default();
                if matches!(self.provider.get_transaction_count(self.me).await, Ok(n) if n > nonce)
                {
                    bail!(
                        "{what}: nonce {nonce} was used, but no receipt of {list} was read within {RECEIPT_TIMEOUT:?}: \
                         one of them (or another transaction of this account) was mined; do not send it again blindly"
                    );
                }
                match last_error {
                    Some(e) => bail!(
                        "{what}: {list}: no receipt within {RECEIPT_TIMEOUT:?} (last read failed: {e})"
                    ),
                    None => bail!("{what}: {list} not mined within {RECEIPT_TIMEOUT:?}"),
                }
            }
            if last_send.elapsed() >= self.bump_after {
                last_send = Instant::now();
                self.raise_fees(&mut req, &first_bid).await;
                let old = hashes.last().copied();
                match self.broadcast(wallet, req.clone(), &mut hashes).await {
                    Ok(new) => {
                        tracing::warn!(target: "market", what, old = ?old, new = %new, "transaction not mined; sent again with higher fees");
                    }
                    // Refused (a version was mined meanwhile and the nonce is used; a node that wants more):
                    // the receipts tell, and the next replacement bids higher.
                    Err(Broadcast::Refused(e) | Broadcast::NoAnswer(e)) => {
                        tracing::warn!(target: "market", what, old = ?old, error = %format!("{e:#}"), "transaction not mined; replacing it failed");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs `req` with `wallet`, records its hash in `hashes` (before sending: a node may take it and its
    /// reply be lost), and sends it.
    async fn broadcast(
        &self,
        wallet: &EthereumWallet,
        req: TransactionRequest,
        hashes: &mut Vec<B256>,
    ) -> Result<B256, Broadcast> {
        use alloy::eips::eip2718::Encodable2718;
        use alloy::network::{Ethereum, NetworkTransactionBuilder};
        let signed =
            <TransactionRequest as NetworkTransactionBuilder<Ethereum>>::build(req, wallet)
                .await
                .map_err(|e| Broadcast::Refused(anyhow!("signing the transaction: {e}")))?;
        let hash = *signed.tx_hash();
        if !hashes.contains(&hash) {
            hashes.push(hash);
        }
        match self
            .provider
            .send_raw_transaction(&signed.encoded_2718())
            .await
        {
            Ok(_) => Ok(hash),
            Err(e) => {
                let refused = matches!(e, alloy::transports::RpcError::ErrorResp(_));
                let e = anyhow!("transaction {hash}: {}", errors::describe(&e.into()));
                Err(if refused {
                    Broadcast::Refused(e)
                } else {
                    Broadcast::NoAnswer(e)
                })
            }
        }
    }

    /// Raises `req`'s fees for a replacement: each at least 1/8 above its last bid (plus one wei), up to the
    /// node's current estimate when that is higher, never past `MAX_BID_FACTOR` times `first`'s (a node's
    /// estimate is advice, not a blank cheque).
    async fn raise_fees(&self, req: &mut TransactionRequest, first: &TransactionRequest) {
        match (
            req.max_fee_per_gas,
            req.max_priority_fee_per_gas,
            first.max_fee_per_gas,
        ) {
            (Some(cap), Some(tip), Some(cap0)) => {
                let est = self.provider.estimate_eip1559_fees().await.ok();
                // The tip is bounded by the cap's ceiling (what is spent is at most cap x gas): a first tip
                // of 1 wei (a quiet chain's estimate) may still follow the node's estimate.
                let tip = raised_bid(tip, est.map_or(0, |e| e.max_priority_fee_per_gas), cap0);
                let cap = raised_bid(cap, est.map_or(0, |e| e.max_fee_per_gas), cap0).max(tip);
                req.max_priority_fee_per_gas = Some(tip);
                req.max_fee_per_gas = Some(cap);
            }
            _ => {
                let now = self.provider.get_gas_price().await.unwrap_or(0);
                let last = req.gas_price.unwrap_or(0);
                req.gas_price = Some(raised_bid(last, now, first.gas_price.unwrap_or(last)));
            }
        }
    }

    /// Logs of the market with `signatures` in `from..=to`, in `LOG_RANGE` steps, optionally filtered on the
    /// third topic (the indexed worker or verifier of most events).
    pub async fn logs(
        &self,
        signatures: Vec<B256>,
        from: u64,
        to: u64,
        topic3: Option<Address>,
    ) -> Result<Vec<Log>> {
        let mut out = Vec::new();
        let mut a = from;
        while a <= to {
            let b = (a + LOG_RANGE - 1).min(to);
            let mut f = Filter::new()
                .address(self.deployment.distributed_render)
                .event_signature(signatures.clone())
                .from_block(a)
                .to_block(b);
            if let Some(t) = topic3 {
                f = f.topic3(t.into_word());
            }
            out.extend(self.provider.get_logs(&f).await?);
            a = b + 1;
        }
        Ok(out)
    }
}

impl Market {
    /// Logs with `signatures` about job `job` (its id is the first indexed topic of every job event), from
    /// the deployment block on; see [`Market::job_logs_since`].
    pub async fn job_logs(&self, signatures: Vec<B256>, job: u64) -> Result<Vec<Log>> {
        self.job_logs_since(signatures, job, self.deployment.deployment_block)
            .await
    }

    /// Logs with `signatures` about job `job` from block `since` (its posting block, [`JobInfo::posted_block`],
    /// when known) to the head, asked in `LOG_RANGE`-block steps: public RPC providers cap the range of one
    /// `eth_getLogs`.
    pub async fn job_logs_since(
        &self,
        signatures: Vec<B256>,
        job: u64,
        since: u64,
    ) -> Result<Vec<Log>> {
        let head = self.head().await?;
        let mut out = Vec::new();
        let mut a = since.max(self.deployment.deployment_block);
        while a <= head {
            let b = (a + LOG_RANGE - 1).min(head);
            let f = Filter::new()
                .address(self.deployment.distributed_render)
                .event_signature(signatures.clone())
                .topic1(B256::from(U256::from(job)))
                .from_block(a)
                .to_block(b);
            out.extend(self.provider.get_logs(&f).await?);
            a = b + 1;
        }
        Ok(out)
    }

    /// A job's posted spec and whether it was cancelled.
    pub async fn job(&self, id: u64) -> Result<JobInfo> {
        let logs = self
            .job_logs(
                vec![JobSubmitted::SIGNATURE_HASH, JobCancelled::SIGNATURE_HASH],
                id,
            )
            .await?;
        let mut job = None;
        for log in &logs {
            if let Some(j) = JobInfo::from_log(log)? {
                job = Some(j);
            } else if let Some(j) = job.as_mut() {
                j.cancelled = true;
            }
        }
        job.ok_or_else(|| {
            anyhow!(
                "job {id} does not exist on chain {}",
                self.deployment.chain_id
            )
        })
    }
}

/// A job, from its `JobSubmitted` event.
#[derive(Debug, Clone)]
pub struct JobInfo {
    /// Job id.
    pub id: u64,
    /// The artist.
    pub artist: Address,
    /// Payment token (zero: ETH).
    pub token: Address,
    /// The posted spec.
    pub spec: JobSpec,
    /// Tasks.
    pub task_count: u64,
    /// Cancelled since.
    pub cancelled: bool,
    /// The block the job was posted in (every later event about it is at or after it).
    pub posted_block: u64,
}

impl JobInfo {
    /// The job a `JobSubmitted` log posts (`None` for other logs).
    pub fn from_log(log: &Log) -> Result<Option<Self>> {
        let Ok(e) = log.log_decode::<JobSubmitted>() else {
            return Ok(None);
        };
        let e = e.inner.data;
        Ok(Some(Self {
            id: u64_of(e.jobId, "job id")?,
            artist: e.artist,
            token: e.token,
            spec: e.spec,
            task_count: u64_of(e.taskCount, "task count")?,
            cancelled: false,
            posted_block: log.block_number.unwrap_or(0),
        }))
    }

    /// Render settings in the renderer's terms.
    pub fn settings(&self) -> RenderSettings {
        let s = &self.spec.settings;
        RenderSettings {
            width: s.width,
            height: s.height,
            samples_per_pixel: s.samplesPerPixel,
            max_bounces: s.maxBounces,
            frame_start: s.frameStart,
            frame_count: s.frameCount,
            regions_x: s.regionsX,
            regions_y: s.regionsY,
            cell_size: s.cellSize,
            seed: s.seed,
        }
    }

    /// Worker stake per task, in wei.
    pub fn stake_wei(&self) -> u128 {
        self.spec.workerStakePerTask.to::<u128>()
    }
}

/// Every job posted to the market, kept current from logs.
#[derive(Debug, Default)]
pub struct JobBook {
    jobs: BTreeMap<u64, JobInfo>,
    next_block: u64,
}

impl JobBook {
    /// An empty book that starts at the deployment block.
    pub fn new(deployment: &Deployment) -> Self {
        Self {
            jobs: BTreeMap::new(),
            next_block: deployment.deployment_block,
        }
    }

    /// Reads the logs since the last refresh.
    pub async fn refresh(&mut self, chain: &Market) -> Result<()> {
        let head = chain.head().await?;
        if head < self.next_block {
            return Ok(());
        }
        let logs = chain
            .logs(
                vec![JobSubmitted::SIGNATURE_HASH, JobCancelled::SIGNATURE_HASH],
                self.next_block,
                head,
                None,
            )
            .await?;
        for log in logs {
            if let Some(j) = JobInfo::from_log(&log)? {
                self.jobs.insert(j.id, j);
            } else if let Ok(e) = log.log_decode::<JobCancelled>()
                && let Some(j) = self.jobs.get_mut(&u64_of(e.inner.data.jobId, "job id")?)
            {
                j.cancelled = true;
            }
        }
        self.next_block = head + 1;
        Ok(())
    }

    /// A job by id.
    pub fn get(&self, id: u64) -> Option<&JobInfo> {
        self.jobs.get(&id)
    }

    /// Jobs that can still be claimed at `now`.
    pub fn active(&self, now: u64) -> impl Iterator<Item = &JobInfo> {
        self.jobs
            .values()
            .filter(move |j| !j.cancelled && u64::from(j.spec.deadline) > now)
    }
}

#[cfg(test)]
mod tests {
    use super::raised_bid;

    #[test]
    fn a_replacement_bids_an_eighth_more_follows_the_estimate_and_stops_at_eight_times_the_first() {
        // At least 1/8 and one wei above the last bid (a 0 tip becomes 1).
        assert_eq!(raised_bid(800, 0, 800), 901);
        assert_eq!(raised_bid(0, 0, 0), 1);
        // A first bid of 0 still lets the estimate count, up to 8 wei.
        assert_eq!(raised_bid(0, 5, 0), 5);
        assert_eq!(raised_bid(0, 50, 0), 8);
        // Up to the node's estimate when higher.
        assert_eq!(raised_bid(800, 5_000, 800), 5_000);
        // An estimate counts only up to eight times the first bid.
        assert_eq!(raised_bid(800, 1_000_000, 800), 6_400);
        // Six replacements of their own grow the bid to about twice the first.
        let mut b = 1_000_000u128;
        for _ in 0..6 {
            b = raised_bid(b, 0, 1_000_000);
        }
        assert!((2_020_000..2_030_000).contains(&b), "{b}");
        // No overflow at the top.
        assert_eq!(raised_bid(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
    }
}
