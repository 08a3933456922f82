//! A spawned anvil with funded actors, each with its own signing provider.

use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use tessera_bindings::DistributedRender::DistributedRenderInstance;

/// The native anvil: `ANVIL` if set, else the one `npm ci` installed in the repository, else `PATH`.
fn anvil_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let local = repo.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if local.is_file() {
        return Ok(local);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("anvil");
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "anvil not found: run `scripts/setup.sh` (installs it under node_modules) or set ANVIL=/path/to/anvil"
    )
}

/// One account on the chain.
pub(crate) struct Actor {
    pub(crate) address: Address,
    pub(crate) signer: PrivateKeySigner,
    pub(crate) provider: DynProvider,
}

impl Actor {
    pub(crate) fn market(&self, at: Address) -> DistributedRenderInstance<DynProvider> {
        DistributedRenderInstance::new(at, self.provider.clone())
    }

    pub(crate) async fn eth(&self) -> Result<U256> {
        Ok(self.provider.get_balance(self.address).await?)
    }
}

pub(crate) struct Chain {
    _anvil: AnvilInstance,
    pub(crate) chain_id: u64,
    pub(crate) owner: Actor,
    pub(crate) artist: Actor,
    pub(crate) worker: Actor,
    pub(crate) verifier: Actor,
    pub(crate) treasury: Actor,
    pub(crate) verifier2: Actor,
}

impl Chain {
    pub(crate) async fn start() -> Result<Self> {
        let anvil = Anvil::at(anvil_path()?)
            .arg("--host")
            .arg("127.0.0.1")
            .try_spawn()
            .context("spawning anvil")?;
        let url = anvil.endpoint_url();
        let chain_id = anvil.chain_id();
        let actor = |i: usize| -> Actor {
            let signer = PrivateKeySigner::from(anvil.keys()[i].clone());
            let address = signer.address();
            let provider = ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer.clone()))
                .connect_http(url.clone())
                .erased();
            Actor {
                address,
                signer,
                provider,
            }
        };
        Ok(Self {
            chain_id,
            owner: actor(0),
            artist: actor(1),
            worker: actor(2),
            verifier: actor(3),
            treasury: actor(4),
            verifier2: actor(5),
            _anvil: anvil,
        })
    }

    /// Advances the chain's clock.
    pub(crate) async fn warp(&self, seconds: u64) -> Result<()> {
        let p = &self.owner.provider;
        p.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
            .await?;
        p.raw_request::<_, serde_json::Value>("evm_mine".into(), ())
            .await?;
        Ok(())
    }

    pub(crate) async fn now(&self) -> Result<u64> {
        let block = self
            .owner
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .context("no latest block")?;
        Ok(block.header.timestamp)
    }
}

/// ETH spent on gas by a receipt.
pub(crate) fn gas_cost(r: &TransactionReceipt) -> U256 {
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}
