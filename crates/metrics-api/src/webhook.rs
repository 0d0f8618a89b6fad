//! The validating admission webhook (AdmissionReview v1): `ebb_manifest::check_document` for the rules
//! that need only the object, then KEDA's two cluster checks for ScaledObjects (`verifyHpas`,
//! `verifyScaledObjects`) through [`ClusterLookup`].

use ebb_api::scaled_object::ScaledObject;
use ebb_manifest::admission::cluster::{verify_hpas, verify_scaled_objects};
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
        verify_hpas(&so, &hpas).map_err(|v| v.message)?;
        let others = lookup.scaled_objects(&namespace).await.map_err(|e| e.0)?;
        verify_scaled_objects(&so, &others).map_err(|v| v.message)?;
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
