//! Test helpers: endpoints of the real servers, unique names, provider setup.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::params::TriggerParams;
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::Measurement;

/// Installs the ring provider (once per process; later calls are no-ops).
pub(crate) fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An endpoint: `$NAME`, else the `export NAME=...` line in scripts/services' env.sh, else `default`.
pub(crate) fn endpoint(name: &str, default: &str) -> String {
    if let Ok(v) = std::env::var(name) {
        return v;
    }
    let dir = std::env::var("EBB_SERVICES_DIR").unwrap_or_else(|_| "/tmp/ebb-services".into());
    if let Ok(env_sh) = std::fs::read_to_string(format!("{dir}/env.sh")) {
        let prefix = format!("export {name}=");
        for line in env_sh.lines() {
            if let Some(value) = line.strip_prefix(&prefix) {
                return value.trim_matches('\'').trim_matches('"').to_owned();
            }
        }
    }
    default.to_owned()
}

pub(crate) fn redis_url() -> String {
    endpoint("EBB_REDIS_URL", "redis://127.0.0.1:6379")
}
pub(crate) fn postgres_url() -> String {
    endpoint(
        "EBB_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}
pub(crate) fn mysql_url() -> String {
    endpoint("EBB_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
}
pub(crate) fn amqp_url() -> String {
    endpoint(
        "EBB_RABBITMQ_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    )
}
pub(crate) fn rabbit_http_url() -> String {
    endpoint(
        "EBB_RABBITMQ_HTTP_URL",
        "http://guest:guest@127.0.0.1:15672",
    )
}
pub(crate) fn nats_url() -> String {
    endpoint("EBB_NATS_URL", "nats://127.0.0.1:4222")
}
pub(crate) fn nats_monitoring() -> String {
    endpoint("EBB_NATS_MONITORING", "127.0.0.1:8222")
}
pub(crate) fn prometheus_url() -> String {
    endpoint("EBB_PROMETHEUS_URL", "http://127.0.0.1:9090")
}

/// `host:port` of a URL.
pub(crate) fn host_port(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port_or_known_default().unwrap()
    )
}

/// Fails the test with a clear message when nothing listens at `addr`.
pub(crate) async fn require(service: &str, addr: &str) {
    let connect = tokio::net::TcpStream::connect(addr);
    match tokio::time::timeout(std::time::Duration::from_secs(3), connect).await {
        Ok(Ok(_)) => {}
        _ => panic!(
            "{service} is not reachable at {addr}: run `scripts/services start` (and `eval \"$(scripts/services env)\"`)"
        ),
    }
}

/// A name unique to this test run and call.
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Builds the trigger through the registry and measures once.
pub(crate) async fn measure_once(
    params: &TriggerParams,
) -> Result<Measurement, crate::MeasureError> {
    let scaler = crate::registry::build(params, &Clients::new()).expect("config is valid");
    scaler.measure(&Poll::new()).await
}

/// The canary password that must never show up in errors.
pub(crate) const CANARY: &str = "canary-5ecret-9f3a";

/// Asserts the canary is nowhere in the error.
pub(crate) fn assert_no_canary(err: &crate::MeasureError) {
    let shown = format!(
        "{err} | {err:?} | {} | {}",
        err.full_message(),
        err.reason()
    );
    assert!(!shown.contains(CANARY), "secret leaked: {shown}");
    assert!(!shown.contains("5ecret"), "secret leaked: {shown}");
}

/// Serves `router` on an ephemeral loopback port; returns `127.0.0.1:<port>`.
pub(crate) async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr.to_string()
}
