//! RabbitMQ task source over AMQP 0-9-1: `basic.get` with manual acknowledgement on a connection
//! of its own.
//!
//! Held deliveries belong to a channel; if the connection or channel closes (a crash, a network
//! cut) the broker requeues them, so nothing is lost and `recover` has nothing to do. The source
//! has its own connection rather than the scalers' shared one: a channel error on the shared
//! connection (a passive declare of a missing queue closes the channel) must not requeue messages
//! whose Jobs are being created. Dead-letter publishes are confirmed (publisher confirms) and
//! `mandatory`, so a missing target queue is an error, not a silent drop.

use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use super::{Held, Receipt, Task, TaskSource, digest_id};
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::params::TriggerParams;
use crate::pool::Clients;
use crate::rabbitmq::amqp::AmqpKey;
use crate::rabbitmq::{Config, Protocol};
use crate::scaler::BoxFuture;

/// Persistent delivery mode (survives a broker restart on a durable queue).
const PERSISTENT: u8 = 2;

struct Open {
    connection: Connection,
    channel: Channel,
    generation: u64,
}

/// `rabbitmq` messages of one queue.
pub(super) struct RabbitmqTasks {
    key: AmqpKey,
    queue: String,
    source: String,
    connection_name: String,
    state: tokio::sync::Mutex<(Option<Open>, u64)>,
}

impl std::fmt::Debug for RabbitmqTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitmqTasks")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl RabbitmqTasks {
    pub(super) fn new(params: &TriggerParams, clients: &Clients) -> Result<Self, ConfigError> {
        let config = Config::from_params(params)?;
        if config.protocol != Protocol::Amqp {
            return Err(ConfigError::invalid(
                "protocol",
                "task data takes rabbitmq messages over AMQP; this trigger uses the management API (http)",
            ));
        }
        if config.use_regex {
            return Err(ConfigError::invalid(
                "useRegex",
                "task data needs one queue, not a regex",
            ));
        }
        Ok(Self {
            key: AmqpKey::for_config(&config),
            // `/` (the default vhost) is written %2F, as in AMQP URLs.
            source: format!(
                "rabbitmq/{}/{}",
                config.vhost.replace('/', "%2F"),
                config.queue_name
            ),
            queue: config.queue_name,
            connection_name: format!("{} (task data)", clients.inner.name),
            state: tokio::sync::Mutex::new((None, 0)),
        })
    }

    /// The open channel and its generation, (re)connecting as needed.
    async fn channel(&self) -> Result<(Channel, u64), MeasureError> {
        let mut state = self.state.lock().await;
        if let Some(open) = &state.0
            && open.channel.status().connected()
        {
            return Ok((open.channel.clone(), open.generation));
        }
        if let Some(old) = state.0.take() {
            let _ = old.connection.close(200, "ebb: reconnecting".into()).await;
        }
        let props = ConnectionProperties::default()
            .with_connection_name(self.connection_name.as_str().into());
        let connect = async {
            crate::rabbitmq::amqp::connect(&self.key, props)
                .await
                .map_err(|e| self.error("connecting", &e))
        };
        let connection = self.timed("connecting", connect).await??;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| self.error("opening a channel", &e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.error("confirm.select", &e))?;
        state.1 += 1;
        let generation = state.1;
        state.0 = Some(Open {
            connection,
            channel: channel.clone(),
            generation,
        });
        Ok((channel, generation))
    }

    async fn timed<T>(&self, doing: &str, fut: impl Future<Output = T>) -> Result<T, MeasureError> {
        tokio::time::timeout(self.key.timeout.max(Duration::from_secs(1)), fut)
            .await
            .map_err(|_| {
                MeasureError::new(
                    MeasureReason::Timeout,
                    format!("rabbitmq task source {}: {doing} timed out", self.source),
                )
            })
    }

    fn error(&self, doing: &str, e: &lapin::Error) -> MeasureError {
        let text = e.to_string();
        let reason = if text.contains("ACCESS_REFUSED") || text.contains("ACCESS-REFUSED") {
            MeasureReason::Unauthorized
        } else if text.contains("NOT_FOUND") || text.contains("NOT-FOUND") {
            MeasureReason::NotFound
        } else if matches!(e.kind(), lapin::ErrorKind::ProtocolError(_)) {
            MeasureReason::BadResponse
        } else {
            MeasureReason::Unreachable
        };
        MeasureError::caused_by(
            reason,
            format!("rabbitmq task source {}: {doing}", self.source),
            e,
            &[&self.key.uri],
        )
    }
}

impl Drop for RabbitmqTasks {
    fn drop(&mut self) {
        // Closing the connection is what makes the broker requeue unacknowledged deliveries at
        // once (a dropped socket does it too, after the heartbeat timeout).
        if let Some(open) = self.state.get_mut().0.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let _ = open
                    .connection
                    .close(200, "ebb: task source dropped".into())
                    .await;
            });
        }
    }
}

impl TaskSource for RabbitmqTasks {
    fn source(&self) -> &str {
        &self.source
    }

    fn take(&self, max: usize) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            if max == 0 {
                return Ok(out);
            }
            let (channel, generation) = self.channel().await?;
            while out.len() < max {
                let got = self
                    .timed(
                        "basic.get",
                        channel.basic_get(
                            self.queue.as_str().into(),
                            BasicGetOptions { no_ack: false },
                        ),
                    )
                    .await?
                    .map_err(|e| self.error(&format!("basic.get from {:?}", self.queue), &e))?;
                let Some(message) = got else { break };
                let delivery = message.delivery;
                let id = match delivery.properties.message_id() {
                    Some(id) if !id.as_str().is_empty() => id.as_str().to_owned(),
                    _ => digest_id(&[self.queue.as_bytes(), &delivery.data]),
                };
                out.push(Task {
                    id,
                    payload: delivery.data,
                    source: self.source.clone(),
                    receipt: Receipt(Held::Amqp {
                        tag: delivery.delivery_tag,
                        generation,
                    }),
                });
            }
            Ok(out)
        })
    }

    fn ack<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            let Held::Amqp { tag, generation } = task.receipt.0 else {
                return Ok(());
            };
            let channel = {
                let state = self.state.lock().await;
                match &state.0 {
                    Some(open)
                        if open.generation == generation && open.channel.status().connected() =>
                    {
                        open.channel.clone()
                    }
                    _ => {
                        return Err(MeasureError::new(
                            MeasureReason::Unreachable,
                            format!(
                                "rabbitmq task source {}: the channel that delivered task {:?} closed; the broker has requeued it",
                                self.source, task.id
                            ),
                        ));
                    }
                }
            };
            self.timed(
                "basic.ack",
                channel.basic_ack(tag, BasicAckOptions::default()),
            )
            .await?
            .map_err(|e| self.error("basic.ack", &e))
        })
    }

    fn dead_letter<'a>(
        &'a self,
        task: &'a Task,
        target: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            let (channel, _) = self.channel().await?;
            let mut headers = FieldTable::default();
            headers.insert(
                super::FAILURE_REASON.into(),
                AMQPValue::LongString(reason.into()),
            );
            headers.insert(
                "ebb-task-source".into(),
                AMQPValue::LongString(task.source.as_str().into()),
            );
            let properties = BasicProperties::default()
                .with_headers(headers)
                .with_message_id(task.id.as_str().into())
                .with_delivery_mode(PERSISTENT);
            let doing = format!("publishing to dead-letter queue {target:?}");
            let confirm = self
                .timed(
                    &doing,
                    channel.basic_publish(
                        "".into(),
                        target.into(),
                        BasicPublishOptions {
                            mandatory: true,
                            immediate: false,
                        },
                        &task.payload,
                        properties,
                    ),
                )
                .await?
                .map_err(|e| self.error(&doing, &e))?;
            let confirmation = self
                .timed(&doing, confirm)
                .await?
                .map_err(|e| self.error(&doing, &e))?;
            if confirmation.is_nack() {
                return Err(MeasureError::new(
                    MeasureReason::BadResponse,
                    format!(
                        "rabbitmq task source {}: {doing}: the broker refused it",
                        self.source
                    ),
                ));
            }
            if confirmation.take_message().is_some() {
                return Err(MeasureError::new(
                    MeasureReason::NotFound,
                    format!(
                        "rabbitmq task source {}: {doing}: no such queue (the message was returned)",
                        self.source
                    ),
                ));
            }
            Ok(())
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        // The broker requeued whatever a closed connection held; `take` finds it again.
        Box::pin(async { Ok(Vec::new()) })
    }
}
