//! GET latency of the external metrics API over TLS on loopback: 30,000 metrics in an in-memory
//! source, requests paced at 200/s over HTTP/2 for a bounded time; prints p50/p99 (target p99 < 5 ms).

// A benchmark binary: a panic is how it reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ebb_metrics_api::{
    ExternalMetricValue, InMemoryMetrics, MetricsApiServer, RequestHeaderConfig, ServingCert,
};
use http_body_util::{BodyExt, Full};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

const METRICS: usize = 30_000;
const RATE: u64 = 200;
const DURATION: Duration = Duration::from_secs(10);

fn ca(cn: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(issuer: &Issuer<'static, KeyPair>, cn: &str, server: bool) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let sans = if server {
        vec!["127.0.0.1".to_string()]
    } else {
        vec![]
    };
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (server_ca, server_issuer) = ca("bench-ca");
    let (proxy_ca, proxy_issuer) = ca("bench-proxy-ca");
    let (cert, key) = leaf(&server_issuer, "bench", true);
    let metrics = Arc::new(InMemoryMetrics::new());
    let now = jiff::Timestamp::now();
    for i in 0..METRICS {
        metrics.set(
            "bench",
            &format!("so-{}", i / 3),
            ExternalMetricValue::new(format!("s{}-metric", i % 3), i as f64 / 7.0, now),
        );
    }
    let server = MetricsApiServer::builder(
        ServingCert::from_pem(cert.as_bytes(), key.as_bytes()).unwrap(),
        metrics,
    )
    .requestheader(RequestHeaderConfig::new(proxy_ca))
    .bind()
    .await
    .unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server_ca.as_bytes()).unwrap())
        .unwrap();
    let (ccert, ckey) = leaf(&proxy_issuer, "front-proxy-client", false);
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(ccert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(ckey.as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);

    let total = RATE * DURATION.as_secs();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        ticker.tick().await;
        let mut send = send.clone();
        let so = (i as usize * 7919) % (METRICS / 3);
        let metric = (i % 3) as usize;
        tasks.push(tokio::spawn(async move {
            let req = http::Request::get(format!(
                "https://127.0.0.1/apis/external.metrics.k8s.io/v1beta1/namespaces/bench/s{metric}-metric?labelSelector=scaledobject.keda.sh%2Fname%3Dso-{so}"
            ))
            .header("X-Remote-User", "system:kube-controller-manager")
            .body(Full::new(Bytes::new()))
            .unwrap();
            let start = Instant::now();
            let resp = send.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.into_body().collect().await.unwrap();
            start.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "external metrics GET over TLS/h2, {METRICS} metrics, {RATE} req/s for {}s: n={} p50={:?} p99={:?} max={:?} (target p99 < 5ms)",
        DURATION.as_secs(),
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
}
