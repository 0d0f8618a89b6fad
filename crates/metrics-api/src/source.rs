//! Where values come from: the [`MetricsSource`] trait the operator implements, and an in-memory
//! implementation for tests, benchmarks and local mode.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use futures::future::BoxFuture;

/// One value of an external metric, as returned to the HPA.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalMetricValue {
    /// The metric name as the ScaledObject's trigger declares it (e.g. `s0-rabbitmq-orders`).
    pub metric_name: String,
    /// Labels; KEDA always sends none (`null`).
    pub metric_labels: Option<BTreeMap<String, String>>,
    /// When the value was measured.
    pub timestamp: jiff::Timestamp,
    /// The window the value covers, if any (KEDA never sets it).
    pub window_seconds: Option<i64>,
    /// The value; serialized as a milli-quantity (see [`crate::quantity::format_milli`]).
    pub value: f64,
}

impl ExternalMetricValue {
    /// A value measured at `timestamp`, without labels or window (what KEDA returns).
    pub fn new(metric_name: impl Into<String>, value: f64, timestamp: jiff::Timestamp) -> Self {
        Self {
            metric_name: metric_name.into(),
            metric_labels: None,
            timestamp,
            window_seconds: None,
            value,
        }
    }
}

/// Why values could not be produced; each maps to one HTTP code and Kubernetes reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The ScaledObject does not exist (or is not handled by this operator): 404.
    #[error("scaledobject {namespace}/{name} not found")]
    ScaledObjectNotFound {
        /// Namespace.
        namespace: String,
        /// ScaledObject name.
        name: String,
    },
    /// The ScaledObject has no metric of that name: 404.
    #[error("no matching metrics found for {metric_name}")]
    MetricNotFound {
        /// The requested metric name.
        metric_name: String,
    },
    /// Not ready to answer yet (e.g. caches not synced): 503.
    #[error("{0}")]
    Unavailable(String),
    /// Measuring failed and no fallback applies (KEDA: `metric:<name> encountered error`): 500.
    #[error("{0}")]
    Failed(String),
}

/// The values behind `GET …/namespaces/{namespace}/{metric}?labelSelector=scaledobject.keda.sh/name=<so>`.
///
/// # Contract (KEDA's `GetScaledObjectMetrics`, keda-compat §2.10–2.11)
/// - `metric_name` is passed exactly as it appears in the request path; the API server may have
///   lowercased it, so match it against the ScaledObject's metric names **case-insensitively**.
/// - Return the values of every trigger whose metric name matches (usually one); with
///   `scalingModifiers` the only name is `composite-metric`, and its value is the formula's result.
/// - For a trigger with `useCachedMetrics: true`, serve the record the scale loop last wrote if there
///   is one, otherwise measure now; every other trigger is measured now. Apply fallback on errors.
/// - No match ⇒ [`MetricsError::MetricNotFound`]; unknown ScaledObject ⇒
///   [`MetricsError::ScaledObjectNotFound`]; a failed measurement without fallback ⇒
///   [`MetricsError::Failed`].
/// - Nothing here may depend on leadership: every replica of the server calls its own source and must
///   answer correctly (measuring, or reading its own cache).
/// - It is called concurrently from many requests; keep it cheap or bounded (the HPA times out at ~30 s
///   and KEDA's own per-call budget is 3 s).
pub trait MetricsSource: Send + Sync + 'static {
    /// The current values of `metric_name` for ScaledObject `namespace/scaled_object`.
    fn get_metrics<'a>(
        &'a self,
        namespace: &'a str,
        scaled_object: &'a str,
        metric_name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ExternalMetricValue>, MetricsError>>;
}

type Key = (String, String);

/// A [`MetricsSource`] that serves values set in memory: per ScaledObject, metric name ⇒ value.
#[derive(Debug, Default)]
pub struct InMemoryMetrics {
    objects: RwLock<HashMap<Key, HashMap<String, ExternalMetricValue>>>,
}

impl InMemoryMetrics {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) one metric's value for a ScaledObject.
    pub fn set(&self, namespace: &str, scaled_object: &str, value: ExternalMetricValue) {
        let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
        objects
            .entry((namespace.to_owned(), scaled_object.to_owned()))
            .or_default()
            .insert(value.metric_name.to_ascii_lowercase(), value);
    }

    /// Forgets a ScaledObject.
    pub fn remove(&self, namespace: &str, scaled_object: &str) {
        let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
        objects.remove(&(namespace.to_owned(), scaled_object.to_owned()));
    }

    fn lookup(
        &self,
        namespace: &str,
        scaled_object: &str,
        metric_name: &str,
    ) -> Result<Vec<ExternalMetricValue>, MetricsError> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        let metrics = objects
            .get(&(namespace.to_owned(), scaled_object.to_owned()))
            .ok_or_else(|| MetricsError::ScaledObjectNotFound {
                namespace: namespace.to_owned(),
                name: scaled_object.to_owned(),
            })?;
        metrics
            .get(&metric_name.to_ascii_lowercase())
            .map(|v| vec![v.clone()])
            .ok_or_else(|| MetricsError::MetricNotFound {
                metric_name: metric_name.to_owned(),
            })
    }
}

impl MetricsSource for InMemoryMetrics {
    fn get_metrics<'a>(
        &'a self,
        namespace: &'a str,
        scaled_object: &'a str,
        metric_name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ExternalMetricValue>, MetricsError>> {
        let result = self.lookup(namespace, scaled_object, metric_name);
        Box::pin(async move { result })
    }
}
