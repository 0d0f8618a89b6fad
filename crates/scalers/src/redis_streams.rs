//! `redis-streams` trigger: pending entries, stream length or consumer-group lag of a Redis stream.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `stream` | M | required | |
//! | `consumerGroup` | M | — | with it: pending (or lag) mode; without: length mode |
//! | `pendingEntriesCount` | M | `5` | integer target in pending mode |
//! | `streamLength` | M | `5` | integer target in length mode |
//! | `lagCount` | M | — | non-zero with `consumerGroup` ⇒ lag mode (Redis ≥ 7), target |
//! | `activationLagCount` | M | `0` | active iff value > this, in every mode |
//! | connection | | | as `redis`: `address` or `host`+`port`, `username`, `password`, `databaseIndex`, `enableTLS`/`tls`, `unsafeSsl`, `ca`, `cert`, `key` |
//!
//! | mode | value |
//! |---|---|
//! | pending | `XPENDING <stream> <group>` count |
//! | length | `XLEN <stream>` |
//! | lag | `lag` of the group in `XINFO GROUPS <stream>`; missing stream ⇒ 0; missing group ⇒ `XLEN` |
//!
//! Metric `s<i>-redis-streams-<stream>`.

use std::sync::Arc;

use redis::Value;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::redis::{RedisClient, RedisKey};
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "redis-streams";

/// What is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `XPENDING` count of the group.
    PendingEntries {
        /// `consumerGroup`.
        group: String,
    },
    /// `XLEN`.
    StreamLength,
    /// The group's `lag` from `XINFO GROUPS`.
    Lag {
        /// `consumerGroup`.
        group: String,
    },
}

/// Parsed `redis-streams` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Connection.
    pub connection: RedisKey,
    /// `stream`.
    pub stream: String,
    /// Mode derived from `consumerGroup` and `lagCount`.
    pub mode: Mode,
    /// The target of the chosen mode.
    pub target: i64,
    /// `activationLagCount`.
    pub activation: i64,
    /// `s<i>-redis-streams-<stream>`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let stream: String = params.required("stream", order::M_)?;
        let group: Option<String> = params.optional("consumerGroup", order::M_)?;
        let pending: i64 = params.with_default("pendingEntriesCount", order::M_, 5)?;
        let length: i64 = params.with_default("streamLength", order::M_, 5)?;
        let lag: i64 = params.with_default("lagCount", order::M_, 0)?;
        let (mode, target) = match group {
            Some(group) if lag != 0 => (Mode::Lag { group }, lag),
            Some(group) => (Mode::PendingEntries { group }, pending),
            None => (Mode::StreamLength, length),
        };
        Ok(Self {
            connection: RedisKey::from_params(params)?,
            mode,
            target,
            activation: params.with_default("activationLagCount", order::M_, 0)?,
            metric_name: params.metric_name(&format!("redis-streams-{stream}")),
            stream,
            target_type: params.external_target_type()?,
        })
    }
}

/// The `redis-streams` scaler.
#[derive(Debug)]
pub struct RedisStreamsScaler {
    config: Config,
    client: Arc<RedisClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.redis(&config.connection);
    Ok(Box::new(RedisStreamsScaler { config, client }))
}

impl RedisStreamsScaler {
    async fn value(&self, poll: &Poll) -> Result<i64, MeasureError> {
        let client = &self.client;
        let stream = &self.config.stream;
        match &self.config.mode {
            Mode::StreamLength => xlen(poll, client, stream).await,
            Mode::PendingEntries { group } => {
                poll.once(
                    client.memo_key(&format!("xpending|{stream}|{group}")),
                    async {
                        let mut conn = client.connection().await?;
                        let reply: Value = redis::cmd("XPENDING")
                            .arg(stream)
                            .arg(group)
                            .query_async(&mut conn)
                            .await
                            .map_err(|e| client.error("XPENDING", &e))?;
                        match reply {
                            Value::Array(items) => items.first().and_then(as_int),
                            _ => None,
                        }
                        .ok_or_else(|| {
                            MeasureError::new(
                                MeasureReason::BadResponse,
                                format!("redis-streams: unexpected XPENDING reply for {stream:?}"),
                            )
                        })
                    },
                )
                .await
            }
            Mode::Lag { group } => {
                let (major, _) = client.version().await?;
                if major < 7 {
                    return Err(MeasureError::new(
                        MeasureReason::Config,
                        "redis-streams: lagCount needs Redis 7.0 or later",
                    ));
                }
                let lag = poll
                    .once(
                        client.memo_key(&format!("xinfo-groups|{stream}|{group}")),
                        async {
                            let mut conn = client.connection().await?;
                            let reply = redis::cmd("XINFO")
                                .arg("GROUPS")
                                .arg(stream)
                                .query_async::<Value>(&mut conn)
                                .await;
                            match reply {
                                // KEDA: a stream that does not exist has no lag.
                                Err(e) if e.to_string().contains("no such key") => Ok(Some(0)),
                                Err(e) => Err(client.error("XINFO GROUPS", &e)),
                                Ok(reply) => Ok(group_lag(&reply, group)),
                            }
                        },
                    )
                    .await?;
                match lag {
                    Some(lag) => Ok(lag),
                    // No such group (or lag unknown): everything in the stream is unread.
                    None => xlen(poll, client, stream).await,
                }
            }
        }
    }
}

async fn xlen(poll: &Poll, client: &Arc<RedisClient>, stream: &str) -> Result<i64, MeasureError> {
    poll.once(client.memo_key(&format!("xlen|{stream}")), async {
        let mut conn = client.connection().await?;
        redis::cmd("XLEN")
            .arg(stream)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| client.error("XLEN", &e))
    })
    .await
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

fn as_str(v: &Value) -> Option<&str> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// The `lag` field of `group` in an `XINFO GROUPS` reply (RESP2 flat arrays or RESP3 maps).
fn group_lag(reply: &Value, group: &str) -> Option<i64> {
    let Value::Array(groups) = reply else {
        return None;
    };
    for entry in groups {
        let pairs: Vec<(&Value, &Value)> = match entry {
            Value::Array(flat) => flat
                .chunks(2)
                .filter_map(|c| Some((c.first()?, c.get(1)?)))
                .collect(),
            Value::Map(map) => map.iter().map(|(k, v)| (k, v)).collect(),
            _ => continue,
        };
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| as_str(k) == Some(name))
                .map(|(_, v)| *v)
        };
        if field("name").and_then(as_str) == Some(group) {
            return field("lag").and_then(as_int);
        }
    }
    None
}

impl Scaler for RedisStreamsScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Int(self.config.target),
            self.config.activation as f64,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let value = self.value(poll).await?;
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
