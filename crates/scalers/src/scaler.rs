//! The `Scaler` trait: pure metric specs, async measurement.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::error::MeasureError;
use crate::metric::{MetricSpec, MetricValue};
use crate::poll::Poll;

/// A boxed, sendable future (the trait is used as `dyn Scaler`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of one measurement: values for the metric specs and activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// One value per metric spec (cpu/memory: none).
    pub values: Vec<MetricValue>,
    /// KEDA's `isActive`: the value is strictly above the activation threshold.
    pub is_active: bool,
}

impl Measurement {
    /// One value for `metric_name`, active iff `value > activation`.
    pub fn single(metric_name: &str, value: f64, activation: f64) -> Self {
        Self {
            values: vec![MetricValue {
                metric_name: metric_name.to_owned(),
                value,
            }],
            is_active: value > activation,
        }
    }
}

/// One trigger, built from its params. Specs are pure; `measure` does the I/O.
pub trait Scaler: Send + Sync + fmt::Debug {
    /// The trigger type (`rabbitmq`, `redis-streams`, ...).
    fn trigger_type(&self) -> &'static str;

    /// The metrics this trigger feeds to the HPA, computed from the config alone.
    fn metric_specs(&self) -> Vec<MetricSpec>;

    /// Measures the current value(s). Identical requests within one `poll` are made once.
    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>>;
}
