//! What ScaledObjects and ScaledJobs share: triggers, authentication references, status pieces.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One trigger: which scaler to run and with what parameters.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTriggers {
    /// Scaler type, e.g. `kafka`, `prometheus`, `cpu`.
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub type_: String,
    /// Optional name, unique within the object; used by scalingModifiers formulas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Scaler parameters; values are strings.
    pub metadata: BTreeMap<String, String>,
    /// TriggerAuthentication or ClusterTriggerAuthentication that supplies secrets to the scaler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_ref: Option<AuthenticationRef>,
    /// HPA target type of the metric: AverageValue (default), Value or Utilization.
    // A plain string in KEDA's schema: a wrong value is a reconcile error, not an admission error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<String>,
    /// Serve the last polled value to the HPA instead of querying the scaler again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_cached_metrics: Option<bool>,
}

impl ScaleTriggers {
    /// The trigger's name, or `""` when unset (KEDA's zero value).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// The metric target type; unset or empty means AverageValue.
    pub fn metric_type(&self) -> Result<MetricTargetType, UnknownMetricType> {
        match self.metric_type.as_deref() {
            None | Some("") => Ok(MetricTargetType::AverageValue),
            Some(s) => s.parse(),
        }
    }

    /// Whether cached metrics were requested.
    pub fn use_cached_metrics(&self) -> bool {
        self.use_cached_metrics.unwrap_or(false)
    }
}

/// Reference to a TriggerAuthentication (default) or ClusterTriggerAuthentication.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationRef {
    /// Name of the referenced object.
    pub name: String,
    /// Kind of the referenced object; TriggerAuthentication when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<AuthenticationRefKind>,
}

impl AuthenticationRef {
    /// The referenced kind, defaulting to TriggerAuthentication.
    pub fn kind(&self) -> AuthenticationRefKind {
        self.kind.unwrap_or_default()
    }
}

/// Kind an authenticationRef points to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum AuthenticationRefKind {
    /// Namespaced, in the namespace of the referring object.
    #[default]
    TriggerAuthentication,
    /// Cluster-scoped.
    ClusterTriggerAuthentication,
}

/// HPA metric target type (autoscaling/v2 `MetricTargetType`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum MetricTargetType {
    /// Target per replica: desired = ceil(value / target).
    #[default]
    AverageValue,
    /// Target for the whole metric.
    Value,
    /// Percentage of requested resources (cpu and memory only).
    Utilization,
}

impl MetricTargetType {
    /// The name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AverageValue => "AverageValue",
            Self::Value => "Value",
            Self::Utilization => "Utilization",
        }
    }
}

impl fmt::Display for MetricTargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MetricTargetType {
    type Err = UnknownMetricType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "AverageValue" => Ok(Self::AverageValue),
            "Value" => Ok(Self::Value),
            "Utilization" => Ok(Self::Utilization),
            other => Err(UnknownMetricType(other.to_owned())),
        }
    }
}

/// A `metricType` that is none of AverageValue, Value, Utilization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metricType {0:?}: expected AverageValue, Value or Utilization")]
pub struct UnknownMetricType(pub String);

/// Activity of one trigger's metric at the last poll.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerActivityStatus {
    /// Whether the metric was above its activation target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// Group, version, kind and resource of a scale target.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupVersionKindResource {
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub resource: String,
}

impl GroupVersionKindResource {
    /// `group/version.Kind`, KEDA's `status.scaleTargetKind` (e.g. `apps/v1.Deployment`).
    pub fn group_version_kind(&self) -> String {
        if self.group.is_empty() {
            format!("{}.{}", self.version, self.kind)
        } else {
            format!("{}/{}.{}", self.group, self.version, self.kind)
        }
    }
}
