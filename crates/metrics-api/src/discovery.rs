//! Discovery and OpenAPI documents for `external.metrics.k8s.io/v1beta1`.
//!
//! Like sample-apiserver and metrics-server, discovery, OpenAPI and health paths are served to any
//! caller that completed the TLS handshake (the aggregator fetches them with its front-proxy cert;
//! Kubernetes grants `system:discovery` to everyone anyway). Only metric values need authorization.

use serde_json::{Value, json};

use crate::external_metrics::{GROUP, GROUP_VERSION};

fn version() -> Value {
    json!({"groupVersion": GROUP_VERSION, "version": "v1beta1"})
}

/// `GET /apis/external.metrics.k8s.io`: the APIGroup.
pub fn api_group() -> Value {
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [version()],
        "preferredVersion": version(),
    })
}

/// `GET /apis`: the APIGroupList with the one group.
pub fn api_group_list() -> Value {
    let mut group = api_group();
    if let Some(g) = group.as_object_mut() {
        g.remove("kind");
        g.remove("apiVersion");
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]})
}

/// `GET /apis/external.metrics.k8s.io/v1beta1`: the APIResourceList.
pub fn api_resource_list() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [{
            "name": "externalmetrics",
            "singularName": "",
            "namespaced": true,
            "kind": "ExternalMetricValueList",
            "verbs": ["get"],
        }],
    })
}

fn value_list_schema() -> Value {
    json!({
        "type": "object",
        "required": ["items", "metadata"],
        "properties": {
            "kind": {"type": "string"},
            "apiVersion": {"type": "string"},
            "metadata": {"type": "object"},
            "items": {"type": "array", "items": {
                "type": "object",
                "required": ["metricName", "metricLabels", "timestamp", "value"],
                "properties": {
                    "metricName": {"type": "string"},
                    "metricLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "window": {"type": "integer", "format": "int64"},
                    "value": {"type": "string"},
                },
            }},
        },
        "x-kubernetes-group-version-kind": [{"group": GROUP, "version": "v1beta1", "kind": "ExternalMetricValueList"}],
    })
}

/// `GET /openapi/v2`: a minimal valid Swagger 2.0 document.
pub fn openapi_v2() -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Ebb external metrics", "version": "v1beta1"},
        "paths": {},
        "definitions": {"io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValueList": value_list_schema()},
    })
}

/// `GET /openapi/v3`: the discovery document listing the one group/version.
pub fn openapi_v3_root() -> Value {
    json!({"paths": {format!("apis/{GROUP_VERSION}"): {"serverRelativeURL": format!("/openapi/v3/apis/{GROUP_VERSION}")}}})
}

/// `GET /openapi/v3/apis/external.metrics.k8s.io/v1beta1`: a minimal valid OpenAPI 3.0 document.
pub fn openapi_v3_group_version() -> Value {
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Ebb external metrics", "version": "v1beta1"},
        "paths": {},
        "components": {"schemas": {"io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValueList": value_list_schema()}},
    })
}
