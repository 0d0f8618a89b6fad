//! KEDA's (Cluster)TriggerAuthentication admission checks: pod identity, oauth2, filePath.

use ebb_api::trigger_authentication::{
    AuthPodIdentity, IdentityOwner, PodIdentityProvider, TriggerAuthenticationSpec,
};

use crate::Violation;

/// Which of the two kinds is being checked: `filePath` is only valid on the cluster-scoped one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Namespaced,
    Cluster,
}

/// Every check that needs nothing but the object itself.
pub(crate) fn check(spec: &TriggerAuthenticationSpec, scope: Scope, out: &mut Vec<Violation>) {
    if let Some(identity) = &spec.pod_identity {
        check_pod_identity(identity, "spec.podIdentity", out);
    }
    if let Some(identity) = spec
        .azure_key_vault
        .as_ref()
        .and_then(|v| v.pod_identity.as_ref())
    {
        check_pod_identity(identity, "spec.azureKeyVault.podIdentity", out);
    }
    if let Some(oauth) = &spec.oauth2 {
        if oauth.client_id.trim().is_empty() {
            out.push(Violation::new(
                "spec.oauth2.clientId",
                "clientId is required",
            ));
        }
        let url = oauth.token_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            out.push(Violation::new(
                "spec.oauth2.tokenUrl",
                format!("{url:?} must be an http:// or https:// URL"),
            ));
        }
    }
    if let Some(path) = spec.file_path.as_deref().filter(|p| !p.is_empty()) {
        if scope == Scope::Namespaced {
            out.push(Violation::new(
                "spec.filePath",
                "filePath is only allowed in a ClusterTriggerAuthentication",
            ));
        } else if path.starts_with('/') || path.split('/').any(|part| part == "..") {
            out.push(Violation::new(
                "spec.filePath",
                format!("{path:?} must be relative to the operator's auth root, without '..'"),
            ));
        }
    }
    for (i, s) in spec.secret_target_ref.iter().flatten().enumerate() {
        check_ref(
            &s.parameter,
            &s.name,
            &s.key,
            &format!("spec.secretTargetRef[{i}]"),
            out,
        );
    }
    for (i, c) in spec.config_map_target_ref.iter().flatten().enumerate() {
        check_ref(
            &c.parameter,
            &c.name,
            &c.key,
            &format!("spec.configMapTargetRef[{i}]"),
            out,
        );
    }
}

fn check_ref(parameter: &str, name: &str, key: &str, path: &str, out: &mut Vec<Violation>) {
    for (value, field) in [(parameter, "parameter"), (name, "name"), (key, "key")] {
        if value.trim().is_empty() {
            out.push(Violation::new(
                format!("{path}.{field}"),
                format!("{field} is required"),
            ));
        }
    }
}

fn check_pod_identity(identity: &AuthPodIdentity, path: &str, out: &mut Vec<Violation>) {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    match identity.provider {
        PodIdentityProvider::AzureWorkload => {
            // An explicitly empty id means "no identity" to Azure's SDK: KEDA refuses it.
            if identity
                .identity_id
                .as_deref()
                .is_some_and(|s| s.trim().is_empty())
            {
                out.push(Violation::new(
                    format!("{path}.identityId"),
                    "identityId must not be empty",
                ));
            }
            if identity
                .identity_tenant_id
                .as_deref()
                .is_some_and(|s| s.trim().is_empty())
            {
                out.push(Violation::new(
                    format!("{path}.identityTenantId"),
                    "identityTenantId must not be empty",
                ));
            }
            if set(&identity.identity_authority_host) && !set(&identity.identity_tenant_id) {
                out.push(Violation::new(
                    format!("{path}.identityAuthorityHost"),
                    "identityAuthorityHost requires identityTenantId",
                ));
            }
        }
        PodIdentityProvider::Aws => {
            if set(&identity.role_arn) && identity.identity_owner == Some(IdentityOwner::Workload) {
                out.push(Violation::new(
                    format!("{path}.roleArn"),
                    "roleArn cannot be combined with identityOwner workload",
                ));
            }
            if set(&identity.external_id) && !set(&identity.role_arn) {
                out.push(Violation::new(
                    format!("{path}.externalID"),
                    "externalID requires roleArn",
                ));
            }
        }
        PodIdentityProvider::Gcp | PodIdentityProvider::AwsEks | PodIdentityProvider::None => {}
    }
}
