//! `postgresql` trigger: the first column of the first row of a query, as a number.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `query` | M | required | run with the simple (text) protocol |
//! | `targetQueryValue` | M | required, ≠ 0 | float target; optional when the trigger only feeds `scalingModifiers` |
//! | `activationTargetQueryValue` | M | `0` | active iff value > this |
//! | `connection` | A, E | — | URL or `key=value` DSN (secret) |
//! | `host`, `port`, `userName`, `dbName`, `sslmode` | A, M | required without `connection` | |
//! | `password` | A, E | — | secret |
//!
//! `sslmode`: `disable`; `allow`/`prefer`/`require` encrypt without verifying (libpq semantics);
//! `verify-ca`/`verify-full` verify against the system roots. Metric `s<i>-postgresql`.
//! One connection per (connection string, TLS mode) is shared by every trigger using it.
//! Not yet: `podIdentity: azure-workload`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::SimpleQueryMessage;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};
use crate::secret::SecretString;
use crate::tls::TlsSettings;

/// The trigger type.
pub const KIND: &str = "postgresql";

/// TLS behaviour derived from `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PgTls {
    /// Plain TCP (`disable`).
    Disable,
    /// Encrypt without certificate verification (`allow`, `prefer`, `require`).
    Unverified,
    /// Encrypt and verify (`verify-ca`, `verify-full`).
    Verified,
}

/// A shared connection's identity: the (normalised) connection string and TLS mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PgKey {
    /// A connection string tokio-postgres accepts (password inside: secret).
    pub connection: SecretString,
    /// TLS mode.
    pub tls: PgTls,
    /// Connect timeout.
    pub timeout: Duration,
}

/// Parsed `postgresql` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Connection.
    pub connection: PgKey,
    /// `query`.
    pub query: String,
    /// `targetQueryValue` (0 when only a modifiers source).
    pub target: f64,
    /// `activationTargetQueryValue`.
    pub activation: f64,
    /// `s<i>-postgresql`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        if params.pod_identity.as_deref() == Some("azure-workload") {
            return Err(ConfigError::invalid(
                "podIdentity",
                "azure-workload is not supported by Ebb's postgresql scaler yet",
            ));
        }
        let query: String = params.required("query", order::M_)?;
        let target: Option<f64> = params.optional("targetQueryValue", order::M_)?;
        let target = match target {
            Some(t) if t != 0.0 => t,
            // A scalingModifiers source needs no target of its own.
            other if params.as_metric_source => other.unwrap_or(0.0),
            None => return Err(params.missing("targetQueryValue", order::M_)),
            Some(_) => return Err(ConfigError::invalid("targetQueryValue", "must not be 0")),
        };
        let (raw, sslmode_hint) = match params.secret("connection", order::AE) {
            Some(connection) => (connection, None),
            None => {
                let host: String = params.required("host", order::AME)?;
                let port: u16 = params.required("port", order::AME)?;
                let user: String = params.required("userName", order::AME)?;
                let db: String = params.required("dbName", order::AME)?;
                let sslmode: String = params.required("sslmode", order::AME)?;
                let mut dsn = format!(
                    "host={} port={port} user={} dbname={} sslmode={}",
                    dsn_quote(&host),
                    dsn_quote(&user),
                    dsn_quote(&db),
                    dsn_quote(&sslmode)
                );
                if let Some(password) = params.secret("password", order::AE) {
                    dsn.push_str(" password=");
                    dsn.push_str(&dsn_quote(password.expose()));
                }
                (SecretString::new(dsn), Some(sslmode))
            }
        };
        let (connection, tls) = normalise_sslmode(raw.expose());
        if let Some(mode) = sslmode_hint
            && !matches!(
                mode.as_str(),
                "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"
            )
        {
            return Err(ConfigError::NotOneOf {
                key: "sslmode".into(),
                value: mode,
                allowed: "disable, allow, prefer, require, verify-ca, verify-full".into(),
            });
        }
        let connection = SecretString::new(connection);
        // Parse now so a malformed string is a config error, not a measure error.
        tokio_postgres::Config::from_str(connection.expose()).map_err(|_| {
            ConfigError::invalid("connection", "not a valid PostgreSQL connection string")
        })?;
        Ok(Self {
            connection: PgKey {
                connection,
                tls,
                timeout: params.global_http_timeout,
            },
            query,
            target,
            activation: params.with_default("activationTargetQueryValue", order::M_, 0.0)?,
            metric_name: params.metric_name("postgresql"),
            target_type: params.external_target_type()?,
        })
    }
}

fn dsn_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// tokio-postgres knows `disable`/`prefer`/`require`; map libpq's other modes onto them.
fn normalise_sslmode(connection: &str) -> (String, PgTls) {
    let mut tls = PgTls::Unverified;
    let mut out = connection.to_owned();
    for (mode, replacement, kind) in [
        ("verify-full", "require", PgTls::Verified),
        ("verify-ca", "require", PgTls::Verified),
        ("allow", "prefer", PgTls::Unverified),
        ("disable", "disable", PgTls::Disable),
    ] {
        for quoted in [format!("sslmode={mode}"), format!("sslmode='{mode}'")] {
            if out.contains(&quoted) {
                out = out.replace(&quoted, &format!("sslmode={replacement}"));
                tls = kind;
            }
        }
    }
    (out, tls)
}

/// A shared, lazily (re)connected PostgreSQL client.
pub struct PgClient {
    key: PgKey,
    client: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

impl std::fmt::Debug for PgClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgClient").finish_non_exhaustive()
    }
}

impl Clients {
    /// The shared PostgreSQL client for `key` (not connected yet).
    pub fn postgres(&self, key: &PgKey) -> Arc<PgClient> {
        match self.inner.postgres.get_or_create(key, |k| {
            Ok::<_, std::convert::Infallible>(PgClient {
                key: k.clone(),
                client: tokio::sync::Mutex::new(None),
            })
        }) {
            Ok(c) => c,
            Err(never) => match never {},
        }
    }
}

impl PgClient {
    async fn client(&self) -> Result<Arc<tokio_postgres::Client>, MeasureError> {
        let mut guard = self.client.lock().await;
        if let Some(client) = guard.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let mut config = tokio_postgres::Config::from_str(self.key.connection.expose())
            .map_err(|e| self.error("parsing the connection string", &e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.key.timeout);
        }
        let client = match self.key.tls {
            PgTls::Disable => {
                let (client, connection) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| self.error("connecting", &e))?;
                tokio::spawn(connection);
                client
            }
            tls => {
                let settings = TlsSettings {
                    insecure: tls == PgTls::Unverified,
                    ..TlsSettings::default()
                };
                let tls_config = settings.client_config().map_err(|e| {
                    MeasureError::new(MeasureReason::Config, format!("postgresql: {e}"))
                })?;
                let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config);
                let (client, connection) = config
                    .connect(connector)
                    .await
                    .map_err(|e| self.error("connecting", &e))?;
                tokio::spawn(connection);
                client
            }
        };
        let client = Arc::new(client);
        *guard = Some(client.clone());
        Ok(client)
    }

    fn error(&self, doing: &str, e: &tokio_postgres::Error) -> MeasureError {
        use tokio_postgres::error::SqlState;
        let text = e.to_string();
        let reason = match e.code() {
            Some(c)
                if *c == SqlState::INVALID_PASSWORD
                    || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
            {
                MeasureReason::Unauthorized
            }
            Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::INVALID_CATALOG_NAME => {
                MeasureReason::NotFound
            }
            Some(_) => MeasureReason::BadResponse,
            None if text.contains("timed out") || text.contains("timeout") => {
                MeasureReason::Timeout
            }
            None if text.contains("password") => MeasureReason::Unauthorized,
            None => MeasureReason::Unreachable,
        };
        MeasureError::caused_by(
            reason,
            format!("postgresql: {doing}"),
            e,
            &[&self.key.connection],
        )
    }

    async fn query_f64(&self, query: &str) -> Result<f64, MeasureError> {
        let client = self.client().await?;
        let messages = client
            .simple_query(query)
            .await
            .map_err(|e| self.error("running the query", &e))?;
        let row = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        });
        let Some(row) = row else {
            return Err(MeasureError::new(
                MeasureReason::BadResponse,
                "postgresql: the query returned no rows",
            ));
        };
        let cell = row.get(0).ok_or_else(|| {
            MeasureError::new(
                MeasureReason::BadResponse,
                "postgresql: the query returned NULL",
            )
        })?;
        parse_number(cell).ok_or_else(|| {
            MeasureError::new(
                MeasureReason::BadResponse,
                format!("postgresql: the query returned {cell:?}, not a number"),
            )
        })
    }
}

/// A SQL text cell as a number (`t`/`f` and `true`/`false` as 1/0, like Go's driver conversions).
pub(crate) fn parse_number(cell: &str) -> Option<f64> {
    match cell.trim() {
        "t" | "true" => Some(1.0),
        "f" | "false" => Some(0.0),
        other => other.parse::<f64>().ok(),
    }
}

/// The `postgresql` scaler.
#[derive(Debug)]
pub struct PostgresqlScaler {
    config: Config,
    client: Arc<PgClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.postgres(&config.connection);
    Ok(Box::new(PostgresqlScaler { config, client }))
}

impl Scaler for PostgresqlScaler {
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
            let key = format!("pg|{:p}|{}", Arc::as_ptr(&self.client), self.config.query);
            let value = poll
                .once(key, Box::pin(self.client.query_f64(&self.config.query)))
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
