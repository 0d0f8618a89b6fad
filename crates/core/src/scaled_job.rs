//! ScaledJob decisions: effective min/max, per-trigger queue metrics, multipleScalersCalculation and the
//! number of Jobs to create per poll (pkg/scaling/scaledjob/metrics.go, pkg/scaling/executor/scale_jobs.go).

/// Default `maxReplicaCount` of a ScaledJob.
pub const DEFAULT_MAX_REPLICA_COUNT: u32 = 100;

/// `scalingStrategy.strategy` with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ScalingStrategy {
    /// `default`: effMax = maxScale − running.
    #[default]
    Default,
    /// `custom`: effMax = min(maxScale − deduction − trunc(running × percentage), MaxRC).
    Custom {
        /// `customScalingQueueLengthDeduction` (nil ⇒ 0).
        queue_length_deduction: i32,
        /// `customScalingRunningJobPercentage`, already parsed.
        running_job_percentage: f64,
    },
    /// `accurate`: accounts for pending Jobs.
    Accurate,
    /// `eager`: fill up to MaxRC at once.
    Eager,
}

impl ScalingStrategy {
    /// Builds the strategy from the spec strings; `custom` with an unparseable or empty percentage
    /// silently becomes `default`, as in KEDA.
    pub fn from_spec(strategy: &str, deduction: Option<i32>, percentage: &str) -> ScalingStrategy {
        match strategy {
            "custom" => match percentage.trim().parse::<f64>() {
                Ok(p) => ScalingStrategy::Custom {
                    queue_length_deduction: deduction.unwrap_or(0),
                    running_job_percentage: p,
                },
                Err(_) => ScalingStrategy::Default,
            },
            "accurate" => ScalingStrategy::Accurate,
            "eager" => ScalingStrategy::Eager,
            _ => ScalingStrategy::Default,
        }
    }
}

/// `scalingStrategy.multipleScalersCalculation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultipleScalersCalculation {
    /// The active trigger with the largest queue (default).
    #[default]
    Max,
    /// The active trigger with the smallest queue.
    Min,
    /// Means over active triggers.
    Avg,
    /// Sums over active triggers.
    Sum,
}

/// Everything from a ScaledJob's spec that job-count decisions depend on.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScaledJobPolicy {
    /// `minReplicaCount` (`None` = unset).
    pub min_replica_count: Option<u32>,
    /// `maxReplicaCount` (`None` = unset).
    pub max_replica_count: Option<u32>,
    /// `scalingStrategy`.
    pub strategy: ScalingStrategy,
    /// `scalingStrategy.multipleScalersCalculation`.
    pub calculation: MultipleScalersCalculation,
}

impl ScaledJobPolicy {
    /// `MinRC = min(spec.min, spec.max)` (default 0).
    pub fn effective_min(&self) -> u32 {
        match (self.min_replica_count, self.max_replica_count) {
            (Some(min), Some(max)) => min.min(max),
            (Some(min), None) => min,
            (None, _) => 0,
        }
    }

    /// `MaxRC`: with max set, `max − MinRC` (or `max` when min > max); unset ⇒ 100 with min **not**
    /// subtracted (KEDA quirk).
    pub fn effective_max(&self) -> u32 {
        match self.max_replica_count {
            Some(max) if self.min_replica_count.is_some_and(|min| min > max) => max,
            Some(max) => max.saturating_sub(self.effective_min()),
            None => DEFAULT_MAX_REPLICA_COUNT,
        }
    }
}

/// One trigger's metrics in a poll (failed triggers are left out by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobTriggerMetrics {
    /// Sum of the values of the scaler's first metric.
    pub queue_length: f64,
    /// Mean of the scaler's metric targets (averageValue, nil counted as 0).
    pub target_average: f64,
    /// The scaler's activity.
    pub active: bool,
}

/// The aggregated metrics of a poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobMetrics {
    /// Whether to create Jobs at all (forced when MinRC > 0).
    pub is_active: bool,
    /// `ceil(queueLength)`: the Jobs wanted.
    pub scale_to: u32,
    /// `ceil(min(maxValue, MaxRC))`: the Jobs allowed by the metrics.
    pub max_scale: u32,
}

/// Per trigger: `maxValue = min(queueLength / targetAvg, MaxRC)`, 0 when the target is 0.
pub fn trigger_max_value(trigger: &JobTriggerMetrics, max_rc: u32) -> f64 {
    if trigger.target_average == 0.0 {
        0.0
    } else {
        (trigger.queue_length / trigger.target_average).min(f64::from(max_rc))
    }
}

/// Aggregates triggers with KEDA's quirks (`IsScaledJobActive`): only active triggers count, and with
/// `max` an active trigger whose queue is 0 does not make the job active.
pub fn aggregate(policy: &ScaledJobPolicy, triggers: &[JobTriggerMetrics]) -> JobMetrics {
    let max_rc = policy.effective_max();
    let mut queue_length = 0.0;
    let mut max_value = 0.0;
    let mut is_active = false;
    let active = triggers.iter().filter(|t| t.active);
    match policy.calculation {
        MultipleScalersCalculation::Max => {
            for t in active {
                if t.queue_length > queue_length {
                    (queue_length, max_value, is_active) =
                        (t.queue_length, trigger_max_value(t, max_rc), true);
                }
            }
        }
        MultipleScalersCalculation::Min => {
            for t in active {
                if queue_length == 0.0 || t.queue_length < queue_length {
                    (queue_length, max_value, is_active) =
                        (t.queue_length, trigger_max_value(t, max_rc), true);
                }
            }
        }
        MultipleScalersCalculation::Avg | MultipleScalersCalculation::Sum => {
            let mut count = 0u32;
            for t in active {
                queue_length += t.queue_length;
                max_value += trigger_max_value(t, max_rc);
                is_active = true;
                count += 1;
            }
            if policy.calculation == MultipleScalersCalculation::Avg && count > 0 {
                queue_length /= f64::from(count);
                max_value /= f64::from(count);
            }
        }
    }
    if policy.effective_min() > 0 {
        is_active = true;
    }
    JobMetrics {
        is_active,
        scale_to: ceil_u32(queue_length),
        max_scale: ceil_u32(max_value.min(f64::from(max_rc))),
    }
}

/// Jobs of this ScaledJob that have not finished, as counted by the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobCounts {
    /// Jobs without a Complete/Failed=True condition.
    pub running: u32,
    /// Running Jobs whose pods have not started (per pendingPodConditions).
    pub pending: u32,
}

/// How many Jobs to create in this poll, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsDecision {
    /// Jobs to create now.
    pub create: u32,
    /// The effective maximum the strategy allowed (clamped at 0).
    pub effective_max_scale: u32,
    /// One human sentence.
    pub why: String,
}

/// The number of new Jobs per poll (executor `RequestJobScale`/`getScalingDecision`).
pub fn jobs_to_create(
    policy: &ScaledJobPolicy,
    metrics: &JobMetrics,
    counts: JobCounts,
) -> JobsDecision {
    let min_rc = i64::from(policy.effective_min());
    let max_rc = i64::from(policy.effective_max());
    let running = i64::from(counts.running);
    let pending = i64::from(counts.pending);
    let max_scale = i64::from(metrics.max_scale);
    let (effective_max, scale_to) = if running < min_rc {
        (min_rc - running, min_rc - running)
    } else {
        let r = running - min_rc;
        let scale_to = i64::from(metrics.scale_to);
        match policy.strategy {
            ScalingStrategy::Default => (max_scale - r, scale_to),
            ScalingStrategy::Custom {
                queue_length_deduction,
                running_job_percentage,
            } => {
                let running_share = (r as f64 * running_job_percentage) as i64;
                (
                    (max_scale - i64::from(queue_length_deduction) - running_share).min(max_rc),
                    scale_to,
                )
            }
            ScalingStrategy::Accurate if max_scale + r - pending > max_rc => (max_rc - r, scale_to),
            ScalingStrategy::Accurate => (max_scale - pending, scale_to),
            ScalingStrategy::Eager => ((max_rc - r - pending).min(max_scale), max_rc),
        }
    };
    let effective_max = effective_max.max(0);
    let create = if metrics.is_active && effective_max > 0 {
        scale_to.min(effective_max).max(0)
    } else {
        0
    };
    let why = if !metrics.is_active {
        "no trigger active; running Jobs are left alone".to_owned()
    } else if running < min_rc {
        format!("{create} Jobs to reach minReplicaCount {min_rc} ({running} running)")
    } else {
        format!(
            "{create} Jobs: queue wants {scale_to}, strategy allows {effective_max} ({running} running, {pending} pending, max {max_rc})"
        )
    };
    JobsDecision {
        create: to_u32(create),
        effective_max_scale: to_u32(effective_max),
        why,
    }
}

fn ceil_u32(value: f64) -> u32 {
    let c = value.ceil();
    if c >= f64::from(u32::MAX) {
        u32::MAX
    } else if c > 0.0 {
        c as u32
    } else {
        0
    }
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(queue_length: f64, target_average: f64, active: bool) -> JobTriggerMetrics {
        JobTriggerMetrics {
            queue_length,
            target_average,
            active,
        }
    }

    #[test]
    fn effective_min_and_max_follow_keda() {
        let cases = [
            (None, None, 0, 100),
            (Some(2), None, 2, 100), // min not subtracted when max is unset
            (None, Some(10), 0, 10),
            (Some(2), Some(10), 2, 8),
            (Some(12), Some(10), 10, 10),
        ];
        for (min, max, want_min, want_max) in cases {
            let p = ScaledJobPolicy {
                min_replica_count: min,
                max_replica_count: max,
                ..Default::default()
            };
            assert_eq!(
                (p.effective_min(), p.effective_max()),
                (want_min, want_max),
                "{min:?} {max:?}"
            );
        }
    }

    #[test]
    fn multiple_scalers_calculation_uses_only_active_triggers() {
        let triggers = [
            trigger(20.0, 2.0, true),
            trigger(6.0, 1.0, true),
            trigger(50.0, 1.0, false),
        ];
        let cases = [
            (MultipleScalersCalculation::Max, 20, 10),
            (MultipleScalersCalculation::Min, 6, 6),
            (MultipleScalersCalculation::Avg, 13, 8),
            (MultipleScalersCalculation::Sum, 26, 16),
        ];
        for (calculation, scale_to, max_scale) in cases {
            let p = ScaledJobPolicy {
                max_replica_count: Some(100),
                calculation,
                ..Default::default()
            };
            let m = aggregate(&p, &triggers);
            assert_eq!(
                (m.is_active, m.scale_to, m.max_scale),
                (true, scale_to, max_scale),
                "{calculation:?}"
            );
        }
    }

    #[test]
    fn max_calculation_ignores_an_active_trigger_with_an_empty_queue() {
        let p = ScaledJobPolicy::default();
        assert!(!aggregate(&p, &[trigger(0.0, 1.0, true)]).is_active);
        let p = ScaledJobPolicy {
            calculation: MultipleScalersCalculation::Sum,
            ..Default::default()
        };
        assert!(aggregate(&p, &[trigger(0.0, 1.0, true)]).is_active);
    }

    #[test]
    fn zero_target_gives_zero_max_value() {
        assert_eq!(trigger_max_value(&trigger(5.0, 0.0, true), 10), 0.0);
    }

    #[test]
    fn custom_strategy_with_a_bad_percentage_is_default() {
        assert_eq!(
            ScalingStrategy::from_spec("custom", Some(1), ""),
            ScalingStrategy::Default
        );
        assert_eq!(
            ScalingStrategy::from_spec("custom", Some(1), "x"),
            ScalingStrategy::Default
        );
        assert_eq!(
            ScalingStrategy::from_spec("custom", None, "0.5"),
            ScalingStrategy::Custom {
                queue_length_deduction: 0,
                running_job_percentage: 0.5
            }
        );
        assert_eq!(
            ScalingStrategy::from_spec("eager", None, ""),
            ScalingStrategy::Eager
        );
        assert_eq!(
            ScalingStrategy::from_spec("", None, ""),
            ScalingStrategy::Default
        );
    }

    #[test]
    fn inactive_scaled_job_creates_nothing() {
        let p = ScaledJobPolicy::default();
        let m = JobMetrics {
            is_active: false,
            scale_to: 5,
            max_scale: 5,
        };
        assert_eq!(jobs_to_create(&p, &m, JobCounts::default()).create, 0);
    }
}
