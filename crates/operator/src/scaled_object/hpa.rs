//! The HPA KEDA owns for a ScaledObject (keda-compat §2.4, App. A.1): its name, labels,
//! annotations, owner, metrics (External with the `scaledobject.keda.sh/name` selector, Resource
//! for cpu/memory, sorted by type, or one `composite-metric` with scalingModifiers), bounds and
//! behavior; created, updated when it is no longer a derivative of what we want, deleted on pause
//! and rename.

use std::collections::BTreeMap;

use ebb_api::constants::{
    API_VERSION, HPA_EXCLUDED_LABELS_ANNOTATION, SCALED_OBJECT_NAME_LABEL,
    TRANSFER_HPA_OWNERSHIP_ANNOTATION,
};
use ebb_api::scaled_object::ScaledObject;
use ebb_api::trigger::GroupVersionKindResource;
use ebb_core::{COMPOSITE_METRIC_NAME, MetricType, ScalingModifiers};
use ebb_scalers::{MetricSource, MetricSpec, MetricTargetType, TargetValue};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

/// Why the HPA could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum HpaError {
    /// No trigger produced a metric.
    #[error("no metric specs returned from scalers")]
    NoMetrics,
    /// Two triggers produced the same external metric name.
    #[error("metric name {0} is duplicated")]
    DuplicateMetric(String),
    /// An HPA with the name exists and belongs to someone else.
    #[error(
        "HPA {0} already exists and is not owned by this ScaledObject (set {TRANSFER_HPA_OWNERSHIP_ANNOTATION}: \"true\" and advanced.horizontalPodAutoscalerConfig.name to adopt it)"
    )]
    NotOwned(String),
    /// The API refused.
    #[error("failed to write HPA")]
    Api(#[from] kube::Error),
}

/// The HPA's metrics, and the names for status.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaMetrics {
    /// `spec.metrics`.
    pub metrics: Vec<Value>,
    /// `status.externalMetricNames` (trigger order).
    pub external_names: Vec<String>,
    /// `status.resourceMetricNames`.
    pub resource_names: Vec<String>,
}

fn target_json(target_type: MetricTargetType, target: &TargetValue) -> Value {
    match (target_type, target) {
        (MetricTargetType::Utilization, TargetValue::Percent(p)) => {
            json!({"type": "Utilization", "averageUtilization": p})
        }
        (MetricTargetType::Value, t) => json!({"type": "Value", "value": t.to_quantity()}),
        (_, t) => json!({"type": "AverageValue", "averageValue": t.to_quantity()}),
    }
}

/// The metrics of the HPA from every trigger's metric specs.
pub fn metrics(
    so_name: &str,
    specs: &[Vec<MetricSpec>],
    modifiers: Option<&ScalingModifiers>,
) -> Result<HpaMetrics, HpaError> {
    let selector = json!({"matchLabels": {SCALED_OBJECT_NAME_LABEL: so_name}});
    let mut out = HpaMetrics {
        metrics: Vec::new(),
        external_names: Vec::new(),
        resource_names: Vec::new(),
    };
    for spec in specs.iter().flatten() {
        match &spec.source {
            MetricSource::External => {
                if out.external_names.contains(&spec.metric_name) {
                    return Err(HpaError::DuplicateMetric(spec.metric_name.clone()));
                }
                out.external_names.push(spec.metric_name.clone());
                out.metrics.push(json!({
                    "type": "External",
                    "external": {
                        "metric": {"name": spec.metric_name, "selector": selector},
                        "target": target_json(spec.target_type, &spec.target),
                    }
                }));
            }
            MetricSource::Resource {
                resource,
                container,
            } => {
                out.resource_names.push(resource.clone());
                let target = target_json(spec.target_type, &spec.target);
                out.metrics.push(match container {
                    Some(c) => json!({"type": "ContainerResource", "containerResource": {"name": resource, "container": c, "target": target}}),
                    None => json!({"type": "Resource", "resource": {"name": resource, "target": target}}),
                });
            }
        }
    }
    if out.metrics.is_empty() {
        return Err(HpaError::NoMetrics);
    }
    if let Some(m) = modifiers.filter(|m| m.target > 0.0) {
        out.metrics.retain(|v| v["type"] != "External");
        let q = TargetValue::Float(m.target).to_quantity();
        let target = match m.metric_type {
            MetricType::Value => json!({"type": "Value", "value": q}),
            MetricType::AverageValue => json!({"type": "AverageValue", "averageValue": q}),
        };
        out.metrics.push(json!({
            "type": "External",
            "external": {"metric": {"name": COMPOSITE_METRIC_NAME, "selector": selector}, "target": target}
        }));
    }
    // KEDA sorts by the type string; a stable sort keeps trigger order within a type.
    out.metrics
        .sort_by(|a, b| a["type"].as_str().cmp(&b["type"].as_str()));
    Ok(out)
}

/// `app.kubernetes.io/name`: the HPA name cut to 63 characters, trailing non-alphanumerics trimmed.
fn name_label(hpa_name: &str) -> String {
    let cut: String = hpa_name.chars().take(63).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The whole HPA object KEDA would create.
pub fn desired(
    so: &ScaledObject,
    hpa_name: &str,
    gvkr: &GroupVersionKindResource,
    spec: &ebb_core::hpa::HpaSpec,
    metrics: &HpaMetrics,
    version: &str,
) -> Value {
    let so_name = so.metadata.name.clone().unwrap_or_default();
    let annotations = so.metadata.annotations.clone().unwrap_or_default();
    let excluded: Vec<&str> = annotations
        .get(HPA_EXCLUDED_LABELS_ANNOTATION)
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let mut labels: BTreeMap<String, String> = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), name_label(hpa_name)),
        ("app.kubernetes.io/version".to_owned(), version.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), so_name.clone()),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "keda-operator".to_owned(),
        ),
    ]);
    for (k, v) in so.metadata.labels.iter().flatten() {
        if !excluded.contains(&k.as_str()) {
            labels.insert(k.clone(), v.clone());
        }
    }
    let api_version = if gvkr.group.is_empty() {
        gvkr.version.clone()
    } else {
        format!("{}/{}", gvkr.group, gvkr.version)
    };
    let mut hpa_spec = json!({
        "scaleTargetRef": {"apiVersion": api_version, "kind": gvkr.kind, "name": so.spec.scale_target_ref.name},
        "minReplicas": spec.min_replicas,
        "maxReplicas": spec.max_replicas,
        "metrics": metrics.metrics,
    });
    let mut behavior = so
        .spec
        .hpa_behavior()
        .and_then(|b| serde_json::to_value(b).ok())
        .unwrap_or(Value::Null);
    if let Some(b) = &spec.behavior {
        for (rules, key) in [(&b.scale_down, "scaleDown"), (&b.scale_up, "scaleUp")] {
            if rules.as_ref().and_then(|r| r.select_policy)
                == Some(ebb_core::hpa::SelectPolicy::Disabled)
            {
                if !behavior.is_object() {
                    behavior = json!({});
                }
                behavior[key]["selectPolicy"] = json!("Disabled");
            }
        }
    }
    if !behavior.is_null() {
        hpa_spec["behavior"] = behavior;
    }
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": hpa_name,
            "namespace": so.metadata.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": API_VERSION,
                "kind": "ScaledObject",
                "name": so_name,
                "uid": so.metadata.uid.clone().unwrap_or_default(),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": hpa_spec,
    })
}

/// Whether every field of `want` is present and equal in `live` (fields the server defaulted are
/// ignored), KEDA's "deep derivative".
pub fn is_derivative(want: &Value, live: &Value) -> bool {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => w
            .iter()
            .all(|(k, v)| v.is_null() || l.get(k).is_some_and(|lv| is_derivative(v, lv))),
        (Value::Array(w), Value::Array(l)) => {
            w.len() == l.len() && w.iter().zip(l).all(|(a, b)| is_derivative(a, b))
        }
        (w, l) => w == l,
    }
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpaChange {
    /// Created.
    Created,
    /// Replaced.
    Updated,
    /// Already as wanted.
    Unchanged,
}

fn owned_by(live: &Value, uid: &str) -> bool {
    live["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["uid"] == uid && r["controller"] == true)
        })
}

/// Creates or updates the HPA to match `want`.
pub async fn ensure(
    client: &Client,
    so: &ScaledObject,
    want: &Value,
) -> Result<HpaChange, HpaError> {
    let namespace = so.metadata.namespace.as_deref().unwrap_or("default");
    let name = want["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(want.clone())
        .map_err(|e| HpaError::Api(kube::Error::SerdeError(e)))?;
    let Some(live) = api.get_opt(name).await? else {
        api.create(&PostParams::default(), &hpa).await?;
        return Ok(HpaChange::Created);
    };
    let live =
        serde_json::to_value(&live).map_err(|e| HpaError::Api(kube::Error::SerdeError(e)))?;
    let uid = so.metadata.uid.as_deref().unwrap_or_default();
    if !owned_by(&live, uid) {
        let transfer = so
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(TRANSFER_HPA_OWNERSHIP_ANNOTATION))
            .is_some_and(|v| v == "true");
        if !transfer {
            return Err(HpaError::NotOwned(name.to_owned()));
        }
    }
    let same = owned_by(&live, uid)
        && is_derivative(&want["spec"], &live["spec"])
        && is_derivative(&want["metadata"]["labels"], &live["metadata"]["labels"])
        && is_derivative(
            &want["metadata"]["annotations"],
            &live["metadata"]["annotations"],
        );
    if same {
        return Ok(HpaChange::Unchanged);
    }
    let mut replacement = hpa;
    replacement.metadata.resource_version = live["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_owned);
    api.replace(name, &PostParams::default(), &replacement)
        .await?;
    Ok(HpaChange::Updated)
}

/// Deletes the HPA `name` if it exists; whether it did.
pub async fn delete(client: &Client, namespace: &str, name: &str) -> Result<bool, kube::Error> {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}
