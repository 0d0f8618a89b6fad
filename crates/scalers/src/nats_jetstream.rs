//! `nats-jetstream` trigger: pending + ack-pending messages of a JetStream consumer, from `/jsz`.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `natsServerMonitoringEndpoint` | A, M | required | `host:port` of the monitoring endpoint |
//! | `account` / `accountID` | A, M | one required | `accountID` defaults to `account` (`$G` without accounts) |
//! | `stream` | M | required | |
//! | `consumer` | M | required | |
//! | `lagThreshold` | M | `10` | integer target |
//! | `activationLagThreshold` | M | `0` | active iff value > this |
//! | `useHttps` | M | `false` | |
//!
//! Request `GET http(s)://<endpoint>/jsz?acc=<accountID>&consumers=true&config=true`; value
//! `num_pending + num_ack_pending`; a missing account, stream or consumer is an error.
//! Metric `s<i>-nats-jetstream-<stream>`. Not yet: clustered leader discovery via `/varz`.

use std::sync::Arc;

use serde::Deserialize;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::{self, HttpClient, HttpGet, HttpSettings};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "nats-jetstream";

/// Parsed `nats-jetstream` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `http(s)://<endpoint>/jsz`.
    pub jsz_url: String,
    /// `accountID` (or `account`).
    pub account: String,
    /// `stream`.
    pub stream: String,
    /// `consumer`.
    pub consumer: String,
    /// `lagThreshold`.
    pub lag_threshold: i64,
    /// `activationLagThreshold`.
    pub activation: i64,
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
        let endpoint: String = params.required(
            "natsServerMonitoringEndpoint",
            &[
                crate::params::Source::AuthParams,
                crate::params::Source::TriggerMetadata,
            ],
        )?;
        let account = match params.optional::<String>("accountID", order::MA)? {
            Some(id) => id,
            None => params
                .optional::<String>("account", order::MA)?
                .ok_or_else(|| params.missing("account", order::MA))?,
        };
        let stream: String = params.required("stream", order::M_)?;
        let scheme = if params.with_default("useHttps", order::M_, false)? {
            "https"
        } else {
            "http"
        };
        let jsz_url = format!("{scheme}://{}/jsz", endpoint.trim_end_matches('/'));
        url::Url::parse(&jsz_url).map_err(|_| {
            ConfigError::invalid(
                "natsServerMonitoringEndpoint",
                format!("{endpoint:?} is not host:port"),
            )
        })?;
        Ok(Self {
            jsz_url,
            account,
            consumer: params.required("consumer", order::M_)?,
            lag_threshold: params.with_default("lagThreshold", order::M_, 10)?,
            activation: params.with_default("activationLagThreshold", order::M_, 0)?,
            http: HttpSettings::with_timeout(params.global_http_timeout),
            metric_name: params.metric_name(&format!("nats-jetstream-{stream}")),
            stream,
            target_type: params.external_target_type()?,
        })
    }

    /// `num_pending + num_ack_pending` of the consumer in a `/jsz` body.
    pub fn value_from(&self, body: &str) -> Result<i64, MeasureError> {
        let jsz: Jsz = serde_json::from_str(body).map_err(|e| {
            MeasureError::new(
                MeasureReason::BadResponse,
                format!("nats-jetstream: unexpected /jsz JSON: {e}"),
            )
        })?;
        let not_found = |what: String| {
            MeasureError::new(MeasureReason::NotFound, format!("nats-jetstream: {what}"))
        };
        let account = jsz
            .account_details
            .iter()
            .find(|a| a.id == self.account || a.name == self.account)
            .ok_or_else(|| not_found(format!("account {:?} not found", self.account)))?;
        let stream = account
            .stream_detail
            .iter()
            .find(|s| s.name == self.stream)
            .ok_or_else(|| not_found(format!("stream {:?} not found", self.stream)))?;
        let consumer = stream
            .consumer_detail
            .iter()
            .find(|c| c.name == self.consumer)
            .ok_or_else(|| {
                not_found(format!(
                    "consumer {:?} not found in stream {:?}",
                    self.consumer, self.stream
                ))
            })?;
        Ok(consumer.num_pending + consumer.num_ack_pending)
    }
}

#[derive(Debug, Deserialize)]
struct Jsz {
    #[serde(default)]
    account_details: Vec<Account>,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(default)]
    name: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    stream_detail: Vec<Stream>,
}

#[derive(Debug, Deserialize)]
struct Stream {
    #[serde(default)]
    name: String,
    #[serde(default)]
    consumer_detail: Vec<Consumer>,
}

#[derive(Debug, Deserialize)]
struct Consumer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    num_pending: i64,
    #[serde(default)]
    num_ack_pending: i64,
}

/// The `nats-jetstream` scaler.
#[derive(Debug)]
pub struct NatsJetstreamScaler {
    config: Config,
    client: Arc<HttpClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.http(&config.http)?;
    Ok(Box::new(NatsJetstreamScaler { config, client }))
}

impl Scaler for NatsJetstreamScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Int(self.config.lag_threshold),
            self.config.activation as f64,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let mut req = HttpGet::new(self.config.jsz_url.clone());
            req.query = vec![
                ("acc".into(), self.config.account.clone()),
                ("consumers".into(), "true".into()),
                ("config".into(), "true".into()),
            ];
            // Every trigger on one server and account shares this request within a poll.
            let response = http::get(poll, &self.client, &req, "nats-jetstream").await?;
            let value = self.config.value_from(&response.body)?;
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
