//! From keda.sh objects to the plain policies `ebb-core` decides with: a ScaledObject becomes a
//! [`ScaledObjectPolicy`] and the [`HpaSpec`] of the HPA KEDA would own, a ScaledJob a
//! [`ScaledJobPolicy`], each trigger a [`TriggerSpec`] and an HPA `behavior` a core [`Behavior`].
//!
//! The operator, local mode and `ebb simulate` all call these functions, so a cluster, a laptop and a
//! simulation start from the same numbers.
//!
//! **Where a trigger's metric spec comes from.** The trigger type's own parser in ebb-scalers
//! (`registry` entry + `Config::from_params`, no network) is the authority. Two cases fall back to
//! [`OFFLINE_SPECS`], a table of each type's target and activation keys, KEDA defaults and metric
//! naming (keda-compat §4.3, §5):
//! - the type has no parser in ebb-scalers yet;
//! - the caller is offline ([`Resolution::Offline`]) and the parser needs a connection parameter
//!   that only the cluster can supply (`<key>FromEnv` or an `authenticationRef`). The metric spec
//!   never depends on those parameters, and a test keeps the table equal to the parser wherever both
//!   exist.

use std::collections::BTreeMap;

use ebb_api::scaled_job::ScaledJob;
use ebb_api::scaled_object::{FallbackBehavior as ApiFallbackBehavior, ScaledObject};
use ebb_api::trigger::{MetricTargetType, ScaleTriggers, UnknownMetricType};
use ebb_core::hpa::{
    Behavior, HpaSpec, ScalingPolicy, ScalingPolicyType, ScalingRules, SelectPolicy,
};
use ebb_core::scaled_job::{MultipleScalersCalculation, ScaledJobPolicy, ScalingStrategy};
use ebb_core::scaled_object::PausedReplicasError;
use ebb_core::{
    Fallback, FallbackBehavior, MetricType, ModifiersError, PauseSettings, ScaleTargetRef,
    ScaledObjectPolicy, ScalingModifiers, TriggerKind, TriggerSpec,
};
use ebb_scalers::metric::{MetricSource, MetricSpec, query_escape};
use ebb_scalers::{Clients, ConfigError, TriggerParams, registry};
use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerBehavior};

/// What a caller resolved for one trigger: the scale target container's env and the
/// (Cluster)TriggerAuthentication parameters.
#[derive(Clone, Default)]
pub struct ResolvedTrigger {
    /// The container env, resolved (`env`, `envFrom`, `$(VAR)`).
    pub resolved_env: BTreeMap<String, String>,
    /// The TriggerAuthentication parameters.
    pub auth_params: BTreeMap<String, String>,
    /// `podIdentity.provider`, if any.
    pub pod_identity: Option<String>,
}

/// Keys only: env values and auth parameters are often secrets, and Debug output reaches logs.
impl std::fmt::Debug for ResolvedTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedTrigger")
            .field(
                "resolved_env",
                &self.resolved_env.keys().collect::<Vec<_>>(),
            )
            .field("auth_params", &self.auth_params.keys().collect::<Vec<_>>())
            .field("pod_identity", &self.pod_identity)
            .finish()
    }
}

/// How much of the cluster the caller could see when building a policy.
#[derive(Clone, Copy, Debug)]
pub enum Resolution<'a> {
    /// Nothing resolved (files only: `ebb simulate`, `ebb validate`); connection parameters from env
    /// or a TriggerAuthentication are unknown, which the metric spec never needs.
    Offline,
    /// Per trigger, aligned with `spec.triggers` (the operator, local mode).
    Resolved(&'a [ResolvedTrigger]),
}

impl<'a> Resolution<'a> {
    fn trigger(self, index: usize) -> Option<&'a ResolvedTrigger> {
        match self {
            Resolution::Offline => None,
            Resolution::Resolved(all) => all.get(index),
        }
    }
}

/// Why an object cannot become a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A count or period below zero (admission refuses these too).
    #[error("{path}: {value} must be 0 or more")]
    Negative {
        /// Field path.
        path: &'static str,
        /// The value.
        value: i64,
    },
    /// The trigger type's parser refused the trigger.
    #[error("spec.triggers[{index}] ({trigger_type}): {source}")]
    Trigger {
        /// Trigger index.
        index: usize,
        /// `type`.
        trigger_type: String,
        /// The parser's error (names the key).
        #[source]
        source: ConfigError,
    },
    /// A metadata value the offline table needs does not parse.
    #[error("spec.triggers[{index}].metadata.{key}: {value:?} is not {expected}")]
    BadValue {
        /// Trigger index.
        index: usize,
        /// The key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The metric spec needs a value only the cluster can supply, or the type is unknown offline.
    #[error("spec.triggers[{index}] ({trigger_type}): {why}")]
    NoMetricSpec {
        /// Trigger index.
        index: usize,
        /// `type`.
        trigger_type: String,
        /// What is missing.
        why: String,
    },
    /// `metricType` is not AverageValue, Value or Utilization, or Utilization on a non-resource trigger.
    #[error("spec.triggers[{index}].metricType: {message}")]
    MetricType {
        /// Trigger index.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// `advanced.scalingModifiers` is invalid.
    #[error("spec.advanced.scalingModifiers: {0}")]
    Modifiers(#[from] ModifiersError),
    /// `autoscaling.keda.sh/paused-replicas` is not a replica count.
    #[error("metadata.annotations: {0}")]
    PausedReplicas(#[from] PausedReplicasError),
    /// The HPA behavior has a value the API server would refuse.
    #[error("spec.advanced.horizontalPodAutoscalerConfig.behavior.{path}: {message}")]
    Behavior {
        /// Path below `behavior`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl PolicyError {
    /// Short, stable reason for Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyError::Negative { .. } => "negative_value",
            PolicyError::Trigger { source, .. } => source.reason(),
            PolicyError::BadValue { .. } => "invalid_parameter",
            PolicyError::NoMetricSpec { .. } => "no_metric_spec",
            PolicyError::MetricType { .. } => "invalid_metric_type",
            PolicyError::Modifiers(_) => "invalid_scaling_modifiers",
            PolicyError::PausedReplicas(_) => "invalid_paused_replicas",
            PolicyError::Behavior { .. } => "invalid_behavior",
        }
    }
}

/// The ScaledObject's decision inputs, offline (see [`scaled_object_policy_with`]).
pub fn scaled_object_policy(so: &ScaledObject) -> Result<ScaledObjectPolicy, PolicyError> {
    scaled_object_policy_with(so, Resolution::Offline)
}

/// The ScaledObject's decision inputs: replica bounds, cooldowns, fallback, scalingModifiers,
/// pause annotations and one [`TriggerSpec`] per trigger.
pub fn scaled_object_policy_with(
    so: &ScaledObject,
    resolution: Resolution<'_>,
) -> Result<ScaledObjectPolicy, PolicyError> {
    let spec = &so.spec;
    let modifiers = spec.scaling_modifiers();
    let triggers = trigger_specs(&spec.triggers, modifiers.is_some(), resolution)?;
    let scaling_modifiers = match modifiers {
        Some(m) => {
            let names: Vec<&str> = triggers
                .iter()
                .filter(|t| t.kind == TriggerKind::External && !t.name.is_empty())
                .map(|t| t.name.as_str())
                .collect();
            let metric_type = match m.metric_type() {
                MetricTargetType::Value => MetricType::Value,
                _ => MetricType::AverageValue,
            };
            Some(ScalingModifiers::new(
                m.formula.as_deref().unwrap_or_default(),
                m.target.as_deref().unwrap_or_default(),
                m.activation_target(),
                metric_type,
                &names,
            )?)
        }
        None => None,
    };
    let annotations = so.metadata.annotations.iter().flatten();
    let target = &spec.scale_target_ref;
    Ok(ScaledObjectPolicy {
        target: ScaleTargetRef {
            // status.scaleTargetKind: `<apiVersion>.<Kind>`.
            kind: format!("{}.{}", target.api_version(), target.kind()),
            namespace: so
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: target.name.clone(),
        },
        min_replica_count: spec
            .min_replica_count
            .map(|v| count(v, "spec.minReplicaCount"))
            .transpose()?,
        max_replica_count: count(spec.max_replica_count(), "spec.maxReplicaCount")?,
        idle_replica_count: spec
            .idle_replica_count
            .map(|v| count(v, "spec.idleReplicaCount"))
            .transpose()?,
        cooldown_period: count(spec.cooldown_period(), "spec.cooldownPeriod")?,
        initial_cooldown_period: count(
            spec.initial_cooldown_period(),
            "spec.initialCooldownPeriod",
        )?,
        fallback: spec.fallback.as_ref().map(|f| Fallback {
            failure_threshold: f.failure_threshold,
            replicas: f.replicas,
            behavior: match f.behavior() {
                ApiFallbackBehavior::Static => FallbackBehavior::Static,
                ApiFallbackBehavior::CurrentReplicas => FallbackBehavior::CurrentReplicas,
                ApiFallbackBehavior::CurrentReplicasIfHigher => {
                    FallbackBehavior::CurrentReplicasIfHigher
                }
                ApiFallbackBehavior::CurrentReplicasIfLower => {
                    FallbackBehavior::CurrentReplicasIfLower
                }
                ApiFallbackBehavior::ScalingModifiers => FallbackBehavior::ScalingModifiers,
            },
        }),
        scaling_modifiers,
        pause: PauseSettings::from_annotations(annotations.map(|(k, v)| (k.as_str(), v.as_str())))?,
        triggers,
    })
}

/// The spec of the HPA KEDA creates for this ScaledObject (keda-compat §2.4): `minReplicas` =
/// max(minReplicaCount, 1), `maxReplicas`, and `behavior` with the paused-scale-in/out annotations
/// turning the matching direction off.
pub fn hpa_spec(so: &ScaledObject) -> Result<HpaSpec, PolicyError> {
    let spec = &so.spec;
    let mut behavior = spec.hpa_behavior().map(behavior).transpose()?;
    let pause = PauseSettings::from_annotations(
        so.metadata
            .annotations
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )?;
    for (paused, down) in [
        (pause.paused_scale_in, true),
        (pause.paused_scale_out, false),
    ] {
        if paused {
            let b = behavior.get_or_insert_with(Behavior::default);
            let rules = if down {
                &mut b.scale_down
            } else {
                &mut b.scale_up
            };
            rules
                .get_or_insert_with(ScalingRules::default)
                .select_policy = Some(SelectPolicy::Disabled);
        }
    }
    Ok(HpaSpec {
        min_replicas: count(spec.hpa_min_replicas(), "spec.minReplicaCount")?,
        max_replicas: count(spec.hpa_max_replicas(), "spec.maxReplicaCount")?,
        behavior,
    })
}

/// An autoscaling/v2 `HorizontalPodAutoscalerBehavior` as core data, checked as the API server
/// would (policy values > 0, periods 1–1800 s, windows 0–3600 s). Unset fields stay unset: the core
/// fills in Kubernetes' defaults per direction. `tolerance` (alpha) is not modelled.
pub fn behavior(b: &HorizontalPodAutoscalerBehavior) -> Result<Behavior, PolicyError> {
    Ok(Behavior {
        scale_up: b
            .scale_up
            .as_ref()
            .map(|r| rules(r, "scaleUp"))
            .transpose()?,
        scale_down: b
            .scale_down
            .as_ref()
            .map(|r| rules(r, "scaleDown"))
            .transpose()?,
    })
}

fn rules(r: &HPAScalingRules, dir: &str) -> Result<ScalingRules, PolicyError> {
    let bad = |field: String, message: String| PolicyError::Behavior {
        path: format!("{dir}.{field}"),
        message,
    };
    let stabilization_window_seconds = match r.stabilization_window_seconds {
        Some(w) if !(0..=3600).contains(&w) => {
            return Err(bad(
                "stabilizationWindowSeconds".into(),
                format!("{w} must be between 0 and 3600"),
            ));
        }
        w => w.map(|w| w.unsigned_abs()),
    };
    let select_policy = match r.select_policy.as_deref() {
        None => None,
        Some("Max") => Some(SelectPolicy::Max),
        Some("Min") => Some(SelectPolicy::Min),
        Some("Disabled") => Some(SelectPolicy::Disabled),
        Some(other) => {
            return Err(bad(
                "selectPolicy".into(),
                format!("{other:?} is not one of Max, Min, Disabled"),
            ));
        }
    };
    let mut policies = Vec::new();
    for (i, p) in r.policies.iter().flatten().enumerate() {
        let policy_type = match p.type_.as_str() {
            "Pods" => ScalingPolicyType::Pods,
            "Percent" => ScalingPolicyType::Percent,
            other => {
                return Err(bad(
                    format!("policies[{i}].type"),
                    format!("{other:?} is not one of Pods, Percent"),
                ));
            }
        };
        if p.value <= 0 {
            return Err(bad(
                format!("policies[{i}].value"),
                format!("{} must be greater than 0", p.value),
            ));
        }
        if !(1..=1800).contains(&p.period_seconds) {
            return Err(bad(
                format!("policies[{i}].periodSeconds"),
                format!("{} must be between 1 and 1800", p.period_seconds),
            ));
        }
        policies.push(ScalingPolicy {
            policy_type,
            value: p.value.unsigned_abs(),
            period_seconds: p.period_seconds.unsigned_abs(),
        });
    }
    Ok(ScalingRules {
        stabilization_window_seconds,
        select_policy,
        policies,
    })
}

/// The ScaledJob's job-count inputs (keda-compat §3.2, §3.5). Its triggers: [`trigger_specs`].
pub fn scaled_job_policy(sj: &ScaledJob) -> Result<ScaledJobPolicy, PolicyError> {
    let spec = &sj.spec;
    let strategy = spec.scaling_strategy.as_ref();
    let kind = match spec.scaling_strategy_kind() {
        ebb_api::scaled_job::ScalingStrategyKind::Default => "default",
        ebb_api::scaled_job::ScalingStrategyKind::Custom => "custom",
        ebb_api::scaled_job::ScalingStrategyKind::Accurate => "accurate",
        ebb_api::scaled_job::ScalingStrategyKind::Eager => "eager",
    };
    use ebb_api::scaled_job::MultipleScalersCalculation as Api;
    Ok(ScaledJobPolicy {
        min_replica_count: spec
            .min_replica_count
            .map(|v| count(v, "spec.minReplicaCount"))
            .transpose()?,
        max_replica_count: spec
            .max_replica_count
            .map(|v| count(v, "spec.maxReplicaCount"))
            .transpose()?,
        strategy: ScalingStrategy::from_spec(
            kind,
            strategy.and_then(|s| s.custom_scaling_queue_length_deduction),
            strategy
                .and_then(|s| s.custom_scaling_running_job_percentage.as_deref())
                .unwrap_or_default(),
        ),
        calculation: match spec.multiple_scalers_calculation() {
            Api::Max => MultipleScalersCalculation::Max,
            Api::Min => MultipleScalersCalculation::Min,
            Api::Avg => MultipleScalersCalculation::Avg,
            Api::Sum => MultipleScalersCalculation::Sum,
        },
    })
}

/// One [`TriggerSpec`] per trigger, in spec order. `as_metric_source` is true when the
/// ScaledObject uses scalingModifiers (some scalers then need no target).
pub fn trigger_specs(
    triggers: &[ScaleTriggers],
    as_metric_source: bool,
    resolution: Resolution<'_>,
) -> Result<Vec<TriggerSpec>, PolicyError> {
    triggers
        .iter()
        .enumerate()
        .map(|(i, t)| trigger_spec(i, t, as_metric_source, resolution.trigger(i)))
        .collect()
}

/// The spec of trigger `index`: from its ebb-scalers parser when it can build, else from
/// [`OFFLINE_SPECS`] (see the module doc for when).
pub fn trigger_spec(
    index: usize,
    trigger: &ScaleTriggers,
    as_metric_source: bool,
    resolved: Option<&ResolvedTrigger>,
) -> Result<TriggerSpec, PolicyError> {
    let ty = trigger.type_.as_str();
    let metric_type = metric_type(index, trigger)?;
    let from_scaler = match registry::find(ty) {
        Some(kind) => {
            let params = trigger_params(index, trigger, as_metric_source, resolved);
            match (kind.build)(&params, &Clients::new()) {
                Ok(scaler) => Some(scaler.metric_specs()),
                Err(e) if resolved.is_none() && deferred_to_cluster(&e, trigger) => None,
                Err(source) => {
                    return Err(PolicyError::Trigger {
                        index,
                        trigger_type: ty.to_owned(),
                        source,
                    });
                }
            }
        }
        None => None,
    };
    let spec = match from_scaler {
        Some(specs) => {
            let Some(first) = specs.into_iter().next() else {
                return Err(PolicyError::NoMetricSpec {
                    index,
                    trigger_type: ty.to_owned(),
                    why: "the scaler returned no metric spec".into(),
                });
            };
            from_metric_spec(first)
        }
        None => offline_spec(index, trigger, metric_type, as_metric_source)?,
    };
    Ok(TriggerSpec {
        name: trigger.name().to_owned(),
        ..spec
    })
}

/// The `TriggerParams` a scaler is built from.
pub fn trigger_params(
    index: usize,
    trigger: &ScaleTriggers,
    as_metric_source: bool,
    resolved: Option<&ResolvedTrigger>,
) -> TriggerParams {
    let mut params = TriggerParams::new(trigger.type_.clone(), index, trigger.metadata.clone());
    params.name = trigger.name.clone();
    params.metric_type = trigger.metric_type.clone();
    params.as_metric_source = as_metric_source;
    if let Some(r) = resolved {
        params.resolved_env = r.resolved_env.clone();
        params.auth_params = r.auth_params.clone();
        params.pod_identity = r.pod_identity.clone();
    }
    params
}

/// A required key that the trigger leaves to `<key>FromEnv` or a TriggerAuthentication.
fn deferred_to_cluster(e: &ConfigError, trigger: &ScaleTriggers) -> bool {
    let ConfigError::Missing { key, .. } = e else {
        return false;
    };
    let from_env = key
        .split(';')
        .any(|k| trigger.metadata.contains_key(&format!("{k}FromEnv")));
    from_env || trigger.authentication_ref.is_some()
}

fn from_metric_spec(m: MetricSpec) -> TriggerSpec {
    let kind = match m.source {
        MetricSource::External => TriggerKind::External,
        MetricSource::Resource { .. } => TriggerKind::Resource,
    };
    TriggerSpec {
        name: String::new(),
        metric_name: m.metric_name,
        kind,
        metric_type: match m.target_type {
            ebb_scalers::MetricTargetType::Value => MetricType::Value,
            _ => MetricType::AverageValue,
        },
        // cpu/memory quantities (`500m`) are the metrics-server's business, not the core's.
        target: m.target.as_f64().unwrap_or(0.0),
        activation_target: m.activation_threshold,
    }
}

fn metric_type(index: usize, trigger: &ScaleTriggers) -> Result<MetricType, PolicyError> {
    let resource = matches!(trigger.type_.as_str(), "cpu" | "memory");
    match trigger.metric_type() {
        Ok(MetricTargetType::AverageValue) => Ok(MetricType::AverageValue),
        Ok(MetricTargetType::Value) => Ok(MetricType::Value),
        Ok(MetricTargetType::Utilization) if resource => Ok(MetricType::AverageValue),
        Ok(MetricTargetType::Utilization) => Err(PolicyError::MetricType {
            index,
            message: format!(
                "Utilization is only supported for cpu and memory triggers, not {}",
                trigger.type_
            ),
        }),
        Err(UnknownMetricType(m)) => Err(PolicyError::MetricType {
            index,
            message: format!(
                "unknown metricType {m:?}: expected AverageValue, Value or Utilization"
            ),
        }),
    }
}

fn count(value: i32, path: &'static str) -> Result<u32, PolicyError> {
    u32::try_from(value).map_err(|_| PolicyError::Negative {
        path,
        value: i64::from(value),
    })
}

// ---- The offline table ---------------------------------------------------------------------------

/// A target as KEDA parses it: `GetMetricTarget` (integer) or `GetMetricTargetMili` (float).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// An integer key with KEDA's default.
    Int(&'static str, i64),
    /// A float key with KEDA's default.
    Float(&'static str, f64),
    /// A float key KEDA requires (unless the trigger only feeds scalingModifiers).
    RequiredFloat(&'static str),
}

/// How a trigger type names its metric (the part after `s<i>-`, before normalising).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Naming {
    /// A fixed name, e.g. `prometheus`.
    Fixed(&'static str),
    /// `<prefix>-<value of key>`.
    Key(&'static str, &'static str),
    /// `<prefix>-<QueryEscape(value of key)>` (rabbitmq).
    EscapedKey(&'static str, &'static str),
    /// `<prefix>-<value of key, or default>`.
    KeyOr(&'static str, &'static str, &'static str),
    /// kafka: `kafka-<topic>`, or `kafka-<consumerGroup>-topics` without a topic.
    Kafka,
    /// azure-servicebus: the queue or topic name, or `queue-regex`/`topic-regex` with `useRegex`.
    ServiceBus,
    /// mysql: `mysql-<dbName>` (dbName from metadata; the connectionString is the cluster's).
    Mysql,
    /// aws-sqs-queue: `aws-sqs-<last path segment of queueURL>`.
    Sqs,
}

/// One row of the offline table.
#[derive(Clone, Copy, Debug)]
pub struct OfflineSpec {
    /// The trigger types the row covers.
    pub types: &'static [&'static str],
    /// The target key and default.
    pub target: Target,
    /// The activation key (default 0).
    pub activation: &'static str,
    /// The metric name.
    pub naming: Naming,
}

/// Target, activation and naming per trigger type (keda-compat §5; defaults as in KEDA's
/// scalers-schema.json). Rows for types ebb-scalers implements must agree with its parser (tested).
pub const OFFLINE_SPECS: &[OfflineSpec] = &[
    OfflineSpec {
        types: &["aws-sqs-queue"],
        target: Target::Int("queueLength", 5),
        activation: "activationQueueLength",
        naming: Naming::Sqs,
    },
    OfflineSpec {
        types: &["azure-eventhub"],
        target: Target::Int("unprocessedEventThreshold", 64),
        activation: "activationUnprocessedEventThreshold",
        naming: Naming::KeyOr("azure-eventhub", "consumerGroup", "$Default"),
    },
    OfflineSpec {
        types: &["azure-queue"],
        target: Target::Int("queueLength", 5),
        activation: "activationQueueLength",
        naming: Naming::Key("azure-queue", "queueName"),
    },
    OfflineSpec {
        types: &["azure-servicebus"],
        target: Target::Int("messageCount", 5),
        activation: "activationMessageCount",
        naming: Naming::ServiceBus,
    },
    OfflineSpec {
        types: &["kafka", "apache-kafka"],
        target: Target::Int("lagThreshold", 10),
        activation: "activationLagThreshold",
        naming: Naming::Kafka,
    },
    OfflineSpec {
        types: &["metrics-api"],
        target: Target::RequiredFloat("targetValue"),
        activation: "activationTargetValue",
        naming: Naming::Key("metric-api", "valueLocation"),
    },
    OfflineSpec {
        types: &["mysql"],
        target: Target::RequiredFloat("queryValue"),
        activation: "activationQueryValue",
        naming: Naming::Mysql,
    },
    OfflineSpec {
        types: &["nats-jetstream"],
        target: Target::Int("lagThreshold", 10),
        activation: "activationLagThreshold",
        naming: Naming::Key("nats-jetstream", "stream"),
    },
    OfflineSpec {
        types: &["postgresql"],
        target: Target::RequiredFloat("targetQueryValue"),
        activation: "activationTargetQueryValue",
        naming: Naming::Fixed("postgresql"),
    },
    OfflineSpec {
        types: &["prometheus"],
        target: Target::RequiredFloat("threshold"),
        activation: "activationThreshold",
        naming: Naming::Fixed("prometheus"),
    },
    // `queueLength` (legacy) or `value`; neither ⇒ QueueLength with 20. Rates need the management
    // API, which only the parser with a resolved host can check.
    OfflineSpec {
        types: &["rabbitmq"],
        target: Target::Float("value", 20.0),
        activation: "activationValue",
        naming: Naming::EscapedKey("rabbitmq", "queueName"),
    },
    OfflineSpec {
        types: &["redis", "redis-cluster", "redis-sentinel"],
        target: Target::Int("listLength", 5),
        activation: "activationListLength",
        naming: Naming::Key("redis", "listName"),
    },
    // The target key depends on the mode (lagCount / pendingEntriesCount / streamLength).
    OfflineSpec {
        types: &[
            "redis-streams",
            "redis-cluster-streams",
            "redis-sentinel-streams",
        ],
        target: Target::Int("pendingEntriesCount", 5),
        activation: "activationLagCount",
        naming: Naming::Key("redis-streams", "stream"),
    },
];

/// The table row for a trigger type.
pub fn offline_spec_for(trigger_type: &str) -> Option<&'static OfflineSpec> {
    OFFLINE_SPECS
        .iter()
        .find(|row| row.types.contains(&trigger_type))
}

fn offline_spec(
    index: usize,
    trigger: &ScaleTriggers,
    metric_type: MetricType,
    as_metric_source: bool,
) -> Result<TriggerSpec, PolicyError> {
    let ty = trigger.type_.as_str();
    let no_spec = |why: String| PolicyError::NoMetricSpec {
        index,
        trigger_type: ty.to_owned(),
        why,
    };
    let Some(row) = offline_spec_for(ty) else {
        return Err(no_spec(format!(
            "Ebb cannot work out this trigger type's metric target offline yet (known offline: {})",
            OFFLINE_SPECS
                .iter()
                .flat_map(|r| r.types.iter().copied())
                .chain(registry::ALL.iter().map(|k| k.name))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let meta = |key: &str| {
        trigger
            .metadata
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let float = |key: &'static str| -> Result<Option<f64>, PolicyError> {
        meta(key)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| PolicyError::BadValue {
                        index,
                        key,
                        value: v.to_owned(),
                        expected: "a number",
                    })
            })
            .transpose()
    };
    let int = |key: &'static str| -> Result<Option<f64>, PolicyError> {
        meta(key)
            .map(|v| {
                // KEDA JSON-decodes into an int64: "10" parses, "10.5" does not.
                v.parse::<i64>()
                    .map(|i| i as f64)
                    .map_err(|_| PolicyError::BadValue {
                        index,
                        key,
                        value: v.to_owned(),
                        expected: "an integer",
                    })
            })
            .transpose()
    };
    let target = match (ty, row.target) {
        ("rabbitmq", _) => float("queueLength")?.or(float("value")?).unwrap_or(20.0),
        (t, _) if t.ends_with("streams") => {
            let lag = int("lagCount")?.filter(|l| *l != 0.0);
            match (meta("consumerGroup"), lag) {
                (Some(_), Some(lag)) => lag,
                (Some(_), None) => int("pendingEntriesCount")?.unwrap_or(5.0),
                (None, _) => int("streamLength")?.unwrap_or(5.0),
            }
        }
        (_, Target::Int(key, default)) => int(key)?.unwrap_or(default as f64),
        (_, Target::Float(key, default)) => float(key)?.unwrap_or(default),
        (_, Target::RequiredFloat(key)) => match float(key)? {
            Some(v) => v,
            // Only a scalingModifiers source may leave it out; its target is then unused.
            None if as_metric_source => 0.0,
            None => {
                return Err(PolicyError::Trigger {
                    index,
                    trigger_type: ty.to_owned(),
                    source: ConfigError::Missing {
                        key: key.to_owned(),
                        order: "triggerMetadata".to_owned(),
                    },
                });
            }
        },
    };
    let activation = float(row.activation)?.unwrap_or(0.0);
    let key_value = |key: &'static str| -> Result<&str, PolicyError> {
        match meta(key) {
            Some(v) => Ok(v),
            None if trigger.metadata.contains_key(&format!("{key}FromEnv")) => Err(no_spec(
                format!("the metric name uses {key}, which comes from the scale target's env"),
            )),
            None => Err(PolicyError::Trigger {
                index,
                trigger_type: ty.to_owned(),
                source: ConfigError::Missing {
                    key: key.to_owned(),
                    order: "triggerMetadata".to_owned(),
                },
            }),
        }
    };
    let raw = match row.naming {
        Naming::Fixed(name) => name.to_owned(),
        Naming::Key(prefix, key) => format!("{prefix}-{}", key_value(key)?),
        Naming::EscapedKey(prefix, key) => format!("{prefix}-{}", query_escape(key_value(key)?)),
        Naming::KeyOr(prefix, key, default) => {
            format!("{prefix}-{}", meta(key).unwrap_or(default))
        }
        Naming::Kafka => match meta("topic") {
            Some(topic) => format!("kafka-{topic}"),
            None => format!("kafka-{}-topics", key_value("consumerGroup")?),
        },
        Naming::ServiceBus => {
            let regex = meta("useRegex").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            match (meta("queueName"), regex) {
                (Some(_), true) => "azure-servicebus-queue-regex".to_owned(),
                (Some(q), false) => format!("azure-servicebus-{q}"),
                (None, true) => "azure-servicebus-topic-regex".to_owned(),
                (None, false) => format!("azure-servicebus-{}", key_value("topicName")?),
            }
        }
        Naming::Mysql => match meta("dbName") {
            Some(db) => format!("mysql-{db}"),
            None => {
                return Err(no_spec(
                    "the metric name uses the database of connectionString, which only the cluster can resolve; set metadata.dbName".into(),
                ));
            }
        },
        Naming::Sqs => {
            let url = key_value("queueURL")?;
            let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
            format!("aws-sqs-{name}")
        }
    };
    Ok(TriggerSpec {
        name: String::new(),
        metric_name: ebb_scalers::metric::metric_name(index, &raw),
        kind: TriggerKind::External,
        metric_type,
        target,
        activation_target: activation,
    })
}

#[cfg(test)]
mod tests;
