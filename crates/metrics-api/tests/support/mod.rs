//! Shared test fixtures: a PKI, a server on 127.0.0.1 and a raw HTTPS client (h1 or h2).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ebb_metrics_api::{
    ExternalMetricValue, InMemoryMetrics, MetricsApiServer, RequestHeaderConfig, ServerHandle,
    ServingCert,
};
use http_body_util::{BodyExt, Full};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

pub fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

impl Ca {
    /// (cert PEM, key PEM)
    pub fn serving(&self, cn: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    pub fn client(&self, cn: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

pub struct Fixture {
    pub addr: SocketAddr,
    pub server_ca: Ca,
    pub proxy_ca: Ca,
    pub metrics: Arc<InMemoryMetrics>,
    pub handle: ServerHandle,
}

pub fn ts() -> jiff::Timestamp {
    "2026-08-20T10:48:17Z".parse().unwrap()
}

pub async fn start(
    configure: impl FnOnce(ebb_metrics_api::Builder) -> ebb_metrics_api::Builder,
) -> Fixture {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server_ca = ca("test-server-ca");
    let proxy_ca = ca("test-front-proxy-ca");
    let (cert, key) = server_ca.serving("ebb-metrics");
    let serving = ServingCert::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let metrics = Arc::new(InMemoryMetrics::new());
    metrics.set(
        "shop",
        "orders",
        ExternalMetricValue::new("s0-rabbitmq-orders", 42.0, ts()),
    );
    metrics.set(
        "shop",
        "orders",
        ExternalMetricValue::new("s1-Prometheus-Latency", 2.5, ts()),
    );
    let mut rh = RequestHeaderConfig::new(proxy_ca.pem.clone());
    rh.allowed_names = vec!["front-proxy-client".into()];
    let builder = MetricsApiServer::builder(serving, metrics.clone()).requestheader(rh);
    let server = configure(builder).bind().await.unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    tokio::spawn(server.run(std::future::pending()));
    Fixture {
        addr,
        server_ca,
        proxy_ca,
        metrics,
        handle,
    }
}

pub enum Proto {
    H1,
    H2,
}

pub struct Conn {
    pub alpn: Option<Vec<u8>>,
    h1: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    h2: Option<hyper::client::conn::http2::SendRequest<Full<Bytes>>>,
}

pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Opens one TLS connection trusting `server_ca`, presenting `identity` if any.
pub async fn connect(
    addr: SocketAddr,
    server_ca: &str,
    identity: Option<&(String, String)>,
    proto: Proto,
) -> Result<Conn, std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(server_ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = match proto {
        Proto::H1 => vec![b"http/1.1".to_vec()],
        Proto::H2 => vec![b"h2".to_vec()],
    };
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let io = hyper_util::rt::TokioIo::new(tls);
    let mut conn = Conn {
        alpn,
        h1: None,
        h2: None,
    };
    match proto {
        Proto::H1 => {
            let (send, c) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(c);
            conn.h1 = Some(send);
        }
        Proto::H2 => {
            let (send, c) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .map_err(std::io::Error::other)?;
            tokio::spawn(c);
            conn.h2 = Some(send);
        }
    }
    Ok(conn)
}

impl Conn {
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, hyper::Error> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("https://127.0.0.1{path}"));
        if self.h1.is_some() {
            req = req.header("host", "127.0.0.1");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = if let Some(h1) = &mut self.h1 {
            h1.ready().await?;
            h1.send_request(req).await?
        } else {
            self.h2.as_mut().unwrap().send_request(req).await?
        };
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            body: String::from_utf8(body.to_vec()).unwrap(),
        })
    }

    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers, None).await.unwrap()
    }
}

pub const ALICE: [(&str, &str); 2] = [
    ("X-Remote-User", "alice"),
    ("X-Remote-Group", "system:authenticated"),
];
