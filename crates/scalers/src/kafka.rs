//! `kafka` trigger: the consumer group's lag over a topic's partitions (or all its topics).
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `bootstrapServers` | M, E | required | comma list |
//! | `consumerGroup` | M, E | required | |
//! | `topic` | M, E | — | empty ⇒ every topic the group has committed offsets for |
//! | `partitionLimitation` | M | all | `0,1,4-6`; ignored without `topic` |
//! | `lagThreshold` | M | `10` | integer target, > 0 |
//! | `activationLagThreshold` | M | `0` | ≥ 0; active iff lag (persistent included) > this |
//! | `offsetResetPolicy` | M | `latest` | `latest` / `earliest`: the lag of a partition without a committed offset |
//! | `allowIdleConsumers` | M | `false` | don't cap the lag at partitions × threshold |
//! | `excludePersistentLag` | M | `false` | lag of a partition whose offset did not move since the last poll counts 0 |
//! | `scaleToZeroOnInvalidOffset` | M | `false` | no committed offset ⇒ lag 0 |
//! | `limitToPartitionsWithLag` | M | `false` | cap at partitions-with-lag × threshold; needs `topic` |
//! | `ensureEvenDistributionOfPartitions` | M | `false` | round up to a divisor of the partition count; needs `topic` |
//! | `fullMetadata`, `version` | M | | accepted; librdkafka negotiates versions itself |
//! | `tls` | M, A | `disable` | `enable`: TLS with `ca`, `cert`, `key` (A) and `unsafeSsl` (M) |
//! | `sasl` | M, A | `none` | `plaintext`, `scram_sha256`, `scram_sha512` with `username`, `password` (A) |
//!
//! One librdkafka handle per (brokers, credentials, TLS) reads metadata and end offsets for every
//! trigger using it, and one per consumer group reads committed offsets. Calls time out after the
//! global HTTP timeout. Metric `s<i>-kafka-<topic>` or `s<i>-kafka-<consumerGroup>-topics`.
//! Not yet: `sasl: oauthbearer`/`gssapi`, `awsRegion` (MSK IAM), encrypted keys.

pub mod client;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{ConfigError, MeasureError};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};
use crate::tls::TlsSettings;

pub use client::{KafkaClient, KafkaKey, PartitionOffsets};

/// The trigger type.
pub const KIND: &str = "kafka";

/// Where a group without a committed offset would start reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetResetPolicy {
    /// From the end: KEDA counts a lag of 1.
    Latest,
    /// From the beginning: the whole partition is lag.
    Earliest,
}

/// Parsed `kafka` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Client identity (brokers, security settings, timeout).
    pub key: KafkaKey,
    /// `consumerGroup`.
    pub group: String,
    /// `topic` (`None`: all topics the group has offsets for).
    pub topic: Option<String>,
    /// `partitionLimitation`, expanded (`None`: all).
    pub partitions: Option<Vec<i32>>,
    /// `lagThreshold`.
    pub lag_threshold: i64,
    /// `activationLagThreshold`.
    pub activation: i64,
    /// `offsetResetPolicy`.
    pub reset: OffsetResetPolicy,
    /// `allowIdleConsumers`.
    pub allow_idle_consumers: bool,
    /// `excludePersistentLag`.
    pub exclude_persistent_lag: bool,
    /// `scaleToZeroOnInvalidOffset`.
    pub scale_to_zero_on_invalid_offset: bool,
    /// `limitToPartitionsWithLag`.
    pub limit_to_partitions_with_lag: bool,
    /// `ensureEvenDistributionOfPartitions`.
    pub ensure_even_distribution: bool,
    /// The metric name.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let bootstrap: String = params.required("bootstrapServers", order::ME)?;
        let bootstrap = bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let group: String = params.required("consumerGroup", order::ME)?;
        let topic: Option<String> = params.optional("topic", order::ME)?;
        let lag_threshold: i64 = params.with_default("lagThreshold", order::M_, 10)?;
        if lag_threshold <= 0 {
            return Err(ConfigError::invalid(
                "lagThreshold",
                "must be greater than 0",
            ));
        }
        let activation: i64 = params.with_default("activationLagThreshold", order::M_, 0)?;
        if activation < 0 {
            return Err(ConfigError::invalid(
                "activationLagThreshold",
                "must be 0 or greater",
            ));
        }
        let reset = match params.one_of(
            "offsetResetPolicy",
            order::M_,
            &["latest", "earliest"],
            Some("latest"),
        )? {
            "earliest" => OffsetResetPolicy::Earliest,
            _ => OffsetResetPolicy::Latest,
        };
        let allow_idle_consumers = params.with_default("allowIdleConsumers", order::M_, false)?;
        let limit_to_partitions_with_lag =
            params.with_default("limitToPartitionsWithLag", order::M_, false)?;
        let ensure_even_distribution =
            params.with_default("ensureEvenDistributionOfPartitions", order::M_, false)?;
        if limit_to_partitions_with_lag && allow_idle_consumers {
            return Err(ConfigError::exclusive(
                "limitToPartitionsWithLag",
                "allowIdleConsumers",
            ));
        }
        if limit_to_partitions_with_lag && ensure_even_distribution {
            return Err(ConfigError::exclusive(
                "limitToPartitionsWithLag",
                "ensureEvenDistributionOfPartitions",
            ));
        }
        for (key, on) in [
            ("limitToPartitionsWithLag", limit_to_partitions_with_lag),
            (
                "ensureEvenDistributionOfPartitions",
                ensure_even_distribution,
            ),
        ] {
            if on && topic.is_none() {
                return Err(ConfigError::invalid(key, "requires a topic"));
            }
        }
        if !params.with_default("fullMetadata", order::M_, true)? && topic.is_none() {
            return Err(ConfigError::invalid(
                "fullMetadata",
                "false requires a topic",
            ));
        }
        let partitions = match (
            &topic,
            params.optional::<String>("partitionLimitation", order::M_)?,
        ) {
            (Some(_), Some(raw)) => Some(parse_partitions(&raw)?),
            _ => None,
        };
        let key = KafkaKey {
            bootstrap,
            settings: Vec::new(),
            secrets: Vec::new(),
            timeout: params.global_http_timeout,
        };
        let key = security(params, key)?;
        Ok(Self {
            metric_name: params.metric_name(&match &topic {
                Some(t) => format!("kafka-{t}"),
                None => format!("kafka-{group}-topics"),
            }),
            key,
            group,
            topic,
            partitions,
            lag_threshold,
            activation,
            reset,
            allow_idle_consumers,
            exclude_persistent_lag: params.with_default(
                "excludePersistentLag",
                order::M_,
                false,
            )?,
            scale_to_zero_on_invalid_offset: params.with_default(
                "scaleToZeroOnInvalidOffset",
                order::M_,
                false,
            )?,
            limit_to_partitions_with_lag,
            ensure_even_distribution,
            target_type: params.external_target_type()?,
        })
    }
}

/// `0,1,4-6` → `[0, 1, 4, 5, 6]`.
fn parse_partitions(raw: &str) -> Result<Vec<i32>, ConfigError> {
    let bad = || {
        ConfigError::invalid(
            "partitionLimitation",
            format!("{raw:?} is not a list like 0,1,4-6"),
        )
    };
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (i32, i32) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Maps `tls`, `sasl` and their credentials onto librdkafka settings.
fn security(params: &TriggerParams, mut key: KafkaKey) -> Result<KafkaKey, ConfigError> {
    let tls = params.one_of("tls", order::MA, &["enable", "disable"], Some("disable"))? == "enable";
    let sasl = params.one_of(
        "sasl",
        order::MA,
        &[
            "none",
            "plaintext",
            "scram_sha256",
            "scram_sha512",
            "oauthbearer",
            "gssapi",
        ],
        Some("none"),
    )?;
    let mechanism = match sasl {
        "none" => None,
        "plaintext" => Some("PLAIN"),
        "scram_sha256" => Some("SCRAM-SHA-256"),
        "scram_sha512" => Some("SCRAM-SHA-512"),
        other => {
            return Err(ConfigError::invalid(
                "sasl",
                format!("{other} is not supported by Ebb yet"),
            ));
        }
    };
    if params.has("awsRegion", order::M_) {
        return Err(ConfigError::invalid(
            "awsRegion",
            "MSK IAM is not supported by Ebb yet",
        ));
    }
    let protocol = match (tls, mechanism.is_some()) {
        (false, false) => "plaintext",
        (true, false) => "ssl",
        (false, true) => "sasl_plaintext",
        (true, true) => "sasl_ssl",
    };
    key.settings
        .push(("security.protocol".into(), protocol.into()));
    if let Some(mechanism) = mechanism {
        key.settings
            .push(("sasl.mechanism".into(), mechanism.into()));
        key.settings.push((
            "sasl.username".into(),
            params.required("username", order::A_)?,
        ));
        key.secrets.push((
            "sasl.password".into(),
            params.required_secret("password", order::A_)?,
        ));
    }
    if tls {
        let insecure = params.with_default("unsafeSsl", order::M_, false)?;
        let settings = TlsSettings::from_params(params, order::A_, insecure)?;
        if let Some(ca) = settings.ca {
            key.settings.push(("ssl.ca.pem".into(), ca));
        }
        if let Some(cert) = settings.cert {
            key.settings.push(("ssl.certificate.pem".into(), cert));
        }
        if let Some(k) = settings.key {
            key.secrets.push(("ssl.key.pem".into(), k));
        }
        if insecure {
            key.settings
                .push(("enable.ssl.certificate.verification".into(), "false".into()));
            key.settings.push((
                "ssl.endpoint.identification.algorithm".into(),
                "none".into(),
            ));
        }
    }
    Ok(key)
}

/// The lag of every partition and the totals, as KEDA computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lag {
    /// `(topic, partition) → (lag for the metric, lag including persistent lag)`.
    pub per_partition: Vec<((String, i32), (i64, i64))>,
    /// The metric value after the partition cap.
    pub value: i64,
    /// The uncapped total including persistent lag (decides activity).
    pub total_with_persistent: i64,
}

/// Lag of one partition: `(for the metric, with persistent lag)`.
fn partition_lag(
    config: &Config,
    offsets: PartitionOffsets,
    previous: Option<i64>,
    remember: &mut dyn FnMut(i64),
) -> (i64, i64) {
    if offsets.committed < 0 {
        let lag = match (config.scale_to_zero_on_invalid_offset, config.reset) {
            (true, _) => 0,
            (false, OffsetResetPolicy::Latest) => 1,
            (false, OffsetResetPolicy::Earliest) => offsets.latest.unwrap_or(0),
        };
        return (lag, lag);
    }
    let Some(latest) = offsets.latest else {
        return (0, 0);
    };
    let lag = latest - offsets.committed;
    if config.exclude_persistent_lag {
        match previous {
            // The consumer did not move since the last poll: maybe stuck on this offset.
            Some(p) if p == offsets.committed => return (0, lag),
            _ => remember(offsets.committed),
        }
    }
    (lag, lag)
}

/// KEDA's total lag with the partition cap, from the offsets of `partitions`.
///
/// `previous` is this scaler's memory of committed offsets (for `excludePersistentLag`).
pub fn compute_lag(
    config: &Config,
    partitions: &[(String, Vec<i32>)],
    offsets: &HashMap<(String, i32), PartitionOffsets>,
    previous: &mut HashMap<(String, i32), i64>,
) -> Lag {
    let mut per_partition = Vec::new();
    let (mut total, mut total_with_persistent, mut with_lag, mut count) = (0i64, 0i64, 0i64, 0i64);
    for (topic, ids) in partitions {
        for &id in ids {
            let k = (topic.clone(), id);
            let o = offsets.get(&k).copied().unwrap_or(PartitionOffsets {
                committed: -1,
                latest: None,
            });
            let prev = previous.get(&k).copied();
            let (lag, full) = partition_lag(config, o, prev, &mut |c| {
                previous.insert(k.clone(), c);
            });
            total = total.saturating_add(lag);
            total_with_persistent = total_with_persistent.saturating_add(full);
            if lag > 0 {
                with_lag += 1;
            }
            count += 1;
            per_partition.push((k, (lag, full)));
        }
    }
    let threshold = config.lag_threshold;
    let mut value = total;
    if !config.allow_idle_consumers
        || config.limit_to_partitions_with_lag
        || config.ensure_even_distribution
    {
        let upper = if config.limit_to_partitions_with_lag {
            with_lag
        } else {
            count
        };
        if config.ensure_even_distribution {
            value = even_factor(value, count, threshold).saturating_mul(threshold);
        }
        if value / threshold > upper {
            value = upper.saturating_mul(threshold);
        }
    }
    Lag {
        per_partition,
        value,
        total_with_persistent,
    }
}

/// The smallest divisor `f` of `partitions` with `f × threshold ≥ lag`, else `partitions`.
fn even_factor(lag: i64, partitions: i64, threshold: i64) -> i64 {
    (1..=partitions)
        .filter(|f| partitions % f == 0)
        .find(|f| f.saturating_mul(threshold) >= lag)
        .unwrap_or(partitions)
}

/// The `kafka` scaler.
#[derive(Debug)]
pub struct KafkaScaler {
    config: Config,
    client: Arc<KafkaClient>,
    /// Committed offsets seen at the previous poll (`excludePersistentLag`), per instance.
    previous: Mutex<HashMap<(String, i32), i64>>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(KafkaScaler::new(params, clients)?))
}

impl KafkaScaler {
    /// Builds the scaler (no network).
    pub fn new(params: &TriggerParams, clients: &Clients) -> Result<Self, ConfigError> {
        let config = Config::from_params(params)?;
        let client = clients.kafka(&config.key);
        Ok(Self {
            config,
            client,
            previous: Mutex::new(HashMap::new()),
        })
    }

    /// The shared client (for tests and benchmarks).
    pub fn client(&self) -> &Arc<KafkaClient> {
        &self.client
    }

    /// Reads partitions and offsets (shared within one poll) and computes the lag.
    pub async fn lag(&self, poll: &Poll) -> Result<Lag, MeasureError> {
        let c = &self.config;
        let key = format!(
            "kafka|{:p}|{}|{}",
            Arc::as_ptr(&self.client),
            c.group,
            c.topic.as_deref().unwrap_or("")
        );
        let (partitions, offsets) = poll
            .once(key, async {
                let mut partitions = self.client.partitions(c.topic.clone()).await?;
                let offsets = self.client.offsets(&c.group, &partitions).await?;
                if c.topic.is_none() {
                    // Only the topics the group has committed offsets for.
                    partitions.retain(|(topic, ids)| {
                        ids.iter().any(|id| {
                            offsets
                                .get(&(topic.clone(), *id))
                                .is_some_and(|o| o.committed >= 0)
                        })
                    });
                }
                Ok(Arc::new((partitions, offsets)))
            })
            .await
            .map(|shared| (shared.0.clone(), shared.1.clone()))?;
        let partitions: Vec<(String, Vec<i32>)> = match &c.partitions {
            Some(only) => partitions
                .into_iter()
                .map(|(t, ids)| (t, ids.into_iter().filter(|id| only.contains(id)).collect()))
                .collect(),
            None => partitions,
        };
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(compute_lag(c, &partitions, &offsets, &mut previous))
    }
}

impl Scaler for KafkaScaler {
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
            let lag = self.lag(poll).await?;
            let mut m = Measurement::single(
                &self.config.metric_name,
                lag.value as f64,
                self.config.activation as f64,
            );
            m.is_active = lag.total_with_persistent > self.config.activation;
            Ok(m)
        })
    }
}

impl Clients {
    /// The shared Kafka client for `key` (nothing connected until the first measurement).
    pub fn kafka(&self, key: &KafkaKey) -> Arc<KafkaClient> {
        match self.inner.kafka.get_or_create(key, |k| {
            Ok::<_, std::convert::Infallible>(KafkaClient::new(k.clone()))
        }) {
            Ok(client) => client,
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests;
