//! Task sources (an Ebb extension): a ScaledJob's trigger hands out single messages, so each Job
//! runs the one message it was created for. Built from the same `TriggerParams` as the trigger's
//! scaler, sharing its clients (`Clients`).
//!
//! The contract, for every broker: [`TaskSource::take`] holds up to `max` messages for this taker
//! (no other consumer gets them while held); [`TaskSource::ack`] removes one for good, and is
//! called only once its Job exists; a holder that dies without acknowledging gives the messages
//! back ([`TaskSource::recover`] re-hands them where the broker does not do it by itself), so
//! delivery is at-least-once. [`TaskSource::dead_letter`] publishes a copy to a target on the same
//! broker with the reason; the caller then acknowledges the original if it still holds it.
//!
//! | trigger | take | ack | after a crash | task id |
//! |---|---|---|---|---|
//! | `rabbitmq` (AMQP) | `basic.get`, manual ack, own connection | `basic.ack` | the broker requeues when the connection closes | `message-id` property, else `sha256:` of (queue, payload) |
//! | `redis` (list) | `LMOVE <list> <list>:ebb-processing LEFT RIGHT` | `LREM` from the processing list | `recover()`: the processing list | `sha256:` of the payload |
//! | `redis-streams` | `XREADGROUP` as consumer `ebb` (group created at `0` if missing) | `XACK` | `recover()`: the consumer's pending entries | entry id |
//! | `azure-queue` | Get Messages, visibility timeout (default 300 s) | Delete Message with the pop receipt | reappears when the timeout ends | `MessageId` |
//! | `aws-sqs-queue` | `ReceiveMessage`, `VisibilityTimeout` (default 300 s) | `DeleteMessage` | reappears when the timeout ends | `MessageId` |
//!
//! Hashed ids make identical payloads one task while one of them is in hand (the duplicate window
//! documented in docs/compatibility.md); give messages a `message-id` to avoid it on RabbitMQ.

mod aws_sqs_queue;
mod azure_queue;
mod rabbitmq;
mod redis_list;
mod redis_streams;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{ConfigError, MeasureError};
use crate::params::TriggerParams;
use crate::pool::Clients;
use crate::scaler::BoxFuture;

/// Header / attribute / field that carries the reason on a dead-lettered message.
pub const FAILURE_REASON: &str = "ebb-failure-reason";

/// How long a taken Azure Storage Queue or SQS message stays invisible before the broker hands it
/// out again (when its holder neither deletes it nor is alive to). Longer than any create-then-ack.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(300);

/// Trigger types that can hand out messages, sorted.
pub const TRIGGER_TYPES: &[&str] = &[
    crate::aws_sqs_queue::KIND,
    crate::azure_queue::KIND,
    crate::rabbitmq::KIND,
    crate::redis::KIND,
    crate::redis_streams::KIND,
];

/// One message in hand.
#[derive(Clone, PartialEq, Eq)]
pub struct Task {
    /// Stable id: the broker's message id where it has one, else a digest (see the module table).
    /// Not DNS-safe itself: hash it for names (`ebb_core::task::job_name`).
    pub id: String,
    /// The message body, as the broker holds it.
    pub payload: Vec<u8>,
    /// Where it came from, e.g. `rabbitmq/<vhost>/<queue>`; never contains credentials.
    pub source: String,
    /// What `ack` needs; [`Receipt::none`] for a task rebuilt from a Job (already acknowledged).
    pub receipt: Receipt,
}

impl Task {
    /// A task that is no longer held (e.g. rebuilt from a failed Job's data to dead-letter it).
    pub fn new(
        id: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        source: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            payload: payload.into(),
            source: source.into(),
            receipt: Receipt::none(),
        }
    }

    /// The payload as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }
}

// The payload is user data: show its size, not its bytes.
impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("payload_bytes", &self.payload.len())
            .field("held", &self.receipt.is_held())
            .finish()
    }
}

/// What acknowledging a held message takes; opaque outside this module.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Receipt(Held);

#[derive(Clone, PartialEq, Eq, Default)]
enum Held {
    /// Not held (acknowledged already, or rebuilt).
    #[default]
    None,
    /// AMQP delivery tag on the source's channel, with the channel's generation (a tag from a
    /// channel that has since closed is void: the broker requeued that message).
    Amqp { tag: u64, generation: u64 },
    /// The payload sits in the processing list (`LREM` needs nothing else).
    RedisList,
    /// Stream entry id (the task id too).
    RedisStream,
    /// Azure: message id and pop receipt.
    Azure {
        message_id: String,
        pop_receipt: String,
    },
    /// SQS receipt handle.
    Sqs { receipt_handle: String },
}

impl Receipt {
    /// No message held.
    pub fn none() -> Self {
        Self(Held::None)
    }

    /// Whether acknowledging still has something to do.
    pub fn is_held(&self) -> bool {
        self.0 != Held::None
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_held() {
            "Receipt(held)"
        } else {
            "Receipt(none)"
        })
    }
}

/// A trigger's message source. Building one validates without network I/O; the methods do I/O.
pub trait TaskSource: Send + Sync + fmt::Debug {
    /// `rabbitmq/<vhost>/<queue>`, `redis/<db>/<list>`, … (no credentials).
    fn source(&self) -> &str;

    /// Takes (holds) up to `max` messages; fewer, or none, when the source has fewer.
    fn take(&self, max: usize) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>>;

    /// Removes a held message for good. A task that is not held is a no-op.
    fn ack<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), MeasureError>>;

    /// Publishes the task's payload to `target` on the same broker with `reason` in
    /// [`FAILURE_REASON`]; does not acknowledge the original.
    fn dead_letter<'a>(
        &'a self,
        task: &'a Task,
        target: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), MeasureError>>;

    /// Messages a previous holder took but never acknowledged, held again by this source (empty
    /// where the broker hands them out again by itself: rabbitmq, azure-queue, aws-sqs-queue).
    fn recover(&self) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>>;
}

/// How a source holds messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskOptions {
    /// Azure Storage Queue and SQS: how long a taken message stays invisible.
    pub visibility_timeout: Duration,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
        }
    }
}

/// Builds the task source for `params.trigger_type` with default options.
pub fn build(
    params: &TriggerParams,
    clients: &Clients,
) -> Result<Arc<dyn TaskSource>, ConfigError> {
    build_with(params, clients, TaskOptions::default())
}

/// Builds the task source for `params.trigger_type`. No network I/O; errors name the key.
pub fn build_with(
    params: &TriggerParams,
    clients: &Clients,
    options: TaskOptions,
) -> Result<Arc<dyn TaskSource>, ConfigError> {
    match params.trigger_type.as_str() {
        crate::rabbitmq::KIND => Ok(Arc::new(rabbitmq::RabbitmqTasks::new(params, clients)?)),
        crate::redis::KIND => Ok(Arc::new(redis_list::RedisListTasks::new(params, clients)?)),
        crate::redis_streams::KIND => Ok(Arc::new(redis_streams::RedisStreamTasks::new(
            params, clients,
        )?)),
        crate::azure_queue::KIND => Ok(Arc::new(azure_queue::AzureQueueTasks::new(
            params, clients, options,
        )?)),
        crate::aws_sqs_queue::KIND => Ok(Arc::new(aws_sqs_queue::SqsTasks::new(
            params, clients, options,
        )?)),
        other => Err(ConfigError::invalid(
            "type",
            format!(
                "trigger type {other:?} cannot hand out messages; task data supports {}",
                TRIGGER_TYPES.join(", ")
            ),
        )),
    }
}

/// `sha256:<32 hex>` of the parts (length-prefixed), for sources without a message id.
pub(crate) fn digest_id(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests;
