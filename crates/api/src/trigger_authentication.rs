//! `TriggerAuthentication` and `ClusterTriggerAuthentication`: where a scaler's secrets come from.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod secret_stores;

pub use secret_stores::{
    AwsSecretManager, AwsSecretManagerCredentials, AwsSecretManagerSecret, AzureKeyVault,
    AzureKeyVaultCloudInfo, AzureKeyVaultCredentials, AzureKeyVaultSecret, GcpCredentials,
    GcpSecretManager, GcpSecretManagerSecret, HashiCorpVault, SecretKeyRef, ValueFrom,
    ValueFromSecret, VaultAuthentication, VaultCredential, VaultPkiData, VaultSecret,
    VaultSecretType,
};

/// Ways a trigger can authenticate; every source present contributes parameters.
// Each printcolumn(...) repeats name/type_/json_path; clippy reads those as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "keda.sh",
    version = "v1alpha1",
    kind = "TriggerAuthentication",
    plural = "triggerauthentications",
    singular = "triggerauthentication",
    shortname = "ta",
    shortname = "triggerauth",
    namespaced,
    status = "TriggerAuthenticationStatus",
    derive = "PartialEq",
    doc = "TriggerAuthentication tells triggers in its namespace how to authenticate.",
    printcolumn(
        name = "PodIdentity",
        type_ = "string",
        json_path = ".spec.podIdentity.provider"
    ),
    printcolumn(
        name = "Secret",
        type_ = "string",
        json_path = ".spec.secretTargetRef[*].name"
    ),
    printcolumn(name = "Env", type_ = "string", json_path = ".spec.env[*].name"),
    printcolumn(
        name = "VaultAddress",
        type_ = "string",
        json_path = ".spec.hashiCorpVault.address"
    ),
    printcolumn(
        name = "ScaledObjects",
        type_ = "string",
        json_path = ".status.scaledobjects",
        priority = 1
    ),
    printcolumn(
        name = "ScaledJobs",
        type_ = "string",
        json_path = ".status.scaledjobs",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TriggerAuthenticationSpec {
    /// Platform identity of the operator or workload (Azure workload identity, GCP, AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_identity: Option<AuthPodIdentity>,
    /// Parameters read from Secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_target_ref: Option<Vec<AuthSecretTargetRef>>,
    /// Parameters read from the scale target's container environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<AuthEnvironment>>,
    /// Parameters read from HashiCorp Vault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashi_corp_vault: Option<HashiCorpVault>,
    /// Parameters read from Azure Key Vault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_key_vault: Option<AzureKeyVault>,
    /// Parameters read from GCP Secret Manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcp_secret_manager: Option<GcpSecretManager>,
    /// Parameters read from AWS Secrets Manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_secret_manager: Option<AwsSecretManager>,
    /// Parameters read from ConfigMaps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map_target_ref: Option<Vec<AuthConfigMapTargetRef>>,
    /// Parameters set to bound service account tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_service_account_token: Option<Vec<BoundServiceAccountToken>>,
    /// JSON file (string to string) under the operator's auth root path; ClusterTriggerAuthentication only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// An OAuth2 client-credentials token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
}

/// Spec of a ClusterTriggerAuthentication: the same fields as a TriggerAuthentication's.
// Each printcolumn(...) repeats name/type_/json_path; clippy reads those as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "keda.sh",
    version = "v1alpha1",
    kind = "ClusterTriggerAuthentication",
    plural = "clustertriggerauthentications",
    singular = "clustertriggerauthentication",
    shortname = "cta",
    shortname = "clustertriggerauth",
    status = "TriggerAuthenticationStatus",
    derive = "PartialEq",
    doc = "ClusterTriggerAuthentication tells triggers in any namespace how to authenticate.",
    printcolumn(
        name = "PodIdentity",
        type_ = "string",
        json_path = ".spec.podIdentity.provider"
    ),
    printcolumn(
        name = "Secret",
        type_ = "string",
        json_path = ".spec.secretTargetRef[*].name"
    ),
    printcolumn(name = "Env", type_ = "string", json_path = ".spec.env[*].name"),
    printcolumn(name = "FilePath", type_ = "string", json_path = ".spec.filePath"),
    printcolumn(
        name = "VaultAddress",
        type_ = "string",
        json_path = ".spec.hashiCorpVault.address"
    ),
    printcolumn(
        name = "ScaledObjects",
        type_ = "string",
        json_path = ".status.scaledobjects",
        priority = 1
    ),
    printcolumn(
        name = "ScaledJobs",
        type_ = "string",
        json_path = ".status.scaledjobs",
        priority = 1
    )
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterTriggerAuthenticationSpec(pub TriggerAuthenticationSpec);

impl Deref for ClusterTriggerAuthenticationSpec {
    type Target = TriggerAuthenticationSpec;

    fn deref(&self) -> &TriggerAuthenticationSpec {
        &self.0
    }
}

impl DerefMut for ClusterTriggerAuthenticationSpec {
    fn deref_mut(&mut self) -> &mut TriggerAuthenticationSpec {
        &mut self.0
    }
}

impl From<TriggerAuthenticationSpec> for ClusterTriggerAuthenticationSpec {
    fn from(spec: TriggerAuthenticationSpec) -> Self {
        Self(spec)
    }
}

/// Which objects use a (Cluster)TriggerAuthentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerAuthenticationStatus {
    /// Comma-separated names of ScaledObjects referring to it.
    #[serde(rename = "scaledobjects", skip_serializing_if = "Option::is_none")]
    pub scaled_objects: Option<String>,
    /// Comma-separated names of ScaledJobs referring to it.
    #[serde(rename = "scaledjobs", skip_serializing_if = "Option::is_none")]
    pub scaled_jobs: Option<String>,
}

/// Platform-native identity used to reach cloud services.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthPodIdentity {
    /// Identity provider.
    pub provider: PodIdentityProvider,
    /// Azure client id of the identity to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    /// Azure tenant id overriding the default; requires identityId.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_tenant_id: Option<String>,
    /// Azure authority host overriding the default; requires identityTenantId.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_authority_host: Option<String>,
    /// AWS role to assume; excludes identityOwner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// External id presented when assuming roleArn.
    #[serde(rename = "externalID", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Whose identity to use with auto discovery: keda or workload; excludes roleArn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_owner: Option<IdentityOwner>,
}

/// Pod identity provider.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum PodIdentityProvider {
    /// Azure workload identity.
    #[serde(rename = "azure-workload")]
    AzureWorkload,
    /// GCP workload identity.
    #[serde(rename = "gcp")]
    Gcp,
    /// AWS (IRSA or EKS pod identity, with optional role assumption).
    #[serde(rename = "aws")]
    Aws,
    /// AWS EKS, the older IRSA-only provider.
    #[serde(rename = "aws-eks")]
    AwsEks,
    /// No pod identity.
    #[serde(rename = "none")]
    None,
}

/// Whose identity a pod identity provider uses.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum IdentityOwner {
    /// The operator's own identity.
    Keda,
    /// The scaled workload's identity.
    Workload,
}

/// A parameter read from a key of a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSecretTargetRef {
    /// Trigger parameter to set.
    pub parameter: String,
    /// Secret name.
    pub name: String,
    /// Key in the Secret.
    pub key: String,
}

/// A parameter read from a key of a ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfigMapTargetRef {
    /// Trigger parameter to set.
    pub parameter: String,
    /// ConfigMap name.
    pub name: String,
    /// Key in the ConfigMap.
    pub key: String,
}

/// A parameter read from an environment variable of the scale target's container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthEnvironment {
    /// Trigger parameter to set.
    pub parameter: String,
    /// Environment variable name.
    pub name: String,
    /// Container to read it from (default: the envSourceContainerName or first container).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
}

/// A parameter set to a token of a service account, requested through TokenRequest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoundServiceAccountToken {
    /// Trigger parameter to set.
    pub parameter: String,
    /// Service account in the object's namespace.
    pub service_account_name: String,
}

/// An OAuth2 token obtained with client credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2 {
    /// Grant type (default clientCredentials, the only one).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "clientCredentials"))]
    pub type_: Option<OAuth2Type>,
    /// Client id.
    pub client_id: String,
    /// Client secret, from a Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ValueFromSecret>,
    /// Token endpoint.
    pub token_url: String,
    /// Scopes to request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Extra form parameters sent to the token endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url_params: Option<BTreeMap<String, String>>,
}

/// OAuth2 grant type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OAuth2Type {
    /// Client credentials grant.
    #[default]
    ClientCredentials,
}
