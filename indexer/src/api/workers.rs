//! Workers' and verifiers' records.

use super::jobs::address;
use super::{ApiError, AppState, P, Verifier, VerifierResponse, Worker, WorkerResponse, meta};
use crate::store::read;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/workers/{address}", get(worker))
        .route("/v1/verifiers/{address}", get(verifier))
}

/// A worker's stake, track record, reputation and balances.
#[utoipa::path(get, path = "/v1/workers/{address}", tag = "accounts",
    params(("address" = String, Path, description = "0x-prefixed address", pattern = "^0x[0-9a-fA-F]{40}$")),
    responses((status = 200, body = WorkerResponse), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn worker(
    State(s): State<AppState>,
    P(a): P<String>,
) -> Result<Json<WorkerResponse>, ApiError> {
    let a = address("address", &a)?;
    let (meta, st) = meta(&s).await?;
    let acct = read::account(&s.pool, &a)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no worker activity indexed for {a}")))?;
    let balances = read::balances(&s.pool, &a).await?;
    Ok(Json(WorkerResponse {
        data: Worker::new(acct, balances, st.confirmed_block()),
        meta,
    }))
}

/// A verifier's registration (tickets, stake, leave and release), committee service (draws, seats, votes,
/// coherence, slashes), bonded stake and balances.
#[utoipa::path(get, path = "/v1/verifiers/{address}", tag = "accounts",
    params(("address" = String, Path, description = "0x-prefixed address", pattern = "^0x[0-9a-fA-F]{40}$")),
    responses((status = 200, body = VerifierResponse), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn verifier(
    State(s): State<AppState>,
    P(a): P<String>,
) -> Result<Json<VerifierResponse>, ApiError> {
    let a = address("address", &a)?;
    let (meta, st) = meta(&s).await?;
    let registration = read::verifier(&s.pool, &a).await?;
    let service = read::committee_record(&s.pool, &a).await?;
    if registration.is_none() && service.draws == 0 {
        return Err(ApiError::NotFound(format!(
            "no verifier activity indexed for {a}"
        )));
    }
    let acct = read::account(&s.pool, &a).await?;
    let balances = read::balances(&s.pool, &a).await?;
    Ok(Json(VerifierResponse {
        data: Verifier::new(
            a,
            registration,
            acct,
            service,
            balances,
            st.confirmed_block(),
        ),
        meta,
    }))
}
