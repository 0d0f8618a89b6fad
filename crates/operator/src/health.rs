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

/// `/metrics` (KEDA's and Ebb's Prometheus families) and `/explain/<kind>/<namespace>/<name>` (the
/// decision log `ebb explain` reads), served on `--metrics-bind-address` (KEDA's `:8080`).
pub fn telemetry_router(telemetry: std::sync::Arc<ebb_telemetry::Metrics>) -> axum::Router {
    use axum::http::{Uri, header};
    use axum::response::IntoResponse;
    let for_metrics = telemetry.clone();
    axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let body = for_metrics.encode();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        )
        .fallback(move |uri: Uri| {
            let answer = telemetry.decisions().answer(uri.path());
            async move {
                match answer {
                    Some(a) => (
                        StatusCode::from_u16(a.status).unwrap_or(StatusCode::NOT_FOUND),
                        [(header::CONTENT_TYPE, a.content_type)],
                        a.body,
                    )
                        .into_response(),
                    None => (
                        StatusCode::NOT_FOUND,
                        "not found: try /metrics or /explain\n",
                    )
                        .into_response(),
                }
            }
        })
}

/// Serves [`telemetry_router`] on `addr` until `shutdown` resolves.
pub async fn serve_telemetry(
    addr: SocketAddr,
    telemetry: std::sync::Arc<ebb_telemetry::Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, telemetry_router(telemetry))
        .with_graceful_shutdown(shutdown)
        .await
}
