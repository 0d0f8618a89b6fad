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
