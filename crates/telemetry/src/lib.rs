//! Telemetry: the one place metric names live — KEDA's Prometheus families with KEDA's names and
//! labels exactly (`scaledObject`, `triggerIndex`, …, so dashboards and alerts written for KEDA read
//! Ebb unchanged) and Ebb's own `ebb_*` families —, the decision trace served at `/explain`, and
//! the logging setup (`--log-format text|json`).

pub mod explain;
pub mod logging;
mod metrics;

pub use explain::{Answer, DecisionStore, EXPLAIN_PATH, Explanation, explain_path};
pub use metrics::{BuildInfo, METRICS_API_BUCKETS, Metrics, ObjectType, ResourceType, ScalerKey};
