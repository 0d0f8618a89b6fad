//! `aws-sqs-queue` trigger: visible (+ in-flight, + delayed) messages of an SQS queue.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `queueURL` | M, E | required | a queue URL (`…/<account>/<name>`) or a bare queue name (resolved with GetQueueUrl) |
//! | `awsRegion` | M, A | required | signs requests; picks the endpoint `https://sqs.<region>.amazonaws.com` |
//! | `awsEndpoint` | M | — | overrides the endpoint (LocalStack, moto, VPC endpoints) |
//! | `queueLength` | M | `5` | integer target |
//! | `activationQueueLength` | M | `0` | active iff value > this |
//! | `scaleOnInFlight` | M | `true` | add `ApproximateNumberOfMessagesNotVisible` |
//! | `scaleOnDelayed` | M | `false` | add `ApproximateNumberOfMessagesDelayed` |
//! | `identityOwner` | M | `pod` | `operator`: Ebb's own identity (process `AWS_ACCESS_KEY_ID`, …) |
//! | `awsRoleArn` | A | — | assume this role through STS (at `awsEndpoint` when given) with Ebb's own identity |
//! | `awsAccessKeyID` / `awsAccessKeyId` | A (legacy M, E) | required without a role | static credentials |
//! | `awsSecretAccessKey` | A (legacy E) | required with a key id | |
//! | `awsSessionToken` | A | — | temporary credentials |
//!
//! `podIdentity: aws` uses Ebb's own identity, or assumes `awsRoleArn` with it
//! ([`crate::http::aws`] has the details and what "own identity" means off-cluster).
//!
//! One `GetQueueAttributes` per poll (AWS JSON 1.0 protocol, SigV4-signed with `aws-sigv4`),
//! shared by every trigger on the same queue and credentials. Metric `s<i>-aws-sqs-<queueName>`.

use std::sync::Arc;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::aws::{AwsAuth, AwsIdentity};
use crate::http::{AuthHold, HttpClient, HttpSettings};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};
use crate::secret::SecretString;

/// The trigger type.
pub const KIND: &str = "aws-sqs-queue";

const VISIBLE: &str = "ApproximateNumberOfMessages";
const IN_FLIGHT: &str = "ApproximateNumberOfMessagesNotVisible";
const DELAYED: &str = "ApproximateNumberOfMessagesDelayed";

pub use crate::http::aws::AwsCredentials;

/// Parsed `aws-sqs-queue` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The queue URL, when `queueURL` is a URL.
    pub queue_url: Option<String>,
    /// The queue name (last path segment of the URL, or `queueURL` itself).
    pub queue_name: String,
    /// `awsRegion`.
    pub region: String,
    /// The SQS endpoint requests go to, without a trailing `/`.
    pub endpoint: String,
    /// `queueLength`.
    pub queue_length: i64,
    /// `activationQueueLength`.
    pub activation: i64,
    /// `scaleOnInFlight`.
    pub scale_on_in_flight: bool,
    /// `scaleOnDelayed`.
    pub scale_on_delayed: bool,
    /// Region, signing name and credentials.
    pub auth: AwsAuth,
    /// `s<i>-aws-sqs-<queueName>`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
    /// Request timeout.
    pub http: HttpSettings,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let raw: String = params.required("queueURL", order::ME)?;
        let (queue_url, queue_name) = match url::Url::parse(&raw) {
            Ok(url) if url.has_host() => {
                let segments: Vec<&str> = url
                    .path_segments()
                    .map(|s| s.filter(|p| !p.is_empty()).collect())
                    .unwrap_or_default();
                let [_account, name] = segments.as_slice() else {
                    return Err(ConfigError::invalid(
                        "queueURL",
                        "the URL path must be /<account id>/<queue name>",
                    ));
                };
                (Some(raw.clone()), (*name).to_owned())
            }
            _ => (None, raw.clone()),
        };
        let region: String = params.required("awsRegion", order::MA)?;
        let endpoint = match params.optional::<String>("awsEndpoint", order::M_)? {
            Some(e) => {
                url::Url::parse(&e).map_err(|_| {
                    ConfigError::invalid("awsEndpoint", format!("{e:?} is not a URL"))
                })?;
                e.trim_end_matches('/').to_owned()
            }
            None if region.starts_with("cn-") => format!("https://sqs.{region}.amazonaws.com.cn"),
            None => format!("https://sqs.{region}.amazonaws.com"),
        };
        let queue_length: i64 = params.with_default("queueLength", order::M_, 5)?;
        if queue_length <= 0 && !params.as_metric_source {
            return Err(ConfigError::invalid(
                "queueLength",
                "must be greater than 0",
            ));
        }
        // STS follows the endpoint override too (moto, LocalStack, VPC endpoints).
        let sts_endpoint = match params.optional::<String>("awsEndpoint", order::M_)? {
            Some(_) => endpoint.clone(),
            None if region.starts_with("cn-") => format!("https://sts.{region}.amazonaws.com.cn"),
            None => format!("https://sts.{region}.amazonaws.com"),
        };
        let auth = AwsAuth::from_params(params, &region, "sqs", &sts_endpoint)?;
        Ok(Self {
            metric_name: params.metric_name(&format!("aws-sqs-{queue_name}")),
            queue_url,
            queue_name,
            region,
            endpoint,
            queue_length,
            activation: params.with_default("activationQueueLength", order::M_, 0)?,
            scale_on_in_flight: params.with_default("scaleOnInFlight", order::M_, true)?,
            scale_on_delayed: params.with_default("scaleOnDelayed", order::M_, false)?,
            auth,
            target_type: params.external_target_type()?,
            http: HttpSettings::with_timeout(params.global_http_timeout),
        })
    }

    /// The metric value from GetQueueAttributes' `Attributes` map.
    pub fn value_from(&self, attributes: &serde_json::Value) -> Result<i64, MeasureError> {
        let get = |name: &str| -> Result<i64, MeasureError> {
            let raw = &attributes[name];
            raw.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| raw.as_i64())
                .ok_or_else(|| {
                    MeasureError::new(
                        MeasureReason::BadResponse,
                        format!("aws-sqs-queue: attribute {name} missing or not an integer"),
                    )
                })
        };
        let mut value = get(VISIBLE)?;
        if self.scale_on_in_flight {
            value += get(IN_FLIGHT)?;
        }
        if self.scale_on_delayed {
            value += get(DELAYED)?;
        }
        Ok(value)
    }
}

/// One SQS API call (AWS JSON 1.0): `target` is e.g. `GetQueueAttributes`.
pub(crate) async fn call(
    client: &HttpClient,
    endpoint: &str,
    auth: &AwsAuth,
    target: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, MeasureError> {
    let what = format!("aws-sqs-queue: {target}");
    let credentials = auth.credentials(client).await?;
    let secrets: Vec<&SecretString> = credentials.secrets();
    let url = format!("{endpoint}/");
    let body = body.to_string();
    let amz_target = format!("AmazonSQS.{target}");
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", amz_target.as_str()),
    ];
    let signed = auth
        .sign_request(&credentials, "POST", &url, &headers, body.as_bytes())
        .map_err(|m| MeasureError::new(MeasureReason::Config, format!("{what}: signing: {m}")))?;
    let mut builder = client.client()?.post(&url).body(body);
    for (k, v) in headers
        .iter()
        .copied()
        .chain(signed.iter().map(|(k, v)| (k.as_str(), v.expose())))
    {
        builder = builder.header(k, v);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| crate::http::from_reqwest(e, &what, &secrets))?;
    let status = response.status().as_u16();
    let query_error = response
        .headers()
        .get("x-amzn-query-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response
        .text()
        .await
        .map_err(|e| crate::http::from_reqwest(e, &what, &secrets))?;
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    if (200..300).contains(&status) {
        return json.ok_or_else(|| {
            MeasureError::new(
                MeasureReason::BadResponse,
                format!("{what}: the answer is not JSON"),
            )
        });
    }
    let code = json
        .as_ref()
        .and_then(|j| j["__type"].as_str().or_else(|| j["code"].as_str()))
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        .or(query_error)
        .unwrap_or_default();
    let message = json
        .as_ref()
        .and_then(|j| j["message"].as_str().or_else(|| j["Message"].as_str()))
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect::<String>();
    let reason = classify(status, &code);
    Err(MeasureError::new(
        reason,
        crate::error::scrub(format!("{what}: HTTP {status} {code}: {message}"), &secrets),
    ))
}

fn classify(status: u16, code: &str) -> MeasureReason {
    const AUTH: &[&str] = &[
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "UnrecognizedClient",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "InvalidSecurity",
        "IncompleteSignature",
        "AuthFailure",
    ];
    if code.contains("NonExistentQueue") || code.contains("QueueDoesNotExist") {
        MeasureReason::NotFound
    } else if AUTH.iter().any(|a| code.contains(a)) || status == 401 || status == 403 {
        MeasureReason::Unauthorized
    } else {
        MeasureReason::BadResponse
    }
}

/// The `aws-sqs-queue` scaler.
#[derive(Debug)]
pub struct AwsSqsQueueScaler {
    config: Config,
    client: Arc<HttpClient>,
    /// Keeps assumed-role credentials cached between polls.
    hold: AuthHold,
    /// The queue URL, resolved once from the name when `queueURL` is not a URL.
    resolved_url: tokio::sync::OnceCell<String>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(AwsSqsQueueScaler::new(
        Config::from_params(params)?,
        clients,
    )?))
}

impl AwsSqsQueueScaler {
    /// The scaler for a parsed config (no network).
    pub fn new(config: Config, clients: &Clients) -> Result<Self, ConfigError> {
        let client = clients.http(&config.http)?;
        let hold = client.hold_aws(&config.auth);
        Ok(Self {
            config,
            client,
            hold,
            resolved_url: tokio::sync::OnceCell::new(),
        })
    }

    /// The cached credentials this scaler keeps (assumed role), for diagnostics and tests.
    pub fn auth_hold(&self) -> &AuthHold {
        &self.hold
    }

    async fn queue_url(&self) -> Result<String, MeasureError> {
        if let Some(url) = &self.config.queue_url {
            return Ok(url.clone());
        }
        let c = &self.config;
        self.resolved_url
            .get_or_try_init(|| async {
                let answer = call(
                    &self.client,
                    &c.endpoint,
                    &c.auth,
                    "GetQueueUrl",
                    &serde_json::json!({ "QueueName": c.queue_name }),
                )
                .await?;
                answer["QueueUrl"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        MeasureError::new(
                            MeasureReason::BadResponse,
                            "aws-sqs-queue: GetQueueUrl answered without QueueUrl",
                        )
                    })
            })
            .await
            .cloned()
    }

    async fn attributes(&self, poll: &Poll) -> Result<serde_json::Value, MeasureError> {
        let c = &self.config;
        let queue_url = self.queue_url().await?;
        let identity = match &c.auth.identity {
            AwsIdentity::Static(creds) => format!("key:{}", creds.access_key_id),
            AwsIdentity::Ambient => "ambient".to_owned(),
            AwsIdentity::AssumeRole(role) => format!("role:{}", role.role_arn),
        };
        let key = format!(
            "aws-sqs|{:p}|{}|{}|{identity}|{queue_url}",
            Arc::as_ptr(&self.client),
            c.endpoint,
            c.region,
        );
        let body = serde_json::json!({
            "QueueUrl": queue_url,
            "AttributeNames": [VISIBLE, IN_FLIGHT, DELAYED],
        });
        poll.once(key, async {
            let answer = call(
                &self.client,
                &c.endpoint,
                &c.auth,
                "GetQueueAttributes",
                &body,
            )
            .await?;
            Ok(answer["Attributes"].clone())
        })
        .await
    }
}

impl Scaler for AwsSqsQueueScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Int(self.config.queue_length),
            self.config.activation as f64,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let attributes = self.attributes(poll).await?;
            let value = self.config.value_from(&attributes)?;
            Ok(Measurement::single(
                &self.config.metric_name,
                value as f64,
                self.config.activation as f64,
            ))
        })
    }
}

#[cfg(test)]
mod tests;
