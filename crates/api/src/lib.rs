//! keda.sh/v1alpha1 API types: ScaledObject, ScaledJob, TriggerAuthentication, ClusterTriggerAuthentication.
//!
//! Spec fields are `Option`s so a round trip writes back only what the user wrote; accessor
//! methods (`ScaledObjectSpec::polling_interval()` …) apply KEDA's defaults from [`constants`].

pub mod condition;
pub mod constants;
pub mod crds;
pub mod event_reason;
pub mod scaled_job;
pub mod scaled_object;
mod schema;
pub mod trigger;
pub mod trigger_authentication;

pub use condition::Condition;
pub use scaled_job::{ScaledJob, ScaledJobSpec, ScaledJobStatus};
pub use scaled_object::{ScaledObject, ScaledObjectSpec, ScaledObjectStatus};
pub use trigger::{AuthenticationRef, AuthenticationRefKind, MetricTargetType, ScaleTriggers};
pub use trigger_authentication::{
    ClusterTriggerAuthentication, ClusterTriggerAuthenticationSpec, TriggerAuthentication,
    TriggerAuthenticationSpec, TriggerAuthenticationStatus,
};
