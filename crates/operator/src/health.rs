//! Liveness and readiness probes (`--health-probe-bind-address`, default `:8081`): `/healthz`
//! answers while the process runs, `/readyz` once the caches have synced.

use std::future::Future;
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::get;
use tokio::sync::watch;

/// The probe routes over a readiness flag.
pub fn router(ready: watch::Receiver<bool>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = *ready.borrow();
                async move {
                    if ready {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
                    }
                }
            }),
        )
}

/// Serves the probes on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    ready: watch::Receiver<bool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router(ready))
        .with_graceful_shutdown(shutdown)
        .await
}
