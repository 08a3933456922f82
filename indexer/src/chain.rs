//! The chain side: heads, headers and logs of the indexed contract, over HTTP or WebSocket, each call bounded
//! by a timeout. Retrying is the sync loop's job.

use crate::store::BlockRef;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bloom, BloomInput};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::time::Duration;

/// Chain errors.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC answered with an error or the transport failed.
    #[error("rpc {call}: {source}")]
    Rpc {
        /// Which call.
        call: &'static str,
        /// The error.
        #[source]
        source: alloy::transports::TransportError,
    },
    /// The RPC did not answer in time.
    #[error("rpc {call}: no answer within {timeout:?}")]
    Timeout {
        /// Which call.
        call: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// A value from the RPC does not fit the index.
    #[error("rpc {call}: block number {value} out of range")]
    Range {
        /// Which call.
        call: &'static str,
        /// The value.
        value: u64,
    },
}

/// Result alias.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

/// A stream of new head numbers.
pub type Heads = Pin<Box<dyn Stream<Item = u64> + Send>>;

/// A connection to the chain's RPC for one contract.
#[derive(Clone, Debug)]
pub struct Chain {
    provider: DynProvider,
    contract: Address,
    timeout: Duration,
    /// The URL, when it is a WebSocket one (heads are subscribed to on a connection of their own).
    ws: Option<String>,
}

fn num(call: &'static str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| ChainError::Range { call, value: v })
}

impl Chain {
    /// Connects to `url` (`http(s)://` or `ws(s)://`).
    pub async fn connect(url: &str, contract: Address, timeout: Duration) -> Result<Self> {
        let ws = (url.starts_with("ws://") || url.starts_with("wss://")).then(|| url.to_owned());
        let provider = tokio::time::timeout(timeout, ProviderBuilder::new().connect(url))
            .await
            .map_err(|_| ChainError::Timeout {
                call: "connect",
                timeout,
            })?
            .map_err(|source| ChainError::Rpc {
                call: "connect",
                source,
            })?
            .erased();
        Ok(Self {
            provider,
            contract,
            timeout,
            ws,
        })
    }

    async fn call<T>(
        &self,
        call: &'static str,
        fut: impl IntoFuture<Output = std::result::Result<T, alloy::transports::TransportError>>,
    ) -> Result<T> {
        tokio::time::timeout(self.timeout, fut.into_future())
            .await
            .map_err(|_| ChainError::Timeout {
                call,
                timeout: self.timeout,
            })?
            .map_err(|source| ChainError::Rpc { call, source })
    }

    /// The chain id.
    pub async fn chain_id(&self) -> Result<u64> {
        self.call("eth_chainId", self.provider.get_chain_id()).await
    }

    /// The newest block number.
    pub async fn head(&self) -> Result<i64> {
        let n = self
            .call("eth_blockNumber", self.provider.get_block_number())
            .await?;
        num("eth_blockNumber", n)
    }

    /// The canonical header at `number`, or None if the node does not have it (yet).
    pub async fn header(&self, number: i64) -> Result<Option<BlockRef>> {
        Ok(self.header_and_bloom(number).await?.map(|(b, _)| b))
    }

    /// The canonical header at `number` and whether its `logsBloom` admits logs of the contract (a bloom
    /// filter: false means there are none; true means there may be).
    pub async fn header_and_bloom(&self, number: i64) -> Result<Option<(BlockRef, bool)>> {
        let n = u64::try_from(number).unwrap_or_default();
        let block = self
            .call(
                "eth_getBlockByNumber",
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(n)),
            )
            .await?;
        block
            .map(|b| {
                Ok((
                    BlockRef {
                        number: num("eth_getBlockByNumber", b.header.number)?,
                        hash: b.header.hash,
                        parent_hash: Some(b.header.parent_hash),
                        timestamp: num("eth_getBlockByNumber", b.header.timestamp)?,
                    },
                    self.may_have_logs(&b.header.logs_bloom),
                ))
            })
            .transpose()
    }

    /// Whether `bloom` admits a log of the contract.
    pub fn may_have_logs(&self, bloom: &Bloom) -> bool {
        bloom.contains_input(BloomInput::Raw(self.contract.as_slice()))
    }

    /// The contract's logs in the block with this hash, read from its receipts (`eth_getBlockReceipts`):
    /// for a block whose `eth_getLogs` answer cannot be trusted or had. None if the node lacks the block.
    pub async fn logs_from_receipts(&self, block_hash: B256) -> Result<Option<Vec<Log>>> {
        let receipts = self
            .call(
                "eth_getBlockReceipts",
                self.provider.get_block_receipts(BlockId::hash(block_hash)),
            )
            .await?;
        Ok(receipts.map(|rs| {
            rs.iter()
                .flat_map(|r| r.inner.logs().iter())
                .filter(|l| l.address() == self.contract)
                .cloned()
                .collect()
        }))
    }

    /// The contract's logs in blocks `from..=to`.
    pub async fn logs_range(&self, from: i64, to: i64) -> Result<Vec<Log>> {
        let filter = Filter::new()
            .address(self.contract)
            .from_block(u64::try_from(from).unwrap_or_default())
            .to_block(u64::try_from(to).unwrap_or_default());
        self.call("eth_getLogs", self.provider.get_logs(&filter))
            .await
    }

    /// The contract's logs in the block with this hash (consistent with that exact block, even mid-reorg).
    pub async fn logs_at(&self, block_hash: B256) -> Result<Vec<Log>> {
        let filter = Filter::new()
            .address(self.contract)
            .at_block_hash(block_hash);
        self.call("eth_getLogs", self.provider.get_logs(&filter))
            .await
    }

    /// New heads as they arrive, where the RPC offers subscriptions (WebSocket); None over HTTP.
    ///
    /// The subscription has a WebSocket connection of its own: a head is never queued behind a large answer
    /// (a range of logs) on the connection that carries the calls, and it reaches the sync loop in well under a
    /// millisecond. On the shared connection each head arrived about 40 ms late: the node writes a
    /// notification in two segments, and a connection that also sends has its ACKs delayed (Linux's delayed
    /// ACK waits for data to carry them), which holds the second segment back.
    pub async fn subscribe_heads(&self) -> Option<Heads> {
        let url = self.ws.as_deref()?;
        let connected =
            match tokio::time::timeout(self.timeout, ProviderBuilder::new().connect(url)).await {
                Ok(Ok(p)) => Ok(p),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            };
        let provider = connected
            .inspect_err(|e| tracing::warn!(target: "indexer::sync", error = %e, "a second WebSocket connection for new heads failed; polling instead"))
            .ok()?;
        let sub = self
            .call("eth_subscribe", provider.subscribe_blocks())
            .await
            .inspect_err(|e| tracing::warn!(target: "indexer::sync", error = %e, "eth_subscribe failed; polling instead"))
            .ok()?;
        // The stream holds the connection open.
        Some(Box::pin(sub.into_stream().map(move |h| {
            let _connection = &provider;
            h.number
        })))
    }
}
