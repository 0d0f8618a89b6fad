//! `sqlite` trigger (Ebb only, not a KEDA type): the first column of the first row of a query on a
//! local SQLite file, as a number. It exists so that local mode (`ebb run`) has a work queue that
//! needs nothing installed; its parameters mirror KEDA's `postgresql` trigger.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `path` | M, E, A | required | the database file; opened read-only, never created |
//! | `query` | M | required | e.g. `SELECT count(*) FROM jobs WHERE state = 'queued'` |
//! | `targetQueryValue` | M | required, ≠ 0 | float target; optional when the trigger only feeds `scalingModifiers` |
//! | `activationTargetQueryValue` | M | `0` | active iff value > this |
//!
//! Values: integers and reals as they are, text parsed like postgresql's (`t`/`f` as 1/0), NULL and
//! blobs are errors. Metric `s<i>-sqlite`. A missing file or table is a measure error (the
//! trigger's fallback applies), so a worker may create the database after `ebb run` starts.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "sqlite";

/// How long a query waits for a writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Parsed `sqlite` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `path`.
    pub path: String,
    /// `query`.
    pub query: String,
    /// `targetQueryValue` (0 when only a modifiers source).
    pub target: f64,
    /// `activationTargetQueryValue`.
    pub activation: f64,
    /// `s<i>-sqlite`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no file access).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let path: String = params.required("path", order::MEA)?;
        if path.trim().is_empty() {
            return Err(ConfigError::invalid("path", "must not be empty"));
        }
        let query: String = params.required("query", order::M_)?;
        let target: Option<f64> = params.optional("targetQueryValue", order::M_)?;
        let target = match target {
            Some(t) if t != 0.0 => t,
            // A scalingModifiers source needs no target of its own (as postgresql).
            other if params.as_metric_source => other.unwrap_or(0.0),
            None => return Err(params.missing("targetQueryValue", order::M_)),
            Some(_) => return Err(ConfigError::invalid("targetQueryValue", "must not be 0")),
        };
        Ok(Self {
            path,
            query,
            target,
            activation: params.with_default("activationTargetQueryValue", order::M_, 0.0)?,
            metric_name: params.metric_name("sqlite"),
            target_type: params.external_target_type()?,
        })
    }
}

/// The `sqlite` scaler: one read-only connection, opened on first use and reopened after errors.
#[derive(Debug)]
pub struct SqliteScaler {
    config: Config,
    connection: Arc<Mutex<Option<Connection>>>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, _clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(SqliteScaler {
        config: Config::from_params(params)?,
        connection: Arc::new(Mutex::new(None)),
    }))
}

fn query_f64(
    slot: &Mutex<Option<Connection>>,
    path: &str,
    query: &str,
) -> Result<f64, MeasureError> {
    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if guard.is_none() {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| {
            MeasureError::caused_by(
                MeasureReason::Unreachable,
                format!("sqlite: opening {path}"),
                &e,
                &[],
            )
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| {
            MeasureError::caused_by(MeasureReason::Config, "sqlite: busy_timeout", &e, &[])
        })?;
        *guard = Some(conn);
    }
    let Some(conn) = guard.as_ref() else {
        return Err(MeasureError::new(
            MeasureReason::Unreachable,
            "sqlite: no connection",
        ));
    };
    let result = conn.query_row(query, [], |row| {
        Ok(match row.get_ref(0)? {
            ValueRef::Integer(i) => Ok(i as f64),
            ValueRef::Real(f) => Ok(f),
            ValueRef::Text(t) => {
                let text = String::from_utf8_lossy(t);
                crate::postgresql::parse_number(&text)
                    .ok_or_else(|| format!("the query returned {text:?}, not a number"))
            }
            ValueRef::Null => Err("the query returned NULL".to_owned()),
            ValueRef::Blob(_) => Err("the query returned a blob, not a number".to_owned()),
        })
    });
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(msg)) => Err(MeasureError::new(
            MeasureReason::BadResponse,
            format!("sqlite: {msg}"),
        )),
        Err(e) => {
            let reason = match &e {
                rusqlite::Error::QueryReturnedNoRows => MeasureReason::BadResponse,
                e if e.to_string().contains("no such table") => MeasureReason::NotFound,
                _ => MeasureReason::BadResponse,
            };
            // Reopen next time: the file may have been replaced.
            *guard = None;
            Err(MeasureError::caused_by(
                reason,
                "sqlite: running the query",
                &e,
                &[],
            ))
        }
    }
}

impl Scaler for SqliteScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Float(self.config.target),
            self.config.activation,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let key = format!("sqlite|{}|{}", self.config.path, self.config.query);
            let slot = self.connection.clone();
            let path = self.config.path.clone();
            let query = self.config.query.clone();
            let value = poll
                .once(key, async move {
                    tokio::task::spawn_blocking(move || query_f64(&slot, &path, &query))
                        .await
                        .map_err(|e| {
                            MeasureError::new(
                                MeasureReason::Config,
                                format!("sqlite: the query task failed: {e}"),
                            )
                        })?
                })
                .await?;
            Ok(Measurement::single(
                &self.config.metric_name,
                value,
                self.config.activation,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(meta: &[(&str, &str)]) -> TriggerParams {
        TriggerParams::new(KIND, 0, meta.iter().copied())
    }

    #[test]
    fn path_query_and_target_are_required() {
        let err = Config::from_params(&params(&[("query", "SELECT 1")])).unwrap_err();
        assert_eq!(err.key(), Some("path"));
        let err = Config::from_params(&params(&[("path", "/tmp/x.db"), ("query", "SELECT 1")]))
            .unwrap_err();
        assert_eq!(err.key(), Some("targetQueryValue"));
        let c = Config::from_params(&params(&[
            ("path", "/tmp/x.db"),
            ("query", "SELECT 1"),
            ("targetQueryValue", "2.5"),
            ("activationTargetQueryValue", "1"),
        ]))
        .unwrap();
        assert_eq!((c.target, c.activation), (2.5, 1.0));
        assert_eq!(c.metric_name, "s0-sqlite");
    }

    #[tokio::test]
    async fn measures_the_first_column_of_the_first_row() {
        let dir = std::env::temp_dir().join(format!("ebb-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("q.db");
        let _ = std::fs::remove_file(&db);
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE jobs(id INTEGER PRIMARY KEY); INSERT INTO jobs DEFAULT VALUES; INSERT INTO jobs DEFAULT VALUES;",
        )
        .unwrap();
        let p = params(&[
            ("path", db.to_str().unwrap()),
            ("query", "SELECT count(*) FROM jobs"),
            ("targetQueryValue", "1"),
        ]);
        let scaler = build(&p, &Clients::new()).unwrap();
        let m = scaler.measure(&Poll::new()).await.unwrap();
        assert_eq!(m.values[0].value, 2.0);
        assert!(m.is_active);
        let p = params(&[
            ("path", db.to_str().unwrap()),
            ("query", "SELECT count(*) FROM missing"),
            ("targetQueryValue", "1"),
        ]);
        let err = build(&p, &Clients::new())
            .unwrap()
            .measure(&Poll::new())
            .await
            .unwrap_err();
        assert_eq!(err.reason(), MeasureReason::NotFound);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
