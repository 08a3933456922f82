//! The HTTP API: versioned JSON under `/v1`, a Server-Sent Events stream, health, readiness, Prometheus metrics
//! and the OpenAPI document generated from the handlers. Every answer carries the indexed and confirmed heads
//! (`meta`), and every record whether it is confirmed.

mod cache;
mod dto;
mod jobs;
mod ops;
mod serve;
mod stream;
mod workers;

pub use dto::*;
pub use serve::{ServeLimits, serve};

use crate::metrics::Metrics;
use crate::store::{self, StoreError, SyncState};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;

/// What the handlers share (cheap to clone).
#[derive(Clone, Debug)]
pub struct AppState {
    /// Database.
    pub pool: PgPool,
    /// Metrics.
    pub metrics: Metrics,
    /// Newest feed sequence number committed (fed by Postgres notifications).
    pub feed: watch::Receiver<i64>,
    /// Version of the sync state (bumped by its notifications); None while unknown.
    pub state_version: watch::Receiver<Option<u64>>,
    /// Answers computed under the current state version.
    pub cache: cache::ResponseCache,
    /// Readiness: most blocks the index may lag behind the head.
    pub max_lag: i64,
    /// Live streams open at once (`ServeLimits::max_streams`).
    pub streams: std::sync::Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State for `pool`, with a listener for feed and sync-state notifications.
    pub fn new(pool: PgPool, metrics: Metrics, max_lag: i64) -> Self {
        let n = crate::spawn_listener(pool.clone());
        Self {
            pool,
            metrics,
            feed: n.feed,
            state_version: n.state_version,
            cache: cache::ResponseCache::default(),
            max_lag,
            streams: std::sync::Arc::new(tokio::sync::Semaphore::new(
                ServeLimits::default().max_streams,
            )),
        }
    }
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Allowed browser origins; empty: none, `*`: any.
    pub cors_origins: Vec<String>,
    /// Per-request time limit (not applied to the stream).
    pub request_timeout: Duration,
}

/// The API's errors: a stable JSON shape, a status per variant. Internal errors are logged and answered
/// with a generic message.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing has this id.
    #[error("{0}")]
    NotFound(String),
    /// The index is not ready to answer (no sync state yet).
    #[error("the index is not ready: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            Self::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m.clone()),
            Self::Internal(StoreError::NoState) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the index has not started syncing yet".into(),
            ),
            Self::Internal(e) => {
                tracing::error!(target: "indexer::api", error = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_owned(),
                )
            }
        };
        (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: code.to_owned(),
                    message,
                },
            }),
        )
            .into_response()
    }
}

/// Query-string extractor whose rejections are [`ApiError`]s.
#[derive(Debug)]
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_like(query).map(Q)
    }
}

fn serde_urlencoded_like<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::BadRequest("malformed query string".into()))?,
    )
    .map(|q| q.0)
    .map_err(|e| ApiError::BadRequest(format!("query: {}", e.body_text())))
}

/// Path extractor whose rejections are [`ApiError`]s.
#[derive(Debug)]
pub struct P<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for P<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| P(p.0))
            .map_err(|e| ApiError::BadRequest(format!("path: {}", e.body_text())))
    }
}

/// Reads the sync state for `meta`.
pub(crate) async fn meta(state: &AppState) -> Result<(Meta, SyncState), ApiError> {
    let st = store::state(&state.pool).await?;
    Ok((Meta::from(&st), st))
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera indexer API", version = "1", description = "The Tessera render marketplace as indexed from the DistributedRender contract. Amounts are decimal strings (uint256), addresses and hashes lowercase 0x-hex. Every answer carries `meta` (indexed and confirmed heads); every record says whether it is `confirmed`."),
    paths(
        jobs::list_jobs, jobs::get_job, jobs::job_tasks, jobs::get_task, jobs::job_events, jobs::open_tasks,
        workers::list_workers, workers::worker, workers::verifier, ops::network, ops::health, ops::ready, ops::metrics, stream::stream,
    ),
    tags((name = "jobs"), (name = "tasks"), (name = "accounts"), (name = "network"), (name = "ops"))
)]
pub struct ApiDoc;

/// The router, composed from one router per resource.
pub fn app(state: AppState, cfg: &HttpConfig) -> Router {
    let cors = if cfg.cors_origins.iter().any(|o| o == "*") {
        CorsLayer::new().allow_origin(AllowOrigin::any())
    } else {
        let origins: Vec<HeaderValue> = cfg
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        CorsLayer::new().allow_origin(origins)
    }
    .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
    .allow_headers([
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderName::from_static("last-event-id"),
    ]);
    let cached = Router::new()
        .merge(jobs::router())
        .merge(workers::router())
        .merge(ops::network_router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cache::cached,
        ));
    let timed = Router::new().merge(cached).merge(ops::router()).layer(
        tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            cfg.request_timeout,
        ),
    );
    let metrics = state.metrics.clone();
    Router::new()
        .merge(timed)
        .merge(stream::router())
        .route(
            "/openapi.json",
            axum::routing::get(|| async { Json(ApiDoc::openapi()) }),
        )
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
        .layer(axum::middleware::from_fn(
            move |req: Request, next: axum::middleware::Next| {
                let metrics = metrics.clone();
                async move {
                    metrics.http_requests.inc();
                    next.run(req).await
                }
            },
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(16 * 1024))
        .layer(cors)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        // A handler's panic (a bug a stranger's request found) is a 500 for that request, not a dropped
        // connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
}
