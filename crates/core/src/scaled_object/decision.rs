//! `decide`: KEDA's RequestScale decision table (pkg/scaling/executor/scale_scaledobjects.go) as a pure
//! function.

use super::triggers::{self, TriggerState};
use super::{
    Condition, ConditionStatus, Conditions, Event, EventType, Observed, ScaleDecision,
    ScaledObjectPolicy, cooldown_elapsed, cooldown_ends_at,
};
use jiff::Timestamp;
use std::borrow::Cow;

const READY_MESSAGE: &str = "ScaledObject is defined correctly and is ready for scaling";

/// Decides what one poll of a ScaledObject does: replicas to set, status and events.
pub fn decide(policy: &ScaledObjectPolicy, observed: &Observed, now: Timestamp) -> ScaleDecision {
    let paused = paused_condition(policy);
    let ready = Condition::new(ConditionStatus::True, "ScaledObjectReady", READY_MESSAGE);

    // Paused outright: the scale loop is stopped; only paused-replicas moves the target.
    if policy.pause.is_paused() {
        let (scale_to, why) = match policy.pause.paused_replicas {
            Some(r) if observed.current_replicas != Some(r) => {
                (Some(r), format!("paused: set to paused-replicas {r}"))
            }
            Some(r) => (None, format!("paused at paused-replicas {r}")),
            None => (None, "paused: replicas frozen".to_owned()),
        };
        return ScaleDecision {
            scale_to,
            last_active_time: None,
            is_active: false,
            is_error: false,
            fallback_active: false,
            conditions: Conditions {
                ready,
                active: None,
                fallback: None,
                paused,
            },
            events: Vec::new(),
            on_scale_failure: None,
            triggers: Vec::new(),
            composite: None,
            why,
        };
    }

    let state = triggers::evaluate(policy, observed);
    let mut events = fallback_transition_events(policy, observed, &state);
    events.extend(state.events.iter().cloned());
    let fallback = Some(fallback_condition(policy, &state));

    let mut decision = ScaleDecision {
        scale_to: None,
        last_active_time: None,
        is_active: state.is_active || policy.pause.force_activation,
        is_error: state.is_error,
        fallback_active: state.fallback_active,
        conditions: Conditions {
            ready,
            active: None,
            fallback,
            paused,
        },
        events,
        on_scale_failure: None,
        triggers: Vec::new(),
        composite: state.composite,
        why: String::new(),
    };

    let Some(current) = observed.current_replicas else {
        decision.conditions.ready = Condition {
            status: ConditionStatus::False,
            reason: "ErrorGettingCurrentReplicas",
            message: Cow::Borrowed("Error getting current replicas count for ScaleTarget"),
        };
        decision.why =
            "not scaling: the target's current replica count could not be read".to_owned();
        decision.triggers = state.outcomes;
        return decision;
    };

    if decision.is_active {
        request_scale_active(policy, observed, &state, current, now, &mut decision);
    } else {
        request_scale_inactive(policy, observed, &state, current, now, &mut decision);
    }
    decision.triggers = state.outcomes;
    decision
}

fn request_scale_active(
    policy: &ScaledObjectPolicy,
    observed: &Observed,
    state: &TriggerState,
    current: u32,
    now: Timestamp,
    decision: &mut ScaleDecision,
) {
    let force = policy.pause.force_activation;
    let min = policy.min_replica_count.unwrap_or(0);
    let because = if force && !state.is_active {
        "activation forced by annotation".to_owned()
    } else {
        triggers::describe(policy, observed, state.activity)
    };
    decision.conditions.active = Some(Condition::new(
        ConditionStatus::True,
        "ScalerActive",
        if force {
            "Scaling is performed because activation is being forced by annotation"
        } else {
            "Scaling is performed because triggers are active"
        },
    ));

    // Row A1: scale from zero (or from below min in idle mode).
    if (policy.idle_replica_count.is_some() && current < min) || current == 0 {
        let to = if min > 0 { min } else { 1 };
        if policy.pause.paused_scale_out {
            decision.why = format!("active ({because}) but paused-scale-out blocks {current}→{to}");
            return;
        }
        let target = &policy.target;
        let message = if force {
            format!(
                "Scaled {} {}/{} from {current} to {to}, caused by forced activation annotation",
                target.kind, target.namespace, target.name
            )
        } else {
            format!(
                "Scaled {} {}/{} from {current} to {to}, triggered by {}",
                target.kind,
                target.namespace,
                target.name,
                triggers::active_metric_names(policy, state)
            )
        };
        decision.scale_to = Some(to);
        decision.last_active_time = Some(now);
        decision.events.push(Event {
            event_type: EventType::Normal,
            reason: "KEDAScaleTargetActivated",
            message,
        });
        decision.on_scale_failure = Some(Event {
            event_type: EventType::Warning,
            reason: "KEDAScaleTargetActivationFailed",
            message: format!(
                "Failed to scale {} {}/{} from {current} to {to}",
                target.kind, target.namespace, target.name
            ),
        });
        decision.why = format!("scaled {current}→{to}: {because}");
    } else if state.is_error {
        // Row A2: partial error; lastActiveTime is deliberately not refreshed (KEDA quirk).
        decision.conditions.ready = Condition::new(
            ConditionStatus::Unknown,
            "PartialTriggerError",
            "Some triggers defined in ScaledObject are not working correctly",
        );
        decision.why = format!(
            "active ({because}) but {}; lastActiveTime not refreshed, HPA owns {current} replicas",
            first_error(policy, state)
        );
    } else {
        // Row A3: the HPA owns 1↔N; just remember we were active.
        decision.last_active_time = Some(now);
        decision.why = format!("active ({because}); HPA owns {current} replicas");
    }
}

fn request_scale_inactive(
    policy: &ScaledObjectPolicy,
    observed: &Observed,
    state: &TriggerState,
    current: u32,
    now: Timestamp,
    decision: &mut ScaleDecision,
) {
    let min = policy.min_replica_count.unwrap_or(0);
    decision.conditions.active = Some(Condition::new(
        ConditionStatus::False,
        "ScalerNotActive",
        "Scaling is not performed because triggers are not active",
    ));

    match policy.fallback {
        // Row I1: keep replicas so the HPA can reach fallback.replicas (scaling to zero would
        // switch the HPA off). KEDA checks spec.fallback here, valid or not.
        Some(f) if state.is_error && f.replicas != 0 => {
            decision.why = format!(
                "no trigger active and {}; holding {current} replicas for fallback",
                first_error(policy, state)
            );
            return;
        }
        // Row I2.
        None if state.is_error => {
            decision.conditions.ready = Condition::new(
                ConditionStatus::False,
                "TriggerError",
                "Triggers defined in ScaledObject are not working correctly",
            );
            decision.why = format!(
                "not scaling: no trigger active and {}",
                first_error(policy, state)
            );
            return;
        }
        _ => {}
    }

    let idle = policy.idle_replica_count;
    if idle.is_some_and(|idle| current > idle) || (current > 0 && min == 0) {
        // Row I3: scale to zero/idle once the cooldown has passed.
        let to = idle.unwrap_or(min);
        if policy.pause.paused_scale_in {
            decision.why = format!("no trigger active but paused-scale-in blocks {current}→{to}");
            return;
        }
        let (last, created) = (observed.last_active_time, observed.creation_time);
        if cooldown_elapsed(
            last,
            created,
            policy.cooldown_period,
            policy.initial_cooldown_period,
            now,
        ) {
            let target = &policy.target;
            decision.scale_to = Some(to);
            decision.events.push(Event {
                event_type: EventType::Normal,
                reason: "KEDAScaleTargetDeactivated",
                message: format!(
                    "Deactivated {} {}/{} from {current} to {to}",
                    target.kind, target.namespace, target.name
                ),
            });
            decision.on_scale_failure = Some(Event {
                event_type: EventType::Warning,
                reason: "KEDAScaleTargetDeactivationFailed",
                message: format!(
                    "Failed to deactivate {} {}/{} from {current} to {to}",
                    target.kind, target.namespace, target.name
                ),
            });
            decision.why = match last {
                Some(last) => format!(
                    "scaled {current}→{to}: no trigger active since lastActiveTime {last}, cooldownPeriod {}s passed",
                    policy.cooldown_period
                ),
                None => format!(
                    "scaled {current}→{to}: never active, initialCooldownPeriod {}s after creation passed",
                    policy.initial_cooldown_period
                ),
            };
        } else {
            decision.conditions.active = Some(Condition::new(
                ConditionStatus::False,
                "ScalerCooldown",
                "Scaler cooling down because triggers are not active",
            ));
            let ends = cooldown_ends_at(
                last,
                created,
                policy.cooldown_period,
                policy.initial_cooldown_period,
            );
            decision.why = format!(
                "cooling down: no trigger active, keeping {current} replicas until after {ends}"
            );
        }
    } else if idle.is_none() && current < min {
        // Row I4: below min without idle mode: restore min (KEDA logs, no event).
        decision.scale_to = Some(min);
        decision.why = format!("scaled {current}→{min}: below minReplicaCount");
    } else {
        // Row I5.
        decision.why = format!("no trigger active; {current} replicas, nothing to do");
    }
}

fn first_error(policy: &ScaledObjectPolicy, state: &TriggerState) -> String {
    match &state.first_error {
        Some((index, error)) => match policy.triggers.get(*index) {
            Some(t) => format!("trigger {} failed: {error}", t.metric_name),
            None => format!("formula failed: {error}"),
        },
        None => "a trigger failed".to_owned(),
    }
}

fn paused_condition(policy: &ScaledObjectPolicy) -> Condition {
    if policy.pause.any() {
        Condition::new(
            ConditionStatus::True,
            "ScaledObjectPaused",
            "ScaledObject is paused",
        )
    } else {
        Condition::new(
            ConditionStatus::False,
            "ScaledObjectUnpaused",
            "pause annotation removed for ScaledObject",
        )
    }
}

fn fallback_condition(policy: &ScaledObjectPolicy, state: &TriggerState) -> Condition {
    let in_fallback = policy.valid_fallback().is_some_and(|f| {
        state
            .outcomes
            .iter()
            .filter_map(|o| o.health)
            .any(|h| h.exceeds(f.failure_threshold))
    });
    if in_fallback {
        Condition::new(
            ConditionStatus::True,
            "FallbackExists",
            "At least one trigger is falling back on this scaled object",
        )
    } else {
        Condition::new(
            ConditionStatus::False,
            "NoFallbackFound",
            "No fallbacks are active on this scaled object",
        )
    }
}

/// `ScaledObjectFallbackActivated`/`Deactivated` on a change of the fallback state since last poll.
fn fallback_transition_events(
    policy: &ScaledObjectPolicy,
    observed: &Observed,
    state: &TriggerState,
) -> Vec<Event> {
    let Some(f) = policy.valid_fallback() else {
        return Vec::new();
    };
    let was = observed
        .triggers
        .iter()
        .any(|o| o.health.exceeds(f.failure_threshold));
    let (reason, message) = match (was, state.fallback_active) {
        (false, true) => (
            "ScaledObjectFallbackActivated",
            "ScaledObject fallback is active",
        ),
        (true, false) => (
            "ScaledObjectFallbackDeactivated",
            "ScaledObject fallback is no longer active",
        ),
        _ => return Vec::new(),
    };
    vec![Event {
        event_type: EventType::Normal,
        reason,
        message: message.to_owned(),
    }]
}
