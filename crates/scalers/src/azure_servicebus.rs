//! `azure-servicebus` trigger: active messages of a queue or a topic subscription.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `queueName` | M | — | a queue, or (`useRegex`) a full-match regex over queue names |
//! | `topicName` + `subscriptionName` | M | — | instead of `queueName`; `subscriptionName` may be a regex |
//! | `messageCount` | M | `5` | integer target |
//! | `activationMessageCount` | M | `0` | active iff count > this |
//! | `connection` | A, E | required | namespace connection string (`Endpoint`, `SharedAccessKeyName`, `SharedAccessKey`) |
//! | `namespace`, `cloud`, `endpointSuffix` | M | | only with pod identity, which Ebb does not support yet |
//! | `useRegex` | M | `false` | |
//! | `operation` | M | `sum` | `sum`, `max`, `avg` (integer division) over regex matches |
//!
//! The value is `CountDetails/ActiveMessageCount` from the management API
//! (`GET https://<ns>/<queue>` or `<topic>/Subscriptions/<sub>`, `api-version=2021-05`, Atom XML,
//! SAS token from the connection string); dead-lettered, scheduled and transfer messages are not
//! counted, as in KEDA. Metric `s<i>-azure-servicebus-<queueName or topicName>`
//! (regex: `s<i>-azure-servicebus-queue-regex` / `-topic-regex`).

use std::sync::Arc;

use crate::azure::namespace::Namespace;
use crate::azure::{self, Service};
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::{HttpClient, HttpSettings};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue, path_escape};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "azure-servicebus";

const API_VERSION: &str = "2021-05";
/// Page size of entity listings (the service maximum).
const PAGE: usize = 100;

/// What is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A queue.
    Queue(String),
    /// A topic's subscription.
    Subscription {
        /// `topicName`.
        topic: String,
        /// `subscriptionName`.
        subscription: String,
    },
}

/// How regex matches combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Sum of counts.
    Sum,
    /// Largest count.
    Max,
    /// Mean count, integer division.
    Avg,
}

/// Parsed `azure-servicebus` trigger.
#[derive(Debug, Clone)]
pub struct Config {
    /// Queue or subscription.
    pub entity: Entity,
    /// `useRegex`: the queue or subscription name is a full-match pattern.
    pub regex: Option<regex::Regex>,
    /// `operation`.
    pub operation: Operation,
    /// `messageCount`.
    pub message_count: i64,
    /// `activationMessageCount`.
    pub activation: i64,
    /// The namespace (host, REST base URL, credentials).
    pub namespace: Namespace,
    /// The metric name.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
    /// Request timeout.
    pub http: HttpSettings,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let queue: Option<String> = params.optional("queueName", order::M_)?;
        let topic: Option<String> = params.optional("topicName", order::M_)?;
        let subscription: Option<String> = params.optional("subscriptionName", order::M_)?;
        let entity = match (queue, topic, subscription) {
            (Some(_), Some(_), _) => return Err(ConfigError::exclusive("queueName", "topicName")),
            (Some(_), None, Some(_)) => {
                return Err(ConfigError::exclusive("queueName", "subscriptionName"));
            }
            (Some(q), None, None) => Entity::Queue(q),
            (None, Some(topic), Some(subscription)) => Entity::Subscription {
                topic,
                subscription,
            },
            (None, Some(_), None) => {
                return Err(ConfigError::invalid(
                    "subscriptionName",
                    "required with topicName",
                ));
            }
            (None, None, _) => {
                return Err(ConfigError::invalid(
                    "queueName",
                    "queueName or topicName and subscriptionName is required",
                ));
            }
        };
        let use_regex = params.with_default("useRegex", order::M_, false)?;
        let regex = if use_regex {
            let (key, pattern) = match &entity {
                Entity::Queue(q) => ("queueName", q),
                Entity::Subscription { subscription, .. } => ("subscriptionName", subscription),
            };
            Some(
                regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| ConfigError::invalid(key, format!("not a valid regex: {e}")))?,
            )
        } else {
            None
        };
        let operation =
            match params.one_of("operation", order::M_, &["sum", "max", "avg"], Some("sum"))? {
                "max" => Operation::Max,
                "avg" => Operation::Avg,
                _ => Operation::Sum,
            };
        // Validated for KEDA compatibility; only used with pod identity.
        azure::endpoint_suffix(params, Service::ServiceBus, "endpointSuffix")?;
        if params.pod_identity.as_deref().is_some_and(|p| p != "none") {
            return Err(ConfigError::invalid(
                "podIdentity",
                "pod identity for azure-servicebus is not supported by Ebb yet; use a connection string",
            ));
        }
        let namespace = Namespace::from_connection_string(
            "connection",
            &params.required_secret("connection", order::AE)?,
        )?;
        let message_count: i64 = params.with_default("messageCount", order::M_, 5)?;
        if message_count <= 0 && !params.as_metric_source {
            return Err(ConfigError::invalid(
                "messageCount",
                "must be greater than 0",
            ));
        }
        let raw_name = match (&entity, regex.is_some()) {
            (Entity::Queue(_), true) => "azure-servicebus-queue-regex".to_owned(),
            (Entity::Subscription { .. }, true) => "azure-servicebus-topic-regex".to_owned(),
            (Entity::Queue(q), false) => format!("azure-servicebus-{q}"),
            (Entity::Subscription { topic, .. }, false) => format!("azure-servicebus-{topic}"),
        };
        Ok(Self {
            entity,
            regex,
            operation,
            message_count,
            activation: params.with_default("activationMessageCount", order::M_, 0)?,
            namespace,
            metric_name: params.metric_name(&raw_name),
            target_type: params.external_target_type()?,
            http: HttpSettings::with_timeout(params.global_http_timeout),
        })
    }
}

/// `ActiveMessageCount` of one entity description (an Atom `entry`).
pub fn active_count_from(body: &str) -> Result<i64, MeasureError> {
    match azure::xml_root(body).as_deref() {
        Some("entry") => {}
        // The management API answers an unknown entity with an empty feed.
        Some("feed") => {
            return Err(MeasureError::new(
                MeasureReason::NotFound,
                "azure-servicebus: the entity does not exist",
            ));
        }
        _ => {
            return Err(MeasureError::new(
                MeasureReason::BadResponse,
                "azure-servicebus: the answer is not an Atom entry",
            ));
        }
    }
    let text = azure::xml_text(body, &["CountDetails", "ActiveMessageCount"]).map_err(|e| {
        MeasureError::new(MeasureReason::BadResponse, format!("azure-servicebus: {e}"))
    })?;
    text.and_then(|t| t.parse().ok()).ok_or_else(|| {
        MeasureError::new(
            MeasureReason::BadResponse,
            "azure-servicebus: no CountDetails/ActiveMessageCount in the answer",
        )
    })
}

/// `(name, ActiveMessageCount)` of every entry in a listing (an Atom `feed`).
pub fn listing_from(body: &str) -> Result<Vec<(String, i64)>, MeasureError> {
    let bad =
        |m: String| MeasureError::new(MeasureReason::BadResponse, format!("azure-servicebus: {m}"));
    let names = azure::xml_texts(body, &["feed", "entry", "title"]).map_err(bad)?;
    let counts = azure::xml_texts(body, &["CountDetails", "ActiveMessageCount"]).map_err(bad)?;
    if names.len() != counts.len() {
        return Err(bad(format!(
            "{} entries but {} ActiveMessageCounts",
            names.len(),
            counts.len()
        )));
    }
    names
        .into_iter()
        .zip(counts)
        .map(|(n, c)| {
            c.parse()
                .map(|c| (n, c))
                .map_err(|_| bad(format!("count {c:?} is not an integer")))
        })
        .collect()
}

/// The `azure-servicebus` scaler.
#[derive(Debug)]
pub struct AzureServiceBusScaler {
    config: Config,
    client: Arc<HttpClient>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(AzureServiceBusScaler::with_config(
        Config::from_params(params)?,
        clients,
    )?))
}

impl AzureServiceBusScaler {
    /// A scaler for an already parsed config (tests point `namespace.base_url` at a local server).
    pub fn with_config(config: Config, clients: &Clients) -> Result<Self, ConfigError> {
        let client = clients.http(&config.http)?;
        Ok(Self { config, client })
    }

    async fn single(&self, poll: &Poll) -> Result<i64, MeasureError> {
        let path = match &self.config.entity {
            Entity::Queue(q) => path_escape(q),
            Entity::Subscription {
                topic,
                subscription,
            } => {
                format!(
                    "{}/Subscriptions/{}",
                    path_escape(topic),
                    path_escape(subscription)
                )
            }
        };
        let body = self
            .config
            .namespace
            .get(poll, &self.client, &path, API_VERSION, "azure-servicebus")
            .await?;
        active_count_from(&body)
    }

    async fn matching(&self, poll: &Poll, regex: &regex::Regex) -> Result<i64, MeasureError> {
        let base = match &self.config.entity {
            Entity::Queue(_) => "$Resources/Queues".to_owned(),
            Entity::Subscription { topic, .. } => format!("{}/Subscriptions", path_escape(topic)),
        };
        let mut counts = Vec::new();
        for page in 0.. {
            let path = format!("{base}?$skip={}&$top={PAGE}", page * PAGE);
            // `api-version` is appended to this query by `Namespace::get`.
            let body = self
                .config
                .namespace
                .get(
                    poll,
                    &self.client,
                    &path,
                    API_VERSION,
                    "azure-servicebus: listing",
                )
                .await?;
            let entries = listing_from(&body)?;
            let n = entries.len();
            counts.extend(
                entries
                    .into_iter()
                    .filter(|(name, _)| regex.is_match(name))
                    .map(|(_, c)| c),
            );
            if n < PAGE {
                break;
            }
        }
        Ok(match self.config.operation {
            Operation::Sum => counts.iter().sum(),
            Operation::Max => counts.iter().copied().max().unwrap_or(0),
            Operation::Avg if counts.is_empty() => 0,
            Operation::Avg => counts.iter().sum::<i64>() / counts.len() as i64,
        })
    }
}

impl Scaler for AzureServiceBusScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Int(self.config.message_count),
            self.config.activation as f64,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let count = match &self.config.regex {
                Some(regex) => self.matching(poll, regex).await?,
                None => self.single(poll).await?,
            };
            Ok(Measurement::single(
                &self.config.metric_name,
                count as f64,
                self.config.activation as f64,
            ))
        })
    }
}

#[cfg(test)]
mod tests;
