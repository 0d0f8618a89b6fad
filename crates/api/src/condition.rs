//! Status conditions as KEDA writes them: `{type, status, reason, message}`, no timestamps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type `Ready`: the object is defined correctly and scaling can run.
pub const TYPE_READY: &str = "Ready";
/// Condition type `Active`: at least one trigger is active.
pub const TYPE_ACTIVE: &str = "Active";
/// Condition type `Fallback`: fallback replicas are in force.
pub const TYPE_FALLBACK: &str = "Fallback";
/// Condition type `Paused`: scaling is paused by annotation.
pub const TYPE_PAUSED: &str = "Paused";
/// Condition type `HPAActive` (ScaledObject only): mirrors the owned HPA's `ScalingActive`.
pub const TYPE_HPA_ACTIVE: &str = "HPAActive";

/// Condition status `True`.
pub const STATUS_TRUE: &str = "True";
/// Condition status `False`.
pub const STATUS_FALSE: &str = "False";
/// Condition status `Unknown`.
pub const STATUS_UNKNOWN: &str = "Unknown";

/// Reasons KEDA puts on conditions (keda-compat §1.3).
pub mod reason {
    /// Ready=True on a ScaledObject.
    pub const SCALED_OBJECT_READY: &str = "ScaledObjectReady";
    /// Ready=False on a ScaledObject after a reconcile error.
    pub const SCALED_OBJECT_CHECK_FAILED: &str = "ScaledObjectCheckFailed";
    /// Ready=True on a ScaledJob.
    pub const SCALED_JOB_READY: &str = "ScaledJobReady";
    /// Ready=False on a ScaledJob after a reconcile error.
    pub const SCALED_JOB_CHECK_FAILED: &str = "ScaledJobCheckFailed";
    /// Ready=False when the scale target's replicas could not be read.
    pub const ERROR_GETTING_CURRENT_REPLICAS: &str = "ErrorGettingCurrentReplicas";
    /// Ready=Unknown: some triggers fail while the object is active.
    pub const PARTIAL_TRIGGER_ERROR: &str = "PartialTriggerError";
    /// Ready=False: inactive, a trigger errors and there is no fallback.
    pub const TRIGGER_ERROR: &str = "TriggerError";
    /// Active=True.
    pub const SCALER_ACTIVE: &str = "ScalerActive";
    /// Active=False.
    pub const SCALER_NOT_ACTIVE: &str = "ScalerNotActive";
    /// Active=False while the cooldown period runs.
    pub const SCALER_COOLDOWN: &str = "ScalerCooldown";
    /// Active=Unknown after a reconcile error.
    pub const UNKNOWN_STATE: &str = "UnknownState";
    /// Fallback=True.
    pub const FALLBACK_EXISTS: &str = "FallbackExists";
    /// Fallback=False.
    pub const NO_FALLBACK_FOUND: &str = "NoFallbackFound";
    /// Paused=True on a ScaledObject.
    pub const SCALED_OBJECT_PAUSED: &str = "ScaledObjectPaused";
    /// Paused=False on a ScaledObject once the pause annotation is gone.
    pub const SCALED_OBJECT_UNPAUSED: &str = "ScaledObjectUnpaused";
    /// Paused=True on a ScaledJob.
    pub const SCALED_JOB_PAUSED: &str = "ScaledJobPaused";
    /// Paused=False on a ScaledJob.
    pub const SCALED_JOB_UNPAUSED: &str = "ScaledJobUnpaused";
    /// HPAActive=True while the HPA is scaling.
    pub const HPA_ACTIVE: &str = "HPAActive";
    /// HPAActive=True while the HPA sits idle at 0 replicas.
    pub const SCALING_DISABLED: &str = "ScalingDisabled";
    /// HPAActive=False when the HPA gives no reason of its own.
    pub const HPA_METRICS_UNAVAILABLE: &str = "HPAMetricsUnavailable";
}

/// Messages KEDA puts on conditions, byte for byte (clients match on some of them).
pub mod message {
    /// Ready=True on a ScaledObject.
    pub const SCALED_OBJECT_READY: &str =
        "ScaledObject is defined correctly and is ready for scaling";
    /// Ready=True on a ScaledJob (KEDA's wording differs from the ScaledObject one).
    pub const SCALED_JOB_READY: &str = "ScaledJob is defined correctly and is ready to scaling";
    /// Active=Unknown after a reconcile error.
    pub const CHECK_FAILED: &str = "ScaledObject check failed";
    /// Paused=True on a ScaledObject.
    pub const SCALED_OBJECT_PAUSED: &str = "ScaledObject is paused";
    /// Paused=False on a ScaledObject.
    pub const SCALED_OBJECT_UNPAUSED: &str = "pause annotation removed for ScaledObject";
    /// Paused=True on a ScaledJob.
    pub const SCALED_JOB_PAUSED: &str = "ScaledJob is paused";
    /// Paused=False on a ScaledJob.
    pub const SCALED_JOB_UNPAUSED: &str = "ScaledJob is unpaused";
    /// HPAActive=True while the HPA is scaling.
    pub const HPA_ACTIVE: &str = "HPA is actively scaling";
    /// Prefix of HPAActive=False messages; the HPA's own message follows.
    pub const HPA_NOT_ACTIVE_PREFIX: &str = "HPA is not actively scaling: ";
}

/// One status condition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of condition: Ready, Active, Fallback, Paused or HPAActive.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: String,
    /// One-word CamelCase reason for the last transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details about the last transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Condition {
    /// A condition with the given type, status, reason and message.
    pub fn new(type_: &str, status: &str, reason: &str, message: &str) -> Self {
        Self {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: non_empty(reason),
            message: non_empty(message),
        }
    }

    /// Whether the status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == STATUS_TRUE
    }

    /// Whether the status is `False`.
    pub fn is_false(&self) -> bool {
        self.status == STATUS_FALSE
    }

    /// Whether the status is `Unknown` (or anything else KEDA would not recognise).
    pub fn is_unknown(&self) -> bool {
        !self.is_true() && !self.is_false()
    }
}

// KEDA's reason and message are `omitempty` strings: an empty one is not written.
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The four conditions KEDA initialises on every ScaledObject and ScaledJob, in its order.
///
/// Ready, Active and Fallback start Unknown; Paused starts False (keda-compat §1.3).
pub fn initialized() -> Vec<Condition> {
    vec![
        Condition::new(TYPE_READY, STATUS_UNKNOWN, "", ""),
        Condition::new(TYPE_ACTIVE, STATUS_UNKNOWN, "", ""),
        Condition::new(TYPE_FALLBACK, STATUS_UNKNOWN, "", ""),
        Condition::new(TYPE_PAUSED, STATUS_FALSE, "", ""),
    ]
}

/// Whether all four initial condition types are present.
pub fn are_initialized(conditions: &[Condition]) -> bool {
    [TYPE_READY, TYPE_ACTIVE, TYPE_FALLBACK, TYPE_PAUSED]
        .iter()
        .all(|t| find(conditions, t).is_some())
}

/// The condition of the given type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Sets status, reason and message of the condition of the given type, appending it if absent.
///
/// Returns whether anything changed, so callers can skip a status write.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> bool {
    let wanted = Condition::new(type_, status, reason, message);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) if *existing == wanted => false,
        Some(existing) => {
            *existing = wanted;
            true
        }
        None => {
            conditions.push(wanted);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialized_conditions_are_ready_active_fallback_unknown_and_paused_false() {
        let c = initialized();
        assert!(are_initialized(&c));
        assert!(find(&c, TYPE_READY).is_some_and(Condition::is_unknown));
        assert!(find(&c, TYPE_PAUSED).is_some_and(Condition::is_false));
    }

    #[test]
    fn set_reports_change_only_when_something_differs() {
        let mut c = initialized();
        assert!(set(
            &mut c,
            TYPE_READY,
            STATUS_TRUE,
            reason::SCALED_OBJECT_READY,
            ""
        ));
        assert!(!set(
            &mut c,
            TYPE_READY,
            STATUS_TRUE,
            reason::SCALED_OBJECT_READY,
            ""
        ));
        assert!(set(
            &mut c,
            TYPE_HPA_ACTIVE,
            STATUS_TRUE,
            reason::HPA_ACTIVE,
            message::HPA_ACTIVE
        ));
        assert_eq!(c.len(), 5);
    }
}
