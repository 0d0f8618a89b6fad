//! `ScaledObject` (keda.sh/v1alpha1): scales a Deployment, StatefulSet or any `/scale` resource.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::constants::{
    DEFAULT_COOLDOWN_PERIOD, DEFAULT_HPA_MIN_REPLICAS, DEFAULT_INITIAL_COOLDOWN_PERIOD,
    DEFAULT_MAX_REPLICA_COUNT, DEFAULT_MIN_REPLICA_COUNT, DEFAULT_POLLING_INTERVAL,
    DEFAULT_SCALE_TARGET_API_VERSION, DEFAULT_SCALE_TARGET_KIND, HPA_NAME_PREFIX,
};
use crate::schema;
use crate::trigger::{
    GroupVersionKindResource, MetricTargetType, ScaleTriggers, TriggerActivityStatus,
};

/// Desired state of a ScaledObject.
// Each printcolumn(...) repeats name/type_/json_path; clippy reads those as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "keda.sh",
    version = "v1alpha1",
    kind = "ScaledObject",
    plural = "scaledobjects",
    singular = "scaledobject",
    shortname = "so",
    namespaced,
    status = "ScaledObjectStatus",
    derive = "PartialEq",
    doc = "ScaledObject scales a workload with a /scale subresource from event sources.",
    printcolumn(
        name = "ScaleTargetKind",
        type_ = "string",
        json_path = ".status.scaleTargetKind"
    ),
    printcolumn(
        name = "ScaleTargetName",
        type_ = "string",
        json_path = ".spec.scaleTargetRef.name"
    ),
    printcolumn(name = "Min", type_ = "integer", json_path = ".spec.minReplicaCount"),
    printcolumn(name = "Max", type_ = "integer", json_path = ".spec.maxReplicaCount"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Active",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Active\")].status"
    ),
    printcolumn(
        name = "Fallback",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Fallback\")].status"
    ),
    printcolumn(
        name = "Paused",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Paused\")].status"
    ),
    printcolumn(
        name = "Triggers",
        type_ = "string",
        json_path = ".status.triggersTypes"
    ),
    printcolumn(
        name = "Authentications",
        type_ = "string",
        json_path = ".status.authenticationsTypes"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": "minReplicaCount must be less than or equal to maxReplicaCount",
    "rule": "!has(self.minReplicaCount) || self.minReplicaCount <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)"
}]))]
pub struct ScaledObjectSpec {
    /// The workload to scale; it must be in the same namespace.
    pub scale_target_ref: ScaleTarget,
    /// Seconds between two polls of the triggers (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub polling_interval: Option<i32>,
    /// Seconds after the last active trigger before scaling to zero (default 300).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cooldown_period: Option<i32>,
    /// Seconds after creation before the first scale to zero (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub initial_cooldown_period: Option<i32>,
    /// Replicas while all triggers are inactive; must be below minReplicaCount.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub idle_replica_count: Option<i32>,
    /// Lowest replica count (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_replica_count: Option<i32>,
    /// Highest replica count (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_replica_count: Option<i32>,
    /// HPA settings, scaling modifiers and replica restore on deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedConfig>,
    /// Event sources; at least one.
    #[schemars(length(min = 1))]
    pub triggers: Vec<ScaleTriggers>,
    /// Replicas to run while triggers keep failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

/// Reference to the workload a ScaledObject scales.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTarget {
    /// Name of the workload.
    #[schemars(length(min = 1))]
    pub name: String,
    /// API version of the workload (default apps/v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the workload (default Deployment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Container whose environment trigger parameters may read (default: the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_source_container_name: Option<String>,
}

impl ScaleTarget {
    /// API version, `apps/v1` when unset or empty.
    pub fn api_version(&self) -> &str {
        non_empty_or(
            self.api_version.as_deref(),
            DEFAULT_SCALE_TARGET_API_VERSION,
        )
    }

    /// Kind, `Deployment` when unset or empty.
    pub fn kind(&self) -> &str {
        non_empty_or(self.kind.as_deref(), DEFAULT_SCALE_TARGET_KIND)
    }
}

/// Advanced scaling options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedConfig {
    /// Name and behavior of the HPA Ebb manages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler_config: Option<HorizontalPodAutoscalerConfig>,
    /// On deletion, set the workload back to the replica count it had before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_to_original_replica_count: Option<bool>,
    /// Combine the triggers' metrics with a formula into one composite metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_modifiers: Option<ScalingModifiers>,
}

/// Settings of the managed HPA.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerConfig {
    /// Scale-up and scale-down behavior, passed to the HPA as is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
    /// HPA name (default `keda-hpa-<scaledobject>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A formula over named triggers that yields one composite metric.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingModifiers {
    /// Expression over trigger names, e.g. `(a + b) / 2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    /// Target of the composite metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Activation threshold of the composite metric (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_target: Option<String>,
    /// HPA target type of the composite metric: AverageValue (default) or Value.
    // `default` tells schemars the field is optional; `schema_with` hides the Option from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::average_value_or_value")]
    pub metric_type: Option<MetricTargetType>,
}

impl ScalingModifiers {
    /// Whether nothing is set: KEDA treats an all-empty block as no modifiers.
    pub fn is_empty(&self) -> bool {
        let blank = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
        blank(&self.formula)
            && blank(&self.target)
            && blank(&self.activation_target)
            && self.metric_type.is_none()
    }

    /// Metric type of the composite metric, AverageValue when unset.
    pub fn metric_type(&self) -> MetricTargetType {
        self.metric_type.unwrap_or_default()
    }

    /// Activation target, `"0"` when unset or empty.
    pub fn activation_target(&self) -> &str {
        non_empty_or(
            self.activation_target.as_deref(),
            crate::constants::DEFAULT_ACTIVATION_TARGET,
        )
    }
}

/// Replicas to run when triggers keep failing.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fallback {
    /// Consecutive failures before fallback applies.
    #[schemars(range(min = 0))]
    pub failure_threshold: i32,
    /// Replicas to run while in fallback.
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// How the fallback replica count is chosen (default static).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "static"))]
    pub behavior: Option<FallbackBehavior>,
}

impl Fallback {
    /// The behavior, `static` when unset.
    pub fn behavior(&self) -> FallbackBehavior {
        self.behavior.unwrap_or_default()
    }
}

/// How fallback replicas are chosen.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FallbackBehavior {
    /// Always `fallback.replicas`.
    #[default]
    Static,
    /// Keep the current replica count.
    CurrentReplicas,
    /// The larger of current and fallback replicas.
    CurrentReplicasIfHigher,
    /// The smaller of current and fallback replicas.
    CurrentReplicasIfLower,
    /// Fall back through the scalingModifiers formula.
    ScalingModifiers,
}

/// Observed state of a ScaledObject.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectStatus {
    /// Scale target as `group/version.Kind`, e.g. `apps/v1.Deployment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_target_kind: Option<String>,
    /// Resolved group, version, kind and resource of the scale target.
    #[serde(rename = "scaleTargetGVKR", skip_serializing_if = "Option::is_none")]
    pub scale_target_gvkr: Option<GroupVersionKindResource>,
    /// Replica count of the target when first observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_replica_count: Option<i32>,
    /// Last time a trigger was active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active_time: Option<Time>,
    /// External metric names served to the HPA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_metric_names: Option<Vec<String>>,
    /// Resource metric names (cpu, memory) used by the HPA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_metric_names: Option<Vec<String>>,
    /// Name of the composite metric when scalingModifiers are used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composite_scaler_name: Option<String>,
    /// Ready, Active, Fallback, Paused and HPAActive conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Failure counts per metric name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<BTreeMap<String, HealthStatus>>,
    /// Replica count set by the paused-replicas annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_replica_count: Option<i32>,
    /// Name of the managed HPA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpa_name: Option<String>,
    /// Activity per metric name at the last poll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers_activity: Option<BTreeMap<String, TriggerActivityStatus>>,
    /// Comma-separated unique trigger types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers_types: Option<String>,
    /// Comma-separated unique authenticationRef names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentications_types: Option<String>,
}

/// Health of one metric.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// Consecutive failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_failures: Option<i32>,
    /// `Happy` or `Failing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Health status `Happy`.
pub const HEALTH_STATUS_HAPPY: &str = "Happy";
/// Health status `Failing`.
pub const HEALTH_STATUS_FAILING: &str = "Failing";

impl ScaledObjectSpec {
    /// Seconds between polls (default 30).
    pub fn polling_interval(&self) -> i32 {
        self.polling_interval.unwrap_or(DEFAULT_POLLING_INTERVAL)
    }

    /// Cooldown seconds (default 300).
    pub fn cooldown_period(&self) -> i32 {
        self.cooldown_period.unwrap_or(DEFAULT_COOLDOWN_PERIOD)
    }

    /// Initial cooldown seconds (default 0).
    pub fn initial_cooldown_period(&self) -> i32 {
        self.initial_cooldown_period
            .unwrap_or(DEFAULT_INITIAL_COOLDOWN_PERIOD)
    }

    /// Minimum replicas (default 0).
    pub fn min_replica_count(&self) -> i32 {
        self.min_replica_count.unwrap_or(DEFAULT_MIN_REPLICA_COUNT)
    }

    /// Maximum replicas (default 100).
    pub fn max_replica_count(&self) -> i32 {
        self.max_replica_count.unwrap_or(DEFAULT_MAX_REPLICA_COUNT)
    }

    /// `minReplicas` of the HPA: minReplicaCount when above 0, else 1.
    pub fn hpa_min_replicas(&self) -> i32 {
        match self.min_replica_count {
            Some(min) if min > 0 => min,
            _ => DEFAULT_HPA_MIN_REPLICAS,
        }
    }

    /// `maxReplicas` of the HPA: maxReplicaCount (default 100).
    pub fn hpa_max_replicas(&self) -> i32 {
        self.max_replica_count()
    }

    /// The HPA config name if set and non-empty, else `keda-hpa-<scaled_object_name>`.
    pub fn hpa_name(&self, scaled_object_name: &str) -> String {
        match self.hpa_config().and_then(|c| c.name.as_deref()) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => format!("{HPA_NAME_PREFIX}{scaled_object_name}"),
        }
    }

    /// The HPA behavior, if configured.
    pub fn hpa_behavior(&self) -> Option<&HorizontalPodAutoscalerBehavior> {
        self.hpa_config().and_then(|c| c.behavior.as_ref())
    }

    /// Whether to restore the original replica count when the ScaledObject is deleted.
    pub fn restore_to_original_replica_count(&self) -> bool {
        self.advanced
            .as_ref()
            .and_then(|a| a.restore_to_original_replica_count)
            .unwrap_or(false)
    }

    /// The scalingModifiers block if it sets anything (KEDA's `IsUsingModifiers`).
    pub fn scaling_modifiers(&self) -> Option<&ScalingModifiers> {
        self.advanced
            .as_ref()
            .and_then(|a| a.scaling_modifiers.as_ref())
            .filter(|m| !m.is_empty())
    }

    /// Checks min/max/idle replica bounds the way KEDA's controller and webhook do.
    ///
    /// An explicit minReplicaCount of 0 counts as 1 here (KEDA reuses its HPA-min helper),
    /// so `idleReplicaCount` requires `minReplicaCount` to be set.
    pub fn check_replica_count_bounds(&self) -> Result<(), ReplicaBoundsError> {
        let min = match self.min_replica_count {
            None => 0,
            Some(_) => self.hpa_min_replicas(),
        };
        let max = self.hpa_max_replicas();
        if min > max {
            return Err(ReplicaBoundsError::MinAboveMax { min, max });
        }
        match self.idle_replica_count {
            Some(idle) if idle >= min => Err(ReplicaBoundsError::IdleNotBelowMin { idle, min }),
            _ => Ok(()),
        }
    }

    fn hpa_config(&self) -> Option<&HorizontalPodAutoscalerConfig> {
        self.advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
    }
}

/// Replica bounds that KEDA rejects; messages match KEDA's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaBoundsError {
    /// minReplicaCount above maxReplicaCount.
    #[error("MinReplicaCount={min} must be less than MaxReplicaCount={max}")]
    MinAboveMax {
        /// Effective minimum.
        min: i32,
        /// Effective maximum.
        max: i32,
    },
    /// idleReplicaCount not below minReplicaCount.
    #[error("IdleReplicaCount={idle} must be less than MinReplicaCount={min}")]
    IdleNotBelowMin {
        /// idleReplicaCount.
        idle: i32,
        /// Effective minimum.
        min: i32,
    },
}

impl ScaledObject {
    /// Name of the HPA for this ScaledObject (`keda-hpa-<name>` unless configured).
    pub fn hpa_name(&self) -> String {
        self.spec
            .hpa_name(self.metadata.name.as_deref().unwrap_or_default())
    }

    /// The status conditions, empty when no status was written yet.
    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }
}

fn non_empty_or<'a>(value: Option<&'a str>, default: &'a str) -> &'a str {
    match value {
        Some(v) if !v.is_empty() => v,
        _ => default,
    }
}
