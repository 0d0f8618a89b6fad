//! Fallback (pkg/fallback): health bookkeeping per metric and the synthetic metric that makes the
//! HPA land on the fallback replica count.

use crate::trigger::MetricType;
use thiserror::Error;

/// `fallback.behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FallbackBehavior {
    /// Always `fallback.replicas` (the CRD default).
    #[default]
    Static,
    /// The target's current replicas.
    CurrentReplicas,
    /// max(current, fallback.replicas).
    CurrentReplicasIfHigher,
    /// min(current, fallback.replicas).
    CurrentReplicasIfLower,
    /// Failing triggers become `nil` in the scalingModifiers formula.
    ScalingModifiers,
}

/// `spec.fallback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fallback {
    /// `failureThreshold`: fallback starts when failures are strictly greater.
    pub failure_threshold: i32,
    /// `replicas`.
    pub replicas: i32,
    /// `behavior`.
    pub behavior: FallbackBehavior,
}

/// `status.health[metric].status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthStatus {
    /// The last read succeeded.
    #[default]
    Happy,
    /// The last read failed.
    Failing,
}

/// `status.health[metric]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TriggerHealth {
    /// `numberOfFailures`: consecutive failures.
    pub number_of_failures: i32,
    /// `status`.
    pub status: HealthStatus,
}

impl TriggerHealth {
    /// After a successful read: `{0, Happy}`.
    pub fn happy() -> TriggerHealth {
        TriggerHealth::default()
    }

    /// After a failed read: one more failure, `Failing`.
    pub fn failed(self) -> TriggerHealth {
        TriggerHealth {
            number_of_failures: self.number_of_failures.saturating_add(1),
            status: HealthStatus::Failing,
        }
    }

    /// Whether this metric is in fallback: Failing with failures strictly above the threshold.
    pub fn exceeds(&self, failure_threshold: i32) -> bool {
        self.status == HealthStatus::Failing && self.number_of_failures > failure_threshold
    }
}

/// Why the synthetic fallback metric could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FallbackError {
    /// A Value metric needs ready pods to divide by, and there are none.
    #[error("cannot do fallback for a metric of type Value: no ready replicas")]
    NoReadyReplicas,
    /// A currentReplicas* behavior needs the current replica count, which could not be read.
    #[error("cannot do fallback: current replica count unknown")]
    CurrentReplicasUnknown,
}

impl Fallback {
    /// KEDA's `HasValidFallback`: threshold and replicas ≥ 0 and, with scalingModifiers, a target
    /// that parses as an integer > 0 (a float target silently disables fallback).
    pub fn is_valid(&self, modifiers_target: Option<&str>) -> bool {
        let modifiers_ok =
            modifiers_target.is_none_or(|t| t.trim().parse::<i64>().is_ok_and(|v| v > 0));
        self.failure_threshold >= 0 && self.replicas >= 0 && modifiers_ok
    }

    /// The replica count `R` the behavior asks for, before any division by ready pods.
    pub fn replicas_for(&self, current: Option<u32>) -> Result<f64, FallbackError> {
        let fallback = f64::from(self.replicas.max(0));
        let current = || {
            current
                .map(f64::from)
                .ok_or(FallbackError::CurrentReplicasUnknown)
        };
        Ok(match self.behavior {
            FallbackBehavior::Static | FallbackBehavior::ScalingModifiers => fallback,
            FallbackBehavior::CurrentReplicas => current()?,
            FallbackBehavior::CurrentReplicasIfHigher => current()?.max(fallback),
            FallbackBehavior::CurrentReplicasIfLower => current()?.min(fallback),
        })
    }

    /// The synthetic metric value `T × R` (AverageValue) or `T × R / ready` (Value), truncated to
    /// whole millis as KEDA's `NewMilliQuantity(int64(T*1000*R))` does.
    pub fn metric_value(
        &self,
        target: f64,
        metric_type: MetricType,
        current: Option<u32>,
        ready: Option<u32>,
    ) -> Result<f64, FallbackError> {
        let mut replicas = self.replicas_for(current)?;
        if metric_type == MetricType::Value {
            match ready {
                Some(ready) if ready > 0 => replicas /= f64::from(ready),
                _ => return Err(FallbackError::NoReadyReplicas),
            }
        }
        Ok(truncate_to_millis(target * replicas))
    }
}

/// Truncates to whole millis, like a Kubernetes milli-quantity built from `int64(v*1000)`.
pub fn truncate_to_millis(value: f64) -> f64 {
    (value * 1000.0).trunc() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fallback(behavior: FallbackBehavior) -> Fallback {
        Fallback {
            failure_threshold: 3,
            replicas: 6,
            behavior,
        }
    }

    #[test]
    fn fallback_replicas_follow_the_behavior() {
        use FallbackBehavior::*;
        let cases = [
            (Static, Some(8), 6.0),
            (CurrentReplicas, Some(8), 8.0),
            (CurrentReplicasIfHigher, Some(8), 8.0),
            (CurrentReplicasIfHigher, Some(2), 6.0),
            (CurrentReplicasIfLower, Some(8), 6.0),
            (CurrentReplicasIfLower, Some(2), 2.0),
        ];
        for (behavior, current, want) in cases {
            assert_eq!(
                fallback(behavior).replicas_for(current),
                Ok(want),
                "{behavior:?}"
            );
        }
        assert_eq!(
            fallback(CurrentReplicas).replicas_for(None),
            Err(FallbackError::CurrentReplicasUnknown)
        );
    }

    #[test]
    fn value_metric_fallback_needs_ready_replicas() {
        let f = fallback(FallbackBehavior::Static);
        assert_eq!(
            f.metric_value(100.0, MetricType::Value, Some(3), Some(3)),
            Ok(200.0)
        );
        assert_eq!(
            f.metric_value(100.0, MetricType::Value, Some(3), Some(0)),
            Err(FallbackError::NoReadyReplicas)
        );
    }

    #[test]
    fn validity_needs_non_negative_numbers_and_an_integer_modifiers_target() {
        let f = fallback(FallbackBehavior::Static);
        assert!(f.is_valid(None));
        assert!(f.is_valid(Some("2")));
        assert!(!f.is_valid(Some("2.5")));
        assert!(!f.is_valid(Some("0")));
        assert!(!Fallback { replicas: -1, ..f }.is_valid(None));
        assert!(
            !Fallback {
                failure_threshold: -1,
                ..f
            }
            .is_valid(None)
        );
    }

    #[test]
    fn health_counts_consecutive_failures_and_threshold_is_strict() {
        let h = TriggerHealth::happy().failed().failed().failed();
        assert_eq!(h.number_of_failures, 3);
        assert!(!h.exceeds(3));
        assert!(h.failed().exceeds(3));
        assert!(
            !TriggerHealth {
                number_of_failures: 9,
                status: HealthStatus::Happy
            }
            .exceeds(3)
        );
    }
}
