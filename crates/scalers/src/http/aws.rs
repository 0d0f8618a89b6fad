//! AWS request signing (SigV4) and credentials as KEDA's AWS scalers take them
//! (`pkg/scalers/aws`): static keys, Ebb's own identity, or a role assumed through STS.
//!
//! | Param | Source | Notes |
//! |---|---|---|
//! | `identityOwner` | M | `pod` (default): the trigger's credentials; `operator`: Ebb's own identity |
//! | `awsRoleArn` | A | assume this role (STS `AssumeRole`) with Ebb's own identity |
//! | `awsExternalID` | A | `ExternalId` for the role, when the role's trust policy asks for one |
//! | `awsAccessKeyID` / `awsAccessKeyId`, `awsSecretAccessKey`, `awsSessionToken` | A (legacy M, E) | static keys |
//!
//! `podIdentity.provider: aws` means Ebb's own identity, or the role in `awsRoleArn` assumed with it.
//! "Ebb's own identity" is, for the operator and off-cluster alike, the process environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), read when a request is made;
//! EKS web identity (IRSA) and the instance metadata service are not read.
//!
//! Assumed-role credentials last 15 minutes (STS's default, as KEDA's SDK requests) and are renewed
//! a minute before they expire; one set per (STS endpoint, role, base identity) per HTTP client,
//! shared by every trigger that uses it. STS goes to the scaler's endpoint override when it has one
//! (`awsEndpoint`), else `https://sts.<region>.amazonaws.com`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use super::HttpClient;
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::params::{TriggerParams, order};
use crate::secret::SecretString;

/// Assumed-role credentials are renewed this long before they expire.
pub const ROLE_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// `DurationSeconds` asked of STS (its default, and what KEDA's SDK asks).
pub const ROLE_DURATION: Duration = Duration::from_secs(900);

/// AWS credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AwsCredentials {
    /// Access key id (not secret, but identifies the caller).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: SecretString,
    /// Session token for temporary credentials.
    pub session_token: Option<SecretString>,
}

impl AwsCredentials {
    /// The secret parts, for scrubbing messages.
    pub(crate) fn secrets(&self) -> Vec<&SecretString> {
        std::iter::once(&self.secret_access_key)
            .chain(self.session_token.as_ref())
            .collect()
    }

    /// Ebb's own identity from `env` (the process environment in production).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        Some(Self {
            access_key_id: get("AWS_ACCESS_KEY_ID")?,
            secret_access_key: SecretString::new(get("AWS_SECRET_ACCESS_KEY")?),
            session_token: get("AWS_SESSION_TOKEN").map(SecretString::new),
        })
    }
}

/// The identity a role is assumed with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BaseIdentity {
    /// Ebb's own identity (process environment).
    Ambient,
    /// Given keys (tests; callers that resolve the base identity themselves).
    Static(AwsCredentials),
}

impl BaseIdentity {
    fn resolve(&self) -> Result<AwsCredentials, MeasureError> {
        match self {
            BaseIdentity::Static(c) => Ok(c.clone()),
            BaseIdentity::Ambient => ambient(),
        }
    }
}

fn ambient() -> Result<AwsCredentials, MeasureError> {
    AwsCredentials::from_env(|k| std::env::var(k).ok()).ok_or_else(|| {
        MeasureError::new(
            MeasureReason::Config,
            "aws: Ebb's own identity has no credentials: set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY in Ebb's environment, or give the trigger awsAccessKeyID and \
             awsSecretAccessKey",
        )
    })
}

/// An STS `AssumeRole` call's identity; also its key in the shared credentials pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleKey {
    /// STS endpoint, without a trailing `/`.
    pub sts_endpoint: String,
    /// Signing region.
    pub region: String,
    /// `awsRoleArn`.
    pub role_arn: String,
    /// `awsExternalID`.
    pub external_id: Option<String>,
    /// Who assumes the role.
    pub base: BaseIdentity,
}

/// Where a request's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AwsIdentity {
    /// Keys given to the trigger.
    Static(AwsCredentials),
    /// Ebb's own identity (`identityOwner: operator`, or `podIdentity: aws` without a role).
    Ambient,
    /// A role assumed through STS.
    AssumeRole(RoleKey),
}

/// How requests to one AWS service are signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AwsAuth {
    /// Signing region (`awsRegion`).
    pub region: String,
    /// Signing name: `sqs`, `aps`, `sts`, ...
    pub service: String,
    /// Credentials.
    pub identity: AwsIdentity,
}

impl AwsAuth {
    /// Reads KEDA's AWS auth parameters (see the module docs); `sts_endpoint` is where a role is
    /// assumed.
    pub fn from_params(
        params: &TriggerParams,
        region: &str,
        service: &str,
        sts_endpoint: &str,
    ) -> Result<Self, ConfigError> {
        let role = |base: BaseIdentity| -> Result<Option<AwsIdentity>, ConfigError> {
            let Some(role_arn) = params.optional::<String>("awsRoleArn", order::A_)? else {
                return Ok(None);
            };
            if !role_arn.starts_with("arn:") {
                return Err(ConfigError::invalid(
                    "awsRoleArn",
                    format!("{role_arn:?} is not an ARN (arn:aws:iam::<account>:role/<name>)"),
                ));
            }
            Ok(Some(AwsIdentity::AssumeRole(RoleKey {
                sts_endpoint: sts_endpoint.trim_end_matches('/').to_owned(),
                region: region.to_owned(),
                role_arn,
                external_id: params.optional("awsExternalID", order::A_)?,
                base,
            })))
        };
        let identity = match params.pod_identity.as_deref().unwrap_or("none") {
            "" | "none" => {
                let owner = params.one_of(
                    "identityOwner",
                    order::M_,
                    &["pod", "operator"],
                    Some("pod"),
                )?;
                if owner == "operator" {
                    AwsIdentity::Ambient
                } else if let Some(role) = role(BaseIdentity::Ambient)? {
                    role
                } else {
                    AwsIdentity::Static(AwsCredentials {
                        access_key_id: params
                            .required("awsAccessKeyID;awsAccessKeyId", order::AME)?,
                        secret_access_key: params
                            .required_secret("awsSecretAccessKey", order::AE)?,
                        session_token: params.secret("awsSessionToken", order::A_),
                    })
                }
            }
            "aws" => role(BaseIdentity::Ambient)?.unwrap_or(AwsIdentity::Ambient),
            other => {
                return Err(ConfigError::invalid(
                    "podIdentity",
                    format!("provider {other:?} cannot sign AWS requests; use aws or none"),
                ));
            }
        };
        Ok(Self {
            region: region.to_owned(),
            service: service.to_owned(),
            identity,
        })
    }

    /// The role this identity assumes, if any.
    pub fn role_key(&self) -> Option<RoleKey> {
        match &self.identity {
            AwsIdentity::AssumeRole(k) => Some(k.clone()),
            _ => None,
        }
    }

    /// Secrets known before any request (static keys).
    pub(crate) fn secrets(&self) -> Vec<&SecretString> {
        match &self.identity {
            AwsIdentity::Static(c)
            | AwsIdentity::AssumeRole(RoleKey {
                base: BaseIdentity::Static(c),
                ..
            }) => c.secrets(),
            _ => vec![],
        }
    }

    /// The credentials to sign with now (assuming the role through the client's cache if needed).
    pub(crate) async fn credentials(
        &self,
        client: &HttpClient,
    ) -> Result<AwsCredentials, MeasureError> {
        match &self.identity {
            AwsIdentity::Static(c) => Ok(c.clone()),
            AwsIdentity::Ambient => ambient(),
            AwsIdentity::AssumeRole(key) => client.role_credentials(key).get(client).await,
        }
    }

    /// SigV4 headers for a request.
    pub(crate) fn sign_request(
        &self,
        credentials: &AwsCredentials,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, SecretString)>, String> {
        sign(
            method,
            url,
            headers,
            body,
            &self.region,
            &self.service,
            credentials,
        )
    }
}

/// SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a request.
pub(crate) fn sign(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    region: &str,
    service: &str,
    credentials: &AwsCredentials,
) -> Result<Vec<(String, SecretString)>, String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let creds = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.expose().to_owned(),
        credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        None,
        "ebb",
    );
    let identity = creds.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), SecretString::new(v)))
        .collect())
}

#[derive(Debug)]
struct Cached {
    credentials: AwsCredentials,
    refresh_at: SystemTime,
}

/// Credentials of one assumed role, cached until shortly before they expire.
#[derive(Debug)]
pub struct RoleCredentials {
    key: RoleKey,
    cached: tokio::sync::Mutex<Option<Cached>>,
    fetches: AtomicUsize,
}

impl RoleCredentials {
    pub(crate) fn new(key: &RoleKey) -> Self {
        Self {
            key: key.clone(),
            cached: tokio::sync::Mutex::new(None),
            fetches: AtomicUsize::new(0),
        }
    }

    /// How many times the role was assumed.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The access key id of the cached credentials (not secret), if any.
    pub async fn access_key_id(&self) -> Option<String> {
        self.cached
            .lock()
            .await
            .as_ref()
            .map(|c| c.credentials.access_key_id.clone())
    }

    #[cfg(test)]
    pub(crate) async fn cached(&self) -> Option<AwsCredentials> {
        self.cached
            .lock()
            .await
            .as_ref()
            .map(|c| c.credentials.clone())
    }

    /// Valid credentials; concurrent callers share one `AssumeRole`.
    pub(crate) async fn get(&self, client: &HttpClient) -> Result<AwsCredentials, MeasureError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && SystemTime::now() < c.refresh_at
        {
            return Ok(c.credentials.clone());
        }
        let fresh = self.assume(client).await?;
        let credentials = fresh.credentials.clone();
        *cached = Some(fresh);
        self.fetches.fetch_add(1, Ordering::Relaxed);
        Ok(credentials)
    }

    async fn assume(&self, client: &HttpClient) -> Result<Cached, MeasureError> {
        const WHAT: &str = "aws: sts AssumeRole";
        let k = &self.key;
        let base = k.base.resolve()?;
        let secrets = base.secrets();
        let session = format!(
            "ebb-{}",
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let duration = ROLE_DURATION.as_secs().to_string();
        // The serializer is not Send: finish it before the first await.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "AssumeRole")
                .append_pair("Version", "2011-06-15")
                .append_pair("RoleArn", &k.role_arn)
                .append_pair("RoleSessionName", &session)
                .append_pair("DurationSeconds", &duration);
            if let Some(id) = &k.external_id {
                form.append_pair("ExternalId", id);
            }
            form.finish()
        };
        let url = format!("{}/", k.sts_endpoint);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let headers = [("content-type", content_type)];
        let signed = sign(
            "POST",
            &url,
            &headers,
            body.as_bytes(),
            &k.region,
            "sts",
            &base,
        )
        .map_err(|m| MeasureError::new(MeasureReason::Config, format!("{WHAT}: signing: {m}")))?;
        let started = SystemTime::now();
        let mut builder = client
            .client()?
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        for (name, value) in &signed {
            builder = builder.header(name.as_str(), value.expose());
        }
        let response = builder
            .send()
            .await
            .map_err(|e| super::from_reqwest(e, WHAT, &secrets))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| super::from_reqwest(e, WHAT, &secrets))?;
        if !(200..300).contains(&status) {
            let code = xml_text(&text, "Code").unwrap_or_default();
            let message: String = xml_text(&text, "Message")
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            let reason = match (status, code.as_str()) {
                (401 | 403, _)
                | (
                    _,
                    "AccessDenied"
                    | "InvalidClientTokenId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "RegionDisabledException",
                ) => MeasureReason::Unauthorized,
                (404, _) => MeasureReason::NotFound,
                _ => MeasureReason::BadResponse,
            };
            return Err(MeasureError::new(
                reason,
                crate::error::scrub(
                    format!("{WHAT} {}: HTTP {status} {code}: {message}", k.role_arn),
                    &secrets,
                ),
            ));
        }
        let bad = |m: &str| MeasureError::new(MeasureReason::BadResponse, format!("{WHAT}: {m}"));
        let field = |name: &str| {
            xml_text(&text, name).ok_or_else(|| bad(&format!("the answer has no {name}")))
        };
        let credentials = AwsCredentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: SecretString::new(field("SecretAccessKey")?),
            session_token: Some(SecretString::new(field("SessionToken")?)),
        };
        // Renew ahead of `Expiration`; without a readable one, trust the duration asked for.
        let expires = xml_text(&text, "Expiration")
            .and_then(|e| e.parse::<jiff::Timestamp>().ok())
            .map(SystemTime::from)
            .unwrap_or(started + ROLE_DURATION);
        Ok(Cached {
            credentials,
            refresh_at: expires.checked_sub(ROLE_REFRESH_MARGIN).unwrap_or(started),
        })
    }
}

/// The text of the first element named `name` in an XML document.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    crate::azure::xml_texts(xml, &[name])
        .ok()
        .and_then(|v| v.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(meta: &[(&str, &str)], auth: &[(&str, &str)]) -> TriggerParams {
        TriggerParams::new("prometheus", 0, meta.iter().copied())
            .with_auth_params(auth.iter().copied())
    }

    #[test]
    fn identity_follows_keda_order() {
        let a = |meta: &[(&str, &str)], auth: &[(&str, &str)]| {
            AwsAuth::from_params(&params(meta, auth), "eu-west-1", "aps", "http://sts")
        };
        let role = "arn:aws:iam::123456789012:role/reader";
        // A role wins over keys, and is assumed with Ebb's own identity.
        let r = a(
            &[],
            &[
                ("awsRoleArn", role),
                ("awsAccessKeyID", "AK"),
                ("awsSecretAccessKey", "sk"),
            ],
        )
        .unwrap();
        let key = r.role_key().unwrap();
        assert_eq!(
            (key.role_arn.as_str(), &key.base, key.sts_endpoint.as_str()),
            (role, &BaseIdentity::Ambient, "http://sts")
        );
        assert!(matches!(
            a(
                &[],
                &[("awsAccessKeyId", "AK"), ("awsSecretAccessKey", "sk")]
            )
            .unwrap()
            .identity,
            AwsIdentity::Static(_)
        ));
        assert_eq!(
            a(&[("identityOwner", "operator")], &[]).unwrap().identity,
            AwsIdentity::Ambient
        );
        let mut pod = params(&[], &[]);
        pod.pod_identity = Some("aws".into());
        assert_eq!(
            AwsAuth::from_params(&pod, "r", "sqs", "http://sts")
                .unwrap()
                .identity,
            AwsIdentity::Ambient
        );
        for (meta, auth, key) in [
            (&[][..], &[][..], "awsAccessKeyID"),
            (
                &[][..],
                &[("awsAccessKeyID", "AK")][..],
                "awsSecretAccessKey",
            ),
            (
                &[("identityOwner", "someone")][..],
                &[][..],
                "identityOwner",
            ),
            (&[][..], &[("awsRoleArn", "reader")][..], "awsRoleArn"),
        ] {
            assert_eq!(
                a(meta, auth).unwrap_err().key(),
                Some(key),
                "{meta:?} {auth:?}"
            );
        }
        let mut azure = params(&[], &[]);
        azure.pod_identity = Some("azure-workload".into());
        assert_eq!(
            AwsAuth::from_params(&azure, "r", "sqs", "http://sts")
                .unwrap_err()
                .key(),
            Some("podIdentity")
        );
    }

    #[test]
    fn ambient_credentials_come_from_the_standard_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let c = AwsCredentials::from_env(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "sk"),
            ("AWS_SESSION_TOKEN", "tok"),
        ]))
        .unwrap();
        assert_eq!(c.access_key_id, "AKIA");
        assert_eq!(
            c.session_token.as_ref().map(SecretString::expose),
            Some("tok")
        );
        assert!(AwsCredentials::from_env(env(&[("AWS_ACCESS_KEY_ID", "AKIA")])).is_none());
    }

    #[test]
    fn sts_answers_are_read_from_xml() {
        let ok = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
            <Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>a&amp;b</SecretAccessKey>\
            <SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>\
            </AssumeRoleResult></AssumeRoleResponse>";
        assert_eq!(xml_text(ok, "AccessKeyId").as_deref(), Some("ASIAX"));
        assert_eq!(xml_text(ok, "SecretAccessKey").as_deref(), Some("a&b"));
        assert_eq!(xml_text(ok, "Missing"), None);
        assert!(
            xml_text(ok, "Expiration")
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok()
        );
    }
}
