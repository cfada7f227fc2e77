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
//! - a cap on open connections ([`WebConfig::max_connections`]; the loop
//!   stops accepting at the cap, and the kernel's backlog holds the rest) and
//!   on connections per client address
//!   ([`WebConfig::max_connections_per_ip`]; more are closed at once);
//! - a catch-panic layer: a handler that panics answers a logged 500 and the
//!   connection stays usable.
//!
//! [`WebConfig::header_read_timeout_secs`]: crate::config::WebConfig::header_read_timeout_secs
//! [`WebConfig::request_timeout_secs`]: crate::config::WebConfig::request_timeout_secs
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
        let mut map = table.0.lock().ok()?;
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
        if let Ok(mut map) = self.table.0.lock()
            && let Some(n) = map.get_mut(&self.ip)
        {
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
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
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
