//! The HTTP server in front of the router, with what a public API behind a load balancer needs and
//! `axum::serve` does not offer: a cap on open connections and a deadline for each request's headers.
//!
//! - **Connection cap** (`max_connections`): a connection is accepted only while fewer are open; the rest
//!   wait in the listen backlog until one closes. Live streams (`/v1/stream`) count like any connection, and
//!   are capped apart (`max_streams`, a 503 beyond it) so that they never hold every connection.
//! - **Header deadline** (`header_timeout`): a request's headers must arrive within it (hyper's
//!   `header_read_timeout`), counted from the connection's start or the end of the previous answer, so a client
//!   that sends its headers a byte at a time (slowloris) and a keep-alive connection left idle are both closed
//!   when it passes. Handlers have their own limit (`request_timeout`, except the stream).

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connection limits of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time allowed for a request's headers (also how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// Most live streams open at once (enforced by the stream handler).
    pub max_streams: usize,
}

impl Default for ServeLimits {
    /// 1,024 connections, 256 of them streams; 10 s for headers.
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            max_streams: 256,
        }
    }
}

/// How long open connections (live streams among them) are given to finish after `shutdown`.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then stops accepting and gives
/// open connections `DRAIN` to finish.
///
/// # Errors
/// Never for a single connection's failure (logged at debug level); the listener's errors are retried.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(target: "indexer::api", error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(target: "indexer::api", error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(target: "indexer::api", "connections still open after {DRAIN:?}; closing them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn server(limits: ServeLimits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(serve(listener, app, limits, std::future::pending()));
        addr
    }

    /// Reads until the peer closes or `within` passes; true when it closed.
    async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn slow_headers_and_idle_connections_are_closed_at_the_deadline() {
        let addr = server(ServeLimits {
            max_connections: 64,
            header_timeout: Duration::from_millis(500),
            ..ServeLimits::default()
        })
        .await;
        // A header line every 200 ms: closed at the deadline, not kept open by the trickle (which would go on
        // for 5 s).
        let started = std::time::Instant::now();
        let mut slow = TcpStream::connect(addr).await.expect("connect");
        slow.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
        while started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"X-Slow: y\r\n").await.is_err() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a slow-header connection stayed open for {:?}",
            started.elapsed()
        );
        // Served, then left idle: closed too.
        let mut idle = TcpStream::connect(addr).await.expect("connect");
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 256];
        let n = idle.read(&mut buf).await.expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        assert!(
            closed_within(&mut idle, Duration::from_secs(3)).await,
            "an idle keep-alive connection stayed open"
        );
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_until_one_closes() {
        let addr = server(ServeLimits {
            max_connections: 4,
            header_timeout: Duration::from_secs(30),
            ..ServeLimits::default()
        })
        .await;
        // Four connections that send nothing hold every slot.
        let mut held = Vec::new();
        for _ in 0..4 {
            let s = TcpStream::connect(addr).await.expect("connect");
            held.push(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A fifth gets through TCP (the backlog) but is not served.
        let mut fifth = TcpStream::connect(addr).await.expect("connect");
        fifth
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 256];
        assert!(
            tokio::time::timeout(Duration::from_millis(500), fifth.read(&mut buf))
                .await
                .is_err(),
            "served beyond the cap"
        );
        // One closes: the fifth is served.
        drop(held.pop());
        let n = tokio::time::timeout(Duration::from_secs(3), fifth.read(&mut buf))
            .await
            .expect("served once a slot freed")
            .expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
}
