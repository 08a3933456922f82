//! Prometheus metrics of the sync loop and the API.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// The indexer's metrics (cheap to clone).
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Newest block whose events are stored.
    pub indexed_block: Gauge,
    /// Chain head last seen.
    pub head_block: Gauge,
    /// Events written.
    pub events: Counter,
    /// Batches committed.
    pub batches: Counter,
    /// Reorgs rolled back.
    pub reorgs: Counter,
    /// Failed sync steps (RPC or database), each retried with backoff.
    pub sync_errors: Counter,
    /// Current `eth_getLogs` range, in blocks.
    pub log_range: Gauge,
    /// HTTP requests served.
    pub http_requests: Counter,
    /// Seconds spent committing batches (the write stage).
    pub commit_seconds: Counter<f64, AtomicU64>,
    /// Blocks whose `eth_getLogs` answer disagreed with the header's `logsBloom` (no logs where the bloom says
    /// the contract may have some), each then retried and read through receipts.
    pub log_mismatches: Counter,
    /// Blocks read through `eth_getBlockReceipts` because `eth_getLogs` could not serve them (a mismatch, or
    /// more logs than the provider returns in one answer).
    pub receipt_fallbacks: Counter,
    /// Mismatches no read resolved (receipts unavailable): committed without logs after the retries.
    pub log_mismatches_unresolved: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tessera_indexer");
        let m = Self {
            registry: Arc::new(Registry::default()),
            indexed_block: Gauge::default(),
            head_block: Gauge::default(),
            events: Counter::default(),
            batches: Counter::default(),
            reorgs: Counter::default(),
            sync_errors: Counter::default(),
            log_range: Gauge::default(),
            http_requests: Counter::default(),
            commit_seconds: Counter::default(),
            log_mismatches: Counter::default(),
            receipt_fallbacks: Counter::default(),
            log_mismatches_unresolved: Counter::default(),
        };
        registry.register(
            "indexed_block",
            "Newest block whose events are stored",
            m.indexed_block.clone(),
        );
        registry.register("head_block", "Chain head last seen", m.head_block.clone());
        registry.register("events", "Contract events written", m.events.clone());
        registry.register("batches", "Batches committed", m.batches.clone());
        registry.register("reorgs", "Reorgs rolled back", m.reorgs.clone());
        registry.register(
            "sync_errors",
            "Failed sync steps, retried with backoff",
            m.sync_errors.clone(),
        );
        registry.register(
            "log_range_blocks",
            "Current eth_getLogs range in blocks",
            m.log_range.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests served",
            m.http_requests.clone(),
        );
        registry.register(
            "commit_seconds",
            "Seconds spent committing batches",
            m.commit_seconds.clone(),
        );
        registry.register(
            "log_mismatches",
            "Blocks whose eth_getLogs answer had no logs where the header's logsBloom says the contract may",
            m.log_mismatches.clone(),
        );
        registry.register(
            "receipt_fallbacks",
            "Blocks read through eth_getBlockReceipts",
            m.receipt_fallbacks.clone(),
        );
        registry.register(
            "log_mismatches_unresolved",
            "Blocks whose logsBloom admits logs that no read returned, committed without them",
            m.log_mismatches_unresolved.clone(),
        );
        Self {
            registry: Arc::new(registry),
            ..m
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
