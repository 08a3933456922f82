//! The market client against a base fee that rises past a sent transaction's fee cap: the transaction is
//! sent again at its nonce with higher fees, the replacement is mined, and the account's next transaction
//! is not held back behind it.

use crate::harness::Chain;
use alloy::primitives::U256;
use alloy::providers::Provider;
use anyhow::{Context, Result};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tessera_bindings::market::Market;
use tessera_devnet::DeployParams;

#[tokio::test]
async fn a_transaction_under_a_risen_base_fee_is_replaced_with_higher_fees() -> Result<()> {
    let chain = Chain::start().await?;
    let deployment = chain.deploy(DeployParams::default()).await?;
    let mut m = Market::connect(&chain.endpoint(), deployment, chain.worker.signer.clone()).await?;
    m.set_bump_after(Duration::from_secs(1));
    let base = chain
        .worker
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("latest block")?
        .header
        .base_fee_per_gas
        .context("an EIP-1559 chain")?;
    let nonce = chain
        .worker
        .provider
        .get_transaction_count(chain.worker.address)
        .await?;

    // Blocks come only when the test mines them; the first one after the send has a base fee a thousand
    // times the one the transaction's fees were estimated at (it then falls by 1/8 a block, as EIP-1559
    // has it: back below the first cap only after some 50 blocks).
    chain.rpc("evm_setAutomine", json!([false])).await?;
    let done = AtomicBool::new(false);
    let stake = U256::from(10u64).pow(U256::from(18u64));
    let sending = async {
        let r = m.send(m.market.stake().value(stake), "stake").await;
        done.store(true, Ordering::SeqCst);
        r
    };
    let mining = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        chain
            .rpc(
                "anvil_setNextBlockBaseFeePerGas",
                json!([format!("{:#x}", u128::from(base) * 1000)]),
            )
            .await?;
        for _ in 0..120 {
            if done.load(Ordering::SeqCst) {
                break;
            }
            chain.mine(1).await?;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::Ok(())
    };
    let (receipt, mined) = tokio::join!(sending, mining);
    mined?;
    let receipt = receipt?;
    // Mined at a price the first version's cap (about twice the old base fee) could not pay: a replacement.
    assert!(
        receipt.effective_gas_price > u128::from(base) * 100,
        "effective price {} against an old base fee of {base}",
        receipt.effective_gas_price
    );
    let tx = chain
        .worker
        .provider
        .get_transaction_by_hash(receipt.transaction_hash)
        .await?
        .context("the mined transaction")?;
    assert_eq!(
        alloy::consensus::Transaction::nonce(&tx),
        nonce,
        "the same nonce"
    );
    assert_eq!(m.free_stake().await?, 1_000_000_000_000_000_000);

    // The account's next transaction is not stuck behind it.
    chain.rpc("evm_setAutomine", json!([true])).await?;
    m.send(m.market.stake().value(stake), "stake").await?;
    assert_eq!(m.free_stake().await?, 2_000_000_000_000_000_000);
    assert_eq!(
        chain
            .worker
            .provider
            .get_transaction_count(chain.worker.address)
            .await?,
        nonce + 2,
        "one transaction each: the replaced version was never mined"
    );
    Ok(())
}
