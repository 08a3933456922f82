//! Network figures, liveness, readiness and metrics.

use super::{ApiError, AppState, Health, Meta, Network, NetworkResponse, Ready, meta};
use crate::store::{self, read};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

pub(super) fn network_router() -> Router<AppState> {
    Router::new().route("/v1/network", get(network))
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

/// Network-wide counters, stake and volume per token.
#[utoipa::path(get, path = "/v1/network", tag = "network",
    responses((status = 200, body = NetworkResponse), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn network(State(s): State<AppState>) -> Result<Json<NetworkResponse>, ApiError> {
    let (meta, _) = meta(&s).await?;
    let row = read::network(&s.pool).await?.unwrap_or_default();
    let volume = read::token_totals(&s.pool).await?;
    let (workers, verifiers) = read::participant_counts(&s.pool).await?;
    Ok(Json(NetworkResponse {
        data: Network::new(row, volume, workers, verifiers),
        meta,
    }))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers and the index is within `maxLag` blocks of the head.
#[utoipa::path(get, path = "/ready", tag = "ops", responses((status = 200, body = Ready), (status = 503, body = Ready)))]
pub(crate) async fn ready(State(s): State<AppState>) -> (StatusCode, Json<Ready>) {
    match store::state(&s.pool).await {
        Ok(st) => {
            let lag = (st.head_block - st.indexed_block).max(0);
            let ok = lag <= s.max_lag;
            let body = Ready {
                ready: ok,
                lag,
                max_lag: s.max_lag,
                reason: (!ok).then(|| {
                    format!(
                        "index is {lag} blocks behind the head (allowed: {})",
                        s.max_lag
                    )
                }),
                meta: Some(Meta::from(&st)),
            };
            (
                if ok {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                Json(body),
            )
        }
        Err(e) => {
            tracing::warn!(target: "indexer::api", error = %e, "readiness check failed");
            let reason = match e {
                store::StoreError::NoState => "the index has not started syncing yet",
                _ => "the database is unreachable",
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Ready {
                    ready: false,
                    lag: 0,
                    max_lag: s.max_lag,
                    reason: Some(reason.into()),
                    meta: None,
                }),
            )
        }
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}
