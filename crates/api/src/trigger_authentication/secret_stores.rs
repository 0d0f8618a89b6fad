//! External secret stores a TriggerAuthentication can read: Vault, Azure, GCP and AWS.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AuthPodIdentity;
use crate::constants::{DEFAULT_GCP_SECRET_VERSION, DEFAULT_VAULT_SERVICE_ACCOUNT_TOKEN_PATH};

/// Secrets read from HashiCorp Vault.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HashiCorpVault {
    /// Vault server address.
    pub address: String,
    /// Vault namespace (Enterprise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// How to log in: token or kubernetes.
    pub authentication: VaultAuthentication,
    /// Vault role for kubernetes authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Mount path of the kubernetes auth method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    /// Token or service account used to log in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<VaultCredential>,
    /// Secrets to read; at least one.
    #[schemars(length(min = 1))]
    pub secrets: Vec<VaultSecret>,
}

/// Vault login method.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum VaultAuthentication {
    /// A static token.
    Token,
    /// A Kubernetes service account token.
    Kubernetes,
}

/// Vault login credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultCredential {
    /// Vault token for token authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Path of a service account token file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Service account whose bound token is used for kubernetes authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
}

impl VaultCredential {
    /// Service account token path, the in-pod default when unset or empty.
    pub fn service_account(&self) -> &str {
        match self.service_account.as_deref() {
            Some(path) if !path.is_empty() => path,
            _ => DEFAULT_VAULT_SERVICE_ACCOUNT_TOKEN_PATH,
        }
    }
}

/// One Vault secret mapped to a trigger parameter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultSecret {
    /// Trigger parameter to set.
    pub parameter: String,
    /// Path of the secret in Vault.
    pub path: String,
    /// Key inside the secret.
    pub key: String,
    /// Engine type: secretV2, secret, pki, or empty for auto.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<VaultSecretType>,
    /// Certificate request for the pki engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pki_data: Option<VaultPkiData>,
}

/// Vault secret engine type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum VaultSecretType {
    /// Not given: decided from the response.
    #[default]
    #[serde(rename = "")]
    Unspecified,
    /// KV version 2.
    #[serde(rename = "secretV2")]
    SecretV2,
    /// KV version 1.
    #[serde(rename = "secret")]
    Secret,
    /// PKI engine: a certificate is issued.
    #[serde(rename = "pki")]
    Pki,
}

/// Certificate request sent to Vault's pki engine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultPkiData {
    /// Common name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Subject alternative DNS names, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt_names: Option<String>,
    /// IP SANs, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_sans: Option<String>,
    /// URI SANs, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_sans: Option<String>,
    /// Other SANs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_sans: Option<String>,
    /// Requested lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Output format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A value taken from a key of a Secret: `{valueFrom: {secretKeyRef: {name, key}}}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueFromSecret {
    /// Where the value comes from.
    pub value_from: ValueFrom,
}

/// Source of a value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueFrom {
    /// Secret and key holding the value.
    pub secret_key_ref: SecretKeyRef,
}

/// A key of a Secret in the object's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key in the Secret.
    pub key: String,
}

/// Secrets read from Azure Key Vault.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureKeyVault {
    /// Vault URI, e.g. `https://myvault.vault.azure.net`.
    pub vault_uri: String,
    /// Service principal credentials; alternative to podIdentity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<AzureKeyVaultCredentials>,
    /// Identity used to reach the vault; alternative to credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_identity: Option<AuthPodIdentity>,
    /// Secrets to read; at least one.
    #[schemars(length(min = 1))]
    pub secrets: Vec<AzureKeyVaultSecret>,
    /// Azure cloud to use (default the public cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<AzureKeyVaultCloudInfo>,
}

/// Service principal used to reach Azure Key Vault.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureKeyVaultCredentials {
    /// Application (client) id.
    pub client_id: String,
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Client secret, from a Secret.
    pub client_secret: ValueFromSecret,
}

/// One Key Vault secret mapped to a trigger parameter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureKeyVaultSecret {
    /// Trigger parameter to set.
    pub parameter: String,
    /// Secret name in the vault.
    pub name: String,
    /// Secret version (default: latest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Which Azure cloud hosts the vault.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureKeyVaultCloudInfo {
    /// Cloud name, e.g. AzurePublicCloud, or Private with the endpoints below.
    #[serde(rename = "type")]
    pub type_: String,
    /// Key Vault resource URL for a private cloud.
    #[serde(
        rename = "keyVaultResourceURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_vault_resource_url: Option<String>,
    /// Active Directory endpoint for a private cloud.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_directory_endpoint: Option<String>,
}

/// Secrets read from GCP Secret Manager.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpSecretManager {
    /// Secrets to read; at least one.
    #[schemars(length(min = 1))]
    pub secrets: Vec<GcpSecretManagerSecret>,
    /// Service account key; alternative to podIdentity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<GcpCredentials>,
    /// Identity used to reach Secret Manager; alternative to credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_identity: Option<AuthPodIdentity>,
}

/// GCP service account key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpCredentials {
    /// Service account JSON key, from a Secret.
    pub client_secret: ValueFromSecret,
}

/// One GCP secret mapped to a trigger parameter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpSecretManagerSecret {
    /// Trigger parameter to set.
    pub parameter: String,
    /// Secret id.
    pub id: String,
    /// Secret version (default latest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl GcpSecretManagerSecret {
    /// The version, `latest` when unset or empty.
    pub fn version(&self) -> &str {
        match self.version.as_deref() {
            Some(v) if !v.is_empty() => v,
            _ => DEFAULT_GCP_SECRET_VERSION,
        }
    }
}

/// Secrets read from AWS Secrets Manager.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsSecretManager {
    /// Secrets to read; at least one.
    #[schemars(length(min = 1))]
    pub secrets: Vec<AwsSecretManagerSecret>,
    /// Access keys; alternative to podIdentity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<AwsSecretManagerCredentials>,
    /// Identity used to reach Secrets Manager; alternative to credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_identity: Option<AuthPodIdentity>,
    /// AWS region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// AWS access keys, each from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsSecretManagerCredentials {
    /// Access key id.
    pub access_key: ValueFromSecret,
    /// Secret access key.
    pub access_secret_key: ValueFromSecret,
    /// Session token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<ValueFromSecret>,
}

/// One AWS secret mapped to a trigger parameter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsSecretManagerSecret {
    /// Trigger parameter to set.
    pub parameter: String,
    /// Secret name or ARN.
    pub name: String,
    /// Version id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Version stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_stage: Option<String>,
    /// Key inside a JSON secret string; the whole string when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
}
