//! ScaledObject decisions: plain inputs (policy + observation), and the decision the executor applies.

mod cooldown;
mod decision;
mod pause;
mod scale_loop;
mod triggers;

pub use cooldown::{
    DEFAULT_COOLDOWN_PERIOD, DEFAULT_INITIAL_COOLDOWN_PERIOD, cooldown_elapsed, cooldown_ends_at,
};
pub use decision::decide;
pub use pause::{
    FORCE_ACTIVATION, PAUSED, PAUSED_REPLICAS, PAUSED_SCALE_IN, PAUSED_SCALE_OUT, PauseSettings,
    PausedReplicasError,
};
pub use scale_loop::ScaleLoopState;

use crate::fallback::{Fallback, TriggerHealth};
use crate::modifiers::ScalingModifiers;
use crate::trigger::{TriggerResult, TriggerSpec};
use jiff::Timestamp;
use std::borrow::Cow;

/// Default `maxReplicaCount`.
pub const DEFAULT_MAX_REPLICA_COUNT: u32 = 100;

/// Identifies the scale target in event messages (`Scaled <kind> <ns>/<name> from ..`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScaleTargetRef {
    /// `status.scaleTargetKind`, e.g. `apps/v1.Deployment`.
    pub kind: String,
    /// The ScaledObject's namespace.
    pub namespace: String,
    /// `spec.scaleTargetRef.name`.
    pub name: String,
}

/// Everything from a ScaledObject's spec and annotations that decisions depend on.
#[derive(Debug, Clone)]
pub struct ScaledObjectPolicy {
    /// The scale target, for event messages.
    pub target: ScaleTargetRef,
    /// `minReplicaCount` (`None` = unset, treated as 0).
    pub min_replica_count: Option<u32>,
    /// `maxReplicaCount` (default 100).
    pub max_replica_count: u32,
    /// `idleReplicaCount`.
    pub idle_replica_count: Option<u32>,
    /// `cooldownPeriod` in seconds (default 300).
    pub cooldown_period: u32,
    /// `initialCooldownPeriod` in seconds (default 0).
    pub initial_cooldown_period: u32,
    /// `fallback`.
    pub fallback: Option<Fallback>,
    /// `advanced.scalingModifiers`.
    pub scaling_modifiers: Option<ScalingModifiers>,
    /// Pause and force-activation annotations.
    pub pause: PauseSettings,
    /// `triggers`, in spec order.
    pub triggers: Vec<TriggerSpec>,
}

impl Default for ScaledObjectPolicy {
    fn default() -> Self {
        ScaledObjectPolicy {
            target: ScaleTargetRef::default(),
            min_replica_count: None,
            max_replica_count: DEFAULT_MAX_REPLICA_COUNT,
            idle_replica_count: None,
            cooldown_period: DEFAULT_COOLDOWN_PERIOD,
            initial_cooldown_period: DEFAULT_INITIAL_COOLDOWN_PERIOD,
            fallback: None,
            scaling_modifiers: None,
            pause: PauseSettings::default(),
            triggers: Vec::new(),
        }
    }
}

impl ScaledObjectPolicy {
    /// `fallback` when present and valid (KEDA's `HasValidFallback`); otherwise fallback is off.
    pub fn valid_fallback(&self) -> Option<&Fallback> {
        let modifiers_target = self
            .scaling_modifiers
            .as_ref()
            .map(|m| m.target_text.as_str());
        self.fallback
            .as_ref()
            .filter(|f| f.is_valid(modifiers_target))
    }
}

/// One trigger's observation in this poll, aligned by index with `policy.triggers`.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerObservation {
    /// What the scaler returned.
    pub result: TriggerResult,
    /// `status.health[metric_name]` before this poll (default `{0, Happy}`).
    pub health: TriggerHealth,
}

impl TriggerObservation {
    /// An observation with healthy history.
    pub fn new(result: TriggerResult) -> TriggerObservation {
        TriggerObservation {
            result,
            health: TriggerHealth::default(),
        }
    }
}

/// What the world looks like at this poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The target's `spec.replicas`; `None` when it could not be read.
    pub current_replicas: Option<u32>,
    /// Running and Ready pods of the target (only needed for Value-metric fallback).
    pub ready_replicas: Option<u32>,
    /// Per trigger, aligned with `policy.triggers`; missing entries count as `NotPolled`.
    pub triggers: Vec<TriggerObservation>,
    /// `status.lastActiveTime`.
    pub last_active_time: Option<Timestamp>,
    /// `metadata.creationTimestamp`.
    pub creation_time: Timestamp,
}

/// `True`, `False` or `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionStatus {
    /// True.
    True,
    /// False.
    False,
    /// Unknown.
    Unknown,
}

/// A status condition as KEDA writes it (no timestamps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Status.
    pub status: ConditionStatus,
    /// Reason, e.g. `ScalerActive`.
    pub reason: &'static str,
    /// Message.
    pub message: Cow<'static, str>,
}

impl Condition {
    pub(crate) fn new(
        status: ConditionStatus,
        reason: &'static str,
        message: &'static str,
    ) -> Self {
        Condition {
            status,
            reason,
            message: Cow::Borrowed(message),
        }
    }
}

/// The conditions a poll sets; `None` leaves the existing condition untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditions {
    /// Ready.
    pub ready: Condition,
    /// Active (untouched while paused or when the replica count is unreadable).
    pub active: Option<Condition>,
    /// Fallback.
    pub fallback: Option<Condition>,
    /// Paused: True while any pause annotation is set; False `ScaledObjectUnpaused` otherwise
    /// (KEDA writes the Unpaused reason only on a True→False transition).
    pub paused: Condition,
}

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Normal.
    Normal,
    /// Warning.
    Warning,
}

/// A Kubernetes Event to emit on the ScaledObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Normal or Warning.
    pub event_type: EventType,
    /// KEDA's reason (also used as the action).
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

/// What the decision made of one trigger, aligned with `policy.triggers`.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerOutcome {
    /// Whether this trigger is active (`triggersActivity[metric].isActive`).
    pub active: bool,
    /// The value served to the HPA (post-fallback); `None` when failing or not polled.
    pub value: Option<f64>,
    /// The error (scaler error, bad value or failed fallback), if any.
    pub error: Option<String>,
    /// The new `status.health` entry; `None` when health is not tracked (no valid fallback).
    pub health: Option<TriggerHealth>,
    /// Whether the value is the synthetic fallback metric.
    pub fallback: bool,
}

/// The decision for one poll of one ScaledObject.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleDecision {
    /// Replicas to write to `/scale`, or `None` to leave the target alone.
    pub scale_to: Option<u32>,
    /// `Some(now)`: write `status.lastActiveTime` (when `scale_to` is set, only if that succeeded).
    pub last_active_time: Option<Timestamp>,
    /// Whether the ScaledObject is active (including force-activation and fallback).
    pub is_active: bool,
    /// Whether any trigger (or the formula) failed this poll.
    pub is_error: bool,
    /// Whether any trigger is served by the fallback metric.
    pub fallback_active: bool,
    /// Conditions to write.
    pub conditions: Conditions,
    /// Events to emit (scale events on success, scaler failures, fallback transitions).
    pub events: Vec<Event>,
    /// The event to emit instead of the scale event if writing `scale_to` fails.
    pub on_scale_failure: Option<Event>,
    /// Per-trigger outcomes.
    pub triggers: Vec<TriggerOutcome>,
    /// The `composite-metric` value when scalingModifiers are used and it could be computed.
    pub composite: Option<f64>,
    /// One human sentence: what was decided and why.
    pub why: String,
}
