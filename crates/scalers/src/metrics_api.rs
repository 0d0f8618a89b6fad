//! `metrics-api` trigger: a number from any HTTP endpoint (JSON via GJSON, Prometheus text, or a
//! dot path into YAML or XML).
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `url` | M | required | |
//! | `valueLocation` | M | required | GJSON path (`json`), a selector `name{label="v"}` (`prometheus`), or a dot path `a.0.b` (`yaml`, `xml`: see [`dot_path`]) |
//! | `format` | M | `json` | `json`, `prometheus`, `yaml`, `xml` |
//! | `targetValue` | M | required, ≠ 0 | float target; optional for a scalingModifiers source |
//! | `activationTargetValue` | M | `0` | active iff value > this |
//! | `unsafeSsl` | M | `false` | |
//! | `timeout` | M | global HTTP timeout | |
//! | `authModes` (`authMode`) | M, A | — | `apiKey` (`apiKey`; `method` header/query; `keyParamName`, default `X-API-KEY` / `api_key`), `basic`, `bearer`, `tls`, `custom`, `oauth` |
//! | `oauthTokenURI`, `clientID`, `clientSecret`, `scopes` (`scope`), `endpointParams` | A | — | `oauth`: client-credentials token, cached until it expires ([`crate::http::oauth`]) |
//!
//! A value may be a number or a string holding a Kubernetes quantity (`"250m"`, `"1Ki"`).
//! Metric `s<i>-metric-api-<normalize(valueLocation)>`. Not yet: `aggregateFromKubeServiceEndpoints`.

mod dot_path;

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::{self, AuthHold, HttpAuth, HttpClient, HttpGet, HttpSettings};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "metrics-api";

/// Response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON, GJSON path.
    Json,
    /// Prometheus text exposition, metric selector.
    Prometheus,
    /// YAML, dot path.
    Yaml,
    /// XML, dot path from the root element.
    Xml,
}

/// Parsed `metrics-api` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `url` without credentials.
    pub url: String,
    /// `valueLocation`.
    pub value_location: String,
    /// `format`.
    pub format: Format,
    /// `targetValue`.
    pub target: f64,
    /// `activationTargetValue`.
    pub activation: f64,
    /// Credentials.
    pub auth: HttpAuth,
    /// Client settings.
    pub http: HttpSettings,
    /// Metric name.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let url: String = params.required("url", order::M_)?;
        url::Url::parse(&url)
            .map_err(|_| ConfigError::invalid("url", format!("{url:?} is not a URL")))?;
        let value_location: String = params.required("valueLocation", order::M_)?;
        let format = match params.one_of(
            "format",
            order::M_,
            &["json", "prometheus", "xml", "yaml"],
            Some("json"),
        )? {
            "prometheus" => Format::Prometheus,
            "yaml" => Format::Yaml,
            "xml" => Format::Xml,
            _ => Format::Json,
        };
        let target = match params.optional::<f64>("targetValue", order::M_)? {
            Some(t) if t != 0.0 => t,
            other if params.as_metric_source => other.unwrap_or(0.0),
            None => return Err(params.missing("targetValue", order::M_)),
            Some(_) => return Err(ConfigError::invalid("targetValue", "must not be 0")),
        };
        if params.with_default("aggregateFromKubeServiceEndpoints", order::M_, false)? {
            return Err(ConfigError::invalid(
                "aggregateFromKubeServiceEndpoints",
                "is not supported by Ebb yet",
            ));
        }
        let insecure = params.with_default("unsafeSsl", order::M_, false)?;
        let (auth, tls) = http::auth_from_params(params, insecure)?;
        let timeout: Option<Duration> = params.optional("timeout", order::M_)?;
        Ok(Self {
            metric_name: params.metric_name(&format!("metric-api-{value_location}")),
            url,
            value_location,
            format,
            target,
            activation: params.with_default("activationTargetValue", order::M_, 0.0)?,
            auth,
            http: HttpSettings {
                timeout: timeout.unwrap_or(params.global_http_timeout),
                tls,
            },
            target_type: params.external_target_type()?,
        })
    }

    /// Extracts the value from a response body.
    pub fn value_from(&self, body: &str) -> Result<f64, MeasureError> {
        let bad =
            |m: String| MeasureError::new(MeasureReason::BadResponse, format!("metrics-api: {m}"));
        match self.format {
            Format::Json => {
                if !gjson::valid(body) {
                    return Err(bad("the response is not JSON".into()));
                }
                let value = gjson::get(body, &self.value_location);
                match value.kind() {
                    gjson::Kind::Number => Ok(value.f64()),
                    gjson::Kind::String => parse_quantity(value.str()).ok_or_else(|| {
                        bad(format!(
                            "{:?} at {:?} is not a number or quantity",
                            value.str(),
                            self.value_location
                        ))
                    }),
                    _ if !value.exists() => Err(bad(format!(
                        "valueLocation {:?} not found",
                        self.value_location
                    ))),
                    _ => Err(bad(format!(
                        "{:?} at {:?} is not a number",
                        value.json(),
                        self.value_location
                    ))),
                }
            }
            Format::Prometheus => prometheus_sample(body, &self.value_location)
                .ok_or_else(|| bad(format!("no sample matches {:?}", self.value_location))),
            Format::Yaml => dot_path::yaml_value(body, &self.value_location).map_err(bad),
            Format::Xml => dot_path::xml_value(body, &self.value_location).map_err(bad),
        }
    }
}

/// A Kubernetes quantity (`1`, `1.5`, `250m`, `2k`, `1Ki`, `3Gi`, `1e3`) as a float.
pub fn parse_quantity(raw: &str) -> Option<f64> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(raw.len());
    let (number, suffix) = raw.split_at(split);
    if number.is_empty() {
        return None;
    }
    let base: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    Some(base * scale)
}

/// The first sample in Prometheus text matching `name{label="v",...}` (labels: a subset match).
fn prometheus_sample(body: &str, selector: &str) -> Option<f64> {
    let (name, wanted) = split_series(selector)?;
    for line in body.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `series value [timestamp]`; the series may contain spaces inside label values.
        let series_end = if let Some(close) = line.rfind('}') {
            close + 1
        } else {
            line.find(' ')?
        };
        let (series, rest) = line.split_at(series_end);
        let (sample_name, labels) = split_series(series)?;
        if sample_name != name || !wanted.iter().all(|w| labels.contains(w)) {
            continue;
        }
        let value = rest.split_whitespace().next()?;
        return value.parse().ok();
    }
    None
}

fn split_series(series: &str) -> Option<(&str, Vec<(String, String)>)> {
    let series = series.trim();
    let Some(open) = series.find('{') else {
        return Some((series, vec![]));
    };
    let name = series[..open].trim();
    let inner = series[open + 1..].strip_suffix('}')?;
    let mut labels = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(match escaped {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = Some(i);
                    break;
                }
                other => value.push(other),
            }
        }
        let end = end?;
        labels.push((key.trim().to_owned(), value));
        rest = after[end + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Some((name, labels))
}

/// The `metrics-api` scaler.
#[derive(Debug)]
pub struct MetricsApiScaler {
    config: Config,
    client: Arc<HttpClient>,
    /// Keeps the OAuth token cached between polls.
    hold: AuthHold,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.http(&config.http)?;
    let hold = client.hold(&config.auth);
    Ok(Box::new(MetricsApiScaler {
        config,
        client,
        hold,
    }))
}

impl MetricsApiScaler {
    /// The cached credentials this scaler keeps (OAuth token source), for diagnostics and tests.
    pub fn auth_hold(&self) -> &AuthHold {
        &self.hold
    }
}

impl Scaler for MetricsApiScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Float(self.config.target),
            self.config.activation,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let mut req = HttpGet::new(self.config.url.clone());
            req.auth = self.config.auth.clone();
            let response = http::get(poll, &self.client, &req, "metrics-api").await?;
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
