//! The market client against a base fee that rises past a sent transaction's fee cap and stays there: the
//! transaction is sent again at its nonce with higher fees, the replacement is mined, and the account's next
//! transaction is not held back behind it.

use crate::harness::Chain;
use alloy::primitives::{B256, U256};
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
    let p = &chain.worker.provider;
    let base = p
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("latest block")?
        .header
        .base_fee_per_gas
        .context("an EIP-1559 chain")?;
    let me = chain.worker.address;
    let nonce = p.get_transaction_count(me).await?;

    // Blocks come only when the test mines them, each with a base fee three times the one the transaction's
    // fees were estimated at (its cap is about twice that).
    chain.rpc("evm_setAutomine", json!([false])).await?;
    let done = AtomicBool::new(false);
    let stake = U256::from(10u64).pow(U256::from(18u64));
    let sending = async {
        let r = m.send(m.market.stake().value(stake), "stake").await;
        done.store(true, Ordering::SeqCst);
        r
    };
    let mining = async {
        // The first version, once the node holds it.
        let mut first = None;
        for _ in 0..100 {
            if p.get_transaction_count(me).pending().await? > nonce {
                let pool = chain.rpc("txpool_content", json!([])).await?;
                let pending = &pool["pending"];
                first = pending
                    .as_object()
                    .and_then(|o| {
                        o.iter()
                            .find(|(a, _)| a.eq_ignore_ascii_case(&me.to_string()))
                    })
                    .and_then(|(_, txs)| txs[nonce.to_string()]["hash"].as_str())
                    .map(str::parse::<B256>)
                    .transpose()?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let first = first.context("the first version in the pool")?;
        for _ in 0..120 {
            if done.load(Ordering::SeqCst) {
                break;
            }
            chain
                .rpc(
                    "anvil_setNextBlockBaseFeePerGas",
                    json!([format!("{:#x}", u128::from(base) * 3)]),
                )
                .await?;
            chain.mine(1).await?;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::Ok(first)
    };
    // Bounded: without replacements the send would wait out its three minutes.
    let (receipt, first) = tokio::time::timeout(Duration::from_secs(90), async {
        tokio::try_join!(sending, mining)
    })
    .await
    .context("the replacement was not mined within 90 s")??;
    assert_ne!(receipt.transaction_hash, first, "a replacement was mined");
    assert!(
        receipt.effective_gas_price >= u128::from(base) * 3,
        "effective price {} against a base fee of {}",
        receipt.effective_gas_price,
        u128::from(base) * 3
    );
    let tx = p
        .get_transaction_by_hash(receipt.transaction_hash)
        .await?
        .context("the mined transaction")?;
    assert_eq!(
        alloy::consensus::Transaction::nonce(&tx),
        nonce,
        "the same nonce"
    );
    assert_eq!(m.free_stake().await?, 1_000_000_000_000_000_000);

    // The account's next transaction is not stuck behind it, and the replaced version never counts.
    chain.rpc("evm_setAutomine", json!([true])).await?;
    m.send(m.market.stake().value(stake), "stake").await?;
    assert_eq!(m.free_stake().await?, 2_000_000_000_000_000_000);
    assert_eq!(p.get_transaction_count(me).await?, nonce + 2);
    Ok(())
}
