//! Pure scaling decisions: activation, cooldown, idle, fallback, scaling modifiers, the HPA v2 algorithm and ScaledJob strategies.
//!
//! No I/O, no async, no Kubernetes client: callers (operator, local mode, `ebb simulate`) convert API
//! objects into the plain inputs here and apply the decisions they get back.

pub mod fallback;
pub mod formula;
pub mod hpa;
pub mod modifiers;
pub mod scaled_job;
pub mod scaled_object;
pub mod task;
pub mod trace;
pub mod trigger;

pub use fallback::{Fallback, FallbackBehavior, HealthStatus, TriggerHealth};
pub use formula::{Formula, FormulaError, validate_formula};
pub use modifiers::{COMPOSITE_METRIC_NAME, ModifiersError, ScalingModifiers};
pub use scaled_object::{
    Condition, ConditionStatus, Conditions, Event, EventType, Observed, PauseSettings,
    ScaleDecision, ScaleLoopState, ScaleTargetRef, ScaledObjectPolicy, TriggerObservation,
    TriggerOutcome, decide,
};
pub use trigger::{MetricType, TriggerKind, TriggerResult, TriggerSpec};
