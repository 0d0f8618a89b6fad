//! `rabbitmq` trigger: queue length or message rates, over AMQP (passive declare) or the management API.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `queueName` | M | required | a regex when `useRegex` |
//! | `host` | M, A, E | required | `amqp(s)://…/<vhost>` or `http(s)://…/<vhost>` (secret: may hold a password) |
//! | `protocol` | M, A | `auto` | `auto` (from the scheme), `amqp`, `http` |
//! | `mode` | M | `QueueLength` | `QueueLength`, `MessageRate`, `DeliverGetRate`, `PublishedToDeliveredRatio`, `ExpectedQueueConsumptionTime` (all but QueueLength need http) |
//! | `value` | M | `20` | float target; `mode` and `value` come together |
//! | `queueLength` | M | — | legacy = `mode: QueueLength` + `value`; exclusive with `mode`/`value` |
//! | `activationValue` | M | `0` | |
//! | `vhostName` | M, A | — | overrides the vhost in `host` |
//! | `useRegex` | M | `false` | http only; with `pageSize` (`100`, ≥ 1) and `operation` (`sum`, `max`, `avg`) |
//! | `excludeUnacknowledged` | M | `false` | http only; count `messages_ready` |
//! | `timeout` | M | global HTTP timeout | http only |
//! | `username`, `password` | A, E | — | together; put into the URL |
//! | `tls` | A | `disable` | `enable`: TLS with `ca`, client `cert` + `key` (`keyPassword` for an encrypted PKCS#8 key) |
//! | `unsafeSsl` | M | `false` | skip server certificate verification (http; amqp with `tls: enable`) |
//!
//! | mode | value | active iff |
//! |---|---|---|
//! | QueueLength | messages | messages > act |
//! | MessageRate | publish rate | rate > act or messages > act |
//! | DeliverGetRate | deliver rate | rate > act |
//! | PublishedToDeliveredRatio | publish/deliver | ratio > act or (publish > 0 and deliver = 0) |
//! | ExpectedQueueConsumptionTime | (publish−deliver)/deliver + messages/deliver | eta > act or (deliver = 0 and messages > 0) |
//!
//! Metric `s<i>-rabbitmq-<normalize(QueryEscape(queueName))>`. AMQP connections and HTTP clients are
//! shared per (URL, credentials, TLS). AMQP with a client certificate and no password logs in with SASL
//! EXTERNAL ([`amqp`]). Not yet: `workloadIdentityResource`, OAuth2.

pub mod amqp;
pub mod management_api;

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, MeasureError};
use crate::http::{HttpClient, HttpSettings};
use crate::metric::{self, MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};
use crate::secret::SecretString;
use crate::tls::TlsSettings;

/// The trigger type.
pub const KIND: &str = "rabbitmq";

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Messages in the queue.
    QueueLength,
    /// Publish rate.
    MessageRate,
    /// Deliver/get rate.
    DeliverGetRate,
    /// Publish rate / deliver rate.
    PublishedToDeliveredRatio,
    /// Estimated seconds to drain.
    ExpectedQueueConsumptionTime,
}

/// How regex matches combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Sum over queues.
    Sum,
    /// Maximum over queues.
    Max,
    /// Average over queues (integer division for counts).
    Avg,
}

/// Transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// AMQP 0-9-1.
    Amqp,
    /// Management HTTP API.
    Http,
}

/// What a queue (or the combination of matching queues) looks like.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueInfo {
    /// Messages (ready + unacked, or ready only).
    pub messages: i64,
    /// `message_stats.publish_details.rate`.
    pub publish_rate: f64,
    /// `message_stats.deliver_get_details.rate`.
    pub deliver_rate: f64,
}

/// Parsed `rabbitmq` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `queueName`.
    pub queue_name: String,
    /// Transport.
    pub protocol: Protocol,
    /// Mode.
    pub mode: Mode,
    /// Target.
    pub value: f64,
    /// `activationValue`.
    pub activation: f64,
    /// Base URL with credentials (secret), without the vhost segment.
    pub base_url: SecretString,
    /// The vhost, unescaped (`/` for the root vhost).
    pub vhost: String,
    /// `useRegex`.
    pub use_regex: bool,
    /// `pageSize`.
    pub page_size: u32,
    /// `operation`.
    pub operation: Operation,
    /// `excludeUnacknowledged`.
    pub exclude_unacknowledged: bool,
    /// Request / connect timeout.
    pub timeout: Duration,
    /// TLS material and `unsafeSsl`.
    pub tls: TlsSettings,
    /// `tls: enable`.
    pub tls_enabled: bool,
    /// Metric name.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let queue_name: String = params.required("queueName", order::M_)?;
        let host = params.required_secret("host", order::MAE)?;
        let mut url = url::Url::parse(host.expose()).map_err(|_| {
            ConfigError::invalid("host", "not a URL (amqp://, amqps://, http:// or https://)")
        })?;
        let protocol = match params.one_of(
            "protocol",
            order::MA,
            &["auto", "amqp", "http"],
            Some("auto"),
        )? {
            "amqp" => Protocol::Amqp,
            "http" => Protocol::Http,
            _ => match url.scheme() {
                "amqp" | "amqps" => Protocol::Amqp,
                "http" | "https" => Protocol::Http,
                other => {
                    return Err(ConfigError::invalid(
                        "host",
                        format!("unknown scheme {other:?}: use amqp, amqps, http or https"),
                    ));
                }
            },
        };

        // Legacy queueLength vs mode + value.
        let legacy: Option<f64> = params.optional("queueLength", order::M_)?;
        let mode_raw = params
            .lookup("mode", order::M_)
            .map(|_| {
                params.one_of(
                    "mode",
                    order::M_,
                    &[
                        "QueueLength",
                        "MessageRate",
                        "DeliverGetRate",
                        "PublishedToDeliveredRatio",
                        "ExpectedQueueConsumptionTime",
                    ],
                    None,
                )
            })
            .transpose()?;
        let value: Option<f64> = params.optional("value", order::M_)?;
        let (mode, value) = match (legacy, mode_raw, value) {
            (Some(_), Some(_), _) => return Err(ConfigError::exclusive("queueLength", "mode")),
            (Some(_), None, Some(_)) => return Err(ConfigError::exclusive("queueLength", "value")),
            (Some(q), None, None) => (Mode::QueueLength, q),
            (None, Some(_), None) => return Err(params.missing("value", order::M_)),
            (None, None, Some(_)) => return Err(params.missing("mode", order::M_)),
            (None, None, None) => (Mode::QueueLength, 20.0),
            (None, Some(m), Some(v)) => (
                match m {
                    "MessageRate" => Mode::MessageRate,
                    "DeliverGetRate" => Mode::DeliverGetRate,
                    "PublishedToDeliveredRatio" => Mode::PublishedToDeliveredRatio,
                    "ExpectedQueueConsumptionTime" => Mode::ExpectedQueueConsumptionTime,
                    _ => Mode::QueueLength,
                },
                v,
            ),
        };
        if mode != Mode::QueueLength && protocol != Protocol::Http {
            return Err(ConfigError::invalid(
                "mode",
                format!(
                    "{mode:?} needs protocol http (the management API); AMQP only reports queue length"
                ),
            ));
        }
        let use_regex = params.with_default("useRegex", order::M_, false)?;
        let exclude_unacknowledged =
            params.with_default("excludeUnacknowledged", order::M_, false)?;
        let page_size: u32 = params.with_default("pageSize", order::M_, 100)?;
        if page_size < 1 {
            return Err(ConfigError::invalid("pageSize", "must be at least 1"));
        }
        let operation =
            match params.one_of("operation", order::M_, &["sum", "max", "avg"], Some("sum"))? {
                "max" => Operation::Max,
                "avg" => Operation::Avg,
                _ => Operation::Sum,
            };
        let timeout: Option<Duration> = params.optional("timeout", order::M_)?;
        if protocol == Protocol::Amqp {
            for (key, set) in [
                ("useRegex", use_regex),
                ("excludeUnacknowledged", exclude_unacknowledged),
                ("timeout", timeout.is_some()),
            ] {
                if set {
                    return Err(ConfigError::invalid(
                        key,
                        "is only supported with protocol http",
                    ));
                }
            }
        }
        for key in ["workloadIdentityResource", "oauthTokenURI"] {
            if params.has(key, order::A_) {
                return Err(ConfigError::invalid(key, "is not supported by Ebb yet"));
            }
        }

        // Credentials from TriggerAuthentication/env go into the URL.
        let username: Option<String> = params.optional("username", order::AE)?;
        let password = params.secret("password", order::AE);
        match (&username, &password) {
            (Some(user), Some(pass)) => {
                let user_ok = url.set_username(user).is_ok();
                let pass_ok = url.set_password(Some(pass.expose())).is_ok();
                if !(user_ok && pass_ok) {
                    return Err(ConfigError::invalid("host", "cannot carry credentials"));
                }
            }
            (None, None) => {}
            (Some(_), None) => return Err(params.missing("password", order::AE)),
            (None, Some(_)) => return Err(params.missing("username", order::AE)),
        }

        // The last path segment is the vhost; vhostName overrides it.
        let path = url.path().to_owned();
        let (base_path, segment) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let vhost = match params.optional::<String>("vhostName", order::MA)? {
            Some(v) => v,
            None if segment.is_empty() => "/".to_owned(),
            None => percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned(),
        };
        url.set_path(base_path);
        url.set_query(None);

        let tls_on =
            params.one_of("tls", order::A_, &["enable", "disable"], Some("disable"))? == "enable";
        let insecure = params.with_default("unsafeSsl", order::M_, false)?;
        let tls = if tls_on {
            TlsSettings::from_params(params, order::A_, insecure)?
        } else {
            TlsSettings {
                insecure,
                ..TlsSettings::default()
            }
        };

        Ok(Self {
            metric_name: params
                .metric_name(&format!("rabbitmq-{}", metric::query_escape(&queue_name))),
            queue_name,
            protocol,
            mode,
            value,
            activation: params.with_default("activationValue", order::M_, 0.0)?,
            base_url: SecretString::new(url.as_str().trim_end_matches('/')),
            vhost,
            use_regex,
            page_size,
            operation,
            exclude_unacknowledged,
            timeout: timeout.unwrap_or(params.global_http_timeout),
            tls,
            tls_enabled: tls_on,
            target_type: params.external_target_type()?,
        })
    }

    /// Value and activity per KEDA's mode table.
    pub fn evaluate(&self, q: &QueueInfo) -> (f64, bool) {
        let act = self.activation;
        let messages = q.messages as f64;
        match self.mode {
            Mode::QueueLength => (messages, messages > act),
            Mode::MessageRate => (q.publish_rate, q.publish_rate > act || messages > act),
            Mode::DeliverGetRate => (q.deliver_rate, q.deliver_rate > act),
            Mode::PublishedToDeliveredRatio => {
                let (p, d) = (q.publish_rate, q.deliver_rate);
                let ratio = if d == 0.0 {
                    if p > 0.0 { act } else { 0.0 }
                } else {
                    p / d
                };
                (ratio, ratio > act || (p > 0.0 && d == 0.0))
            }
            Mode::ExpectedQueueConsumptionTime => {
                let (p, d) = (q.publish_rate, q.deliver_rate);
                let eta = if q.messages == 0 {
                    0.0
                } else if d == 0.0 {
                    act
                } else {
                    (p - d) / d + messages / d
                };
                (eta, eta > act || (d == 0.0 && q.messages > 0))
            }
        }
    }
}

#[derive(Debug)]
enum Transport {
    Amqp(Arc<amqp::AmqpClient>),
    Http(Arc<HttpClient>),
}

/// The `rabbitmq` scaler.
#[derive(Debug)]
pub struct RabbitmqScaler {
    config: Config,
    transport: Transport,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let config = Config::from_params(params)?;
    let transport = match config.protocol {
        Protocol::Amqp => Transport::Amqp(clients.amqp(&amqp::AmqpKey::for_config(&config))),
        Protocol::Http => Transport::Http(clients.http(&HttpSettings {
            timeout: config.timeout,
            tls: config.tls.clone(),
        })?),
    };
    Ok(Box::new(RabbitmqScaler { config, transport }))
}

impl Scaler for RabbitmqScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Float(self.config.value),
            self.config.activation,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let info = match &self.transport {
                Transport::Amqp(client) => {
                    amqp::queue_info(poll, client, &self.config.queue_name).await?
                }
                Transport::Http(client) => {
                    management_api::queue_info(poll, client, &self.config).await?
                }
            };
            let (value, is_active) = self.config.evaluate(&info);
            Ok(Measurement {
                values: vec![crate::metric::MetricValue {
                    metric_name: self.config.metric_name.clone(),
                    value,
                }],
                is_active,
            })
        })
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
