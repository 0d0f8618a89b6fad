//! Redis stream task source: `XREADGROUP` with the trigger's `consumerGroup` as consumer `ebb`
//! (the group is created at `0`, i.e. the whole stream, when it does not exist yet); `XACK`
//! acknowledges. Entries read but never acknowledged stay pending for consumer `ebb`, and
//! `recover` reads them again (`XREADGROUP … 0`). A task's id is the entry id.
//!
//! Payload: the value of an entry's only field (`XADD s * event '{…}'` gives `{…}`); an entry with
//! several fields gives a JSON object of them, keys sorted. Dead-lettered entries are `XADD`ed to
//! the target with fields `data` (the payload), `ebb-failure-reason`, `ebb-task-id` and
//! `ebb-task-source`.

use std::collections::BTreeMap;
use std::sync::Arc;

use redis::Value;

use super::{Held, Receipt, Task, TaskSource};
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::params::TriggerParams;
use crate::pool::Clients;
use crate::redis::RedisClient;
use crate::redis_streams::{Config, Mode};
use crate::scaler::BoxFuture;

/// The consumer name Ebb reads as (fixed, so a restarted taker finds its pending entries).
pub(super) const CONSUMER: &str = "ebb";

/// Entries per `XREADGROUP` page in `recover`.
const RECOVER_PAGE: usize = 500;

/// Entries of one stream, read through one consumer group.
#[derive(Debug)]
pub(super) struct RedisStreamTasks {
    client: Arc<RedisClient>,
    stream: String,
    group: String,
    source: String,
}

impl RedisStreamTasks {
    pub(super) fn new(params: &TriggerParams, clients: &Clients) -> Result<Self, ConfigError> {
        let config = Config::from_params(params)?;
        let group = match config.mode {
            Mode::PendingEntries { group } | Mode::Lag { group } => group,
            Mode::StreamLength => {
                return Err(ConfigError::invalid(
                    "consumerGroup",
                    "task data reads a redis stream through a consumer group; set consumerGroup",
                ));
            }
        };
        Ok(Self {
            client: clients.redis(&config.connection),
            source: format!(
                "redis-streams/{}/{}/{group}",
                config.connection.db, config.stream
            ),
            stream: config.stream,
            group,
        })
    }

    /// `XREADGROUP … COUNT n STREAMS <stream> <from>`, creating the group if it is missing.
    async fn read(
        &self,
        count: usize,
        from: &str,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, MeasureError> {
        let mut conn = self.client.connection().await?;
        let mut created = false;
        loop {
            let reply = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.group)
                .arg(CONSUMER)
                .arg("COUNT")
                .arg(count)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(from)
                .query_async::<Value>(&mut conn)
                .await;
            match reply {
                Err(e) if e.code() == Some("NOGROUP") && !created => {
                    let made: Result<(), _> = redis::cmd("XGROUP")
                        .arg("CREATE")
                        .arg(&self.stream)
                        .arg(&self.group)
                        .arg("0")
                        .arg("MKSTREAM")
                        .query_async(&mut conn)
                        .await;
                    match made {
                        // Another taker created it meanwhile.
                        Err(e) if e.code() == Some("BUSYGROUP") => {}
                        Err(e) => return Err(self.client.error("XGROUP CREATE", &e)),
                        Ok(()) => {}
                    }
                    created = true;
                }
                Err(e) => return Err(self.client.error("XREADGROUP", &e)),
                Ok(reply) => {
                    return entries(&reply).ok_or_else(|| {
                        MeasureError::new(
                            MeasureReason::BadResponse,
                            format!(
                                "redis-streams task source {}: unexpected XREADGROUP reply",
                                self.source
                            ),
                        )
                    });
                }
            }
        }
    }

    async fn xack(&self, id: &str) -> Result<(), MeasureError> {
        let mut conn = self.client.connection().await?;
        let _acked: i64 = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(id)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.client.error("XACK", &e))?;
        Ok(())
    }

    fn task(&self, id: String, payload: Vec<u8>) -> Task {
        Task {
            id,
            payload,
            source: self.source.clone(),
            receipt: Receipt(Held::RedisStream),
        }
    }
}

impl TaskSource for RedisStreamTasks {
    fn source(&self) -> &str {
        &self.source
    }

    fn take(&self, max: usize) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        Box::pin(async move {
            if max == 0 {
                return Ok(Vec::new());
            }
            let mut out = Vec::new();
            for (id, payload) in self.read(max, ">").await? {
                match payload {
                    Some(p) => out.push(self.task(id, p)),
                    // Cannot happen for new entries; be safe and settle it.
                    None => self.xack(&id).await?,
                }
            }
            Ok(out)
        })
    }

    fn ack<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            if task.receipt.0 != Held::RedisStream {
                return Ok(());
            }
            self.xack(&task.id).await
        })
    }

    fn dead_letter<'a>(
        &'a self,
        task: &'a Task,
        target: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            let mut conn = self.client.connection().await?;
            let _id: String = redis::cmd("XADD")
                .arg(target)
                .arg("*")
                .arg("data")
                .arg(&task.payload)
                .arg(super::FAILURE_REASON)
                .arg(reason)
                .arg("ebb-task-id")
                .arg(&task.id)
                .arg("ebb-task-source")
                .arg(&task.source)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.client.error("XADD to the dead-letter stream", &e))?;
            Ok(())
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut after = "0".to_owned();
            loop {
                let page = self.read(RECOVER_PAGE, &after).await?;
                let Some((last, _)) = page.last() else { break };
                after = last.clone();
                let full = page.len() == RECOVER_PAGE;
                for (id, payload) in page {
                    match payload {
                        Some(p) => out.push(self.task(id, p)),
                        // Pending, but trimmed from the stream: nothing left to run.
                        None => self.xack(&id).await?,
                    }
                }
                if !full {
                    break;
                }
            }
            Ok(out)
        })
    }
}

/// `(id, payload)` per entry of an XREADGROUP reply for one stream (RESP2 arrays or RESP3 maps);
/// a deleted entry's payload is `None`. An empty reply (`nil`) is no entries.
fn entries(reply: &Value) -> Option<Vec<(String, Option<Vec<u8>>)>> {
    let streams: Vec<&Value> = match reply {
        Value::Nil => return Some(Vec::new()),
        Value::Array(items) => items
            .iter()
            .filter_map(|s| match s {
                Value::Array(pair) => pair.get(1),
                _ => None,
            })
            .collect(),
        Value::Map(pairs) => pairs.iter().map(|(_, v)| v).collect(),
        _ => return None,
    };
    let mut out = Vec::new();
    for stream in streams {
        let Value::Array(list) = stream else {
            return None;
        };
        for entry in list {
            let Value::Array(parts) = entry else {
                return None;
            };
            let id = bytes(parts.first()?).and_then(|b| String::from_utf8(b).ok())?;
            let payload = match parts.get(1) {
                None | Some(Value::Nil) => None,
                Some(Value::Array(fields)) if fields.is_empty() => None,
                Some(Value::Array(fields)) => Some(payload(fields)?),
                Some(Value::Map(pairs)) => {
                    let flat: Vec<Value> = pairs
                        .iter()
                        .flat_map(|(k, v)| [k.clone(), v.clone()])
                        .collect();
                    Some(payload(&flat)?)
                }
                Some(_) => return None,
            };
            out.push((id, payload));
        }
    }
    Some(out)
}

/// The only field's value, or a JSON object of every field.
fn payload(fields: &[Value]) -> Option<Vec<u8>> {
    if let [_, value] = fields {
        return bytes(value);
    }
    let mut map = BTreeMap::new();
    for pair in fields.chunks(2) {
        let [k, v] = pair else { return None };
        map.insert(
            String::from_utf8_lossy(&bytes(k)?).into_owned(),
            String::from_utf8_lossy(&bytes(v)?).into_owned(),
        );
    }
    serde_json::to_vec(&map).ok()
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.as_bytes().to_vec()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// The entries of an `XRANGE` reply as field maps (tests read dead-letter streams with it).
#[cfg(test)]
pub(super) fn entries_for_tests(reply: &Value) -> Vec<BTreeMap<String, String>> {
    let Value::Array(list) = reply else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| match e {
            Value::Array(parts) => match parts.get(1) {
                Some(Value::Array(fields)) => Some(
                    fields
                        .chunks(2)
                        .filter_map(|kv| {
                            let k = String::from_utf8(bytes(kv.first()?)?).ok()?;
                            let v = String::from_utf8(bytes(kv.get(1)?)?).ok()?;
                            Some((k, v))
                        })
                        .collect(),
                ),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn replies_give_ids_and_payloads_one_field_raw_several_as_json() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("event"), bulk("{\"a\":1}")]),
                ]),
                Value::Array(vec![
                    bulk("2-0"),
                    Value::Array(vec![bulk("b"), bulk("2"), bulk("a"), bulk("1")]),
                ]),
                Value::Array(vec![bulk("3-0"), Value::Nil]),
            ]),
        ])]);
        assert_eq!(
            entries(&reply).unwrap(),
            vec![
                ("1-0".to_owned(), Some(b"{\"a\":1}".to_vec())),
                (
                    "2-0".to_owned(),
                    Some(b"{\"a\":\"1\",\"b\":\"2\"}".to_vec())
                ),
                ("3-0".to_owned(), None),
            ]
        );
        assert_eq!(entries(&Value::Nil).unwrap(), vec![]);
        assert!(entries(&bulk("x")).is_none());
    }
}
