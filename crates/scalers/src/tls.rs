//! TLS settings shared by every scaler: one rustls 0.23 + ring `ClientConfig` builder.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::ConfigError;
use crate::params::{Source, TriggerParams};
use crate::secret::SecretString;

/// TLS options as KEDA's scalers take them (`ca`, `cert`, `key` PEM; `unsafeSsl`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsSettings {
    /// Extra CA certificates (PEM), trusted in addition to the system roots.
    pub ca: Option<String>,
    /// Client certificate chain (PEM).
    pub cert: Option<String>,
    /// Client private key (PEM).
    pub key: Option<SecretString>,
    /// `unsafeSsl`: skip server certificate verification.
    pub insecure: bool,
}

impl TlsSettings {
    /// Reads `ca`, `cert` (or `Cert`), `key`, `keyPassword` from `order`; cert and key must come together.
    pub fn from_params(
        params: &TriggerParams,
        order: &[Source],
        insecure: bool,
    ) -> Result<Self, ConfigError> {
        let cert: Option<String> = params.optional("cert;Cert", order)?;
        let key = params.secret("key", order);
        if cert.is_some() != key.is_some() {
            return Err(ConfigError::invalid(
                if cert.is_some() { "key" } else { "cert" },
                "cert and key must be given together",
            ));
        }
        if params.has("keyPassword", order) {
            // Encrypted PEM keys need a PKCS#8 decryptor Ebb does not ship yet.
            return Err(ConfigError::invalid(
                "keyPassword",
                "encrypted client keys are not supported; provide an unencrypted key",
            ));
        }
        let settings = Self {
            ca: params.optional("ca", order)?,
            cert,
            key,
            insecure,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that the PEM blocks parse (no network).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(ca) = &self.ca {
            parse_certs(ca).map_err(|m| ConfigError::invalid("ca", m))?;
        }
        if let Some(cert) = &self.cert {
            parse_certs(cert).map_err(|m| ConfigError::invalid("cert", m))?;
        }
        if let Some(key) = &self.key {
            PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
                .map_err(|_| ConfigError::invalid("key", "not a PEM private key"))?;
        }
        Ok(())
    }

    /// Checks the PEM material given in the trigger (CA, client certificate and key) without
    /// building a TLS config: what `client_config` would refuse, refused early as a config error.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(ca) = &self.ca {
            parse_certs(ca).map_err(|m| ConfigError::invalid("ca", m))?;
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            parse_certs(cert).map_err(|m| ConfigError::invalid("cert", m))?;
            PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
                .map_err(|_| ConfigError::invalid("key", "not a PEM private key"))?;
        }
        Ok(())
    }

    /// A rustls client config with the ring provider.
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::invalid("tls", e.to_string()))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            let mut roots = system_roots().clone();
            if let Some(ca) = &self.ca {
                for cert in parse_certs(ca).map_err(|m| ConfigError::invalid("ca", m))? {
                    roots
                        .add(cert)
                        .map_err(|e| ConfigError::invalid("ca", e.to_string()))?;
                }
            }
            builder.with_root_certificates(roots)
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = parse_certs(cert).map_err(|m| ConfigError::invalid("cert", m))?;
                let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
                    .map_err(|_| ConfigError::invalid("key", "not a PEM private key"))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| ConfigError::invalid("cert", e.to_string()))
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}

fn parse_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| "not a PEM certificate".to_owned())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".to_owned());
    }
    Ok(certs)
}

/// The system trust store (`SSL_CERT_FILE` or Debian's bundle), read once.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let path = std::env::var("SSL_CERT_FILE")
            .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".to_owned());
        if let Ok(iter) = CertificateDer::pem_file_iter(&path) {
            for cert in iter.flatten() {
                // A malformed root in the bundle should not disable TLS for everyone.
                let _ = roots.add(cert);
            }
        }
        roots
    })
}

/// `unsafeSsl: true`: accept any server certificate, still check handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
