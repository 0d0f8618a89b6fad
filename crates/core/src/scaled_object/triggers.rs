//! One poll's trigger state (scale_handler `getScaledObjectState`): activity, errors, fallback and
//! the composite metric.

use super::{Event, EventType, Observed, ScaledObjectPolicy, TriggerOutcome};
use crate::fallback::{FallbackBehavior, TriggerHealth};
use crate::modifiers::COMPOSITE_METRIC_NAME;
use crate::trigger::{TriggerKind, TriggerResult, check_metric_value, is_active};

/// What made the ScaledObject active, for the "why" string and the activation event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Activity {
    /// No trigger is active.
    None,
    /// Trigger `index` is active with this value (scaler-reported when `reported`).
    Trigger {
        index: usize,
        value: f64,
        reported: bool,
    },
    /// Trigger `index` is served by the fallback metric.
    Fallback { index: usize },
    /// The composite metric exceeds the activation target.
    Composite { value: f64, activation: f64 },
    /// Every trigger is cpu/memory, which KEDA treats as always active.
    AllResource,
}

/// The trigger side of a poll.
pub(super) struct TriggerState {
    pub(super) outcomes: Vec<TriggerOutcome>,
    pub(super) is_active: bool,
    pub(super) is_error: bool,
    pub(super) fallback_active: bool,
    pub(super) activity: Activity,
    pub(super) composite: Option<f64>,
    pub(super) first_error: Option<(usize, String)>,
    pub(super) events: Vec<Event>,
}

const NOT_POLLED: TriggerResult = TriggerResult::NotPolled;

pub(super) fn evaluate(policy: &ScaledObjectPolicy, observed: &Observed) -> TriggerState {
    let fallback = policy.valid_fallback();
    let modifiers = policy.scaling_modifiers.as_ref();
    let failure_reason = if modifiers.is_some() {
        "KEDAMetricSourceFailed"
    } else {
        "KEDAScalerFailed"
    };
    let mut state = TriggerState {
        outcomes: Vec::with_capacity(policy.triggers.len()),
        is_active: false,
        is_error: false,
        fallback_active: false,
        activity: Activity::None,
        composite: None,
        first_error: None,
        events: Vec::new(),
    };
    let mut resource_triggers = 0;
    let mut first_fallback_value = None;

    for (index, spec) in policy.triggers.iter().enumerate() {
        let observation = observed.triggers.get(index);
        let result = observation.map_or(&NOT_POLLED, |o| &o.result);
        let previous = observation.map(|o| o.health).unwrap_or_default();
        let mut outcome = TriggerOutcome {
            active: false,
            value: None,
            error: None,
            health: None,
            fallback: false,
        };

        if spec.kind == TriggerKind::Resource {
            resource_triggers += 1;
            state.outcomes.push(outcome);
            continue;
        }

        let measured = match result {
            TriggerResult::Measured { value, active } => check_metric_value(*value)
                .map(|v| (v, *active))
                .map_err(|e| e.to_string()),
            TriggerResult::Failed { error } => Err(error.clone()),
            TriggerResult::NotPolled => Err("trigger was not polled".to_owned()),
        };

        match measured {
            Ok((value, reported)) => {
                outcome.value = Some(value);
                outcome.active =
                    reported.unwrap_or_else(|| is_active(value, spec.activation_target));
                outcome.health = fallback.map(|_| TriggerHealth::happy());
                if outcome.active && state.activity == Activity::None {
                    state.activity = Activity::Trigger {
                        index,
                        value,
                        reported: reported.is_some(),
                    };
                }
            }
            Err(error) => match fallback {
                Some(fb) => {
                    let health = previous.failed();
                    outcome.health = Some(health);
                    if !health.exceeds(fb.failure_threshold) {
                        outcome.error = Some(error);
                    } else if fb.behavior == FallbackBehavior::ScalingModifiers {
                        // The formula sees this trigger as nil; not an error, not active.
                    } else {
                        // With modifiers the synthetic metric is the composite one (KEDA doFallback).
                        let (target, metric_type) = modifiers
                            .map_or((spec.target, spec.metric_type), |m| {
                                (m.target, m.metric_type)
                            });
                        match fb.metric_value(
                            target,
                            metric_type,
                            observed.current_replicas,
                            observed.ready_replicas,
                        ) {
                            Ok(value) => {
                                outcome.value = Some(value);
                                outcome.active = true;
                                outcome.fallback = true;
                                state.fallback_active = true;
                                first_fallback_value.get_or_insert(value);
                                if state.activity == Activity::None {
                                    state.activity = Activity::Fallback { index };
                                }
                            }
                            Err(e) => {
                                outcome.error = Some(format!("error performing fallback: {e}"))
                            }
                        }
                    }
                }
                None => outcome.error = Some(error),
            },
        }

        if let Some(error) = &outcome.error {
            state.is_error = true;
            state.events.push(Event {
                event_type: EventType::Warning,
                reason: failure_reason,
                message: error.clone(),
            });
            if state.first_error.is_none() {
                state.first_error = Some((index, error.clone()));
            }
        }
        state.is_active |= outcome.active;
        state.outcomes.push(outcome);
    }

    if let Some(m) = modifiers {
        // With a formula, activity is recomputed from the composite metric alone.
        state.is_active = false;
        state.activity = Activity::None;
        let composite = if let Some(value) = first_fallback_value {
            Some(value)
        } else if let Some(formula) = &m.formula {
            let inputs: Vec<(&str, Option<f64>)> = policy
                .triggers
                .iter()
                .zip(&state.outcomes)
                .filter(|(t, _)| t.kind == TriggerKind::External && !t.name.is_empty())
                .map(|(t, o)| (t.name.as_str(), o.value))
                .collect();
            match m.composite_value(formula, &inputs, fallback) {
                Ok(value) => Some(value),
                Err(e) => {
                    // Deliberate: KEDA logs a failed formula and reports the object inactive, which can
                    // scale it to zero; we count it as an error so fallback/TriggerError rows apply.
                    state.is_error = true;
                    let message = e.to_string();
                    state.events.push(Event {
                        event_type: EventType::Warning,
                        reason: "KEDAMetricSourceFailed",
                        message: message.clone(),
                    });
                    if state.first_error.is_none() {
                        state.first_error = Some((usize::MAX, message));
                    }
                    None
                }
            }
        } else {
            None
        };
        state.composite = composite;
        if !state.is_error {
            if let Some(value) = composite {
                if is_active(value, m.activation_target) {
                    state.is_active = true;
                    state.activity = Activity::Composite {
                        value,
                        activation: m.activation_target,
                    };
                }
            } else if let Some((index, value)) =
                state.outcomes.iter().enumerate().find_map(|(i, o)| {
                    o.value
                        .filter(|v| is_active(*v, m.activation_target))
                        .map(|v| (i, v))
                })
            {
                // No formula: KEDA compares each metric with the activation target.
                state.is_active = true;
                state.activity = Activity::Trigger {
                    index,
                    value,
                    reported: false,
                };
            }
        }
    }

    // cpu/memory alone could never scale from zero, so KEDA forces such objects active.
    if policy.triggers.len() <= resource_triggers && !state.is_error {
        state.is_active = true;
        state.activity = Activity::AllResource;
    }
    state
}

/// "trigger s0-rabbitmq-orders active, 37 > 0" and friends.
pub(super) fn describe(
    policy: &ScaledObjectPolicy,
    observed: &Observed,
    activity: Activity,
) -> String {
    let name = |index: usize| {
        policy
            .triggers
            .get(index)
            .map_or("?", |t| t.metric_name.as_str())
    };
    match activity {
        Activity::None => "no trigger active".to_owned(),
        Activity::Trigger {
            index,
            value,
            reported: false,
        } => {
            let threshold = policy
                .triggers
                .get(index)
                .map_or(0.0, |t| t.activation_target);
            format!("trigger {} active, {} > {}", name(index), value, threshold)
        }
        Activity::Trigger {
            index,
            value,
            reported: true,
        } => {
            format!(
                "trigger {} active (reported by scaler), value {}",
                name(index),
                value
            )
        }
        Activity::Fallback { index } => {
            let failures = observed
                .triggers
                .get(index)
                .map_or(0, |o| o.health.number_of_failures + 1);
            let threshold = policy.fallback.map_or(0, |f| f.failure_threshold);
            format!(
                "trigger {} in fallback, {} failures > failureThreshold {}",
                name(index),
                failures,
                threshold
            )
        }
        Activity::Composite { value, activation } => {
            format!("{COMPOSITE_METRIC_NAME} active, {value} > {activation}")
        }
        Activity::AllResource => "all triggers are cpu/memory, which count as active".to_owned(),
    }
}

/// The metric names KEDA lists in "triggered by a;b".
pub(super) fn active_metric_names(policy: &ScaledObjectPolicy, state: &TriggerState) -> String {
    if policy.scaling_modifiers.is_some() {
        return if state.is_active {
            COMPOSITE_METRIC_NAME.to_owned()
        } else {
            String::new()
        };
    }
    let mut names = String::new();
    for (spec, outcome) in policy.triggers.iter().zip(&state.outcomes) {
        if outcome.active {
            if !names.is_empty() {
                names.push(';');
            }
            names.push_str(&spec.metric_name);
        }
    }
    names
}
