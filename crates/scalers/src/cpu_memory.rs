//! `cpu` and `memory` triggers: Resource / ContainerResource metric specs for the HPA (no measuring).
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `value` | M | required | `Utilization`: integer percent; `AverageValue`: a quantity (`500m`, `512Mi`) |
//! | `containerName` | M | — | makes it a ContainerResource metric |
//! | `type` | M | — | removed in KEDA 2.18: an error; use `metricType` |
//! | trigger `metricType` | — | required | `Utilization` or `AverageValue` |
//!
//! The HPA reads these metrics from metrics.k8s.io; `measure` returns no values and `is_active = true`.

use crate::error::{ConfigError, MeasureError};
use crate::metric::{MetricSource, MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The `cpu` trigger type.
pub const CPU: &str = "cpu";
/// The `memory` trigger type.
pub const MEMORY: &str = "memory";

/// Parsed `cpu`/`memory` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `cpu` or `memory`.
    pub resource: &'static str,
    /// Utilization or AverageValue.
    pub target_type: MetricTargetType,
    /// Percent or quantity.
    pub target: TargetValue,
    /// `containerName`.
    pub container: Option<String>,
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let resource = if params.trigger_type == MEMORY {
            MEMORY
        } else {
            CPU
        };
        if params.has("type", order::M_) {
            return Err(ConfigError::invalid(
                "type",
                "the 'type' setting is DEPRECATED and removed in v2.18 - use 'metricType' instead",
            ));
        }
        let raw: String = params.required("value", order::M_)?;
        let (target_type, target) = match params.metric_type.as_deref().map(str::trim).unwrap_or("")
        {
            "Utilization" => {
                let percent =
                    <i32 as crate::params::FromParam>::from_param(&raw).ok_or_else(|| {
                        ConfigError::WrongType {
                            key: "value".into(),
                            value: raw.clone(),
                            expected: "an integer",
                        }
                    })?;
                (MetricTargetType::Utilization, TargetValue::Percent(percent))
            }
            "AverageValue" => {
                if crate::metrics_api::parse_quantity(&raw).is_none() {
                    return Err(ConfigError::WrongType {
                        key: "value".into(),
                        value: raw,
                        expected: "a quantity",
                    });
                }
                (MetricTargetType::AverageValue, TargetValue::Quantity(raw))
            }
            other => {
                return Err(ConfigError::NotOneOf {
                    key: "metricType".into(),
                    value: other.to_owned(),
                    allowed: "Utilization, AverageValue".into(),
                });
            }
        };
        Ok(Self {
            resource,
            target_type,
            target,
            container: params.optional("containerName", order::M_)?,
        })
    }
}

/// The `cpu`/`memory` scaler.
#[derive(Debug)]
pub struct CpuMemoryScaler {
    config: Config,
}

/// Registry entry point (both `cpu` and `memory`).
pub fn build(params: &TriggerParams, _clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(CpuMemoryScaler {
        config: Config::from_params(params)?,
    }))
}

impl Scaler for CpuMemoryScaler {
    fn trigger_type(&self) -> &'static str {
        self.config.resource
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec {
            metric_name: self.config.resource.to_owned(),
            source: MetricSource::Resource {
                resource: self.config.resource.to_owned(),
                container: self.config.container.clone(),
            },
            target_type: self.config.target_type,
            target: self.config.target.clone(),
            activation_threshold: 0.0,
        }]
    }

    fn measure<'a>(&'a self, _poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        // KEDA: GetMetricsAndActivity returns (nil, true); the HPA measures resources itself.
        Box::pin(async {
            Ok(Measurement {
                values: vec![],
                is_active: true,
            })
        })
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests spell out their row types inline
mod tests {
    use super::*;

    fn trigger(kind: &str, meta: &[(&str, &str)], metric_type: Option<&str>) -> TriggerParams {
        let mut p = TriggerParams::new(kind, 0, meta.iter().map(|(k, v)| (*k, *v)));
        p.metric_type = metric_type.map(str::to_owned);
        p
    }

    #[test]
    fn utilization_and_average_value_become_resource_targets() {
        let s = build(
            &trigger(CPU, &[("value", "60")], Some("Utilization")),
            &Clients::new(),
        )
        .unwrap();
        let spec = &s.metric_specs()[0];
        assert_eq!(spec.target, TargetValue::Percent(60));
        assert_eq!(
            spec.source,
            MetricSource::Resource {
                resource: "cpu".into(),
                container: None
            }
        );
        let s = build(
            &trigger(
                MEMORY,
                &[("value", "512Mi"), ("containerName", "app")],
                Some("AverageValue"),
            ),
            &Clients::new(),
        )
        .unwrap();
        let spec = &s.metric_specs()[0];
        assert_eq!(
            (spec.target_type, spec.target.to_quantity()),
            (MetricTargetType::AverageValue, "512Mi".to_owned())
        );
        assert_eq!(
            spec.source,
            MetricSource::Resource {
                resource: "memory".into(),
                container: Some("app".into())
            }
        );
    }

    #[test]
    fn parameter_rules_name_the_key() {
        let cases: &[(&[(&str, &str)], Option<&str>, &str)] = &[
            (&[], Some("Utilization"), "value"),
            (&[("value", "60")], None, "metricType"),
            (&[("value", "60")], Some("Value"), "metricType"),
            (&[("value", "6.5")], Some("Utilization"), "value"),
            (&[("value", "lots")], Some("AverageValue"), "value"),
            (
                &[("value", "60"), ("type", "Utilization")],
                Some("Utilization"),
                "type",
            ),
        ];
        for (meta, metric_type, key) in cases {
            let err = Config::from_params(&trigger(CPU, meta, *metric_type)).unwrap_err();
            assert_eq!(err.key(), Some(*key), "{meta:?}: {err}");
        }
    }

    #[tokio::test]
    async fn measuring_is_always_active_with_no_values() {
        let s = build(
            &trigger(CPU, &[("value", "60")], Some("Utilization")),
            &Clients::new(),
        )
        .unwrap();
        let m = s.measure(&Poll::new()).await.unwrap();
        assert!(m.is_active && m.values.is_empty());
    }
}
