//! `azure-eventhub` trigger: unprocessed events (end sequence number − checkpoint) over a hub's partitions.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `connection` | A, E | required | Event Hubs connection string; without `EntityPath`, `eventHubName` is required |
//! | `eventHubName` | M, E | from `EntityPath` | |
//! | `storageConnection` | A, E | required | storage connection string of the checkpoint store |
//! | `consumerGroup` | M | `$Default` | |
//! | `unprocessedEventThreshold` | M | `64` | integer target, > 0 |
//! | `activationUnprocessedEventThreshold` | M | `0` | active iff the uncapped total > this |
//! | `stalePartitionInfoThreshold` | M | `10000` | a lag within this of `i64::MAX` counts 0 |
//! | `checkpointStrategy` | M | — | `azureFunction`, `blobMetadata`, `goSdk`, `dapr`; none: legacy layout |
//! | `blobContainer` | M | — | required except for `azureFunction` and the strategy-less Functions layout |
//! | `cloud`, `endpointSuffix` | M | `AzurePublicCloud` | storage suffix for an account-only storage connection string |
//!
//! Partition ids come from `GET https://<ns>/<hub>?api-version=2014-01` (`PartitionIds`), each
//! partition's `BeginSequenceNumber`/`EndSequenceNumber` from the runtime metadata
//! `GET https://<ns>/<hub>/consumergroups/<cg>/partitions/<id>?api-version=2014-01`, both with a SAS
//! token. Checkpoints are read from blobs laid out as each SDK writes them (see `checkpoint`).
//! Metric `s<i>-azure-eventhub-<consumerGroup>`. Not yet: `podIdentity: azure-workload`.

pub mod checkpoint;

use std::sync::Arc;

use crate::azure::namespace::Namespace;
use crate::azure::{self, Service, StorageAccount};
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::{HttpClient, HttpSettings};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue, path_escape};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

pub use checkpoint::Strategy;

/// The trigger type.
pub const KIND: &str = "azure-eventhub";

/// The Event Hubs runtime REST API version.
const API_VERSION: &str = "2014-01";

/// Parsed `azure-eventhub` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The namespace (host, REST base URL, credentials).
    pub namespace: Namespace,
    /// The hub: `EntityPath` or `eventHubName`.
    pub hub: String,
    /// `consumerGroup`.
    pub consumer_group: String,
    /// The checkpoint store.
    pub storage: StorageAccount,
    /// `checkpointStrategy` with `blobContainer`.
    pub strategy: Strategy,
    /// `blobContainer` (or the Functions container).
    pub container: String,
    /// `unprocessedEventThreshold`.
    pub threshold: i64,
    /// `activationUnprocessedEventThreshold`.
    pub activation: i64,
    /// `stalePartitionInfoThreshold`.
    pub stale_threshold: i64,
    /// `s<i>-azure-eventhub-<consumerGroup>`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
    /// Request timeout.
    pub http: HttpSettings,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        if params.pod_identity.as_deref().is_some_and(|p| p != "none") {
            return Err(ConfigError::invalid(
                "podIdentity",
                "pod identity for azure-eventhub is not supported by Ebb yet; use connection strings",
            ));
        }
        let namespace = Namespace::from_connection_string(
            "connection",
            &params.required_secret("connection", order::AE)?,
        )?;
        let hub = match (
            &namespace.entity_path,
            params.optional::<String>("eventHubName", order::ME)?,
        ) {
            (Some(path), _) => path.clone(),
            (None, Some(name)) => name,
            (None, None) => {
                return Err(ConfigError::invalid(
                    "eventHubName",
                    "required when the connection string has no EntityPath",
                ));
            }
        };
        let suffix = azure::endpoint_suffix(params, Service::Storage, "endpointSuffix")?;
        let storage = StorageAccount::from_connection_string(
            "storageConnection",
            &params.required_secret("storageConnection", order::AE)?,
            "blob",
            &suffix,
        )?;
        let consumer_group: String =
            params.with_default("consumerGroup", order::M_, "$Default".into())?;
        let container: Option<String> = params.optional("blobContainer", order::M_)?;
        let strategy = match params.one_of(
            "checkpointStrategy",
            order::M_,
            &["", "azureFunction", "blobMetadata", "goSdk", "dapr"],
            Some(""),
        )? {
            "azureFunction" => Strategy::AzureFunction,
            "blobMetadata" => Strategy::BlobMetadata,
            "goSdk" => Strategy::GoSdk,
            "dapr" => Strategy::Dapr,
            _ if container.is_none() => Strategy::AzureFunction,
            _ => Strategy::Legacy,
        };
        let container = match (strategy, container) {
            (Strategy::AzureFunction, _) => checkpoint::FUNCTIONS_CONTAINER.to_owned(),
            (_, Some(c)) => c,
            (_, None) => {
                return Err(ConfigError::invalid(
                    "blobContainer",
                    "required with this checkpointStrategy",
                ));
            }
        };
        let threshold: i64 = params.with_default("unprocessedEventThreshold", order::M_, 64)?;
        if threshold <= 0 && !params.as_metric_source {
            return Err(ConfigError::invalid(
                "unprocessedEventThreshold",
                "must be greater than 0",
            ));
        }
        Ok(Self {
            metric_name: params.metric_name(&format!("azure-eventhub-{consumer_group}")),
            namespace,
            hub,
            consumer_group,
            storage,
            strategy,
            container,
            threshold,
            activation: params.with_default("activationUnprocessedEventThreshold", order::M_, 0)?,
            stale_threshold: params.with_default(
                "stalePartitionInfoThreshold",
                order::M_,
                10000,
            )?,
            target_type: params.external_target_type()?,
            http: HttpSettings::with_timeout(params.global_http_timeout),
        })
    }
}

/// A partition's runtime metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// `BeginSequenceNumber`.
    pub beginning: i64,
    /// `EndSequenceNumber`: the last enqueued sequence number (`-1`: empty).
    pub last: i64,
}

/// Partition ids from a hub description (`PartitionIds`, else `0..PartitionCount`).
pub fn partition_ids_from(body: &str) -> Result<Vec<String>, MeasureError> {
    let bad =
        |m: String| MeasureError::new(MeasureReason::BadResponse, format!("azure-eventhub: {m}"));
    if azure::xml_root(body).as_deref() == Some("feed") {
        return Err(MeasureError::new(
            MeasureReason::NotFound,
            "azure-eventhub: the event hub does not exist",
        ));
    }
    let ids = azure::xml_texts(body, &["PartitionIds", "string"]).map_err(bad)?;
    if !ids.is_empty() {
        return Ok(ids);
    }
    let count = azure::xml_text(body, &["EventHubDescription", "PartitionCount"])
        .map_err(bad)?
        .and_then(|c| c.parse::<u32>().ok())
        .ok_or_else(|| {
            bad("the hub description has neither PartitionIds nor PartitionCount".into())
        })?;
    Ok((0..count).map(|i| i.to_string()).collect())
}

/// A partition's sequence numbers from its runtime metadata (`PartitionDescription`).
pub fn partition_info_from(body: &str) -> Result<PartitionInfo, MeasureError> {
    let bad =
        |m: String| MeasureError::new(MeasureReason::BadResponse, format!("azure-eventhub: {m}"));
    let number = |name: &str| -> Result<i64, MeasureError> {
        azure::xml_text(body, &["PartitionDescription", name])
            .map_err(bad)?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("the partition description has no integer {name}")))
    };
    Ok(PartitionInfo {
        beginning: number("BeginSequenceNumber")?,
        last: number("EndSequenceNumber")?,
    })
}

/// Unprocessed events of one partition, as KEDA counts them.
pub fn unprocessed(info: PartitionInfo, checkpoint: Option<i64>, stale_threshold: i64) -> i64 {
    if info.last == -1 {
        return 0;
    }
    let Some(cp) = checkpoint else {
        // No checkpoint yet: everything retained is unprocessed.
        return if (info.beginning == 0 && info.last == 0) || info.beginning != info.last {
            info.last - info.beginning + 1
        } else {
            0
        };
    };
    let u = if info.last >= cp {
        info.last - cp
    } else {
        // The sequence number wrapped around.
        (i64::MAX - cp).saturating_add(info.last)
    };
    if u > i64::MAX - stale_threshold { 0 } else { u }
}

/// The `azure-eventhub` scaler.
#[derive(Debug)]
pub struct AzureEventHubScaler {
    config: Config,
    client: Arc<HttpClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(AzureEventHubScaler::with_config(
        Config::from_params(params)?,
        clients,
    )?))
}

impl AzureEventHubScaler {
    /// A scaler for an already parsed config (tests point `namespace.base_url` at a local server).
    pub fn with_config(config: Config, clients: &Clients) -> Result<Self, ConfigError> {
        let client = clients.http(&config.http)?;
        Ok(Self { config, client })
    }

    async fn partition(&self, poll: &Poll, id: &str) -> Result<i64, MeasureError> {
        let c = &self.config;
        let path = format!(
            "{}/consumergroups/{}/partitions/{}",
            path_escape(&c.hub),
            path_escape(&c.consumer_group),
            path_escape(id)
        );
        let runtime = c.namespace.get(
            poll,
            &self.client,
            &path,
            API_VERSION,
            "azure-eventhub: partition metadata",
        );
        let stored = checkpoint::read(poll, &self.client, c, id);
        let (body, cp) = tokio::try_join!(runtime, stored)?;
        let info = partition_info_from(&body)?;
        Ok(unprocessed(info, cp, c.stale_threshold))
    }

    /// Per-partition unprocessed events, in partition-id order.
    pub async fn unprocessed(&self, poll: &Poll) -> Result<Vec<(String, i64)>, MeasureError> {
        let c = &self.config;
        let body = c
            .namespace
            .get(
                poll,
                &self.client,
                &path_escape(&c.hub),
                API_VERSION,
                "azure-eventhub: hub description",
            )
            .await?;
        let ids = partition_ids_from(&body)?;
        let values =
            futures::future::try_join_all(ids.iter().map(|id| self.partition(poll, id))).await?;
        Ok(ids.into_iter().zip(values).collect())
    }
}

impl Scaler for AzureEventHubScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Int(self.config.threshold),
            self.config.activation as f64,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let per = self.unprocessed(poll).await?;
            let partitions = per.len() as i64;
            let total = per
                .iter()
                .fold(0i64, |acc, (_, u)| acc.checked_add(*u).unwrap_or(i64::MAX));
            let threshold = self.config.threshold;
            let value = if threshold > 0 && total / threshold > partitions {
                partitions * threshold
            } else {
                total
            };
            let mut m = Measurement::single(
                &self.config.metric_name,
                value as f64,
                self.config.activation as f64,
            );
            m.is_active = total > self.config.activation;
            Ok(m)
        })
    }
}

#[cfg(test)]
mod tests;
