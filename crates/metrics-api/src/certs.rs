//! Generated serving certificates, as KEDA's cert rotation does: a CA and one serving certificate for
//! the metrics API and webhook Services, kept in a Secret (default `kedaorg-certs`), the CA patched
//! into the APIService and the ValidatingWebhookConfiguration, and renewed before expiry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Patch, PatchParams, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::tls::ServingCert;

/// Generating or storing certificates failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen failed.
    #[error("generating a certificate")]
    Generate(#[from] rcgen::Error),
    /// The API server refused a read or write.
    #[error("{action}")]
    Kube {
        /// What was being done.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The generated pair was not usable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Where and for whom certificates are made.
#[derive(Clone, Debug)]
pub struct CertOptions {
    /// Namespace of the Secret and the Services.
    pub namespace: String,
    /// Secret name (`--cert-secret-name`, default `kedaorg-certs`).
    pub secret_name: String,
    /// DNS names of the serving certificate.
    pub dns_names: Vec<String>,
    /// APIService to patch (`v1beta1.external.metrics.k8s.io`); `None` to skip.
    pub api_service: Option<String>,
    /// ValidatingWebhookConfiguration to patch (`keda-admission`); `None` to skip.
    pub webhook: Option<String>,
    /// Lifetime of the CA.
    pub ca_validity: Duration,
    /// Lifetime of the serving certificate.
    pub cert_validity: Duration,
    /// Renew when less than this is left.
    pub renew_before: Duration,
}

const DAY: u64 = 24 * 3600;

impl CertOptions {
    /// KEDA's defaults for `namespace`: Services `keda-operator-metrics-apiserver` and
    /// `keda-admission-webhooks`, CA 10 years, serving certificate 1 year, renewed 90 days early.
    pub fn new(namespace: &str) -> Self {
        let mut dns_names = Vec::new();
        for service in ["keda-operator-metrics-apiserver", "keda-admission-webhooks"] {
            dns_names.push(format!("{service}.{namespace}.svc"));
            dns_names.push(format!("{service}.{namespace}.svc.cluster.local"));
        }
        Self {
            namespace: namespace.to_owned(),
            secret_name: "kedaorg-certs".into(),
            dns_names,
            api_service: Some("v1beta1.external.metrics.k8s.io".into()),
            webhook: Some("keda-admission".into()),
            ca_validity: Duration::from_secs(3650 * DAY),
            cert_validity: Duration::from_secs(365 * DAY),
            renew_before: Duration::from_secs(90 * DAY),
        }
    }
}

/// A CA and a serving certificate, PEM-encoded (the Secret's `ca.crt`, `ca.key`, `tls.crt`, `tls.key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// CA certificate.
    pub ca_crt: String,
    /// CA key.
    pub ca_key: String,
    /// Serving certificate.
    pub tls_crt: String,
    /// Serving key.
    pub tls_key: String,
}

fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = time_now();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::seconds(lifetime.as_secs() as i64);
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "KEDA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "KEDAORG");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A new CA (or `ca` reused) and a serving certificate for `opts.dns_names`.
pub fn generate(opts: &CertOptions, ca: Option<(&str, &str)>) -> Result<Bundle, CertError> {
    let (ca_crt, ca_key, issuer) = match ca {
        Some((crt, key)) => {
            let key_pair = KeyPair::from_pem(key)?;
            // The issuer's name must match the CA's subject: only CAs this module made are reused.
            let issuer = Issuer::new(ca_params(), key_pair);
            (crt.to_owned(), key.to_owned(), issuer)
        }
        None => {
            let key = KeyPair::generate()?;
            let mut params = ca_params();
            validity(&mut params, opts.ca_validity);
            let cert = params.self_signed(&key)?;
            let key_pem = key.serialize_pem();
            (cert.pem(), key_pem, Issuer::new(params, key))
        }
    };
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(opts.dns_names.clone())?;
    params.distinguished_name.push(
        DnType::CommonName,
        opts.dns_names.first().cloned().unwrap_or_default(),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params, opts.cert_validity);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Bundle {
        ca_crt,
        ca_key,
        tls_crt: cert.pem(),
        tls_key: key.serialize_pem(),
    })
}

/// Seconds until the first certificate in `pem` expires, and its DNS names.
fn inspect(pem: &str) -> Option<(i64, Vec<String>)> {
    let der = rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    let left = cert.validity().not_after.timestamp() - jiff::Timestamp::now().as_second();
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some((left, names))
}

use rustls_pki_types::pem::PemObject;

fn usable(pem: &str, opts: &CertOptions, lifetime_left: Duration, names: bool) -> bool {
    inspect(pem).is_some_and(|(left, have)| {
        left > lifetime_left.as_secs() as i64
            && (!names || opts.dns_names.iter().all(|n| have.contains(n)))
    })
}

fn kube_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> CertError {
    let action = action.into();
    move |source| CertError::Kube { action, source }
}

/// Makes sure the Secret holds a current bundle (creating or renewing it), patches the CA into the
/// APIService and webhook configuration, and returns the bundle. Idempotent: replicas that race
/// converge on the Secret version that was written first.
pub async fn ensure(client: kube::Client, opts: &CertOptions) -> Result<Bundle, CertError> {
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), &opts.namespace);
    let existing = secrets
        .get_opt(&opts.secret_name)
        .await
        .map_err(kube_err(format!("reading Secret {}", opts.secret_name)))?;
    let field = |s: &Secret, k: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(k))
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
            .unwrap_or_default()
    };
    let current = existing.as_ref().map(|s| Bundle {
        ca_crt: field(s, "ca.crt"),
        ca_key: field(s, "ca.key"),
        tls_crt: field(s, "tls.crt"),
        tls_key: field(s, "tls.key"),
    });
    let bundle = match &current {
        Some(b) if usable(&b.tls_crt, opts, opts.renew_before, true) && !b.tls_key.is_empty() => {
            b.clone()
        }
        _ => {
            // Keep a CA with life left, so clients trusting it need no new caBundle.
            let ca = current.as_ref().filter(|b| {
                !b.ca_key.is_empty() && usable(&b.ca_crt, opts, opts.cert_validity, false)
            });
            let bundle = generate(opts, ca.map(|b| (b.ca_crt.as_str(), b.ca_key.as_str())))?;
            write_secret(&secrets, opts, existing, &bundle).await?;
            bundle
        }
    };
    patch_ca_bundle(client, opts, &bundle.ca_crt).await?;
    Ok(bundle)
}

async fn write_secret(
    secrets: &kube::Api<Secret>,
    opts: &CertOptions,
    existing: Option<Secret>,
    bundle: &Bundle,
) -> Result<(), CertError> {
    let data = BTreeMap::from([
        (
            "ca.crt".to_owned(),
            ByteString(bundle.ca_crt.clone().into_bytes()),
        ),
        (
            "ca.key".to_owned(),
            ByteString(bundle.ca_key.clone().into_bytes()),
        ),
        (
            "tls.crt".to_owned(),
            ByteString(bundle.tls_crt.clone().into_bytes()),
        ),
        (
            "tls.key".to_owned(),
            ByteString(bundle.tls_key.clone().into_bytes()),
        ),
    ]);
    let action = format!("writing Secret {}", opts.secret_name);
    match existing {
        Some(mut secret) => {
            secret.data = Some(data);
            // resourceVersion is kept: a concurrent writer makes this a conflict, not an overwrite.
            secrets
                .replace(&opts.secret_name, &PostParams::default(), &secret)
                .await
                .map_err(kube_err(action))?;
        }
        None => {
            let secret = Secret {
                metadata: kube::core::ObjectMeta {
                    name: Some(opts.secret_name.clone()),
                    namespace: Some(opts.namespace.clone()),
                    ..Default::default()
                },
                type_: Some("kubernetes.io/tls".into()),
                data: Some(data),
                ..Default::default()
            };
            secrets
                .create(&PostParams::default(), &secret)
                .await
                .map_err(kube_err(action))?;
        }
    }
    Ok(())
}

async fn patch_ca_bundle(
    client: kube::Client,
    opts: &CertOptions,
    ca_pem: &str,
) -> Result<(), CertError> {
    let ca = ByteString(ca_pem.as_bytes().to_vec());
    if let Some(name) = &opts.api_service {
        let api: kube::Api<APIService> = kube::Api::all(client.clone());
        let patch = serde_json::json!({"spec": {"caBundle": ca}});
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {
                tracing::warn!(apiservice = %name, "APIService not found; caBundle not patched");
            }
            Err(e) => return Err(kube_err(format!("patching APIService {name}"))(e)),
        }
    }
    if let Some(name) = &opts.webhook {
        let api: kube::Api<ValidatingWebhookConfiguration> = kube::Api::all(client);
        match api
            .get_opt(name)
            .await
            .map_err(kube_err(format!("reading {name}")))?
        {
            Some(mut config) => {
                let mut changed = false;
                for webhook in config.webhooks.iter_mut().flatten() {
                    if webhook.client_config.ca_bundle.as_ref() != Some(&ca) {
                        webhook.client_config.ca_bundle = Some(ca.clone());
                        changed = true;
                    }
                }
                if changed {
                    api.replace(name, &PostParams::default(), &config)
                        .await
                        .map_err(kube_err(format!(
                            "patching ValidatingWebhookConfiguration {name}"
                        )))?;
                }
            }
            None => {
                tracing::warn!(webhook = %name, "ValidatingWebhookConfiguration not found; caBundle not patched")
            }
        }
    }
    Ok(())
}

/// Keeps `serving` current: [`ensure`] now and every `every`, swapping in the bundle when it changed.
pub async fn rotate(
    client: kube::Client,
    opts: CertOptions,
    serving: Arc<ServingCert>,
    every: Duration,
) {
    let mut last: Option<Bundle> = None;
    loop {
        match ensure(client.clone(), &opts).await {
            Ok(bundle) if last.as_ref() != Some(&bundle) => {
                match serving.set_pem(bundle.tls_crt.as_bytes(), bundle.tls_key.as_bytes()) {
                    Ok(()) => last = Some(bundle),
                    Err(error) => tracing::warn!(%error, "generated certificate not usable"),
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "certificate rotation failed"),
        }
        tokio::time::sleep(every).await;
    }
}
