//! `azure-queue` trigger: the length of an Azure Storage queue.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `queueName` | M | required | |
//! | `queueLength` | M | `5` | integer target |
//! | `activationQueueLength` | M | `0` | active iff length > this |
//! | `queueLengthStrategy` | M | `all` | `all`: approximate count (includes invisible messages); `visibleonly`: peek 32 |
//! | `connection` | A, M, E | required | storage connection string: `AccountName` + `AccountKey` (Shared Key) or `SharedAccessSignature`; `QueueEndpoint` overrides the endpoint |
//! | `accountName` | M | — | used when the connection string names no account |
//! | `cloud` | M | `AzurePublicCloud` | `AzureChinaCloud`, `AzureUSGovernmentCloud`, `AzureGermanCloud`, `Private` |
//! | `endpointSuffix` | M | per cloud | required for `Private` |
//!
//! `all`: `GET <queue>?comp=metadata` → header `x-ms-approximate-messages-count`.
//! `visibleonly`: `GET <queue>/messages?peekonly=true&numofmessages=32`; fewer than 32 ⇒ that
//! count, else the approximate count. Metric `s<i>-azure-queue-<queueName>`.
//! Not yet: `podIdentity: azure-workload`.

use std::sync::Arc;

use crate::azure::{self, Service, StorageAccount};
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::{HttpClient, HttpSettings};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue, path_escape};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "azure-queue";

/// How many messages `visibleonly` peeks (the service maximum).
const PEEK: usize = 32;

/// How the queue length is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Approximate message count: visible and invisible messages.
    All,
    /// Visible messages only (peek up to 32).
    VisibleOnly,
}

/// Parsed `azure-queue` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `queueName`.
    pub queue_name: String,
    /// `queueLength`.
    pub queue_length: i64,
    /// `activationQueueLength`.
    pub activation: i64,
    /// `queueLengthStrategy`.
    pub strategy: Strategy,
    /// Endpoint and credentials.
    pub account: StorageAccount,
    /// `s<i>-azure-queue-<queueName>`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
    /// Request timeout.
    pub http: HttpSettings,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let queue_name: String = params.required("queueName", order::M_)?;
        let queue_length: i64 = params.with_default("queueLength", order::M_, 5)?;
        if queue_length <= 0 && !params.as_metric_source {
            return Err(ConfigError::invalid(
                "queueLength",
                "must be greater than 0",
            ));
        }
        let activation: i64 = params.with_default("activationQueueLength", order::M_, 0)?;
        let strategy = match params.one_of(
            "queueLengthStrategy",
            order::M_,
            &["all", "visibleonly", "All", "VisibleOnly"],
            Some("all"),
        )? {
            "visibleonly" | "VisibleOnly" => Strategy::VisibleOnly,
            _ => Strategy::All,
        };
        let suffix = azure::endpoint_suffix(params, Service::Storage, "endpointSuffix")?;
        if params.pod_identity.as_deref().is_some_and(|p| p != "none") {
            return Err(ConfigError::invalid(
                "podIdentity",
                "pod identity for azure-queue is not supported by Ebb yet; use a connection string",
            ));
        }
        let connection = params.required_secret("connection", order::AME)?;
        let mut account =
            StorageAccount::from_connection_string("connection", &connection, "queue", &suffix)?;
        if let Some(name) = params.optional::<String>("accountName", order::M_)?
            && account.account.is_empty()
        {
            account.account = name;
        }
        Ok(Self {
            metric_name: params.metric_name(&format!("azure-queue-{queue_name}")),
            queue_name,
            queue_length,
            activation,
            strategy,
            account,
            target_type: params.external_target_type()?,
            http: HttpSettings::with_timeout(params.global_http_timeout),
        })
    }
}

/// The `azure-queue` scaler.
#[derive(Debug)]
pub struct AzureQueueScaler {
    config: Config,
    client: Arc<HttpClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.http(&config.http)?;
    Ok(Box::new(AzureQueueScaler { config, client }))
}

impl AzureQueueScaler {
    async fn approximate_count(&self, poll: &Poll) -> Result<i64, MeasureError> {
        let queue = path_escape(&self.config.queue_name);
        let response = azure::storage_get(
            poll,
            &self.client,
            &self.config.account,
            &queue,
            "comp=metadata",
            "azure-queue: reading queue metadata",
        )
        .await?;
        let raw = response
            .header("x-ms-approximate-messages-count")
            .ok_or_else(|| {
                MeasureError::new(
                    MeasureReason::BadResponse,
                    "azure-queue: no x-ms-approximate-messages-count header in the response",
                )
            })?;
        raw.trim().parse().map_err(|_| {
            MeasureError::new(
                MeasureReason::BadResponse,
                format!("azure-queue: approximate message count {raw:?} is not an integer"),
            )
        })
    }

    async fn peeked(&self, poll: &Poll) -> Result<usize, MeasureError> {
        let queue = path_escape(&self.config.queue_name);
        let response = azure::storage_get(
            poll,
            &self.client,
            &self.config.account,
            &format!("{queue}/messages"),
            &format!("peekonly=true&numofmessages={PEEK}"),
            "azure-queue: peeking messages",
        )
        .await?;
        let ids =
            azure::xml_texts(&response.body, &["QueueMessage", "MessageId"]).map_err(|e| {
                MeasureError::new(MeasureReason::BadResponse, format!("azure-queue: {e}"))
            })?;
        Ok(ids.len())
    }
}

impl Scaler for AzureQueueScaler {
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
            let length = match self.config.strategy {
                Strategy::All => self.approximate_count(poll).await?,
                Strategy::VisibleOnly => {
                    let visible = self.peeked(poll).await?;
                    // A full peek means "at least 32": fall back to the approximate count.
                    if visible < PEEK {
                        visible as i64
                    } else {
                        self.approximate_count(poll).await?
                    }
                }
            };
            Ok(Measurement::single(
                &self.config.metric_name,
                length as f64,
                self.config.activation as f64,
            ))
        })
    }
}

#[cfg(test)]
mod tests;
