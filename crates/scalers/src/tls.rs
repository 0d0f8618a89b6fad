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
    /// Reads `ca`, `cert` (or `Cert`), `key`, `keyPassword` from `order`; cert and key must come
    /// together. An encrypted PKCS#8 key is decrypted with `keyPassword` here.
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
        // An encrypted key is decrypted here, once: the settings (and the pool key) hold the plain
        // PKCS#8 key as a secret, and nothing downstream needs the password.
        let key = match (key, params.secret("keyPassword", order)) {
            (Some(key), Some(password)) => Some(decrypt_key(&key, &password)?),
            (key, _) => key,
        };
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
            if key.expose().contains(ENCRYPTED_LABEL) {
                return Err(ConfigError::invalid(
                    "key",
                    "the key is encrypted: give its password as keyPassword",
                ));
            }
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

/// The PEM label of an encrypted PKCS#8 key (RFC 5958 `EncryptedPrivateKeyInfo`).
const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// Decrypts an `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2: PBKDF2 or scrypt, AES-CBC), as KEDA's
/// `keyPassword` does; an unencrypted key is returned as it is. Errors name the key, never a value.
fn decrypt_key(key: &SecretString, password: &SecretString) -> Result<SecretString, ConfigError> {
    use pkcs8::der::pem::PemLabel;
    let pem = key.expose();
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(ConfigError::invalid(
            "key",
            "legacy OpenSSL PEM encryption is not supported; convert the key with              `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
        ));
    }
    if !pem.contains(&format!("BEGIN {ENCRYPTED_LABEL}")) {
        return Ok(key.clone());
    }
    let (label, der) = pkcs8::der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|_| ConfigError::invalid("key", "not a PEM private key"))?;
    if label != pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL {
        return Err(ConfigError::invalid("key", "not a PEM private key"));
    }
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
        .map_err(|_| ConfigError::invalid("key", "not a PKCS#8 encrypted private key"))?;
    let plain = info.decrypt(password.expose().as_bytes()).map_err(|_| {
        ConfigError::invalid(
            "keyPassword",
            "does not decrypt the key (or the key's encryption scheme is not supported:              PBES2 with PBKDF2 or scrypt and AES-CBC are)",
        )
    })?;
    let pem = plain
        .to_pem("PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|_| ConfigError::invalid("key", "cannot re-encode the decrypted key"))?;
    Ok(SecretString::new(pem.as_str()))
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

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "canary-5ecret-9f3a";

    /// A client certificate and its key, the key also encrypted with PBES2 (PBKDF2-SHA256,
    /// AES-256-CBC) under `PASSWORD`, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
    fn encrypted_identity() -> (String, String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["ebb-client".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = key.serialize_der();
        let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &[7; 16], &[9; 16])
                .unwrap();
        let encrypted = info
            .encrypt_with_params(params, PASSWORD.as_bytes())
            .unwrap()
            .to_pem(ENCRYPTED_LABEL, pkcs8::LineEnding::LF)
            .unwrap();
        (cert.pem(), key.serialize_pem(), encrypted.to_string())
    }

    fn params(cert: &str, key: &str, password: Option<&str>) -> TriggerParams {
        let mut auth = vec![("cert", cert), ("key", key)];
        auth.extend(password.map(|p| ("keyPassword", p)));
        TriggerParams::new("redis", 0, [("address", "h:1")]).with_auth_params(auth)
    }

    #[test]
    fn an_encrypted_pkcs8_key_is_decrypted_with_key_password() {
        let (cert, plain, encrypted) = encrypted_identity();
        let order = crate::params::order::A_;
        let s = TlsSettings::from_params(&params(&cert, &encrypted, Some(PASSWORD)), order, false)
            .unwrap();
        let decrypted =
            PrivateKeyDer::from_pem_slice(s.key.as_ref().unwrap().expose().as_bytes()).unwrap();
        let original = PrivateKeyDer::from_pem_slice(plain.as_bytes()).unwrap();
        assert_eq!(decrypted.secret_der(), original.secret_der());
        assert!(s.client_config().is_ok());
        assert!(!format!("{s:?}").contains("PRIVATE KEY"));
        // A password for a key that is not encrypted changes nothing.
        let s =
            TlsSettings::from_params(&params(&cert, &plain, Some(PASSWORD)), order, false).unwrap();
        assert_eq!(s.key.as_ref().map(SecretString::expose), Some(plain.trim()));
    }

    #[test]
    fn key_password_errors_name_the_key_and_never_the_password() {
        let (cert, _, encrypted) = encrypted_identity();
        let order = crate::params::order::A_;
        let cases = [
            (
                params(&cert, &encrypted, Some("wrong-password")),
                "keyPassword",
            ),
            (params(&cert, &encrypted, None), "key"),
            (
                params(
                    &cert,
                    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                    Some(PASSWORD),
                ),
                "key",
            ),
        ];
        for (p, key) in cases {
            let err = TlsSettings::from_params(&p, order, false).unwrap_err();
            assert_eq!(err.key(), Some(key), "{err}");
            let shown = format!("{err} {err:?}");
            assert!(
                !shown.contains(PASSWORD) && !shown.contains("wrong-password"),
                "{shown}"
            );
        }
    }
}
