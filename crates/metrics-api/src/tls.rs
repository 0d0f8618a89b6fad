//! TLS: the serving certificate behind an arc-swap resolver (reloaded without touching open
//! connections), the front-proxy client CA as an optional client-certificate verifier, ALPN h2/http1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::requestheader::RequestHeaderConfig;

/// A certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The PEM holds no certificate or no key, or does not parse.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// rustls rejected the key or the configuration.
    #[error("TLS configuration rejected")]
    Rustls(#[from] rustls::Error),
    /// The client CA bundle is unusable.
    #[error("invalid client CA: {0}")]
    ClientCa(String),
    /// A certificate file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parses a PEM chain and key into a key rustls can serve.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Pem("no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem(e.to_string()))?;
    Ok(CertifiedKey::from_der(chain, key, &provider())?)
}

/// The serving certificate, swappable at any time; new handshakes use the newest one.
#[derive(Debug)]
pub struct ServingCert {
    current: ArcSwap<CertifiedKey>,
}

impl ServingCert {
    /// A resolver serving the given PEM chain and key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<Self>, TlsError> {
        Ok(Arc::new(Self {
            current: ArcSwap::from_pointee(certified_key(cert_pem, key_pem)?),
        }))
    }

    /// A resolver serving `tls.crt`/`tls.key` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Arc<Self>, TlsError> {
        let (cert, key) = read_pair(dir)?;
        Self::from_pem(&cert, &key)
    }

    /// Replaces the certificate; open connections keep theirs.
    pub fn set_pem(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
        self.current
            .store(Arc::new(certified_key(cert_pem, key_pem)?));
        Ok(())
    }

    /// The DER of the leaf currently served.
    pub fn leaf_der(&self) -> Option<CertificateDer<'static>> {
        self.current.load().cert.first().cloned()
    }

    /// Polls `dir` every `every` and reloads when `tls.crt` or `tls.key` changed (Secret volumes swap
    /// a symlink, so contents are compared, not mtimes). A half-written pair is retried next time.
    pub async fn watch_dir(self: Arc<Self>, dir: PathBuf, every: Duration) {
        let mut last = read_pair(&dir).ok();
        loop {
            tokio::time::sleep(every).await;
            let Ok(pair) = read_pair(&dir) else { continue };
            if last.as_ref() == Some(&pair) {
                continue;
            }
            match self.set_pem(&pair.0, &pair.1) {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), "reloaded serving certificate");
                    last = Some(pair);
                }
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "serving certificate not reloaded")
                }
            }
        }
    }
}

impl ResolvesServerCert for ServingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn read_pair(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| TlsError::Read { path, source })
    };
    Ok((read("tls.crt")?, read("tls.key")?))
}

/// Builds the rustls configuration: the swappable serving cert, and, when a requestheader CA is known,
/// optional client certificates verified against it (clients without one may still use a bearer token).
pub fn server_config(
    cert: Arc<ServingCert>,
    requestheader: Option<&RequestHeaderConfig>,
) -> Result<rustls::ServerConfig, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let builder = match requestheader {
        Some(rh) => {
            let mut roots = rustls::RootCertStore::empty();
            for der in CertificateDer::pem_slice_iter(rh.client_ca_pem.as_bytes()) {
                let der = der.map_err(|e| TlsError::ClientCa(e.to_string()))?;
                roots
                    .add(der)
                    .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The common name of a DER certificate's subject.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}
