//! The shared Kafka client: one librdkafka handle per (brokers, credentials, TLS) for metadata and
//! latest offsets, plus one per consumer group for committed offsets, shared by every trigger.
//!
//! librdkafka's calls block, so they run on tokio's blocking pool. Handles are made on the first
//! measurement, never when a scaler is built.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use crate::error::{MeasureError, MeasureReason};
use crate::secret::SecretString;

/// What a shared client is built from; also its identity in the pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KafkaKey {
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// Non-secret librdkafka settings (security protocol, SASL mechanism, TLS options).
    pub settings: Vec<(String, String)>,
    /// Secret librdkafka settings (`sasl.password`, `ssl.key.pem`).
    pub secrets: Vec<(String, SecretString)>,
    /// Timeout of every blocking call.
    pub timeout: Duration,
}

/// Remembers librdkafka's last connection-level error, to explain a timeout.
#[derive(Default)]
pub(crate) struct Context {
    last_error: Mutex<Option<(RDKafkaErrorCode, String)>>,
}

impl ClientContext for Context {
    // rdkafka queues logs and errors on the handle's main queue; `drain` serves them after each
    // call, so the queue never grows and the last broker failure can explain a timeout.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(?level, fac, message = log_message, "librdkafka");
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            *self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((
                RDKafkaErrorCode::BrokerTransportFailure,
                log_message.to_owned(),
            ));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(code) = error.rdkafka_error_code() {
            *self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((code, reason.to_owned()));
        }
    }
}

impl ConsumerContext for Context {}

type Handle = BaseConsumer<Context>;

/// A shared Kafka client (see the module doc).
pub struct KafkaClient {
    key: KafkaKey,
    meta: OnceLock<Arc<Handle>>,
    groups: Mutex<HashMap<String, Arc<Handle>>>,
}

impl std::fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaClient")
            .field("bootstrap", &self.key.bootstrap)
            .finish_non_exhaustive()
    }
}

/// One partition's committed and latest offsets (`-1`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// The group's committed offset, `-1` when it has none.
    pub committed: i64,
    /// The partition's end offset, `None` when the broker did not report it.
    pub latest: Option<i64>,
}

impl KafkaClient {
    pub(crate) fn new(key: KafkaKey) -> Self {
        Self {
            key,
            meta: OnceLock::new(),
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn config(&self, group: Option<&str>) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.key.bootstrap)
            .set("client.id", "ebb")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("allow.auto.create.topics", "false")
            .set("socket.keepalive.enable", "true")
            // rdkafka derives librdkafka's log level from the `log` crate unless told.
            .set_log_level(RDKafkaLogLevel::Warning);
        if let Some(group) = group {
            config.set("group.id", group);
        }
        for (k, v) in &self.key.settings {
            config.set(k, v);
        }
        for (k, v) in &self.key.secrets {
            config.set(k, v.expose());
        }
        config
    }

    fn secrets(&self) -> Vec<&SecretString> {
        self.key.secrets.iter().map(|(_, v)| v).collect()
    }

    fn create(&self, group: Option<&str>) -> Result<Arc<Handle>, MeasureError> {
        self.config(group)
            .create_with_context(Context::default())
            .map(Arc::new)
            .map_err(|e| {
                MeasureError::caused_by(
                    MeasureReason::Config,
                    "kafka: creating the client",
                    &e,
                    &self.secrets(),
                )
            })
    }

    fn meta(&self) -> Result<Arc<Handle>, MeasureError> {
        if let Some(h) = self.meta.get() {
            return Ok(h.clone());
        }
        let handle = self.create(None)?;
        Ok(self.meta.get_or_init(|| handle).clone())
    }

    fn group(&self, group: &str) -> Result<Arc<Handle>, MeasureError> {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = groups.get(group) {
            return Ok(h.clone());
        }
        let handle = self.create(Some(group))?;
        groups.insert(group.to_owned(), handle.clone());
        Ok(handle)
    }

    /// How many librdkafka handles this client holds (metadata + one per group).
    pub fn handles(&self) -> usize {
        usize::from(self.meta.get().is_some())
            + self
                .groups
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
    }

    /// Partitions per topic: of `topic`, or of every non-internal topic when `None`.
    pub(crate) async fn partitions(
        self: &Arc<Self>,
        topic: Option<String>,
    ) -> Result<Vec<(String, Vec<i32>)>, MeasureError> {
        let this = self.clone();
        blocking(move || {
            let meta = this.meta()?;
            drain(&meta);
            let metadata = meta
                .fetch_metadata(topic.as_deref(), this.key.timeout)
                .map_err(|e| this.error(&meta, "kafka: reading metadata", e))?;
            let mut out = Vec::new();
            for t in metadata.topics() {
                if topic.is_none() && t.name().starts_with("__") {
                    continue;
                }
                if let Some(err) = t.error() {
                    let code = RDKafkaErrorCode::from(err);
                    let reason = if code == RDKafkaErrorCode::UnknownTopicOrPartition {
                        MeasureReason::NotFound
                    } else {
                        classify(code)
                    };
                    return Err(MeasureError::new(
                        reason,
                        format!("kafka: topic {:?}: {code}", t.name()),
                    ));
                }
                let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
                ids.sort_unstable();
                out.push((t.name().to_owned(), ids));
            }
            if let Some(name) = &topic
                && out.iter().all(|(t, ids)| t != name || ids.is_empty())
            {
                return Err(MeasureError::new(
                    MeasureReason::NotFound,
                    format!("kafka: topic {name:?} does not exist"),
                ));
            }
            Ok(out)
        })
        .await
    }

    /// Committed offsets of `group` and latest offsets, for `partitions`, fetched concurrently.
    pub(crate) async fn offsets(
        self: &Arc<Self>,
        group: &str,
        partitions: &[(String, Vec<i32>)],
    ) -> Result<HashMap<(String, i32), PartitionOffsets>, MeasureError> {
        let mut committed_tpl = TopicPartitionList::new();
        let mut latest_tpl = TopicPartitionList::new();
        for (topic, ids) in partitions {
            for &id in ids {
                committed_tpl.add_partition(topic, id);
                // A ListOffsets timestamp of -1 (OFFSET_END) asks for the end offset: one request
                // per leader instead of one watermark query per partition.
                latest_tpl
                    .add_partition_offset(topic, id, Offset::End)
                    .map_err(|e| self.error_plain("kafka: building the offsets request", e))?;
            }
        }
        let (this, group) = (self.clone(), group.to_owned());
        let committed = blocking(move || {
            let handle = this.group(&group)?;
            drain(&handle);
            handle
                .committed_offsets(committed_tpl, this.key.timeout)
                .map_err(|e| this.error(&handle, "kafka: reading the group's committed offsets", e))
        });
        let this = self.clone();
        let latest = blocking(move || {
            let meta = this.meta()?;
            meta.offsets_for_times(latest_tpl, this.key.timeout)
                .map_err(|e| this.error(&meta, "kafka: reading the latest offsets", e))
        });
        let (committed, latest) = tokio::try_join!(committed, latest)?;
        let mut out: HashMap<(String, i32), PartitionOffsets> = HashMap::new();
        for e in committed.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) => o,
                _ => -1,
            };
            out.insert(
                (e.topic().to_owned(), e.partition()),
                PartitionOffsets {
                    committed: offset,
                    latest: None,
                },
            );
        }
        for e in latest.elements() {
            if let (Offset::Offset(o), Ok(())) = (e.offset(), e.error())
                && let Some(p) = out.get_mut(&(e.topic().to_owned(), e.partition()))
            {
                p.latest = Some(o);
            }
        }
        Ok(out)
    }

    fn error_plain(&self, what: &str, e: KafkaError) -> MeasureError {
        let reason = e
            .rdkafka_error_code()
            .map(classify)
            .unwrap_or(MeasureReason::BadResponse);
        MeasureError::caused_by(reason, what, &e, &self.secrets())
    }

    /// Classifies a failed call; a timeout is explained by the last connection error, if any.
    fn error(&self, handle: &Handle, what: &str, e: KafkaError) -> MeasureError {
        drain(handle);
        let code = e.rdkafka_error_code();
        let mut reason = code.map(classify).unwrap_or(MeasureReason::BadResponse);
        let mut text = e.to_string();
        if matches!(reason, MeasureReason::Timeout | MeasureReason::Unreachable) {
            let last = handle
                .context()
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some((code, why)) = last {
                reason = explain(code, &why);
                text = format!("{text} (last broker error: {why})");
            }
        }
        let cause = std::io::Error::other(text);
        MeasureError::caused_by(reason, what, &cause, &self.secrets())
    }
}

/// Serves queued log and error events (bounded: this runs on every call).
fn drain(handle: &Handle) {
    for _ in 0..64 {
        match handle.poll(Duration::ZERO) {
            None => break,
            Some(Err(e)) => {
                *handle
                    .context()
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some((
                    e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail),
                    e.to_string(),
                ));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Runs a blocking librdkafka call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MeasureError> + Send + 'static,
) -> Result<T, MeasureError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        MeasureError::new(
            MeasureReason::BadResponse,
            format!("kafka: worker failed: {e}"),
        )
    })?
}

fn classify(code: RDKafkaErrorCode) -> MeasureReason {
    use RDKafkaErrorCode as C;
    match code {
        C::OperationTimedOut | C::RequestTimedOut | C::TimedOutQueue => MeasureReason::Timeout,
        C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::Resolve
        | C::BrokerNotAvailable
        | C::NetworkException => MeasureReason::Unreachable,
        C::Authentication
        | C::SaslAuthenticationFailed
        | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::SSL => MeasureReason::Unauthorized,
        C::UnknownTopicOrPartition
        | C::UnknownTopic
        | C::UnknownPartition
        | C::UnknownGroup
        | C::GroupIdNotFound => MeasureReason::NotFound,
        C::InvalidArgument | C::InvalidConfig => MeasureReason::Config,
        _ => MeasureReason::BadResponse,
    }
}

/// What the last connection error says about a timeout.
fn explain(code: RDKafkaErrorCode, why: &str) -> MeasureReason {
    let why = why.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| why.contains(w));
    if any(&[
        "connection refused",
        "failed to resolve",
        "connect to",
        "no route",
    ]) {
        MeasureReason::Unreachable
    } else if any(&[
        "invalid response size",
        "protocol parse",
        "unsupported",
        "corrupt",
    ]) {
        MeasureReason::BadResponse
    } else if any(&[
        "authentication failed",
        "sasl authentication",
        "ssl handshake failed",
        "certificate verify",
    ]) {
        MeasureReason::Unauthorized
    } else {
        match classify(code) {
            MeasureReason::BadResponse | MeasureReason::Timeout => MeasureReason::Unreachable,
            other => other,
        }
    }
}
