//! The front-proxy ("requestheader") configuration from ConfigMap
//! `kube-system/extension-apiserver-authentication`, and a watcher that keeps it current.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::{WatchStreamExt, watcher};

/// Namespace of the authentication ConfigMap.
pub const CONFIGMAP_NAMESPACE: &str = "kube-system";
/// Name of the authentication ConfigMap.
pub const CONFIGMAP_NAME: &str = "extension-apiserver-authentication";

/// How to trust the aggregator (kube-apiserver's front proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHeaderConfig {
    /// PEM bundle of CAs that sign front-proxy client certificates (`requestheader-client-ca-file`).
    pub client_ca_pem: String,
    /// Common names allowed to act as front proxy; empty = any verified certificate.
    pub allowed_names: Vec<String>,
    /// Headers holding the user name, first non-empty wins (`X-Remote-User`).
    pub username_headers: Vec<String>,
    /// Headers holding groups, all values (`X-Remote-Group`).
    pub group_headers: Vec<String>,
    /// Header prefixes for extra attributes (`X-Remote-Extra-`).
    pub extra_headers_prefix: Vec<String>,
}

impl RequestHeaderConfig {
    /// A configuration trusting `client_ca_pem` with Kubernetes' default header names.
    pub fn new(client_ca_pem: impl Into<String>) -> Self {
        Self {
            client_ca_pem: client_ca_pem.into(),
            allowed_names: Vec::new(),
            username_headers: vec!["X-Remote-User".into()],
            group_headers: vec!["X-Remote-Group".into()],
            extra_headers_prefix: vec!["X-Remote-Extra-".into()],
        }
    }

    /// Reads the ConfigMap's data; `None` when it has no `requestheader-client-ca-file`.
    /// List values are JSON arrays, as kube-apiserver writes them.
    pub fn from_configmap_data(data: &BTreeMap<String, String>) -> Option<Self> {
        let ca = data.get("requestheader-client-ca-file")?;
        let list = |key: &str, default: &[&str]| -> Vec<String> {
            match data.get(key) {
                Some(v) => serde_json::from_str::<Vec<String>>(v).unwrap_or_default(),
                None => default.iter().map(|s| (*s).to_owned()).collect(),
            }
        };
        Some(Self {
            client_ca_pem: ca.clone(),
            allowed_names: list("requestheader-allowed-names", &[]),
            username_headers: list("requestheader-username-headers", &["X-Remote-User"]),
            group_headers: list("requestheader-group-headers", &["X-Remote-Group"]),
            extra_headers_prefix: list("requestheader-extra-headers-prefix", &["X-Remote-Extra-"]),
        })
    }

    /// Whether a verified client certificate with this common name may act as front proxy.
    pub fn allows(&self, common_name: Option<&str>) -> bool {
        self.allowed_names.is_empty()
            || common_name.is_some_and(|cn| self.allowed_names.iter().any(|n| n == cn))
    }
}

/// Reads the ConfigMap once.
pub async fn load(client: kube::Client) -> Result<Option<RequestHeaderConfig>, kube::Error> {
    let api: kube::Api<ConfigMap> = kube::Api::namespaced(client, CONFIGMAP_NAMESPACE);
    let cm = api.get_opt(CONFIGMAP_NAME).await?;
    Ok(cm
        .and_then(|cm| cm.data)
        .and_then(|d| RequestHeaderConfig::from_configmap_data(&d)))
}

/// Watches the ConfigMap and calls `apply` with every new configuration; runs until dropped.
pub async fn watch(client: kube::Client, apply: Arc<dyn Fn(RequestHeaderConfig) + Send + Sync>) {
    let api: kube::Api<ConfigMap> = kube::Api::namespaced(client, CONFIGMAP_NAMESPACE);
    let config = watcher::Config::default().fields(&format!("metadata.name={CONFIGMAP_NAME}"));
    let mut last: Option<RequestHeaderConfig> = None;
    let mut stream = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    while let Some(event) = stream.next().await {
        let cm = match event {
            Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => cm,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(%error, "watching {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}");
                continue;
            }
        };
        let Some(rh) = cm
            .data
            .as_ref()
            .and_then(RequestHeaderConfig::from_configmap_data)
        else {
            continue;
        };
        if last.as_ref() != Some(&rh) {
            apply(rh.clone());
            last = Some(rh);
        }
    }
}
