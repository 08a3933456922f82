//! Workers' and verifiers' records.

use super::jobs::{address, limit_within};
use super::{
    ApiError, AppState, P, Q, Verifier, VerifierResponse, Worker, WorkerResponse, WorkersPage, meta,
};
use crate::store::read;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::HashMap;
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
    #[param(pattern = "^[0-9]+-0x[0-9a-f]{40}$")]
    cursor: Option<String>,
}

/// Largest page of workers (each carries its balances).
const MAX_WORKERS: i64 = 100;

/// A worker-list cursor this API issued: `<tasks completed>-<address>`, the last worker of a page.
fn worker_cursor(c: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::BadRequest(format!("cursor {c:?} is not a cursor this API issued"));
    let (done, addr) = c.split_once('-').ok_or_else(bad)?;
    if done.is_empty() || !done.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let addr = address("cursor", addr).map_err(|_| bad())?;
    Ok((done.parse::<i64>().unwrap_or(i64::MAX), addr))
}

/// Lists workers (accounts that claimed a task) with their stake, track record, reputation and balances, most
/// tasks completed first, then by address. Pages are keyed by the last worker's count and address: a worker
/// whose count changes between two pages can appear on both or on neither.
#[utoipa::path(get, path = "/v1/workers", tag = "accounts", params(WorkersQuery),
    responses((status = 200, body = WorkersPage), (status = 400, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn list_workers(
    State(s): State<AppState>,
    Q(q): Q<WorkersQuery>,
) -> Result<Json<WorkersPage>, ApiError> {
    let limit = limit_within(q.limit, MAX_WORKERS)?;
    let after = q.cursor.as_deref().map(worker_cursor).transpose()?;
    let (meta, st) = meta(&s).await?;
    let rows = read::workers(
        &s.pool,
        after.as_ref().map(|(d, a)| (*d, a.as_str())),
        limit,
    )
    .await?;
    let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| {
            rows.last()
                .map(|w| format!("{}-{}", w.tasks_completed, lower(&w.address)))
        })
        .flatten();
    let keys: Vec<String> = rows.iter().map(|w| lower(&w.address)).collect();
    let mut balances: HashMap<_, Vec<_>> = HashMap::new();
    for b in read::balances_of(&s.pool, &keys).await? {
        balances.entry(b.account).or_default().push(b);
    }
    let confirmed = st.confirmed_block();
    let data = rows
        .into_iter()
        .map(|acct| {
            let mine = balances.remove(&acct.address).unwrap_or_default();
            Worker::new(acct, mine, confirmed)
        })
        .collect();
    Ok(Json(WorkersPage {
        data,
        next_cursor,
        meta,
    }))
}

fn lower(a: &alloy::primitives::Address) -> String {
    format!("{a:#x}")
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
