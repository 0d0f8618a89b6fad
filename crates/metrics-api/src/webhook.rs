//! The validating admission webhook (AdmissionReview v1): `ebb_manifest::check_document` for the rules
//! that need only the object, then KEDA's two cluster checks for ScaledObjects (`verifyHpas`,
//! `verifyScaledObjects`) through [`ClusterLookup`].

use ebb_api::constants::{TRANSFER_HPA_OWNERSHIP_ANNOTATION, VALIDATIONS_HPA_OWNERSHIP_ANNOTATION};
use ebb_api::scaled_object::ScaledObject;
use futures::future::BoxFuture;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use serde_json::Value;

use crate::status::ApiStatus;

/// The kinds with a webhook path (`/validate-keda-sh-v1alpha1-<lowercase kind>`).
pub const KINDS: [&str; 4] = [
    "ScaledObject",
    "ScaledJob",
    "TriggerAuthentication",
    "ClusterTriggerAuthentication",
];

/// A cluster lookup failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// The reads the webhook needs; the operator implements it over its informer caches, and
/// [`KubeClusterLookup`] over a plain client.
pub trait ClusterLookup: Send + Sync + 'static {
    /// HorizontalPodAutoscalers in `namespace`.
    fn hpas<'a>(
        &'a self,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HorizontalPodAutoscaler>, LookupError>>;
    /// ScaledObjects in `namespace`.
    fn scaled_objects<'a>(
        &'a self,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ScaledObject>, LookupError>>;
}

/// [`ClusterLookup`] by listing through the API server.
#[derive(Clone)]
pub struct KubeClusterLookup {
    client: kube::Client,
}

impl KubeClusterLookup {
    /// Lists through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

impl ClusterLookup for KubeClusterLookup {
    fn hpas<'a>(
        &'a self,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HorizontalPodAutoscaler>, LookupError>> {
        Box::pin(async move {
            let api: kube::Api<HorizontalPodAutoscaler> =
                kube::Api::namespaced(self.client.clone(), namespace);
            api.list(&Default::default())
                .await
                .map(|l| l.items)
                .map_err(|e| LookupError(e.to_string()))
        })
    }

    fn scaled_objects<'a>(
        &'a self,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ScaledObject>, LookupError>> {
        Box::pin(async move {
            let api: kube::Api<ScaledObject> =
                kube::Api::namespaced(self.client.clone(), namespace);
            api.list(&Default::default())
                .await
                .map(|l| l.items)
                .map_err(|e| LookupError(e.to_string()))
        })
    }
}

/// The kind served at `path` (without the leading slash).
pub(crate) fn kind_for_path(path: &str) -> Option<&'static str> {
    let suffix = path.strip_prefix("validate-keda-sh-v1alpha1-")?;
    KINDS.into_iter().find(|k| k.eq_ignore_ascii_case(suffix))
}

/// Answers one AdmissionReview body with an AdmissionReview; `Err` for a body that is not one.
pub(crate) async fn review(
    lookup: &dyn ClusterLookup,
    kind: &str,
    body: &[u8],
) -> Result<Value, ApiStatus> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body)
        .map_err(|e| ApiStatus::bad_request(format!("invalid AdmissionReview: {e}")))?;
    let request: AdmissionRequest<DynamicObject> = review
        .try_into()
        .map_err(|e| ApiStatus::bad_request(format!("invalid AdmissionReview: {e}")))?;
    let response = match decide(lookup, kind, &request).await {
        Ok(()) => AdmissionResponse::from(&request),
        Err(message) => AdmissionResponse::from(&request).deny(message),
    };
    serde_json::to_value(response.into_review()).map_err(|e| ApiStatus::internal(e.to_string()))
}

async fn decide(
    lookup: &dyn ClusterLookup,
    kind: &str,
    request: &AdmissionRequest<DynamicObject>,
) -> Result<(), String> {
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return Ok(());
    }
    let Some(object) = &request.object else {
        return Ok(());
    };
    let value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    if request.operation == Operation::Update
        && let Some(old) = &request.old_object
        && only_removes_finalizers(&serde_json::to_value(old).unwrap_or_default(), &value)
    {
        return Ok(());
    }
    let loaded = ebb_manifest::parse_text("admission", &value.to_string());
    let Some(doc) = loaded.documents.first() else {
        return Err(loaded
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "the object could not be read".into()));
    };
    if doc.kind() != kind {
        return Err(format!("expected a {kind}, got a {}", doc.kind()));
    }
    if let Some(checked) = ebb_manifest::check_document(doc)
        && !checked.is_valid()
    {
        // KEDA's webhook answers with the rule's own words, without a field path.
        let messages: Vec<&str> = checked
            .violations
            .iter()
            .map(|v| v.message.as_str())
            .collect();
        return Err(messages.join("; "));
    }
    if kind == "ScaledObject" {
        let so: ScaledObject = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let namespace = so
            .metadata
            .namespace
            .clone()
            .or_else(|| request.namespace.clone())
            .unwrap_or_else(|| "default".into());
        let hpas = lookup.hpas(&namespace).await.map_err(|e| e.0)?;
        verify_hpas(&so, &hpas)?;
        let others = lookup.scaled_objects(&namespace).await.map_err(|e| e.0)?;
        verify_scaled_objects(&so, &others)?;
    }
    Ok(())
}

/// An update that only drops finalizers and leaves the spec alone is never re-checked (KEDA).
fn only_removes_finalizers(old: &Value, new: &Value) -> bool {
    let finalizers = |v: &Value| -> Vec<String> {
        v.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (before, after) = (finalizers(old), finalizers(new));
    old.get("spec") == new.get("spec")
        && after.len() < before.len()
        && after.iter().all(|f| before.contains(f))
}

/// KEDA's `GVKString()`: `<group>/<version>.<kind>` (`apps/v1.Deployment`, `/v1.Pod` for core).
fn gvk_string(api_version: Option<&str>, kind: Option<&str>) -> String {
    let api_version = api_version.filter(|s| !s.is_empty()).unwrap_or("apps/v1");
    let kind = kind.filter(|s| !s.is_empty()).unwrap_or("Deployment");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}.{kind}")
}

fn so_target(so: &ScaledObject) -> (String, &str) {
    let t = &so.spec.scale_target_ref;
    (
        gvk_string(t.api_version.as_deref(), t.kind.as_deref()),
        t.name.as_str(),
    )
}

/// KEDA's `verifyHpas`.
pub fn verify_hpas(so: &ScaledObject, hpas: &[HorizontalPodAutoscaler]) -> Result<(), String> {
    let (gvk, target) = so_target(so);
    let so_name = so.metadata.name.as_deref().unwrap_or_default();
    let annotations = so.metadata.annotations.clone().unwrap_or_default();
    for hpa in hpas {
        let hpa_annotations = hpa.metadata.annotations.clone().unwrap_or_default();
        if hpa_annotations
            .get(VALIDATIONS_HPA_OWNERSHIP_ANNOTATION)
            .is_some_and(|v| v == "false")
        {
            continue;
        }
        let Some(spec) = &hpa.spec else { continue };
        let r = &spec.scale_target_ref;
        let hpa_gvk = gvk_string(r.api_version.as_deref(), Some(&r.kind));
        if hpa_gvk != gvk || r.name != target {
            continue;
        }
        let owned = hpa
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "ScaledObject" && o.name == so_name);
        if owned {
            continue;
        }
        let hpa_name = hpa.metadata.name.as_deref().unwrap_or_default();
        let transfer = annotations
            .get(TRANSFER_HPA_OWNERSHIP_ANNOTATION)
            .is_some_and(|v| v == "true");
        let named = so
            .spec
            .advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
            .and_then(|c| c.name.as_deref())
            == Some(hpa_name);
        if transfer && named {
            continue;
        }
        return Err(format!(
            "the workload '{target}' of type '{gvk}' is already managed by the hpa '{hpa_name}'"
        ));
    }
    Ok(())
}

/// KEDA's `verifyScaledObjects` (the target and HPA-name clashes).
pub fn verify_scaled_objects(so: &ScaledObject, others: &[ScaledObject]) -> Result<(), String> {
    let (gvk, target) = so_target(so);
    let hpa_name = so.hpa_name();
    for other in others {
        if other.metadata.name == so.metadata.name {
            continue;
        }
        let other_name = other.metadata.name.as_deref().unwrap_or_default();
        let (other_gvk, other_target) = so_target(other);
        if other_gvk == gvk && other_target == target {
            return Err(format!(
                "the workload '{other_target}' of type '{gvk}' is already managed by the ScaledObject '{other_name}'"
            ));
        }
        if other.hpa_name() == hpa_name {
            return Err(format!(
                "the HPA '{hpa_name}' is already managed by the ScaledObject '{other_name}'"
            ));
        }
    }
    Ok(())
}
