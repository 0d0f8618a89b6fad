//! `ScaledJob` (keda.sh/v1alpha1): runs Kubernetes Jobs in proportion to pending events.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::constants::{
    DEFAULT_JOBS_HISTORY_LIMIT, DEFAULT_MAX_REPLICA_COUNT, DEFAULT_MIN_REPLICA_COUNT,
    DEFAULT_POLLING_INTERVAL,
};
use crate::trigger::{ScaleTriggers, TriggerActivityStatus};

/// Desired state of a ScaledJob.
// Each printcolumn(...) repeats name/type_/json_path; clippy reads those as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "keda.sh",
    version = "v1alpha1",
    kind = "ScaledJob",
    plural = "scaledjobs",
    singular = "scaledjob",
    shortname = "sj",
    namespaced,
    status = "ScaledJobStatus",
    derive = "PartialEq",
    doc = "ScaledJob creates Kubernetes Jobs from event sources.",
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
pub struct ScaledJobSpec {
    /// Template of the Jobs to create (a batch/v1 JobSpec).
    pub job_target_ref: JobSpec,
    /// Seconds between two polls of the triggers (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub polling_interval: Option<i32>,
    /// Successful Jobs to keep (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub successful_jobs_history_limit: Option<i32>,
    /// Failed Jobs to keep (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub failed_jobs_history_limit: Option<i32>,
    /// Deprecated: use rollout.strategy. Wins over it when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_strategy: Option<RolloutStrategy>,
    /// What happens to running Jobs when the ScaledJob changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Container whose environment trigger parameters may read (default: the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_source_container_name: Option<String>,
    /// Jobs kept running even when idle (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_replica_count: Option<i32>,
    /// Most Jobs running at once (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_replica_count: Option<i32>,
    /// How the number of Jobs to create is computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_strategy: Option<ScalingStrategy>,
    /// Event sources; at least one.
    #[schemars(length(min = 1))]
    pub triggers: Vec<ScaleTriggers>,
}

/// Rollout settings of a ScaledJob.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// `immediate` (default) deletes Jobs of older generations; `gradual` lets them finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RolloutStrategy>,
    /// How deleted Jobs' pods are removed (default background).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation_policy: Option<PropagationPolicy>,
}

/// What happens to running Jobs when the ScaledJob changes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RolloutStrategy {
    /// Running Jobs finish; new Jobs use the new template.
    Gradual,
    /// Jobs of older generations are deleted.
    #[default]
    Immediate,
}

/// Deletion propagation for Jobs removed by a rollout.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PropagationPolicy {
    /// Pods are deleted before the Job.
    Foreground,
    /// The Job is deleted first, pods after.
    #[default]
    Background,
}

/// How a ScaledJob turns queue length into Jobs to create.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingStrategy {
    /// default, custom, accurate or eager (default: default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ScalingStrategyKind>,
    /// custom: subtracted from the queue length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_scaling_queue_length_deduction: Option<i32>,
    /// custom: fraction of running Jobs to subtract, as a decimal string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_scaling_running_job_percentage: Option<String>,
    /// Pod condition types that make a Job count as pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_pod_conditions: Option<Vec<String>>,
    /// How several triggers combine: min, avg, sum or max (default max).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiple_scalers_calculation: Option<MultipleScalersCalculation>,
}

impl ScalingStrategy {
    /// The strategy, `default` when unset.
    pub fn strategy(&self) -> ScalingStrategyKind {
        self.strategy.unwrap_or_default()
    }

    /// The aggregation over triggers, `max` when unset.
    pub fn multiple_scalers_calculation(&self) -> MultipleScalersCalculation {
        self.multiple_scalers_calculation.unwrap_or_default()
    }
}

/// ScaledJob scaling strategy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ScalingStrategyKind {
    /// Queue length minus running Jobs.
    #[default]
    Default,
    /// Like default, with a deduction and a running-job percentage.
    Custom,
    /// Accounts for pending Jobs.
    Accurate,
    /// Fills up to the maximum as soon as messages wait.
    Eager,
}

/// How the metrics of several triggers combine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MultipleScalersCalculation {
    /// Smallest trigger wins.
    Min,
    /// Average of the triggers.
    Avg,
    /// Sum of the triggers.
    Sum,
    /// Largest trigger wins.
    #[default]
    Max,
}

/// Observed state of a ScaledJob.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaledJobStatus {
    /// Last time a trigger was active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active_time: Option<Time>,
    /// Ready, Active, Fallback and Paused conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Pause flag; KEDA spells the key with a capital P and barely uses it.
    #[serde(rename = "Paused", skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    /// Comma-separated unique trigger types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers_types: Option<String>,
    /// Comma-separated unique authenticationRef names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentications_types: Option<String>,
    /// External metric names of the triggers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_metric_names: Option<Vec<String>>,
    /// Activity per metric name at the last poll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers_activity: Option<BTreeMap<String, TriggerActivityStatus>>,
}

impl ScaledJobSpec {
    /// Seconds between polls (default 30).
    pub fn polling_interval(&self) -> i32 {
        self.polling_interval.unwrap_or(DEFAULT_POLLING_INTERVAL)
    }

    /// Successful Jobs to keep (default 100).
    pub fn successful_jobs_history_limit(&self) -> i32 {
        self.successful_jobs_history_limit
            .unwrap_or(DEFAULT_JOBS_HISTORY_LIMIT)
    }

    /// Failed Jobs to keep (default 100).
    pub fn failed_jobs_history_limit(&self) -> i32 {
        self.failed_jobs_history_limit
            .unwrap_or(DEFAULT_JOBS_HISTORY_LIMIT)
    }

    /// Effective minimum Jobs: minReplicaCount, capped at an explicit maxReplicaCount (default 0).
    pub fn min_replica_count(&self) -> i64 {
        match (self.min_replica_count, self.max_replica_count) {
            (Some(min), Some(max)) if min > max => i64::from(max),
            (Some(min), _) => i64::from(min),
            (None, _) => i64::from(DEFAULT_MIN_REPLICA_COUNT),
        }
    }

    /// Effective maximum Jobs beyond the minimum (keda-compat §3.2).
    ///
    /// With maxReplicaCount set: max when min > max, else max − effective min.
    /// Unset: 100, with the minimum *not* subtracted (KEDA's behaviour).
    pub fn max_replica_count(&self) -> i64 {
        match (self.min_replica_count, self.max_replica_count) {
            (Some(min), Some(max)) if min > max => i64::from(max),
            (_, Some(max)) => i64::from(max) - self.min_replica_count(),
            (_, None) => i64::from(DEFAULT_MAX_REPLICA_COUNT),
        }
    }

    /// Rollout strategy: the deprecated `rolloutStrategy` wins, then `rollout.strategy`, else immediate.
    pub fn rollout_strategy(&self) -> RolloutStrategy {
        self.rollout_strategy
            .or_else(|| self.rollout.as_ref().and_then(|r| r.strategy))
            .unwrap_or_default()
    }

    /// Propagation policy for rollout deletions (default background).
    pub fn propagation_policy(&self) -> PropagationPolicy {
        self.rollout
            .as_ref()
            .and_then(|r| r.propagation_policy)
            .unwrap_or_default()
    }

    /// Scaling strategy (default `default`).
    pub fn scaling_strategy_kind(&self) -> ScalingStrategyKind {
        self.scaling_strategy
            .as_ref()
            .map(ScalingStrategy::strategy)
            .unwrap_or_default()
    }

    /// How several triggers combine (default `max`).
    pub fn multiple_scalers_calculation(&self) -> MultipleScalersCalculation {
        self.scaling_strategy
            .as_ref()
            .map(ScalingStrategy::multiple_scalers_calculation)
            .unwrap_or_default()
    }
}

impl ScaledJob {
    /// The status conditions, empty when no status was written yet.
    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }
}
