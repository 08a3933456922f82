//! Answers change only when the sync state does (a committed batch, a new head, a rollback), so successful
//! GET answers are kept until the next change is announced. Every cached answer was computed under the
//! current state version and carries that state's `meta`; while the notification listener is disconnected,
//! nothing is cached or served from the cache.

use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most answers kept for one state version.
const CAPACITY: usize = 20_000;
/// Largest answer kept.
const MAX_BODY: usize = 1 << 20;

/// Cached answers of one state version.
#[derive(Debug, Default, Clone)]
pub struct ResponseCache {
    inner: Arc<Mutex<(u64, HashMap<String, Bytes>)>>,
}

impl ResponseCache {
    fn get(&self, version: u64, key: &str) -> Option<Bytes> {
        let inner = self.inner.lock().ok()?;
        (inner.0 == version)
            .then(|| inner.1.get(key).cloned())
            .flatten()
    }

    fn put(&self, version: u64, key: String, body: Bytes) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.0 != version {
            if inner.0 > version {
                return; // computed under an older state
            }
            *inner = (version, HashMap::new());
        }
        if inner.1.len() >= CAPACITY {
            inner.1.clear();
        }
        inner.1.insert(key, body);
    }
}

fn json(body: Bytes) -> Response {
    let mut res = Response::new(Body::from(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Middleware: serve a GET from the cache when its state version is current, else run the handler and keep
/// a successful JSON answer.
pub(super) async fn cached(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let version = *s.state_version.borrow();
    let (Some(version), true) = (version, req.method() == Method::GET) else {
        return next.run(req).await;
    };
    let key = req.uri().to_string();
    if let Some(body) = s.cache.get(version, &key) {
        return json(body);
    }
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return res;
    }
    let (parts, body) = res.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            s.cache.put(version, key, bytes.clone());
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "answer too large").into_response(),
    }
}
