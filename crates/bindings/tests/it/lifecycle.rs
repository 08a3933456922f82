//! Jobs through their whole lifecycle against a real anvil, through the bindings: submit -> claim ->
//! submitResult -> drawn committee (commitments computed by `tessera_bindings::committee`, checked by the
//! contract at reveal) -> appeal window -> finalize -> withdraw, asserting every balance that moves.

use crate::harness::{Chain, gas_cost, mined};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::Provider;
use anyhow::{Context, Result};
use tessera_bindings::IDistributedRenderTypes::JobSpec;
use tessera_bindings::{DistributedRender, Phase, TaskState, TestToken, cells};
use tessera_devnet::{cell_hashes, job_spec, register_verifier};

const FEE_BPS: u16 = 100;
const TICKET: u64 = 1_000_000_000_000_000_000; // 1 ETH
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
        quorum: 2,
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
            U256::from(TICKET),
            U256::from(7 * 24 * 3600u64),
            U256::from(TICKET / 100),
            U256::from(TICKET / 100),
            U256::from(60u64),
        )
        .await
        .context("deploying DistributedRender")?;
        let address = *market.address();
        mined(
            chain
                .worker
                .market(address)
                .stake()
                .value(U256::from(TICKET)),
        )
        .await?;
        // Two verifiers, two tickets each: any two seats of a committee can be filled.
        for v in [&chain.verifier, &chain.verifier2] {
            register_verifier(v, address, 2, U256::from(TICKET)).await?;
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

    /// One committee round in which both verifiers vote `approve`, then the appeal window and settlement.
    async fn verify(&self, job: U256, task: u32, approve: bool) -> Result<()> {
        let voters = [&self.chain.verifier, &self.chain.verifier2];
        let phase = self
            .chain
            .vote_round(self.address, job, u64::from(task), &voters, approve)
            .await?;
        assert_eq!(
            phase,
            Phase::Appealable,
            "a unanimous first committee decides"
        );
        self.chain
            .finalize(self.address, job, u64::from(task))
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

    async fn verifier_credits(&self, token: Address) -> Result<U256> {
        Ok(self.credit(self.chain.verifier.address, token).await?
            + self.credit(self.chain.verifier2.address, token).await?)
    }
}

#[tokio::test]
async fn eth_jobs_are_verified_by_a_drawn_committee_or_optimistically_and_withdrawn() -> Result<()>
{
    let m = Market::deploy().await?;
    let deadline = u32::try_from(m.chain.now().await? + 86_400)?;
    let escrow = U256::from(REWARD + VERIFIER_FEE);
    let market_before = m.chain.artist.provider.get_balance(m.address).await?;
    let job = m
        .post(spec(Address::ZERO, 1, deadline, false), escrow)
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

    // Job 1: a drawn committee of two seats approves; the verdict becomes final after the appeal window.
    m.claim_and_submit(job, 0, false).await?;
    m.verify(job, 0, true).await?;
    assert_eq!(m.task_state(job, 0).await?, TaskState::Paid);
    let fee = REWARD * u128::from(FEE_BPS) / 10_000;
    assert_eq!(
        m.verifier_credits(Address::ZERO).await?,
        U256::from(VERIFIER_FEE)
    );

    // Job 2, optimistic: nobody disputes, the result is paid after the window and the fee goes back.
    let job2 = m
        .post(spec(Address::ZERO, 1, deadline, true), escrow)
        .await?;
    m.claim_and_submit(job2, 0, false).await?;
    m.chain.warp(601).await?;
    mined(
        m.chain
            .artist
            .market(m.address)
            .finalizeTask(job2, U256::ZERO),
    )
    .await?;
    assert_eq!(m.task_state(job2, 0).await?, TaskState::Paid);

    assert_eq!(
        m.credit(m.chain.worker.address, Address::ZERO).await?,
        U256::from(2 * (REWARD - fee))
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
    // Payment tokens are on the owner's allow-list.
    mined(
        tessera_bindings::DistributedRender::new(m.address, m.chain.owner.provider.clone())
            .setTokenAllowed(*token.address(), true),
    )
    .await?;
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

    // A forged cell 2: the committee rejects and the worker is slashed; the voters earn the job's fee rate of
    // the stake (in ETH), the artist the rest, and the token fee stays escrowed for the next attempt.
    m.claim_and_submit(job, 0, true).await?;
    m.verify(job, 0, false).await?;
    assert_eq!(m.task_state(job, 0).await?, TaskState::Open);
    let worker_stake = m
        .chain
        .artist
        .market(m.address)
        .stakeOf(m.chain.worker.address)
        .call()
        .await?;
    assert_eq!(worker_stake.bonded, u128::from(TICKET) - STAKE);
    let to_voters = STAKE * u128::from(VERIFIER_FEE_BPS) / 10_000;
    assert_eq!(
        m.credit(m.chain.artist.address, Address::ZERO).await?,
        U256::from(STAKE - to_voters)
    );
    assert_eq!(
        m.verifier_credits(Address::ZERO).await?,
        U256::from(to_voters)
    );

    // The same worker re-renders honestly (attempt 1) and the committee approves.
    m.claim_and_submit(job, 0, false).await?;
    m.verify(job, 0, true).await?;
    assert_eq!(m.task_state(job, 0).await?, TaskState::Paid);

    let fee = REWARD * u128::from(FEE_BPS) / 10_000;
    for (who, amount) in [(&m.chain.worker, REWARD - fee), (&m.chain.treasury, fee)] {
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
        m.verifier_credits(*token.address()).await?,
        U256::from(VERIFIER_FEE)
    );
    for v in [&m.chain.verifier, &m.chain.verifier2] {
        if m.credit(v.address, *token.address()).await? != U256::ZERO {
            mined(v.market(m.address).withdraw(*token.address())).await?;
        }
    }
    assert_eq!(
        artist_token.balanceOf(m.address).call().await?,
        U256::ZERO,
        "every token left the contract"
    );
    Ok(())
}
