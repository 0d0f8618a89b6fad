//! Redis list task source: `LMOVE <list> <list>:ebb-processing LEFT RIGHT` takes a message from the
//! head of the list (where `LPOP`/`BLPOP` would) into a processing list; `LREM` there acknowledges
//! it. A message moved but never acknowledged stays in the processing list, which `recover`
//! re-hands after a crash. Lists carry no message ids: a task's id is a digest of its payload, so
//! identical payloads in hand at the same time are one task (see docs/compatibility.md).

use std::sync::Arc;

use super::{Held, Receipt, Task, TaskSource, digest_id};
use crate::error::{ConfigError, MeasureError};
use crate::params::TriggerParams;
use crate::pool::Clients;
use crate::redis::{Config, RedisClient};
use crate::scaler::BoxFuture;

/// Suffix of the processing list next to the trigger's list.
pub(super) const PROCESSING_SUFFIX: &str = ":ebb-processing";

/// Messages of one Redis list.
#[derive(Debug)]
pub(super) struct RedisListTasks {
    client: Arc<RedisClient>,
    list: String,
    processing: String,
    source: String,
}

impl RedisListTasks {
    pub(super) fn new(params: &TriggerParams, clients: &Clients) -> Result<Self, ConfigError> {
        let config = Config::from_params(params)?;
        Ok(Self {
            client: clients.redis(&config.connection),
            processing: format!("{}{PROCESSING_SUFFIX}", config.list_name),
            source: format!("redis/{}/{}", config.connection.db, config.list_name),
            list: config.list_name,
        })
    }

    fn task(&self, payload: Vec<u8>) -> Task {
        Task {
            id: digest_id(&[&payload]),
            payload,
            source: self.source.clone(),
            receipt: Receipt(Held::RedisList),
        }
    }
}

impl TaskSource for RedisListTasks {
    fn source(&self) -> &str {
        &self.source
    }

    fn take(&self, max: usize) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        Box::pin(async move {
            if max == 0 {
                return Ok(Vec::new());
            }
            let mut conn = self.client.connection().await?;
            // One round trip for the batch; each LMOVE is atomic on its own.
            let mut pipe = redis::pipe();
            for _ in 0..max {
                pipe.cmd("LMOVE")
                    .arg(&self.list)
                    .arg(&self.processing)
                    .arg("LEFT")
                    .arg("RIGHT");
            }
            let moved: Vec<Option<Vec<u8>>> = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| self.client.error("LMOVE", &e))?;
            Ok(moved.into_iter().flatten().map(|p| self.task(p)).collect())
        })
    }

    fn ack<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            if task.receipt.0 != Held::RedisList {
                return Ok(());
            }
            let mut conn = self.client.connection().await?;
            let _removed: i64 = redis::cmd("LREM")
                .arg(&self.processing)
                .arg(1)
                .arg(&task.payload)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.client.error("LREM", &e))?;
            Ok(())
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
            // A list holds bare values: the reason goes to a hash beside the dead-letter list,
            // keyed by task id (`HGET <target>:ebb-failure-reason <id>`).
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("RPUSH")
                .arg(target)
                .arg(&task.payload)
                .ignore()
                .cmd("HSET")
                .arg(format!("{target}:{}", super::FAILURE_REASON))
                .arg(&task.id)
                .arg(reason)
                .ignore();
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.client.error("RPUSH to the dead-letter list", &e))
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        Box::pin(async move {
            let mut conn = self.client.connection().await?;
            let held: Vec<Vec<u8>> = redis::cmd("LRANGE")
                .arg(&self.processing)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.client.error("LRANGE", &e))?;
            Ok(held.into_iter().map(|p| self.task(p)).collect())
        })
    }
}
