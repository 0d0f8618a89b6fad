//! `advanced.scalingModifiers`: the composite metric computed from a formula over trigger values.

use crate::fallback::{Fallback, truncate_to_millis};
use crate::formula::{Formula, FormulaError};
use crate::trigger::MetricType;
use thiserror::Error;

/// The single external metric name the HPA uses when scalingModifiers are set.
pub const COMPOSITE_METRIC_NAME: &str = "composite-metric";

/// `advanced.scalingModifiers`, validated and with its formula compiled.
#[derive(Debug, Clone)]
pub struct ScalingModifiers {
    /// The compiled formula (`None` when the formula is empty).
    pub formula: Option<Formula>,
    /// `target` as written; fallback validity needs to know whether it is an integer.
    pub target_text: String,
    /// `target` as a number (> 0).
    pub target: f64,
    /// `activationTarget` (default 0); active ⇔ composite **>** this.
    pub activation_target: f64,
    /// `metricType` (default AverageValue).
    pub metric_type: MetricType,
}

/// Why scalingModifiers are invalid or the composite metric could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModifiersError {
    /// `target` is missing, not a float, or not > 0.
    #[error("scalingModifiers.target {0:?} must be a number greater than 0")]
    InvalidTarget(String),
    /// `activationTarget` is not a float.
    #[error("scalingModifiers.activationTarget {0:?} is not a number")]
    InvalidActivationTarget(String),
    /// The formula failed to compile or evaluate.
    #[error("scalingModifiers.formula: {0}")]
    Formula(#[from] FormulaError),
    /// The formula evaluated to nil and there is no fallback to take replicas from.
    #[error("scalingModifiers formula evaluated to nil but no fallback is configured")]
    NilWithoutFallback,
}

impl ScalingModifiers {
    /// Validates and compiles (webhook rules: formula required, target a float > 0).
    pub fn new(
        formula: &str,
        target: &str,
        activation_target: &str,
        metric_type: MetricType,
        trigger_names: &[&str],
    ) -> Result<ScalingModifiers, ModifiersError> {
        let target_value = target
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t > 0.0)
            .ok_or_else(|| ModifiersError::InvalidTarget(target.to_owned()))?;
        let activation = if activation_target.trim().is_empty() {
            0.0
        } else {
            activation_target
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|a| a.is_finite())
                .ok_or_else(|| {
                    ModifiersError::InvalidActivationTarget(activation_target.to_owned())
                })?
        };
        Ok(ScalingModifiers {
            formula: Some(Formula::compile(formula, trigger_names)?),
            target_text: target.trim().to_owned(),
            target: target_value,
            activation_target: activation,
            metric_type,
        })
    }

    /// The composite metric from the formula; `None` inputs are `nil`. A `nil` result becomes
    /// `fallback.replicas × target`. The value is truncated to whole millis like KEDA's quantity.
    pub fn composite_value(
        &self,
        formula: &Formula,
        inputs: &[(&str, Option<f64>)],
        fallback: Option<&Fallback>,
    ) -> Result<f64, ModifiersError> {
        match formula.evaluate(inputs)? {
            Some(value) => Ok(truncate_to_millis(value)),
            None => match fallback {
                Some(f) => Ok(f64::from(f.replicas.max(0)) * self.target),
                None => Err(ModifiersError::NilWithoutFallback),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fallback::FallbackBehavior;

    #[test]
    fn target_must_be_a_positive_number() {
        for bad in ["", "0", "-1", "x"] {
            assert!(matches!(
                ScalingModifiers::new("a", bad, "", MetricType::AverageValue, &["a"]),
                Err(ModifiersError::InvalidTarget(_))
            ));
        }
        assert!(ScalingModifiers::new("a", "2.5", "1", MetricType::Value, &["a"]).is_ok());
    }

    #[test]
    fn nil_formula_result_becomes_fallback_replicas_times_target() {
        let m =
            ScalingModifiers::new("a ?? nil", "2", "", MetricType::AverageValue, &["a"]).unwrap();
        let f = m.formula.clone().unwrap();
        let fallback = Fallback {
            failure_threshold: 1,
            replicas: 10,
            behavior: FallbackBehavior::ScalingModifiers,
        };
        assert_eq!(
            m.composite_value(&f, &[("a", None)], Some(&fallback)),
            Ok(20.0)
        );
        assert_eq!(
            m.composite_value(&f, &[("a", None)], None),
            Err(ModifiersError::NilWithoutFallback)
        );
        assert_eq!(
            m.composite_value(&f, &[("a", Some(1.23456))], None),
            Ok(1.234)
        );
    }
}
