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
    /// Committee votes revealed, by vote (and seats missed).
    pub votes: Kinds,
    /// Data-availability challenges raised (verifier) or answered (worker).
    pub challenges: Kinds,
    /// Appeals and disputes filed, by kind.
    pub appeals: Kinds,
    /// Seconds per task render (worker) or per verification (verifier).
    pub work_seconds: Histogram,
    /// Tasks this daemon is working on.
    pub active: Gauge,
    /// Seconds the oldest render still running has run, 0 when none (worker): one that never returns (a hung
    /// device driver) keeps the worker from claiming, and shows here.
    pub render_running: Gauge,
    /// Errors by stage.
    pub errors: Kinds,
}

impl Metrics {
    /// Registers every metric under `tessera_<mode>_`.
    pub fn new(mode: &str) -> Self {
        let claims = Counter::default();
        let submissions = Counter::default();
        let outcomes = Kinds::default();
        let scenes_refused = Kinds::default();
        let votes = Kinds::default();
        let challenges = Kinds::default();
        let appeals = Kinds::default();
        let work_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 16));
        let active = Gauge::default();
        let render_running = Gauge::default();
        let errors = Kinds::default();
        let mut r = Registry::with_prefix(format!("tessera_{mode}"));
        r.register("claims", "Tasks claimed", claims.clone());
        r.register("submissions", "Results submitted", submissions.clone());
        r.register("outcomes", "Tasks settled, by outcome", outcomes.clone());
        r.register(
            "scenes_refused",
            "Scenes refused before claiming, by reason",
            scenes_refused.clone(),
        );
        r.register("votes", "Committee votes revealed, by vote", votes.clone());
        r.register(
            "challenges",
            "Data-availability challenges raised or answered",
            challenges.clone(),
        );
        r.register(
            "appeals",
            "Appeals and disputes filed, by kind",
            appeals.clone(),
        );
        r.register(
            "work_seconds",
            "Seconds spent rendering a task or verifying a result",
            work_seconds.clone(),
        );
        r.register("active_tasks", "Tasks in progress", active.clone());
        r.register(
            "render_running_seconds",
            "Seconds the oldest render still running has run (0 when none)",
            render_running.clone(),
        );
        r.register("errors", "Errors, by stage", errors.clone());
        Self {
            registry: Arc::new(r),
            claims,
            submissions,
            outcomes,
            scenes_refused,
            votes,
            challenges,
            appeals,
            work_seconds,
            active,
            render_running,
            errors,
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
