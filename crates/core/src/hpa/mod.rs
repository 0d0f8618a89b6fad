//! The HPA v2 algorithm for External metrics (kubernetes pkg/controller/podautoscaler: replica_calculator.go
//! and horizontal.go), so local mode and `ebb simulate` scale 1↔N the way a cluster would.

mod behavior;

pub use behavior::{
    Behavior, EffectiveRules, ScalingPolicy, ScalingPolicyType, ScalingRules, SelectPolicy,
};

use crate::trigger::MetricType;
use jiff::{SignedDuration, Timestamp};

/// The controller's default `--horizontal-pod-autoscaler-tolerance`.
pub const TOLERANCE: f64 = 0.1;

/// One External metric reading against its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExternalMetric {
    /// The metric value (the sum of the returned items).
    pub value: f64,
    /// The target averageValue or value (> 0).
    pub target: f64,
    /// AverageValue or Value.
    pub metric_type: MetricType,
}

/// The HPA's spec fields that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpaSpec {
    /// `minReplicas` (KEDA: max(minReplicaCount, 1)).
    pub min_replicas: u32,
    /// `maxReplicas`.
    pub max_replicas: u32,
    /// `behavior`; `None` uses the defaults of an empty behavior.
    pub behavior: Option<Behavior>,
}

/// The replicas one metric asks for (replica_calculator.go `GetExternalPerPodMetricReplicas` for
/// AverageValue, `GetExternalMetricReplicas` for Value). `None` when the reading is unusable.
pub fn replicas_for_metric(metric: &ExternalMetric, current: u32, ready: u32) -> Option<u32> {
    let usable_target = metric.target.is_finite() && metric.target > 0.0;
    if !usable_target || !metric.value.is_finite() || metric.value < 0.0 {
        return None;
    }
    let current_f = f64::from(current);
    let desired = match metric.metric_type {
        MetricType::AverageValue => {
            let ratio = metric.value / (metric.target * current_f);
            if (1.0 - ratio).abs() > TOLERANCE {
                (metric.value / metric.target).ceil()
            } else {
                current_f
            }
        }
        MetricType::Value => {
            let ratio = metric.value / metric.target;
            if current == 0 {
                ratio.ceil()
            } else if (1.0 - ratio).abs() <= TOLERANCE {
                current_f
            } else {
                // Kubernetes multiplies by the ready pod count, not spec.replicas.
                (ratio * f64::from(ready)).ceil()
            }
        }
    };
    Some(saturating_u32(desired))
}

/// Max across metrics (horizontal.go `computeReplicasForMetrics`). `None` — keep the current count —
/// when every metric is unusable, or when some are and the others would scale down.
pub fn replicas_for_metrics(
    metrics: &[Option<ExternalMetric>],
    current: u32,
    ready: u32,
) -> Option<u32> {
    let mut invalid = 0;
    let mut desired: Option<u32> = None;
    for metric in metrics {
        match metric
            .as_ref()
            .and_then(|m| replicas_for_metric(m, current, ready))
        {
            Some(r) => desired = Some(desired.map_or(r, |d| d.max(r))),
            None => invalid += 1,
        }
    }
    let desired = desired?;
    if invalid > 0 && desired < current {
        return None;
    }
    Some(desired)
}

fn saturating_u32(value: f64) -> u32 {
    if value >= f64::from(u32::MAX) {
        u32::MAX
    } else if value > 0.0 {
        value as u32
    } else {
        0
    }
}

/// What one HPA sync decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpaRecommendation {
    /// The replica count to set.
    pub desired_replicas: u32,
    /// Kubernetes' reason for the limiting condition, e.g. `ScaleUpLimit`, `DesiredWithinRange`.
    pub reason: &'static str,
}

/// Per-HPA memory of the controller: past recommendations and scale events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HpaState {
    recommendations: Vec<(Timestamp, u32)>,
    scale_up_events: Vec<(Timestamp, u32)>,
    scale_down_events: Vec<(Timestamp, u32)>,
    initialized: bool,
}

impl HpaState {
    /// A fresh controller's state (nothing remembered yet).
    pub fn new() -> HpaState {
        HpaState::default()
    }

    /// One sync (horizontal.go `reconcileAutoscaler`): computes the desired replicas, applies
    /// stabilization and rate limits, and records the recommendation and — when the count changes,
    /// assuming the caller applies it — the scale event.
    pub fn sync(
        &mut self,
        spec: &HpaSpec,
        current: u32,
        ready: u32,
        metrics: &[Option<ExternalMetric>],
        now: Timestamp,
    ) -> HpaRecommendation {
        let min = spec.min_replicas.max(1);
        let max = spec.max_replicas.max(min);
        let recommendation = if current == 0 {
            // Scaling is disabled at zero replicas; KEDA activates the target.
            HpaRecommendation {
                desired_replicas: 0,
                reason: "ScalingDisabled",
            }
        } else if current > max {
            HpaRecommendation {
                desired_replicas: max,
                reason: "TooManyReplicas",
            }
        } else if current < min {
            HpaRecommendation {
                desired_replicas: min,
                reason: "TooFewReplicas",
            }
        } else {
            match replicas_for_metrics(metrics, current, ready) {
                None => HpaRecommendation {
                    desired_replicas: current,
                    reason: "FailedGetExternalMetric",
                },
                Some(desired) => {
                    let behavior = spec.behavior.clone().unwrap_or_default();
                    self.normalize(&behavior, min, max, current, desired, now)
                }
            }
        };
        if recommendation.desired_replicas != current && current != 0 {
            self.record_scale_event(current, recommendation.desired_replicas, now);
        }
        recommendation
    }

    /// horizontal.go `normalizeDesiredReplicasWithBehaviors`: stabilize, then rate-limit.
    fn normalize(
        &mut self,
        behavior: &Behavior,
        min: u32,
        max: u32,
        current: u32,
        desired: u32,
        now: Timestamp,
    ) -> HpaRecommendation {
        let up = behavior.scale_up_rules();
        let down = behavior.scale_down_rules();
        if !self.initialized {
            // maybeInitScaleDownStabilizationWindow: a restarted controller must not scale down at once.
            self.initialized = true;
            if down.stabilization_window_seconds > 0 {
                self.recommendations.push((now, current));
            }
        }
        let stabilized = self.stabilize(&up, &down, current, desired, now);
        rate_limit(
            &up,
            &down,
            &self.scale_up_events,
            &self.scale_down_events,
            min,
            max,
            current,
            stabilized,
            now,
        )
    }

    /// `stabilizeRecommendationWithBehaviors`: scale up to the lowest recommendation within the up
    /// window, down to the highest within the down window.
    fn stabilize(
        &mut self,
        up: &EffectiveRules,
        down: &EffectiveRules,
        current: u32,
        desired: u32,
        now: Timestamp,
    ) -> u32 {
        let up_cutoff = seconds_before(now, up.stabilization_window_seconds);
        let down_cutoff = seconds_before(now, down.stabilization_window_seconds);
        let (mut up_rec, mut down_rec) = (desired, desired);
        for &(at, rec) in &self.recommendations {
            if at > up_cutoff {
                up_rec = up_rec.min(rec);
            }
            if at > down_cutoff {
                down_rec = down_rec.max(rec);
            }
        }
        let stabilized = current.max(up_rec).min(down_rec);
        // Forget what neither window can see any more, then remember the raw recommendation.
        let oldest = up_cutoff.min(down_cutoff);
        self.recommendations.retain(|(at, _)| *at >= oldest);
        self.recommendations.push((now, desired));
        stabilized
    }

    fn record_scale_event(&mut self, from: u32, to: u32, now: Timestamp) {
        if to > from {
            self.scale_up_events.push((now, to - from));
        } else {
            self.scale_down_events.push((now, from - to));
        }
        // Events older than an hour exceed any sensible policy period (the API caps periods at 1800 s).
        let cutoff = seconds_before(now, 3600);
        self.scale_up_events.retain(|(at, _)| *at > cutoff);
        self.scale_down_events.retain(|(at, _)| *at > cutoff);
    }
}

/// `convertDesiredReplicasWithBehaviorRate`.
#[allow(clippy::too_many_arguments)]
fn rate_limit(
    up: &EffectiveRules,
    down: &EffectiveRules,
    up_events: &[(Timestamp, u32)],
    down_events: &[(Timestamp, u32)],
    min: u32,
    max: u32,
    current: u32,
    desired: u32,
    now: Timestamp,
) -> HpaRecommendation {
    let current_i = i64::from(current);
    if desired > current {
        let limit = scale_limit(up, up_events, down_events, current_i, now, true).max(current_i);
        let (allowed, reason) = if i64::from(max) > limit {
            (limit, "ScaleUpLimit")
        } else {
            (i64::from(max), "TooManyReplicas")
        };
        if i64::from(desired) > allowed {
            return HpaRecommendation {
                desired_replicas: to_u32(allowed),
                reason,
            };
        }
    } else if desired < current {
        let limit = scale_limit(down, up_events, down_events, current_i, now, false).min(current_i);
        let (allowed, reason) = if i64::from(min) < limit {
            (limit, "ScaleDownLimit")
        } else {
            (i64::from(min), "TooFewReplicas")
        };
        if i64::from(desired) < allowed {
            return HpaRecommendation {
                desired_replicas: to_u32(allowed),
                reason,
            };
        }
    }
    HpaRecommendation {
        desired_replicas: desired,
        reason: "DesiredWithinRange",
    }
}

/// `calculateScaleUpLimitWithScalingRules` / `calculateScaleDownLimitWithBehaviors`.
fn scale_limit(
    rules: &EffectiveRules,
    up_events: &[(Timestamp, u32)],
    down_events: &[(Timestamp, u32)],
    current: i64,
    now: Timestamp,
    scale_up: bool,
) -> i64 {
    if rules.select_policy == SelectPolicy::Disabled {
        return current;
    }
    // "Max" means the biggest change: the highest limit going up, the lowest going down.
    let pick_higher = (rules.select_policy == SelectPolicy::Max) == scale_up;
    let mut result: Option<i64> = None;
    for policy in &rules.policies {
        let added = change_in_period(up_events, policy.period_seconds, now);
        let removed = change_in_period(down_events, policy.period_seconds, now);
        let start = current - added + removed;
        let value = i64::from(policy.value);
        let proposed = match (policy.policy_type, scale_up) {
            (ScalingPolicyType::Pods, true) => start + value,
            (ScalingPolicyType::Pods, false) => start - value,
            // Rounded up going up so a small percentage still adds a pod; truncated going down.
            (ScalingPolicyType::Percent, true) => {
                (start as f64 * (1.0 + value as f64 / 100.0)).ceil() as i64
            }
            (ScalingPolicyType::Percent, false) => {
                (start as f64 * (1.0 - value as f64 / 100.0)) as i64
            }
        };
        result = Some(match result {
            None => proposed,
            Some(r) if pick_higher => r.max(proposed),
            Some(r) => r.min(proposed),
        });
    }
    result.unwrap_or(current)
}

fn change_in_period(events: &[(Timestamp, u32)], period_seconds: u32, now: Timestamp) -> i64 {
    let cutoff = seconds_before(now, period_seconds);
    events
        .iter()
        .filter(|(at, _)| *at > cutoff)
        .map(|(_, n)| i64::from(*n))
        .sum()
}

fn seconds_before(now: Timestamp, seconds: u32) -> Timestamp {
    now.checked_sub(SignedDuration::from_secs(i64::from(seconds)))
        .unwrap_or(Timestamp::MIN)
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
