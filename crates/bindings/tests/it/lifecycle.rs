//! One ETH job and one ERC-20 job through submit -> claim -> submitResult -> attest / finalize -> withdraw,
//! asserting every balance that moves.

use crate::harness::{Chain, gas_cost, mined};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::Provider;
use anyhow::{Context, Result};
use tessera_bindings::IDistributedRender::{JobSpec, SignedAttestation};
use tessera_bindings::{DistributedRender, TaskState, TestToken, attestation, cells};
use tessera_devnet::{cell_hashes, job_spec, signed_verdict, verdict};

const FEE_BPS: u16 = 100;
const MIN_STAKE: u64 = 1_000_000_000_000_000_000; // 1 ETH
const REWARD: u128 = 10_000_000_000_000_000; // 0.01
const VERIFIER_FEE_BPS: u16 = 1000;
const VERIFIER_FEE: u128 = REWARD * VERIFIER_FEE_BPS as u128 / 10_000; // 0.001
const STAKE: u128 = 5_000_000_000_000_000; // 0.005

fn spec(token: Address, frames: u32, deadline: u32, optimistic: bool) -> JobSpec {
    JobSpec {
        token,
        verifierFeeBps: VERIFIER_FEE_BPS,
        leaseDuration: 3600,
        challengeWindow: 600,
        optimistic,
        ..job_spec(frames, REWARD, STAKE, deadline)
    }
}

struct Market {
    chain: Chain,
    address: Address,
}

impl Market {
    async fn deploy() -> Result<Self> {
        let chain = Chain::start().await?;
        let market = DistributedRender::deploy(
            chain.owner.provider.clone(),
            chain.owner.address,
            chain.treasury.address,
            FEE_BPS,
            U256::from(MIN_STAKE),
            U256::from(7 * 24 * 3600u64),
        )
        .await
        .context("deploying DistributedRender")?;
        let address = *market.address();
        for a in [&chain.worker, &chain.verifier, &chain.verifier2] {
            mined(a.market(address).stake().value(U256::from(MIN_STAKE))).await?;
        }
        Ok(Self { chain, address })
    }

    async fn post(&self, spec: JobSpec, value: U256) -> Result<U256> {
        let receipt = mined(
            self.chain
                .artist
                .market(self.address)
                .submitRenderJob(spec)
                .value(value),
        )
        .await?;
        let ev = receipt
            .decoded_log::<DistributedRender::JobSubmitted>()
            .context("no JobSubmitted event")?;
        eprintln!(
            "submitRenderJob: {} gas for the whole transaction",
            receipt.gas_used
        );
        Ok(ev.jobId)
    }

    async fn claim_and_submit(&self, job: U256, task: u32, forged: bool) -> Result<B256> {
        let worker = self.chain.worker.market(self.address);
        let r = mined(worker.claimTasks(job, vec![task])).await?;
        let claimed = r
            .decoded_log::<DistributedRender::TaskClaimed>()
            .context("no TaskClaimed")?;
        assert_eq!(claimed.worker, self.chain.worker.address);
        let root = cells::root_of(&cell_hashes(u64::from(task), forged)).context("no cells")?;
        let r =
            mined(worker.submitResult(job, U256::from(task), "bafyoutput".into(), root)).await?;
        let ev = r
            .decoded_log::<DistributedRender::ResultSubmitted>()
            .context("no ResultSubmitted")?;
        assert_eq!(ev.cellRoot, root);
        Ok(root)
    }

    async fn task_state(&self, job: U256, task: u32) -> Result<TaskState> {
        let t = self
            .chain
            .artist
            .market(self.address)
            .getTask(job, U256::from(task))
            .call()
            .await?;
        Ok(TaskState::try_from(t.state)?)
    }

    /// A verdict signed by `verifier` through the Rust EIP-712 path, checked against the contract's digest.
    async fn signed(
        &self,
        job: U256,
        task: u32,
        root: B256,
        approve: bool,
        attempt: u64,
    ) -> Result<SignedAttestation> {
        let a = verdict(job, u64::from(task), attempt, root, approve);
        let domain = attestation::domain(self.chain.chain_id, self.address);
        let on_chain = self
            .chain
            .artist
            .market(self.address)
            .attestationDigest(a.clone())
            .call()
            .await?;
        assert_eq!(attestation::digest(&a, &domain), on_chain, "EIP-712 digest");
        signed_verdict(
            &self.chain.verifier.signer,
            self.chain.chain_id,
            self.address,
            a,
        )
        .await
    }

    async fn credit(&self, who: Address, token: Address) -> Result<U256> {
        Ok(self
            .chain
            .artist
            .market(self.address)
            .balanceOf(who, token)
            .call()
            .await?)
    }
}

#[tokio::test]
async fn eth_job_is_verified_paid_and_withdrawn() -> Result<()> {
    let m = Market::deploy().await?;
    let deadline = u32::try_from(m.chain.now().await? + 86_400)?;
    let escrow = U256::from(2 * (REWARD + VERIFIER_FEE));
    let market_before = m.chain.artist.provider.get_balance(m.address).await?;
    let job = m
        .post(spec(Address::ZERO, 2, deadline, true), escrow)
        .await?;
    assert_eq!(
        m.chain.artist.provider.get_balance(m.address).await? - market_before,
        escrow
    );

    // The contract's leaf encoding equals the Rust one.
    let h = keccak256("data");
    let on_chain = m
        .chain
        .artist
        .market(m.address)
        .cellLeaf(U256::from(7), h)
        .call()
        .await?;
    assert_eq!(on_chain, B256::from(cells::leaf(7, h.0)));

    // Task 0: verified by a signed approval.
    let root0 = m.claim_and_submit(job, 0, false).await?;
    let approval = m.signed(job, 0, root0, true, 0).await?;
    let r = mined(
        m.chain
            .treasury
            .market(m.address)
            .attest(job, U256::ZERO, vec![approval]),
    )
    .await?;
    let paid = r
        .decoded_log::<DistributedRender::TaskPaid>()
        .context("no TaskPaid")?;
    let fee = REWARD * u128::from(FEE_BPS) / 10_000;
    assert_eq!(paid.workerReward, U256::from(REWARD - fee));
    assert_eq!(m.task_state(job, 0).await?, TaskState::Paid);

    // Task 1: optimistic finality after the challenge window.
    m.claim_and_submit(job, 1, false).await?;
    m.chain.warp(601).await?;
    mined(
        m.chain
            .artist
            .market(m.address)
            .finalizeTask(job, U256::from(1)),
    )
    .await?;
    assert_eq!(m.task_state(job, 1).await?, TaskState::Paid);

    // Credits: worker 2 x (reward - fee), verifier one fee, artist the unused fee, treasury 2 x fee.
    assert_eq!(
        m.credit(m.chain.worker.address, Address::ZERO).await?,
        U256::from(2 * (REWARD - fee))
    );
    assert_eq!(
        m.credit(m.chain.verifier.address, Address::ZERO).await?,
        U256::from(VERIFIER_FEE)
    );
    assert_eq!(
        m.credit(m.chain.artist.address, Address::ZERO).await?,
        U256::from(VERIFIER_FEE)
    );
    assert_eq!(
        m.credit(m.chain.treasury.address, Address::ZERO).await?,
        U256::from(2 * fee)
    );

    // Withdraw: the wallet gains the credit less the gas it paid.
    let before = m.chain.worker.eth().await?;
    let r = mined(m.chain.worker.market(m.address).withdraw(Address::ZERO)).await?;
    let after = m.chain.worker.eth().await?;
    assert_eq!(
        after + gas_cost(&r) - before,
        U256::from(2 * (REWARD - fee))
    );
    assert_eq!(
        m.credit(m.chain.worker.address, Address::ZERO).await?,
        U256::ZERO
    );
    Ok(())
}

#[tokio::test]
async fn erc20_job_rejects_a_forgery_then_pays_the_honest_result() -> Result<()> {
    let m = Market::deploy().await?;
    let token = TestToken::deploy(m.chain.owner.provider.clone()).await?;
    let escrow = U256::from(REWARD + VERIFIER_FEE);
    let artist_token = TestToken::new(*token.address(), m.chain.artist.provider.clone());
    mined(artist_token.mint(m.chain.artist.address, escrow)).await?;
    mined(artist_token.approve(m.address, escrow)).await?;
    let deadline = u32::try_from(m.chain.now().await? + 86_400)?;
    let job = m
        .post(spec(*token.address(), 1, deadline, false), U256::ZERO)
        .await?;
    assert_eq!(
        artist_token.balanceOf(m.address).call().await?,
        escrow,
        "escrow held in tokens"
    );
    assert_eq!(
        artist_token
            .balanceOf(m.chain.artist.address)
            .call()
            .await?,
        U256::ZERO
    );

    // A forged cell 2: the verifier proves it and the worker is slashed.
    let forged_root = m.claim_and_submit(job, 0, true).await?;
    let rejection = m.signed(job, 0, forged_root, false, 0).await?;
    let r = mined(
        m.chain
            .verifier
            .market(m.address)
            .attest(job, U256::ZERO, vec![rejection]),
    )
    .await?;
    let rejected = r
        .decoded_log::<DistributedRender::TaskRejected>()
        .context("no TaskRejected")?;
    assert_eq!(rejected.slashed, U256::from(STAKE));
    assert_eq!(rejected.cellIndex, U256::from(2));
    assert_eq!(m.task_state(job, 0).await?, TaskState::Open);
    let worker_stake = m
        .chain
        .artist
        .market(m.address)
        .stakeOf(m.chain.worker.address)
        .call()
        .await?;
    assert_eq!(worker_stake.bonded, MIN_STAKE as u128 - STAKE);
    assert_eq!(
        m.credit(m.chain.artist.address, Address::ZERO).await?,
        U256::from(STAKE / 2)
    );

    // The same worker re-renders honestly (attempt 1) and a verifier approves.
    let root = m.claim_and_submit(job, 0, false).await?;
    let approval = m.signed(job, 0, root, true, 1).await?;
    mined(
        m.chain
            .verifier
            .market(m.address)
            .attest(job, U256::ZERO, vec![approval]),
    )
    .await?;
    assert_eq!(m.task_state(job, 0).await?, TaskState::Paid);

    let fee = REWARD * u128::from(FEE_BPS) / 10_000;
    for (who, amount) in [
        (&m.chain.worker, REWARD - fee),
        (&m.chain.verifier, VERIFIER_FEE),
        (&m.chain.treasury, fee),
    ] {
        let r = mined(who.market(m.address).withdraw(*token.address())).await?;
        let w = r
            .decoded_log::<DistributedRender::Withdrawn>()
            .context("no Withdrawn")?;
        assert_eq!(w.amount, U256::from(amount));
        assert_eq!(
            artist_token.balanceOf(who.address).call().await?,
            U256::from(amount)
        );
    }
    assert_eq!(
        artist_token.balanceOf(m.address).call().await?,
        U256::ZERO,
        "every token left the contract"
    );
    Ok(())
}
