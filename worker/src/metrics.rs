//! Prometheus metrics, served on `--metrics-listen` at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;

/// Label sets with one `kind` label.
pub type Kinds = Family<Vec<(String, String)>, Counter>;

/// The daemon's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Tasks claimed.
    pub claims: Counter,
    /// Results submitted.
    pub submissions: Counter,
    /// Tasks settled, by outcome.
    pub outcomes: Kinds,
    /// Scenes refused before any claim, by reason.
    pub scenes_refused: Kinds,
    /// Attestations sent, by verdict.
    pub attestations: Kinds,
    /// Seconds per task render (worker) or per verification (verifier).
    pub work_seconds: Histogram,
    /// Tasks this daemon is working on.
    pub active: Gauge,
    /// Errors by stage.
    pub errors: Kinds,
}

impl Metrics {
    /// Registers every metric under `tessera_<mode>_`.
    pub fn new(mode: &str) -> Self {
        let mut r = Registry::with_prefix(format!("tessera_{mode}"));
        let m = Self {
            registry: Arc::new(Registry::default()),
            claims: Counter::default(),
            submissions: Counter::default(),
            outcomes: Kinds::default(),
            scenes_refused: Kinds::default(),
            attestations: Kinds::default(),
            work_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 16)),
            active: Gauge::default(),
            errors: Kinds::default(),
        };
        r.register("claims", "Tasks claimed", m.claims.clone());
        r.register("submissions", "Results submitted", m.submissions.clone());
        r.register("outcomes", "Tasks settled, by outcome", m.outcomes.clone());
        r.register(
            "scenes_refused",
            "Scenes refused before claiming, by reason",
            m.scenes_refused.clone(),
        );
        r.register(
            "attestations",
            "Attestations sent, by verdict",
            m.attestations.clone(),
        );
        r.register(
            "work_seconds",
            "Seconds spent rendering a task or verifying a result",
            m.work_seconds.clone(),
        );
        r.register("active_tasks", "Tasks in progress", m.active.clone());
        r.register("errors", "Errors, by stage", m.errors.clone());
        Self {
            registry: Arc::new(r),
            ..m
        }
    }

    /// Counts one `kind` in a family.
    pub fn inc(family: &Kinds, kind: &str) {
        family
            .get_or_create(&vec![("kind".to_owned(), kind.to_owned())])
            .inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Serves `/metrics` on `addr` until the process ends.
    pub async fn serve(self, addr: SocketAddr) -> anyhow::Result<()> {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let m = self.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.render(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(%addr, "metrics on /metrics");
        axum::serve(listener, app).await?;
        Ok(())
    }
}
