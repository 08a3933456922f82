//! The live stream: every stored event, and a notice for every event a reorg removed, as Server-Sent Events
//! with the feed position as the event id. Reconnecting with `Last-Event-ID` (or `?after=`) resumes without
//! a gap or a repeat.

use super::{ApiError, AppState, Event, Q};
use crate::store::{self, read};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use utoipa::IntoParams;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/stream", get(stream))
}

/// Where to start.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// Resume after this feed position (the `id` of the last event received; `Last-Event-ID` takes precedence).
    /// Without either, the stream starts at the current end of the feed.
    #[param(minimum = 0)]
    after: Option<i64>,
}

const BATCH: i64 = 500;

/// Server-Sent Events: `event: log` for each stored contract event, `event: removed` for each event a reorg
/// removed. The data is an `Event` (JSON); the SSE id is its `seq`.
#[utoipa::path(get, path = "/v1/stream", tag = "network", params(StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this feed position")),
    responses((status = 200, content_type = "text/event-stream", body = Event, description = "An endless event stream"),
              (status = 400, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn stream(
    State(s): State<AppState>,
    headers: HeaderMap,
    Q(q): Q<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "Last-Event-ID must be a feed position (a non-negative integer)".into(),
                    )
                })
        })
        .transpose()?;
    if let Some(a) = q.after.filter(|a| *a < 0) {
        return Err(ApiError::BadRequest(format!("after must be >= 0, got {a}")));
    }
    // Live streams hold their connection for good: at most `max_streams` of them, so that they cannot take
    // every connection the server allows (the permit lives as long as the stream).
    let permit = s.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::Unavailable("every live-stream slot is taken; try again later".into())
    })?;
    let start = match header.or(q.after) {
        Some(a) => a,
        None => read::feed_head(&s.pool).await?,
    };
    let feed = s.feed.clone();
    let init = (s, feed, start, VecDeque::<SseEvent>::new(), permit);
    let events = futures::stream::unfold(
        init,
        |(s, mut feed, mut last, mut buf, permit)| async move {
            loop {
                if let Some(e) = buf.pop_front() {
                    return Some((Ok(e), (s, feed, last, buf, permit)));
                }
                let items = match read::feed(&s.pool, last, BATCH).await {
                    Ok(items) => items,
                    Err(e) => {
                        tracing::warn!(target: "indexer::api", error = %e, "stream: reading the feed failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                };
                if items.is_empty() {
                    // Woken by the sync loop's notification; a periodic re-check covers a lost notification.
                    let _ = tokio::time::timeout(Duration::from_secs(1), feed.changed()).await;
                    continue;
                }
                let confirmed = store::state(&s.pool)
                    .await
                    .map(|st| st.confirmed_block())
                    .unwrap_or(-1);
                for item in items {
                    last = item.seq;
                    let kind = if item.live { "log" } else { "removed" };
                    let data = serde_json::to_string(&Event::new(item, confirmed))
                        .unwrap_or_else(|_| "{}".into());
                    buf.push_back(
                        SseEvent::default()
                            .id(last.to_string())
                            .event(kind)
                            .data(data),
                    );
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
