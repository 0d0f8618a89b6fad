//! `mysql` trigger: the first column of the first row of a query, as a number.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `connectionString` | A, E | — | Go DSN `user:pass@tcp(host:port)/db?tls=…` (or a `mysql://` URL); secret |
//! | `host`, `port`, `dbName` | M, A | required without `connectionString` | |
//! | `username` | M, A, E | required without `connectionString` | |
//! | `password` | A, E | — | secret |
//! | `query` | M | required | text protocol |
//! | `queryValue` | M | required | float target |
//! | `activationQueryValue` | M | `0` | active iff value > this |
//! | `metricName` | M | — | accepted and ignored (KEDA overwrites it) |
//!
//! Metric `s<i>-mysql-<dbName>` (with `connectionString`: everything after its last `/`, as KEDA).
//! One connection pool per (DSN, TLS) is shared by every trigger using it.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};
use crate::secret::SecretString;

/// The trigger type.
pub const KIND: &str = "mysql";

/// TLS for MySQL (Go DSN `tls=` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MysqlTls {
    /// Plain TCP.
    Off,
    /// `tls=true`: verified.
    Verified,
    /// `tls=skip-verify` / `preferred`: encrypted, unverified.
    Unverified,
}

/// A shared pool's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MysqlKey {
    /// `mysql://user:pass@host:port/db` (secret).
    pub url: SecretString,
    /// TLS mode.
    pub tls: MysqlTls,
    /// Connect and query timeout.
    pub timeout: Duration,
}

/// Parsed `mysql` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Connection.
    pub connection: MysqlKey,
    /// `query`.
    pub query: String,
    /// `queryValue`.
    pub target: f64,
    /// `activationQueryValue`.
    pub activation: f64,
    /// `s<i>-mysql-<dbName>`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let query: String = params.required("query", order::M_)?;
        let target: f64 = params.required("queryValue", order::M_)?;
        let activation = params.with_default("activationQueryValue", order::M_, 0.0)?;
        let (url, tls, db_for_name) = match params.secret("connectionString", order::AE) {
            Some(dsn) => {
                let db_for_name = dsn
                    .expose()
                    .rsplit('/')
                    .next()
                    .unwrap_or("dbname")
                    .to_owned();
                let (url, tls) = if dsn.expose().starts_with("mysql://") {
                    (dsn.expose().to_owned(), MysqlTls::Off)
                } else {
                    go_dsn_to_url(dsn.expose()).ok_or_else(|| {
                        ConfigError::invalid(
                            "connectionString",
                            "not a MySQL DSN (user:password@tcp(host:port)/dbname)",
                        )
                    })?
                };
                (url, tls, db_for_name)
            }
            None => {
                let host: String = params.required("host", order::MA)?;
                let port: u16 = params.required("port", order::MA)?;
                let db: String = params.required("dbName", order::MA)?;
                let user: String = params.required("username", order::MAE)?;
                let password = params.secret("password", order::AE);
                let url = build_url(
                    &user,
                    password.as_ref().map(SecretString::expose),
                    &host,
                    port,
                    &db,
                );
                (url, MysqlTls::Off, db)
            }
        };
        mysql_async::Opts::from_url(&url).map_err(|_| {
            ConfigError::invalid("connectionString", "not a valid MySQL connection string")
        })?;
        Ok(Self {
            connection: MysqlKey {
                url: SecretString::new(url),
                tls,
                timeout: params.global_http_timeout,
            },
            query,
            target,
            activation,
            metric_name: params.metric_name(&format!("mysql-{db_for_name}")),
            target_type: params.external_target_type()?,
        })
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn build_url(user: &str, password: Option<&str>, host: &str, port: u16, db: &str) -> String {
    let auth = match password {
        Some(p) => format!("{}:{}", enc(user), enc(p)),
        None => enc(user),
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!("mysql://{auth}@{host}:{port}/{}", enc(db))
}

/// Go's `[user[:password]@][net[(addr)]]/dbname[?params]` as a `mysql://` URL and TLS mode.
fn go_dsn_to_url(dsn: &str) -> Option<(String, MysqlTls)> {
    let slash = dsn.rfind('/')?;
    let (head, tail) = (&dsn[..slash], &dsn[slash + 1..]);
    let (db, query) = tail.split_once('?').unwrap_or((tail, ""));
    let (userinfo, netaddr) = match head.rfind('@') {
        Some(at) => (Some(&head[..at]), &head[at + 1..]),
        None => (None, head),
    };
    let (user, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (user, Some(pass)),
            None => (u, None),
        },
        None => ("root", None),
    };
    let addr = match netaddr.find('(') {
        Some(open) => netaddr[open + 1..].strip_suffix(')')?,
        None if netaddr.is_empty() || netaddr == "tcp" => "127.0.0.1:3306",
        None => return None,
    };
    let (host, port) = match addr.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse().ok()?,
        ),
        None => (addr, 3306),
    };
    let mut tls = MysqlTls::Off;
    for pair in query.split('&') {
        if let Some(("tls", value)) = pair.split_once('=') {
            tls = match value {
                "true" => MysqlTls::Verified,
                "skip-verify" | "preferred" => MysqlTls::Unverified,
                _ => MysqlTls::Off,
            };
        }
    }
    Some((build_url(user, password, host, port, db), tls))
}

/// A shared connection pool (connects lazily).
pub struct MysqlClient {
    key: MysqlKey,
    pool: mysql_async::Pool,
}

impl std::fmt::Debug for MysqlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlClient").finish_non_exhaustive()
    }
}

impl Drop for MysqlClient {
    fn drop(&mut self) {
        // Close idle connections when the last trigger goes (needs a runtime; skip without one).
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let pool = self.pool.clone();
            handle.spawn(async move {
                let _ = pool.disconnect().await;
            });
        }
    }
}

impl Clients {
    /// The shared MySQL pool for `key` (not connected yet).
    pub fn mysql(&self, key: &MysqlKey) -> Result<Arc<MysqlClient>, ConfigError> {
        self.inner.mysql.get_or_create(key, |k| {
            let opts = mysql_async::Opts::from_url(k.url.expose()).map_err(|_| {
                ConfigError::invalid("connectionString", "not a valid MySQL connection string")
            })?;
            let ssl = match k.tls {
                MysqlTls::Off => None,
                MysqlTls::Verified => Some(mysql_async::SslOpts::default()),
                MysqlTls::Unverified => {
                    Some(mysql_async::SslOpts::default().with_danger_accept_invalid_certs(true))
                }
            };
            let opts =
                mysql_async::OptsBuilder::from_opts(opts)
                    .ssl_opts(ssl)
                    .pool_opts(mysql_async::PoolOpts::default().with_constraints(
                        mysql_async::PoolConstraints::new(0, 4).unwrap_or_default(),
                    ));
            Ok(MysqlClient {
                key: k.clone(),
                pool: mysql_async::Pool::new(opts),
            })
        })
    }
}

impl MysqlClient {
    fn error(&self, doing: &str, e: &mysql_async::Error) -> MeasureError {
        let reason = match e {
            mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045 | 1698) => {
                MeasureReason::Unauthorized
            }
            mysql_async::Error::Server(s) if matches!(s.code, 1049 | 1146) => {
                MeasureReason::NotFound
            }
            mysql_async::Error::Server(_) => MeasureReason::BadResponse,
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => MeasureReason::Unreachable,
            _ => MeasureReason::BadResponse,
        };
        MeasureError::caused_by(reason, format!("mysql: {doing}"), e, &[&self.key.url])
    }

    async fn query_f64(&self, query: &str) -> Result<f64, MeasureError> {
        let work = async {
            let mut conn = self
                .pool
                .get_conn()
                .await
                .map_err(|e| self.error("connecting", &e))?;
            conn.query_first::<mysql_async::Value, _>(query)
                .await
                .map_err(|e| self.error("running the query", &e))
        };
        let value = tokio::time::timeout(self.key.timeout, work)
            .await
            .map_err(|_| MeasureError::new(MeasureReason::Timeout, "mysql: timed out"))??;
        let value = value.ok_or_else(|| {
            MeasureError::new(
                MeasureReason::BadResponse,
                "mysql: the query returned no rows",
            )
        })?;
        let number = match value {
            mysql_async::Value::Int(i) => Some(i as f64),
            mysql_async::Value::UInt(u) => Some(u as f64),
            mysql_async::Value::Float(f) => Some(f64::from(f)),
            mysql_async::Value::Double(d) => Some(d),
            mysql_async::Value::Bytes(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(crate::postgresql::parse_number),
            _ => None,
        };
        number.ok_or_else(|| {
            MeasureError::new(
                MeasureReason::BadResponse,
                "mysql: the query did not return a number",
            )
        })
    }
}

/// The `mysql` scaler.
#[derive(Debug)]
pub struct MysqlScaler {
    config: Config,
    client: Arc<MysqlClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.mysql(&config.connection)?;
    Ok(Box::new(MysqlScaler { config, client }))
}

impl Scaler for MysqlScaler {
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
            let key = format!(
                "mysql|{:p}|{}",
                Arc::as_ptr(&self.client),
                self.config.query
            );
            let value = poll
                .once(key, self.client.query_f64(&self.config.query))
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
mod tests;
