//! The Kubernetes operator: the ScaledObject, ScaledJob and (Cluster)TriggerAuthentication
//! controllers, one scale loop per object applying `ebb_core` decisions, the HPA KEDA owns, auth resolution from the
//! caches, and the in-memory metric values the external metrics API serves.
//!
//! Only this crate writes to a cluster; every scaling rule comes from `ebb_core::decide`.

pub mod auth;
pub mod config;
mod context;
pub mod events;
pub mod executor;
pub mod external_metrics;
pub mod health;
pub mod leader;
pub mod metrics_store;
mod object_loop;
mod operator;
pub mod rate_limit;
pub mod scale_loop;
pub mod scaled_job;
pub mod scaled_object;
pub mod scalers_cache;
pub mod target;
mod telemetry;
mod trigger_authentication;

pub use config::{OperatorConfig, WatchNamespace};
pub use metrics_store::{MetricValue, MetricsError, MetricsSource, MetricsStore};
pub use operator::Operator;
pub use scale_loop::{Lateness, ScaleLoops};
