//! `redis` trigger: length of a list (or zset, set, hash) on a standalone Redis.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `listName` | M | required | key to measure |
//! | `listLength` | M | `5` | integer target |
//! | `activationListLength` | M | `0` | active iff length > this |
//! | `address` | M, A, E | — | `host:port`; or `host` + `port` |
//! | `host`, `port` | M, A, E | — | used when `address` is absent |
//! | `username`, `password` | M, E, A | — | password is a secret |
//! | `databaseIndex` | M | `0` | |
//! | `enableTLS` | M | `false` | exclusive with `tls` |
//! | `tls` | A | `disable` | `enable`/`disable` |
//! | `unsafeSsl` | M | `false` | skip certificate verification |
//! | `ca`, `cert`/`Cert`, `key` | A | — | PEM; cert and key together |
//!
//! Value: `TYPE` then `ZCARD`/`SCARD`/`HLEN`/`LLEN` (missing key ⇒ 0; KEDA does the same in Lua).
//! Metric `s<i>-redis-<listName>`. Connections are shared per (address, db, credentials, TLS).
//! Not yet: `redis-cluster`, `redis-sentinel` (`addresses`, `hosts`, `ports`, `sentinel*`).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};
use crate::secret::SecretString;
use crate::tls::TlsSettings;

/// The trigger type.
pub const KIND: &str = "redis";

/// Connection settings shared by `redis` and `redis-streams`; the identity of a shared client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedisKey {
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `databaseIndex`.
    pub db: i64,
    /// ACL user.
    pub username: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
    /// TLS settings when TLS is on.
    pub tls: Option<TlsSettings>,
    /// Connect and response timeout.
    pub timeout: Duration,
}

impl RedisKey {
    /// Reads KEDA's connection keys (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let (host, port) = match params.optional::<String>("address", order::MAE)? {
            Some(address) => split_host_port(&address).ok_or_else(|| {
                ConfigError::invalid("address", format!("{address:?} is not host:port"))
            })?,
            None => {
                let host: String =
                    params
                        .optional("host", order::MAE)?
                        .ok_or_else(|| ConfigError::Missing {
                            key: "address".into(),
                            order: "triggerMetadata authParams resolvedEnv (or host and port)"
                                .into(),
                        })?;
                (host, params.required::<u16>("port", order::MAE)?)
            }
        };
        let enable_tls: Option<bool> = params.optional("enableTLS", order::M_)?;
        let tls_auth = params
            .lookup("tls", order::A_)
            .map(|_| params.one_of("tls", order::A_, &["enable", "disable"], None))
            .transpose()?;
        let tls_on = match (enable_tls, tls_auth) {
            (Some(_), Some(_)) => return Err(ConfigError::exclusive("enableTLS", "tls")),
            (Some(on), None) => on,
            (None, Some(mode)) => mode == "enable",
            (None, None) => false,
        };
        let insecure = params.with_default("unsafeSsl", order::M_, false)?;
        let tls = if tls_on {
            Some(TlsSettings::from_params(params, order::A_, insecure)?)
        } else {
            None
        };
        Ok(Self {
            host,
            port,
            db: params.with_default("databaseIndex", order::M_, 0i64)?,
            username: params.optional("username", order::MEA)?,
            password: params.secret("password", order::MEA),
            tls,
            timeout: params.global_http_timeout,
        })
    }
}

fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}

/// A shared, lazily connected, auto-reconnecting multiplexed Redis connection.
pub struct RedisClient {
    key: RedisKey,
    conn: OnceCell<ConnectionManager>,
    version: OnceCell<(u32, u32)>,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("key", &self.key)
            .finish()
    }
}

impl Clients {
    /// The shared Redis client for `key` (not connected yet).
    pub fn redis(&self, key: &RedisKey) -> Arc<RedisClient> {
        let created = self.inner.redis.get_or_create(key, |k| {
            Ok::<_, std::convert::Infallible>(RedisClient {
                key: k.clone(),
                conn: OnceCell::new(),
                version: OnceCell::new(),
            })
        });
        match created {
            Ok(client) => client,
            Err(never) => match never {},
        }
    }
}

impl RedisClient {
    fn what(&self) -> String {
        format!("redis {}:{}", self.key.host, self.key.port)
    }

    /// The connection, established on first use.
    pub(crate) async fn connection(&self) -> Result<ConnectionManager, MeasureError> {
        self.conn
            .get_or_try_init(|| async {
                let client = self.client()?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.key.timeout))
                    .set_response_timeout(Some(self.key.timeout))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(|e| self.error("connecting", &e))
            })
            .await
            .cloned()
    }

    fn client(&self) -> Result<redis::Client, MeasureError> {
        let key = &self.key;
        let addr = match &key.tls {
            None => redis::ConnectionAddr::Tcp(key.host.clone(), key.port),
            Some(tls) => redis::ConnectionAddr::TcpTls {
                host: key.host.clone(),
                port: key.port,
                insecure: tls.insecure,
                tls_params: None,
            },
        };
        let mut redis_info = redis::RedisConnectionInfo::default().set_db(key.db);
        if let Some(user) = &key.username {
            redis_info = redis_info.set_username(user);
        }
        if let Some(password) = &key.password {
            redis_info = redis_info.set_password(password.expose());
        }
        let info = redis::IntoConnectionInfo::into_connection_info(addr)
            .map_err(|e| self.error("configuring", &e))?
            .set_redis_settings(redis_info);
        match &key.tls {
            Some(tls) if tls.ca.is_some() || tls.cert.is_some() => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: match (&tls.cert, &tls.key) {
                        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
                            client_cert: cert.as_bytes().to_vec(),
                            client_key: key.expose().as_bytes().to_vec(),
                        }),
                        _ => None,
                    },
                    root_cert: tls.ca.as_ref().map(|ca| ca.as_bytes().to_vec()),
                },
            ),
            _ => redis::Client::open(info),
        }
        .map_err(|e| self.error("configuring", &e))
    }

    /// Maps a redis error to a measure error (password scrubbed).
    pub(crate) fn error(&self, doing: &str, e: &redis::RedisError) -> MeasureError {
        let reason = if e.is_timeout() {
            MeasureReason::Timeout
        } else if e.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
            || e.detail().is_some_and(|d| d.contains("AUTH"))
        {
            MeasureReason::Unauthorized
        } else if e.is_connection_refusal() || e.is_io_error() || e.is_connection_dropped() {
            MeasureReason::Unreachable
        } else if e.code() == Some("NOGROUP") {
            MeasureReason::NotFound
        } else {
            MeasureReason::BadResponse
        };
        let secrets: Vec<&SecretString> = self.key.password.iter().collect();
        MeasureError::caused_by(reason, format!("{}: {doing}", self.what()), e, &secrets)
    }

    /// `redis_version` from `INFO server`, once per client.
    pub(crate) async fn version(&self) -> Result<(u32, u32), MeasureError> {
        self.version
            .get_or_try_init(|| async {
                let mut conn = self.connection().await?;
                let info: String = redis::cmd("INFO")
                    .arg("server")
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.error("INFO server", &e))?;
                let version = info
                    .lines()
                    .find_map(|l| l.strip_prefix("redis_version:"))
                    .unwrap_or("0.0.0")
                    .trim();
                let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0)))
            })
            .await
            .copied()
    }

    /// A memo key prefix identifying this client in a poll.
    pub(crate) fn memo_key(self: &Arc<Self>, request: &str) -> String {
        format!("redis|{:p}|{request}", Arc::as_ptr(self))
    }
}

/// Parsed `redis` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Connection.
    pub connection: RedisKey,
    /// `listName`.
    pub list_name: String,
    /// `listLength`.
    pub list_length: i64,
    /// `activationListLength`.
    pub activation_list_length: i64,
    /// `s<i>-redis-<listName>`.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let list_name: String = params.required("listName", order::M_)?;
        Ok(Self {
            connection: RedisKey::from_params(params)?,
            list_length: params.with_default("listLength", order::M_, 5)?,
            activation_list_length: params.with_default("activationListLength", order::M_, 0)?,
            metric_name: params.metric_name(&format!("redis-{list_name}")),
            list_name,
            target_type: params.external_target_type()?,
        })
    }
}

/// The `redis` scaler.
#[derive(Debug)]
pub struct RedisScaler {
    config: Config,
    client: Arc<RedisClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let client = clients.redis(&config.connection);
    Ok(Box::new(RedisScaler { config, client }))
}

/// Length of `key` whatever its type (list, zset, set, hash; missing ⇒ 0).
pub(crate) async fn key_length(
    poll: &Poll,
    client: &Arc<RedisClient>,
    key: &str,
) -> Result<i64, MeasureError> {
    poll.once(client.memo_key(&format!("len|{key}")), async {
        let mut conn = client.connection().await?;
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| client.error("TYPE", &e))?;
        let command = match kind.as_str() {
            "zset" => "ZCARD",
            "set" => "SCARD",
            "hash" => "HLEN",
            "list" | "none" => "LLEN",
            other => {
                return Err(MeasureError::new(
                    MeasureReason::BadResponse,
                    format!(
                        "{}: key {key:?} is a {other}, not a list, set, zset or hash",
                        client.what()
                    ),
                ));
            }
        };
        redis::cmd(command)
            .arg(key)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| client.error(command, &e))
    })
    .await
}

impl Scaler for RedisScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Int(self.config.list_length),
            self.config.activation_list_length as f64,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let len = key_length(poll, &self.client, &self.config.list_name).await?;
            Ok(Measurement::single(
                &self.config.metric_name,
                len as f64,
                self.config.activation_list_length as f64,
            ))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
