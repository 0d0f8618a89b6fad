//! The memory of KEDA's scale loop between polls (trigger health, `lastActiveTime`) and what the
//! HPA reads from the external metrics API between them: the one controller step that `ebb run`
//! (real clock, real processes) and `ebb simulate` (virtual clock) share.

use jiff::Timestamp;

use crate::fallback::{FallbackBehavior, TriggerHealth};
use crate::hpa::ExternalMetric;
use crate::trigger::TriggerKind;

use super::{Observed, ScaleDecision, ScaledObjectPolicy, TriggerObservation, decide};
use crate::trigger::TriggerResult;

/// What a ScaledObject's scale loop remembers from one poll to the next (`status.health`,
/// `status.lastActiveTime`, the Active condition).
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleLoopState {
    /// Per trigger, aligned with `policy.triggers`: `status.health`.
    pub health: Vec<TriggerHealth>,
    /// `status.lastActiveTime`.
    pub last_active_time: Option<Timestamp>,
    /// The Active condition after the last poll.
    pub active: bool,
}

impl ScaleLoopState {
    /// A freshly created ScaledObject: healthy triggers, never active.
    pub fn new(triggers: usize) -> ScaleLoopState {
        ScaleLoopState {
            health: vec![TriggerHealth::default(); triggers],
            last_active_time: None,
            active: false,
        }
    }

    /// One poll (`checkScalers` + `RequestScale`): decides from this poll's trigger results and
    /// remembers health and `lastActiveTime`, assuming the caller applies `scale_to` successfully.
    pub fn poll(
        &mut self,
        policy: &ScaledObjectPolicy,
        results: Vec<TriggerResult>,
        current_replicas: Option<u32>,
        ready_replicas: Option<u32>,
        creation_time: Timestamp,
        now: Timestamp,
    ) -> ScaleDecision {
        if self.health.len() < results.len() {
            self.health.resize(results.len(), TriggerHealth::default());
        }
        let observed = Observed {
            current_replicas,
            ready_replicas,
            triggers: results
                .into_iter()
                .zip(&self.health)
                .map(|(result, health)| TriggerObservation {
                    result,
                    health: *health,
                })
                .collect(),
            last_active_time: self.last_active_time,
            creation_time,
        };
        let decision = decide(policy, &observed, now);
        for (h, outcome) in self.health.iter_mut().zip(&decision.triggers) {
            if let Some(new) = outcome.health {
                *h = new;
            }
        }
        self.active = decision.is_active;
        if decision.last_active_time.is_some() {
            self.last_active_time = decision.last_active_time;
        }
        decision
    }

    /// What the HPA reads from the external metrics API now: each External trigger's live value
    /// (`None` = the scaler failed), or its fallback value once the trigger's failures exceed the
    /// threshold; with scalingModifiers the one `composite-metric`. cpu/memory come from the
    /// metrics-server and are left out.
    pub fn hpa_metrics(
        &self,
        policy: &ScaledObjectPolicy,
        values: &[Option<f64>],
        current: u32,
        ready: u32,
    ) -> Vec<Option<ExternalMetric>> {
        let value_at = |i: usize| values.get(i).copied().flatten();
        let fallback = policy.valid_fallback();
        let in_fallback = |i: usize| {
            fallback.is_some_and(|f| {
                f.behavior != FallbackBehavior::ScalingModifiers
                    && self
                        .health
                        .get(i)
                        .is_some_and(|h| h.exceeds(f.failure_threshold))
            })
        };
        let external = policy
            .triggers
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == TriggerKind::External);
        if let Some(m) = &policy.scaling_modifiers {
            let fallback_value = external
                .clone()
                .find(|(i, _)| value_at(*i).is_none() && in_fallback(*i))
                .and_then(|_| {
                    fallback?
                        .metric_value(m.target, m.metric_type, Some(current), Some(ready))
                        .ok()
                });
            let value = fallback_value.or_else(|| {
                let inputs: Vec<(&str, Option<f64>)> = external
                    .filter(|(_, t)| !t.name.is_empty())
                    .map(|(i, t)| (t.name.as_str(), value_at(i)))
                    .collect();
                let formula = m.formula.as_ref()?;
                m.composite_value(formula, &inputs, fallback).ok()
            });
            return vec![value.map(|value| ExternalMetric {
                value,
                target: m.target,
                metric_type: m.metric_type,
            })];
        }
        external
            .map(|(i, t)| {
                let value = match value_at(i) {
                    Some(v) => Some(v),
                    None if in_fallback(i) => fallback?
                        .metric_value(t.target, t.metric_type, Some(current), Some(ready))
                        .ok(),
                    None => None,
                };
                value.map(|value| ExternalMetric {
                    value,
                    target: t.target,
                    metric_type: t.metric_type,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::TriggerSpec;

    fn policy() -> ScaledObjectPolicy {
        ScaledObjectPolicy {
            min_replica_count: Some(0),
            cooldown_period: 10,
            triggers: vec![TriggerSpec {
                metric_name: "s0-sqlite".into(),
                target: 5.0,
                ..TriggerSpec::default()
            }],
            ..ScaledObjectPolicy::default()
        }
    }

    #[test]
    fn a_poll_remembers_last_active_time_and_activity() {
        let p = policy();
        let mut state = ScaleLoopState::new(1);
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let d = state.poll(
            &p,
            vec![TriggerResult::value(7.0)],
            Some(0),
            Some(0),
            t0,
            t0,
        );
        assert_eq!(d.scale_to, Some(1));
        assert!(state.active);
        assert_eq!(state.last_active_time, Some(t0));
        let later = t0 + jiff::SignedDuration::from_secs(5);
        let d = state.poll(
            &p,
            vec![TriggerResult::value(0.0)],
            Some(1),
            Some(1),
            t0,
            later,
        );
        assert_eq!(d.scale_to, None, "still cooling down");
        assert!(!state.active);
        assert_eq!(state.last_active_time, Some(t0));
    }

    #[test]
    fn the_hpa_reads_live_values_of_external_triggers() {
        let p = policy();
        let state = ScaleLoopState::new(1);
        let m = state.hpa_metrics(&p, &[Some(12.0)], 1, 1);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].map(|m| m.value), Some(12.0));
        assert_eq!(state.hpa_metrics(&p, &[None], 1, 1), vec![None]);
    }
}
