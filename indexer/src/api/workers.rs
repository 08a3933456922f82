//! Workers' and verifiers' records.

use super::jobs::{address, cursor_int};
use super::{
    ApiError, AppState, P, Q, Verifier, VerifierResponse, Worker, WorkerResponse, WorkersPage, meta,
};
use crate::store::read;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/workers", get(list_workers))
        .route("/v1/workers/{address}", get(worker))
        .route("/v1/verifiers/{address}", get(verifier))
}

/// Paging of the worker list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkersQuery {
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]+$")]
    cursor: Option<String>,
}

/// Largest page of workers (each carries its balances).
const MAX_WORKERS: i64 = 100;

/// Lists workers with their stake, track record, reputation and balances, most tasks completed first.
#[utoipa::path(get, path = "/v1/workers", tag = "accounts", params(WorkersQuery),
    responses((status = 200, body = WorkersPage), (status = 400, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn list_workers(
    State(s): State<AppState>,
    Q(q): Q<WorkersQuery>,
) -> Result<Json<WorkersPage>, ApiError> {
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=MAX_WORKERS).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_WORKERS}, got {n}"
            )));
        }
    };
    let offset = cursor_int(q.cursor.as_deref())?.unwrap_or(0);
    let (meta, st) = meta(&s).await?;
    let rows = read::workers(&s.pool, offset, limit).await?;
    let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| offset.saturating_add(limit).to_string());
    let confirmed = st.confirmed_block();
    let mut data = Vec::with_capacity(rows.len());
    for acct in rows {
        let balances = read::balances(&s.pool, &acct.address.to_string().to_lowercase()).await?;
        data.push(Worker::new(acct, balances, confirmed));
    }
    Ok(Json(WorkersPage {
        data,
        next_cursor,
        meta,
    }))
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
