//! Triggers as the core sees them: what each one targets, what a poll measured, and activation.

use thiserror::Error;

/// How the HPA reads an external metric (`triggers[].metricType`, `scalingModifiers.metricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricType {
    /// desired = ceil(value / target). KEDA treats an empty metricType as AverageValue.
    #[default]
    AverageValue,
    /// desired = ceil(readyPods × value / target).
    Value,
}

/// Whether KEDA measures the trigger or the metrics-server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TriggerKind {
    /// A scaler KEDA polls (everything but cpu and memory).
    #[default]
    External,
    /// `cpu` or `memory`: a Resource metric served by metrics.k8s.io, never polled by KEDA.
    Resource,
}

/// One trigger of a ScaledObject, as far as decisions need it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TriggerSpec {
    /// `triggers[].name` ("" when unset); the variable name in scalingModifiers formulas.
    pub name: String,
    /// The external metric name, e.g. `s0-rabbitmq-orders`.
    pub metric_name: String,
    /// External or Resource (cpu/memory).
    pub kind: TriggerKind,
    /// The HPA target type of the external metric.
    pub metric_type: MetricType,
    /// The target (averageValue or value) the scaler reports in its metric spec.
    pub target: f64,
    /// The activation threshold; active ⇔ value **>** this (default 0).
    pub activation_target: f64,
}

/// What polling one trigger produced.
#[derive(Debug, Clone, PartialEq)]
pub enum TriggerResult {
    /// The scaler returned a metric value.
    Measured {
        /// The metric value.
        value: f64,
        /// The scaler's own activity verdict (external scalers, rabbitmq rate modes); `None` means
        /// "value > activation_target".
        active: Option<bool>,
    },
    /// The scaler failed; the message is the scaler's error.
    Failed {
        /// The scaler's error, for events and the why string.
        error: String,
    },
    /// Not polled: cpu/memory triggers (the metrics-server serves them).
    NotPolled,
}

impl TriggerResult {
    /// A measured value whose activity follows the activation threshold.
    pub fn value(value: f64) -> TriggerResult {
        TriggerResult::Measured {
            value,
            active: None,
        }
    }

    /// A scaler error.
    pub fn failed(error: impl Into<String>) -> TriggerResult {
        TriggerResult::Failed {
            error: error.into(),
        }
    }
}

/// Why a measured value cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum MetricValueError {
    /// NaN or ±Inf.
    #[error("metric value {0} is not finite")]
    NotFinite(f64),
    /// Below zero: queue lengths, lags and rates cannot be negative.
    #[error("metric value {0} is negative")]
    Negative(f64),
}

/// Rejects values the HPA cannot use; a bad value counts as an error of that trigger, never a panic.
pub fn check_metric_value(value: f64) -> Result<f64, MetricValueError> {
    if !value.is_finite() {
        Err(MetricValueError::NotFinite(value))
    } else if value < 0.0 {
        Err(MetricValueError::Negative(value))
    } else {
        Ok(value)
    }
}

/// KEDA's activation rule: strictly greater than the activation threshold.
pub fn is_active(value: f64, activation_target: f64) -> bool {
    value > activation_target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_is_strictly_greater_than_the_threshold() {
        for (value, threshold, want) in [
            (0.0, 0.0, false),
            (0.5, 0.0, true),
            (5.0, 5.0, false),
            (5.1, 5.0, true),
        ] {
            assert_eq!(is_active(value, threshold), want, "{value} > {threshold}");
        }
    }

    #[test]
    fn negative_or_non_finite_metric_values_are_rejected() {
        assert_eq!(check_metric_value(3.0), Ok(3.0));
        assert_eq!(
            check_metric_value(-1.0),
            Err(MetricValueError::Negative(-1.0))
        );
        assert!(matches!(
            check_metric_value(f64::NAN),
            Err(MetricValueError::NotFinite(_))
        ));
        assert!(matches!(
            check_metric_value(f64::INFINITY),
            Err(MetricValueError::NotFinite(_))
        ));
    }
}
