//! `GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}`: the selector, the source, and
//! the `ExternalMetricValueList` body exactly as KEDA's adapter writes it.

use serde::Serialize;

use crate::quantity::format_milli;
use crate::selector::{self, SelectorError};
use crate::source::{ExternalMetricValue, MetricsError, MetricsSource};
use crate::status::ApiStatus;

/// The API group served.
pub const GROUP: &str = "external.metrics.k8s.io";
/// The group/version served.
pub const GROUP_VERSION: &str = "external.metrics.k8s.io/v1beta1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValueList<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Empty,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    metric_name: &'a str,
    metric_labels: &'a Option<std::collections::BTreeMap<String, String>>,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<i64>,
    value: String,
}

/// The JSON body of an `ExternalMetricValueList` holding `values`.
pub fn value_list_json(values: &[ExternalMetricValue]) -> String {
    let list = ValueList {
        kind: "ExternalMetricValueList",
        api_version: GROUP_VERSION,
        metadata: Empty {},
        items: values
            .iter()
            .map(|v| Item {
                metric_name: &v.metric_name,
                metric_labels: &v.metric_labels,
                // metav1.Time marshals as RFC 3339 with whole seconds, in UTC.
                timestamp: v.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                window: v.window_seconds,
                value: format_milli(v.value),
            })
            .collect(),
    };
    serde_json::to_string(&list).unwrap_or_default()
}

/// Answers one metric request: the body on success, a Status otherwise.
pub async fn get(
    source: &dyn MetricsSource,
    namespace: &str,
    metric_name: &str,
    label_selector: Option<&str>,
) -> Result<String, ApiStatus> {
    let scaled_object =
        selector::scaled_object_name(label_selector.unwrap_or("")).map_err(|e| match e {
            SelectorError::NoScaledObject => ApiStatus::bad_request(e.to_string()),
            SelectorError::Invalid(_) => {
                ApiStatus::bad_request(format!("invalid labelSelector: {e}"))
            }
        })?;
    let values = source
        .get_metrics(namespace, &scaled_object, metric_name)
        .await
        .map_err(|e| match e {
            MetricsError::ScaledObjectNotFound { .. } | MetricsError::MetricNotFound { .. } => {
                ApiStatus::not_found(e.to_string())
            }
            MetricsError::Unavailable(_) => ApiStatus::unavailable(e.to_string()),
            MetricsError::Failed(_) => ApiStatus::internal(e.to_string()),
        })?;
    if values.is_empty() {
        return Err(ApiStatus::not_found(format!(
            "no matching metrics found for {metric_name}"
        )));
    }
    Ok(value_list_json(&values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_keda_s_byte_for_byte() {
        let ts: jiff::Timestamp = "2026-08-20T10:48:17.123Z".parse().unwrap();
        let body = value_list_json(&[ExternalMetricValue::new("s0-rabbitmq-orders", 42.0, ts)]);
        assert_eq!(
            body,
            r#"{"kind":"ExternalMetricValueList","apiVersion":"external.metrics.k8s.io/v1beta1","metadata":{},"items":[{"metricName":"s0-rabbitmq-orders","metricLabels":null,"timestamp":"2026-08-20T10:48:17Z","value":"42"}]}"#
        );
    }
}
