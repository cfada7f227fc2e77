//! The HTTP server loop: accepting connections with limits a public hub needs.
//!
//! `axum::serve` has no header-read timeout and no connection cap, so 300
//! clients that each sent half a header held 300 connections open for as
//! long as they liked (see #13). This loop serves the same router through
//! hyper directly, with:
//! - a header-read timeout ([`WebConfig::header_read_timeout_secs`]): hyper
//!   starts it whenever it waits for a request head, so it also closes idle
//!   keep-alive connections;
//! - a request timeout ([`WebConfig::request_timeout_secs`]) around every
//!   handler, so a slowly dribbled body or a stuck handler ends with a 503;
//! - a write timeout ([`WebConfig::io_timeout_secs`]): a connection whose
//!   writes make no progress for that long is closed, so a client that
//!   stops reading a large answer cannot hold its slot;
//! - a cap on open connections ([`WebConfig::max_connections`]; the loop
//!   stops accepting at the cap, and the kernel's backlog holds the rest) and
//!   on connections per client address (IPv6 by /64;
//!   [`WebConfig::max_connections_per_ip`]; more are closed at once);
//! - a catch-panic layer: a handler that panics answers a logged 500 and the
//!   connection stays usable.
//!
//! [`WebConfig::header_read_timeout_secs`]: crate::config::WebConfig::header_read_timeout_secs
//! [`WebConfig::request_timeout_secs`]: crate::config::WebConfig::request_timeout_secs
//! [`WebConfig::io_timeout_secs`]: crate::config::WebConfig::io_timeout_secs
//! [`WebConfig::max_connections`]: crate::config::WebConfig::max_connections
//! [`WebConfig::max_connections_per_ip`]: crate::config::WebConfig::max_connections_per_ip

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::errors::AppError;
use crate::config::WebConfig;

/// Open connections per client address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// Holds one connection slot of an address; gives it back when dropped.
struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(table: &Arc<PerIp>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let ip = super::session::client_key(ip);
        let mut map = table
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: Arc::clone(table),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self
            .table
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish (up to 30 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &WebConfig,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1) as usize));
    let per_ip = Arc::new(PerIp::default());
    let per_ip_max = config.max_connections_per_ip.max(1) as usize;
    let header_timeout = Duration::from_secs(u64::from(config.header_read_timeout_secs.max(1)));
    let io_timeout = Duration::from_secs(u64::from(config.io_timeout_secs.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(64 * 1024);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and similar: wait, then go on.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(slot) = PerIp::take(&per_ip, peer.ip(), per_ip_max) else {
            tracing::debug!(client.ip = %peer.ip(), "closed a connection over the per-address cap");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = tower::ServiceExt::map_request(router.clone(), move |mut req: Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let io = TokioIo::new(IoTimeout::new(stream, io_timeout));
        let conn = builder.serve_connection(io, TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _held = (permit, slot);
            if let Err(e) = conn.await {
                tracing::debug!(client.ip = %peer.ip(), "connection ended: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("shut down with requests still running after 30 s");
        }
    }
}

/// A stream whose writes fail with `TimedOut` once one has been pending for
/// `limit` without progress: the client stopped reading.
struct IoTimeout<S> {
    inner: S,
    limit: Duration,
    write_stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> IoTimeout<S> {
    fn new(inner: S, limit: Duration) -> IoTimeout<S> {
        IoTimeout {
            inner,
            limit,
            write_stall: None,
        }
    }
}

/// Polls `stall` for a pending operation: `Err` once it has been pending for
/// `limit`; a ready operation clears it.
fn check_stall<T>(
    result: Poll<std::io::Result<T>>,
    stall: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    limit: Duration,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<T>> {
    if result.is_ready() {
        *stall = None;
        return result;
    }
    let sleep = stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no progress on the connection",
        ))),
        Poll::Pending => Poll::Pending,
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for IoTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Reads are not timed here: hyper keeps a read pending while a
        // handler works (to notice a closed connection), so a stalled read
        // is normal. Slow heads and bodies are bounded by the header
        // timeout and the request time limit.
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for IoTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        check_stall(result, &mut this.write_stall, this.limit, cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        check_stall(result, &mut this.write_stall, this.limit, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        check_stall(result, &mut this.write_stall, this.limit, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Middleware: a request that takes longer than `timeout` answers 503.
pub async fn time_limit(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(http.path = %path, "request over the {} s limit; answered 503", timeout.as_secs());
            AppError::unavailable("This took too long; try again in a minute.").into_response()
        }
    }
}

/// Middleware: a panic in a handler becomes a logged 500, not a dropped
/// connection.
pub async fn catch_panic(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    match (CatchUnwind(Box::pin(next.run(req)))).await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            AppError::internal(format!("handler for {path} panicked: {what}")).into_response()
        }
    }
}

/// A future that turns a panic while polling into an `Err`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_router_goes_on() {
        // See: #13, finding 8.
        async fn boom() -> &'static str {
            panic!("a bug in a handler")
        }
        let router = Router::new()
            .route("/boom", get(boom))
            .route("/", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(catch_panic));
        let r = router
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = router
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_stalled_write_times_out() {
        // A peer that never reads: the write side fills up and stalls.
        let (client, server) = tokio::io::duplex(64);
        let mut io = IoTimeout::new(server, Duration::from_millis(50));
        let big = vec![0u8; 4096];
        let result = tokio::io::AsyncWriteExt::write_all(&mut io, &big).await;
        assert_eq!(
            result.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::TimedOut)
        );
        drop(client);
    }

    #[tokio::test]
    async fn a_slow_request_answers_503() {
        let router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(50),
                time_limit,
            ));
        let r = router
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
