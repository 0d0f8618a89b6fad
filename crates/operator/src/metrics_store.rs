//! The latest metric values of every ScaledObject, written by the scale loops and read by the
//! external metrics API (issue #6) through [`MetricsSource`].
//!
//! Keyed by (namespace, ScaledObject name, metric name). Values are what the HPA must see: after
//! fallback, and the `composite-metric` when scalingModifiers are used.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use jiff::Timestamp;

/// One metric value as the external metrics API serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// The metric name as the ScaledObject's status lists it (`s0-metric-api-value`).
    pub metric_name: String,
    /// The value (post-fallback).
    pub value: f64,
    /// When the scale loop measured it.
    pub timestamp: Timestamp,
}

/// Why a metric cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// No scale loop has reported this ScaledObject (unknown, paused or not polled yet).
    #[error("no metrics for ScaledObject {namespace}/{name}")]
    UnknownScaledObject {
        /// Namespace.
        namespace: String,
        /// ScaledObject name.
        name: String,
    },
    /// The ScaledObject has no such metric.
    #[error("ScaledObject {namespace}/{name} has no metric {metric}")]
    UnknownMetric {
        /// Namespace.
        namespace: String,
        /// ScaledObject name.
        name: String,
        /// The metric asked for.
        metric: String,
    },
    /// The trigger failed at the last poll and no fallback covers it.
    #[error("metric:{metric} encountered error: {error}")]
    Failed {
        /// The metric.
        metric: String,
        /// The scaler's error.
        error: String,
    },
}

/// What the external metrics API reads from.
pub trait MetricsSource: Send + Sync {
    /// The value of `metric` of ScaledObject `namespace/name`; metric names match case-insensitively
    /// (the API path may lowercase them).
    fn metric(
        &self,
        namespace: &str,
        name: &str,
        metric: &str,
    ) -> Result<MetricValue, MetricsError>;
}

/// One metric of one object at the last poll: a value, or the error it failed with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reading {
    pub(crate) metric_name: String,
    pub(crate) value: Result<f64, String>,
}

type Key = (String, String);
type Readings = HashMap<Key, (Timestamp, Vec<Reading>)>;

/// The shared store; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MetricsStore {
    inner: Arc<RwLock<Readings>>,
}

impl MetricsStore {
    /// An empty store.
    pub fn new() -> MetricsStore {
        MetricsStore::default()
    }

    /// Replaces the readings of one object (one scale loop poll).
    pub(crate) fn record(
        &self,
        namespace: &str,
        name: &str,
        at: Timestamp,
        readings: Vec<Reading>,
    ) {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        map.insert((namespace.to_owned(), name.to_owned()), (at, readings));
    }

    /// Forgets an object (its loop stopped: paused or deleted).
    pub(crate) fn remove(&self, namespace: &str, name: &str) {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// How many objects have readings.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no object has readings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MetricsSource for MetricsStore {
    fn metric(
        &self,
        namespace: &str,
        name: &str,
        metric: &str,
    ) -> Result<MetricValue, MetricsError> {
        let map = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let Some((at, readings)) = map.get(&(namespace.to_owned(), name.to_owned())) else {
            return Err(MetricsError::UnknownScaledObject {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        };
        let Some(reading) = readings
            .iter()
            .find(|r| r.metric_name.eq_ignore_ascii_case(metric))
        else {
            return Err(MetricsError::UnknownMetric {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                metric: metric.to_owned(),
            });
        };
        match &reading.value {
            Ok(value) => Ok(MetricValue {
                metric_name: reading.metric_name.clone(),
                value: *value,
                timestamp: *at,
            }),
            Err(error) => Err(MetricsError::Failed {
                metric: reading.metric_name.clone(),
                error: error.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_match_case_insensitively_and_errors_are_served_as_errors() {
        let store = MetricsStore::new();
        store.record(
            "shop",
            "orders",
            Timestamp::UNIX_EPOCH,
            vec![
                Reading {
                    metric_name: "s0-metric-api-Value".into(),
                    value: Ok(4.0),
                },
                Reading {
                    metric_name: "s1-redis-q".into(),
                    value: Err("down".into()),
                },
            ],
        );
        assert_eq!(
            store
                .metric("shop", "orders", "s0-metric-api-value")
                .map(|m| m.value),
            Ok(4.0)
        );
        assert!(matches!(
            store.metric("shop", "orders", "s1-redis-q"),
            Err(MetricsError::Failed { .. })
        ));
        assert!(matches!(
            store.metric("shop", "x", "m"),
            Err(MetricsError::UnknownScaledObject { .. })
        ));
        store.remove("shop", "orders");
        assert!(store.is_empty());
    }
}
