//! Resolving what a trigger may read: the scale target container's env and the parameters of its
//! (Cluster)TriggerAuthentication, in KEDA's order (keda-compat.md §4.5).
//!
//! The rules are pure; where Secrets, ConfigMaps and authentication objects come from is the
//! caller's [`ObjectLookup`]: the operator's caches, or the files given to `ebb check` / `ebb run`.

use std::collections::BTreeMap;

use ebb_api::trigger::{AuthenticationRefKind, ScaleTriggers};
use ebb_api::trigger_authentication::{PodIdentityProvider, TriggerAuthenticationSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::policy::ResolvedTrigger;

/// Where Secrets, ConfigMaps and (Cluster)TriggerAuthentications are read from.
pub trait ObjectLookup {
    /// The decoded data of Secret `namespace/name` (`data` base64-decoded, `stringData` merged).
    fn secret(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>>;
    /// The data of ConfigMap `namespace/name`.
    fn config_map(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>>;
    /// The spec of TriggerAuthentication `namespace/name`.
    fn trigger_authentication(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<TriggerAuthenticationSpec>;
    /// The spec of ClusterTriggerAuthentication `name`.
    fn cluster_trigger_authentication(&self, name: &str) -> Option<TriggerAuthenticationSpec>;
    /// The namespace whose Secrets and ConfigMaps a ClusterTriggerAuthentication reads
    /// (KEDA_CLUSTER_OBJECT_NAMESPACE, by default the operator's own).
    fn cluster_object_namespace(&self) -> &str;
}

/// Why a trigger's env or authentication could not be resolved. Never carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A non-optional Secret or ConfigMap the container env names does not exist.
    #[error("{kind} {namespace}/{name} referenced by container {container:?} not found")]
    MissingEnvSource {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The container whose env names it.
        container: String,
    },
    /// A non-optional key is absent from an existing Secret or ConfigMap.
    #[error("key {key:?} not found in {kind} {namespace}/{name}")]
    MissingKey {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The key.
        key: String,
    },
    /// An authentication source Ebb does not read yet.
    #[error("{0} in a TriggerAuthentication is not supported by Ebb yet")]
    Unsupported(&'static str),
}

impl AuthError {
    /// Short, stable reason for Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingEnvSource { .. } | AuthError::MissingKey { .. } => "not_found",
            AuthError::Unsupported(_) => "config",
        }
    }
}

/// The container KEDA resolves env from: `envSourceContainerName`, else the first.
pub fn env_source_container<'a>(pod: &'a PodSpec, name: Option<&str>) -> Option<&'a Container> {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => pod.containers.iter().find(|c| c.name == n),
        None => pod.containers.first(),
    }
}

/// A container's env as the scaler sees it: `envFrom` first (with prefixes), then `env` entries in
/// order, literal values expanding `$(VAR)` against what is already resolved (`$$` escapes),
/// `secretKeyRef` and `configMapKeyRef` read through `lookup`; `fieldRef` and `resourceFieldRef`
/// are skipped, as in KEDA.
pub fn container_env(
    container: &Container,
    namespace: &str,
    lookup: &dyn ObjectLookup,
) -> Result<BTreeMap<String, String>, AuthError> {
    let mut env = BTreeMap::new();
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.as_deref().unwrap_or("");
        let (kind, name, optional, data) = if let Some(r) = &source.config_map_ref {
            (
                "ConfigMap",
                r.name.as_str(),
                r.optional,
                lookup.config_map(namespace, &r.name),
            )
        } else if let Some(r) = &source.secret_ref {
            (
                "Secret",
                r.name.as_str(),
                r.optional,
                lookup.secret(namespace, &r.name),
            )
        } else {
            continue;
        };
        match data {
            Some(data) => env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v))),
            None if optional == Some(true) => {}
            None => {
                return Err(AuthError::MissingEnvSource {
                    kind,
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    container: container.name.clone(),
                });
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) => Some(expand(v, &env)),
            (None, Some(from)) => {
                if let Some(r) = &from.secret_key_ref {
                    key_ref(
                        "Secret",
                        namespace,
                        &r.name,
                        &r.key,
                        r.optional,
                        lookup.secret(namespace, &r.name),
                    )?
                } else if let Some(r) = &from.config_map_key_ref {
                    let data = lookup.config_map(namespace, &r.name);
                    key_ref("ConfigMap", namespace, &r.name, &r.key, r.optional, data)?
                } else {
                    None
                }
            }
            (None, None) => Some(String::new()),
        };
        if let Some(v) = value {
            env.insert(var.name.clone(), v);
        }
    }
    Ok(env)
}

fn key_ref(
    kind: &'static str,
    namespace: &str,
    name: &str,
    key: &str,
    optional: Option<bool>,
    data: Option<BTreeMap<String, String>>,
) -> Result<Option<String>, AuthError> {
    let optional = optional == Some(true);
    match data {
        Some(mut data) => match data.remove(key) {
            Some(v) => Ok(Some(v)),
            None if optional => Ok(None),
            None => Err(AuthError::MissingKey {
                kind,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                key: key.to_owned(),
            }),
        },
        None if optional => Ok(None),
        None => Err(AuthError::MissingEnvSource {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            container: String::new(),
        }),
    }
}

/// Kubernetes' `$(VAR)` expansion: known variables are replaced, unknown ones stay as written,
/// and `$$` is a literal `$`.
pub fn expand(value: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match env.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Resolves one trigger: the container env (`resolved_env`) and its authenticationRef's
/// parameters (`auth_params`). A missing or unreadable authentication object is not an error
/// here, as in KEDA: the scaler then reports the parameter it lacks.
pub fn resolve_trigger(
    trigger: &ScaleTriggers,
    namespace: &str,
    pod: Option<&PodSpec>,
    env_source_container_name: Option<&str>,
    lookup: &dyn ObjectLookup,
) -> Result<ResolvedTrigger, AuthError> {
    let resolved_env = match pod.and_then(|p| env_source_container(p, env_source_container_name)) {
        Some(c) => container_env(c, namespace, lookup)?,
        None => BTreeMap::new(),
    };
    let mut resolved = ResolvedTrigger {
        resolved_env,
        ..ResolvedTrigger::default()
    };
    let Some(auth_ref) = &trigger.authentication_ref else {
        return Ok(resolved);
    };
    let (spec, secrets_namespace) = match auth_ref.kind() {
        AuthenticationRefKind::TriggerAuthentication => (
            lookup.trigger_authentication(namespace, &auth_ref.name),
            namespace.to_owned(),
        ),
        AuthenticationRefKind::ClusterTriggerAuthentication => (
            lookup.cluster_trigger_authentication(&auth_ref.name),
            lookup.cluster_object_namespace().to_owned(),
        ),
    };
    let Some(spec) = spec else {
        return Ok(resolved);
    };
    resolved.pod_identity = spec
        .pod_identity
        .as_ref()
        .map(|p| provider_name(p.provider).to_owned());
    resolved.auth_params = auth_params(&spec, namespace, &secrets_namespace, pod, lookup)?;
    Ok(resolved)
}

fn provider_name(p: PodIdentityProvider) -> &'static str {
    match p {
        PodIdentityProvider::AzureWorkload => "azure-workload",
        PodIdentityProvider::Gcp => "gcp",
        PodIdentityProvider::Aws => "aws",
        PodIdentityProvider::AwsEks => "aws-eks",
        PodIdentityProvider::None => "none",
    }
}

/// A TriggerAuthentication's parameters in KEDA's order: `env[]` (from the named container of the
/// scale target, the first when unnamed), then ConfigMaps, then Secrets (a missing Secret or key
/// gives ""), later sources overwriting earlier ones for the same parameter.
fn auth_params(
    spec: &TriggerAuthenticationSpec,
    namespace: &str,
    secrets_namespace: &str,
    pod: Option<&PodSpec>,
    lookup: &dyn ObjectLookup,
) -> Result<BTreeMap<String, String>, AuthError> {
    let unsupported = [
        (spec.hashi_corp_vault.is_some(), "hashiCorpVault"),
        (spec.azure_key_vault.is_some(), "azureKeyVault"),
        (spec.gcp_secret_manager.is_some(), "gcpSecretManager"),
        (spec.aws_secret_manager.is_some(), "awsSecretManager"),
        (
            spec.bound_service_account_token
                .as_ref()
                .is_some_and(|b| !b.is_empty()),
            "boundServiceAccountToken",
        ),
        (spec.oauth2.is_some(), "oauth2"),
        (
            spec.file_path.as_ref().is_some_and(|p| !p.is_empty()),
            "filePath",
        ),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(AuthError::Unsupported(what));
    }
    let mut params = BTreeMap::new();
    for e in spec.env.iter().flatten() {
        // KEDA reads these from the first container when none is named, whatever envSourceContainerName says.
        let value = pod
            .and_then(|p| env_source_container(p, e.container_name.as_deref()))
            .and_then(|c| container_env(c, namespace, lookup).ok())
            .and_then(|mut env| env.remove(&e.name))
            .unwrap_or_default();
        params.insert(e.parameter.clone(), value);
    }
    for r in spec.config_map_target_ref.iter().flatten() {
        let value = lookup
            .config_map(secrets_namespace, &r.name)
            .and_then(|mut d| d.remove(&r.key))
            .unwrap_or_default();
        params.insert(r.parameter.clone(), value);
    }
    for r in spec.secret_target_ref.iter().flatten() {
        let value = lookup
            .secret(secrets_namespace, &r.name)
            .and_then(|mut d| d.remove(&r.key))
            .unwrap_or_default();
        params.insert(r.parameter.clone(), value);
    }
    Ok(params)
}

#[cfg(test)]
mod tests;
