//! `prometheus` trigger: the single value of an instant PromQL query.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `serverAddress` | M | required | e.g. `http://prometheus:9090` |
//! | `query` | M | required | must return one series (or a scalar) |
//! | `threshold` | M | required | float target (optional for a scalingModifiers source) |
//! | `activationThreshold` | M | `0` | active iff value > this |
//! | `namespace` | M | — | adds `namespace=` (Thanos/tenancy) |
//! | `queryParameters` | M | — | `k=v,k2=v2`, appended URL-encoded |
//! | `customHeaders` | M | — | `k=v,k2=v2` request headers |
//! | `ignoreNullValues` | M | `true` | empty result / NaN / ±Inf ⇒ 0 instead of an error |
//! | `unsafeSsl` | M | `false` | |
//! | `timeout` | M | global HTTP timeout | Go duration or milliseconds |
//! | `authModes` (`authMode`) | M, A | — | `basic` (`username`, `password`), `bearer` (`bearerToken`), `tls` (`ca`, `cert`, `key`), `custom` (`customAuthHeader`, `customAuthValue`), `apiKey`, `oauth` (`oauthTokenURI`, `clientID`, `clientSecret`, `scopes`, `endpointParams`; [`crate::http::oauth`]) |
//! | `awsRegion` | M, A | — | Amazon Managed Service for Prometheus: requests SigV4-signed for `aps` in this region |
//! | `identityOwner`, `awsRoleArn`, `awsAccessKeyID`, `awsSecretAccessKey`, `awsSessionToken` | | | AWS credentials with `awsRegion`, as [`crate::http::aws`] reads them |
//!
//! Request `GET <serverAddress>/api/v1/query?query=…&time=<poll time, RFC 3339 UTC>`. Metric `s<i>-prometheus`.
//! With `awsRegion`, the request is signed instead of carrying `authModes` credentials (the two are
//! exclusive; `ca`/`tls` still apply). Not yet: Azure and GCP pod identity.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::aws::AwsAuth;
use crate::http::{self, AuthHold, HttpAuth, HttpClient, HttpGet, HttpSettings};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{KeyValues, TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "prometheus";

/// Parsed `prometheus` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `serverAddress`, without a trailing `/`.
    pub server_address: String,
    /// `query`.
    pub query: String,
    /// `threshold`.
    pub threshold: f64,
    /// `activationThreshold`.
    pub activation: f64,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `queryParameters`.
    pub query_parameters: Vec<(String, String)>,
    /// `customHeaders`.
    pub custom_headers: Vec<(String, String)>,
    /// `ignoreNullValues`.
    pub ignore_null_values: bool,
    /// Credentials.
    pub auth: HttpAuth,
    /// Client settings (timeout, TLS).
    pub http: HttpSettings,
    /// `s<i>-prometheus`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let server_address: String = params.required("serverAddress", order::M_)?;
        url::Url::parse(&server_address).map_err(|_| {
            ConfigError::invalid("serverAddress", format!("{server_address:?} is not a URL"))
        })?;
        let threshold = match params.optional::<f64>("threshold", order::M_)? {
            Some(t) => t,
            None if params.as_metric_source => 0.0,
            None => return Err(params.missing("threshold", order::M_)),
        };
        let insecure = params.with_default("unsafeSsl", order::M_, false)?;
        let (mut auth, tls) = http::auth_from_params(params, insecure)?;
        if let Some(region) = params.optional::<String>("awsRegion", order::MA)? {
            if auth != HttpAuth::None {
                return Err(ConfigError::exclusive("awsRegion", "authModes"));
            }
            let sts = if region.starts_with("cn-") {
                format!("https://sts.{region}.amazonaws.com.cn")
            } else {
                format!("https://sts.{region}.amazonaws.com")
            };
            // KEDA signs AMP requests as service `aps` with the empty payload's hash.
            auth = HttpAuth::SigV4(AwsAuth::from_params(params, &region, "aps", &sts)?);
        }
        let timeout: Option<Duration> = params.optional("timeout", order::M_)?;
        Ok(Self {
            server_address: server_address.trim_end_matches('/').to_owned(),
            query: params.required("query", order::M_)?,
            threshold,
            activation: params.with_default("activationThreshold", order::M_, 0.0)?,
            namespace: params.optional("namespace", order::M_)?,
            query_parameters: params
                .with_default("queryParameters", order::M_, KeyValues::default())?
                .0,
            custom_headers: params
                .with_default("customHeaders", order::M_, KeyValues::default())?
                .0,
            ignore_null_values: params.with_default("ignoreNullValues", order::M_, true)?,
            auth,
            http: HttpSettings {
                timeout: timeout.unwrap_or(params.global_http_timeout),
                tls,
            },
            metric_name: params.metric_name("prometheus"),
            target_type: params.external_target_type()?,
        })
    }

    /// The request for a poll at `now`.
    fn request(&self, now: jiff::Timestamp) -> HttpGet {
        let mut req = HttpGet::new(format!("{}/api/v1/query", self.server_address));
        req.query.push(("query".into(), self.query.clone()));
        req.query.push((
            "time".into(),
            now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ));
        if let Some(ns) = &self.namespace {
            req.query.push(("namespace".into(), ns.clone()));
        }
        req.query.extend(self.query_parameters.iter().cloned());
        req.headers = self.custom_headers.clone();
        req.auth = self.auth.clone();
        req
    }

    /// The query's value from a `/api/v1/query` body.
    pub fn value_from(&self, body: &str) -> Result<f64, MeasureError> {
        let bad =
            |m: String| MeasureError::new(MeasureReason::BadResponse, format!("prometheus: {m}"));
        let json: serde_json::Value =
            serde_json::from_str(body).map_err(|e| bad(format!("not JSON: {e}")))?;
        let data = &json["data"];
        let sample = match data["resultType"].as_str() {
            Some("scalar") => Some(&data["result"]),
            _ => {
                let series = data["result"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                if series.len() > 1 {
                    return Err(bad(format!(
                        "the query returned {} series; it must return one",
                        series.len()
                    )));
                }
                series.first().map(|s| &s["value"])
            }
        };
        let raw = sample.and_then(|v| v.get(1)).and_then(|v| v.as_str());
        let Some(raw) = raw else {
            return if self.ignore_null_values {
                Ok(0.0)
            } else {
                Err(bad(
                    "the query returned no value (set ignoreNullValues to treat it as 0)".into(),
                ))
            };
        };
        let value: f64 = match raw {
            "NaN" => f64::NAN,
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .map_err(|_| bad(format!("value {other:?} is not a number")))?,
        };
        if value.is_finite() {
            Ok(value)
        } else if self.ignore_null_values {
            Ok(0.0)
        } else {
            Err(bad(format!("the query returned {raw}")))
        }
    }
}

/// The `prometheus` scaler.
#[derive(Debug)]
pub struct PrometheusScaler {
    config: Config,
    client: Arc<HttpClient>,
    /// Keeps an OAuth token or assumed-role credentials cached between polls.
    hold: AuthHold,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.http(&config.http)?;
    let hold = client.hold(&config.auth);
    Ok(Box::new(PrometheusScaler {
        config,
        client,
        hold,
    }))
}

impl PrometheusScaler {
    /// The cached credentials this scaler keeps, for diagnostics and tests.
    pub fn auth_hold(&self) -> &AuthHold {
        &self.hold
    }
}

impl Scaler for PrometheusScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Float(self.config.threshold),
            self.config.activation,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let req = self.config.request(poll.now());
            let response = http::get(poll, &self.client, &req, "prometheus").await?;
            let value = self.config.value_from(&response.body)?;
            Ok(Measurement::single(
                &self.config.metric_name,
                value,
                self.config.activation,
            ))
        })
    }
}

#[cfg(test)]
mod tests;
