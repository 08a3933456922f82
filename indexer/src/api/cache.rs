//! Answers change only when the sync state does (a committed batch, a new head, a rollback), so successful
//! GET answers are kept until the next change is announced. Every cached answer was computed under the
//! current state version and carries that state's `meta`; while the notification listener is disconnected,
//! nothing is cached or served from the cache.
//!
//! The cache is bounded in bytes (keys and answers, `MAX_BYTES`), and keyed by the request as the handlers
//! read it, not as it was written: padded, signed or percent-encoded ids (`/v1/jobs/0001`, `+1`, `%31`),
//! addresses in either case and query parameters in any order name one entry, so strangers cannot fill it
//! with spellings of one answer; distinct requests beyond the bound only cost their own recomputation. Only
//! what a handler reads as a number or an address is folded: requests it reads differently never share a
//! key (an empty answer cached under the key workers use would hide every open task).

use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most bytes of keys and answers kept for one state version.
const MAX_BYTES: usize = 32 << 20;
/// Largest answer kept.
const MAX_BODY: usize = 1 << 20;

/// Cached answers of one state version.
#[derive(Debug, Default, Clone)]
pub struct ResponseCache {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    version: u64,
    bytes: usize,
    map: HashMap<String, Bytes>,
}

impl ResponseCache {
    fn get(&self, version: u64, key: &str) -> Option<Bytes> {
        let inner = self.inner.lock().ok()?;
        (inner.version == version)
            .then(|| inner.map.get(key).cloned())
            .flatten()
    }

    fn put(&self, version: u64, key: String, body: Bytes) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.version != version {
            if inner.version > version {
                return; // computed under an older state
            }
            *inner = Entries {
                version,
                ..Entries::default()
            };
        }
        if let Some(old) = inner.map.remove(&key) {
            inner.bytes -= key.len() + old.len();
        }
        let size = key.len() + body.len();
        if inner.bytes + size > MAX_BYTES {
            // Full: start over (every entry is as cheap to recompute as it was to compute).
            inner.map.clear();
            inner.bytes = 0;
        }
        inner.bytes += size;
        inner.map.insert(key, body);
    }

    /// Bytes of keys and answers held now.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.bytes)
    }
}

/// Query parameters the handlers read as integers, and as addresses (whose hex case does not matter).
const NUMBER_PARAMS: &[&str] = &["limit", "tasks", "events", "after"];
const ADDRESS_PARAMS: &[&str] = &["artist", "worker", "token"];

/// A decimal integer without sign or leading zeros, when `text` is one; else `text`.
fn canonical_number(text: &str) -> String {
    text.parse::<u64>()
        .map_or_else(|_| text.to_owned(), |n| n.to_string())
}

/// 0x-hex in lower case, when `text` is that; else `text`.
fn canonical_hex(text: &str) -> String {
    // On bytes: the text is the client's, and a byte index inside a character would panic.
    let b = text.as_bytes();
    if b.len() > 2 && b[..2].eq_ignore_ascii_case(b"0x") && b[2..].iter().all(u8::is_ascii_hexdigit)
    {
        text.to_ascii_lowercase()
    } else {
        text.to_owned()
    }
}

/// The cache key of a request, as the handlers read it. Path segments are percent-decoded once (as the path
/// extractor does) and are ids or addresses, so numbers and hex are folded. Query values are decoded once
/// (as the query extractor does) and folded only for the parameters that are integers or addresses: a
/// free-form value (a renderer id, an opaque cursor) is kept as it is, so two requests a handler reads
/// differently never share a key.
fn key_of(uri: &axum::http::Uri) -> String {
    let path: Vec<String> = uri
        .path()
        .split('/')
        .map(|seg| {
            let text = percent_encoding::percent_decode_str(seg).decode_utf8_lossy();
            canonical_hex(&canonical_number(&text))
        })
        .collect();
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| {
                let v = if NUMBER_PARAMS.contains(&k.as_ref()) {
                    canonical_number(&v)
                } else if ADDRESS_PARAMS.contains(&k.as_ref()) {
                    canonical_hex(&v)
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
    pairs.sort();
    let mut key = path.join("/");
    if !pairs.is_empty() {
        key.push('?');
        key.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
        );
    }
    key
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
    let key = key_of(req.uri());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uri: &str) -> String {
        key_of(&uri.parse().expect("uri"))
    }

    #[test]
    fn spellings_of_one_request_share_a_key() {
        let one = key("/v1/jobs/1");
        for padded in [
            "/v1/jobs/0001",
            "/v1/jobs/+1",
            "/v1/jobs/%31",
            "/v1/jobs/00000000000000000000001",
        ] {
            assert_eq!(key(padded), one, "{padded}");
        }
        assert_ne!(key("/v1/jobs/2"), one);
        let addr = "0xAbCdEf0123456789abcdef0123456789ABCDEF01";
        assert_eq!(
            key(&format!("/v1/workers/{addr}")),
            key(&format!("/v1/workers/{}", addr.to_lowercase()))
        );
        assert_eq!(
            key("/v1/tasks/open?renderer=tessera-pt%2F0.1&limit=010"),
            key("/v1/tasks/open?limit=10&renderer=tessera-pt/0.1")
        );
        assert_eq!(
            key(&format!("/v1/jobs?artist={addr}")),
            key(&format!("/v1/jobs?artist={}", addr.to_lowercase()))
        );
    }

    #[test]
    fn requests_a_handler_reads_differently_never_share_a_key() {
        // Decoded once, as the query extractor does: `%252F` is the text `%2F`, not `/`.
        assert_ne!(
            key("/v1/tasks/open?renderer=tessera-pt%252F0.1&limit=100"),
            key("/v1/tasks/open?renderer=tessera-pt/0.1&limit=100")
        );
        // Free-form values are not folded: a renderer or a cursor is text.
        assert_ne!(
            key("/v1/tasks/open?renderer=007"),
            key("/v1/tasks/open?renderer=7")
        );
        assert_ne!(
            key("/v1/jobs/1/tasks?cursor=007"),
            key("/v1/jobs/1/tasks?cursor=7")
        );
        assert_ne!(
            key("/v1/tasks/open?renderer=0xAB"),
            key("/v1/tasks/open?renderer=0xab")
        );
        // Any text at all, as a fuzzer sends it (a multi-byte character where `0x` would be).
        for odd in ["2\u{dd}]", "\u{dd}x12", "0\u{dd}", "%FF%FE", "0x\u{e9}"] {
            let enc: String = form_urlencoded::byte_serialize(odd.as_bytes()).collect();
            key(&format!("/v1/jobs?artist={enc}&limit={enc}"));
            key(&format!("/v1/workers/{enc}"));
        }
    }

    #[test]
    fn the_cache_holds_at_most_its_bytes() {
        let cache = ResponseCache::default();
        let body = Bytes::from(vec![b'x'; 100_000]);
        for i in 0..2_000 {
            cache.put(1, format!("/v1/jobs/{i}"), body.clone());
            assert!(
                cache.bytes() <= MAX_BYTES,
                "{} bytes after {i}",
                cache.bytes()
            );
        }
        assert!(cache.bytes() > MAX_BYTES / 2, "it is used");
        // A newer state starts empty; an answer of an older one is not kept.
        cache.put(2, "/a".into(), Bytes::from_static(b"{}"));
        assert_eq!(cache.bytes(), 4);
        cache.put(1, "/b".into(), Bytes::from_static(b"{}"));
        assert_eq!(cache.get(2, "/b"), None);
        // Replacing an entry counts its new size once.
        cache.put(2, "/a".into(), Bytes::from_static(b"{\"k\":1}"));
        assert_eq!(cache.bytes(), 2 + 7);
    }
}
