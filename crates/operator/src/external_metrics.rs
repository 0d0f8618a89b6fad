//! Serves the scale loops' values through the external metrics API: the operator's
//! [`MetricsStore`] as an `ebb_metrics_api::MetricsSource`.

use ebb_metrics_api::{ExternalMetricValue, MetricsError as ApiError, MetricsSource as ApiSource};
use futures::future::BoxFuture;

use crate::metrics_store::{MetricsError, MetricsSource, MetricsStore};

/// The store, as the external metrics API reads it.
#[derive(Clone, Debug)]
pub struct StoreSource(pub MetricsStore);

impl ApiSource for StoreSource {
    fn get_metrics<'a>(
        &'a self,
        namespace: &'a str,
        scaled_object: &'a str,
        metric_name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ExternalMetricValue>, ApiError>> {
        let answer = match self.0.metric(namespace, scaled_object, metric_name) {
            Ok(v) => Ok(vec![ExternalMetricValue::new(
                v.metric_name,
                v.value,
                v.timestamp,
            )]),
            Err(MetricsError::UnknownScaledObject { namespace, name }) => {
                Err(ApiError::ScaledObjectNotFound { namespace, name })
            }
            Err(MetricsError::UnknownMetric { metric, .. }) => Err(ApiError::MetricNotFound {
                metric_name: metric,
            }),
            // KEDA's wording for a trigger that failed without fallback.
            Err(e @ MetricsError::Failed { .. }) => Err(ApiError::Failed(e.to_string())),
        };
        Box::pin(async move { answer })
    }
}

/// Request latencies of the metrics API and webhook, into `ebb_metrics_api_request_duration_seconds`.
#[derive(Clone, Debug)]
pub struct TelemetryObserver(pub std::sync::Arc<ebb_telemetry::Metrics>);

impl ebb_metrics_api::RequestObserver for TelemetryObserver {
    fn observe(&self, request: &'static str, code: u16, seconds: f64) {
        self.0.record_metrics_api_request(request, code, seconds);
    }
}
