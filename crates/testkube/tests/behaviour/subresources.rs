//! The status and scale subresources, for built-in kinds and CRDs.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;

use crate::{code, deployment, kube};

pub(crate) fn scaled_object(name: &str) -> ebb_api::ScaledObject {
    serde_json::from_value(json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "triggers": [{"type": "cron", "metadata": {"timezone": "UTC", "start": "0 8 * * *", "end": "0 9 * * *", "desiredReplicas": "3"}}]
        }
    }))
    .expect("valid ScaledObject")
}

/// Custom resources, "Status subresource": the main resource ignores .status, /status ignores
/// everything but .status — shown with an Ebb ScaledObject.
#[tokio::test]
async fn status_subresource_isolates_status_from_spec() {
    let kube = kube().await;
    let api: Api<ebb_api::ScaledObject> = Api::default_namespaced(kube.client());
    let mut so = scaled_object("so");
    so.status = Some(serde_json::from_value(json!({"originalReplicaCount": 7})).unwrap());
    let created = api.create(&PostParams::default(), &so).await.unwrap();
    assert_eq!(created.status, None, "status is not settable on create");

    let mut with_status = created.clone();
    with_status.status = Some(serde_json::from_value(json!({"originalReplicaCount": 3})).unwrap());
    with_status.spec.min_replica_count = Some(5);
    let after_status = api
        .replace_status("so", &PostParams::default(), &with_status)
        .await
        .unwrap();
    assert_eq!(
        after_status
            .status
            .as_ref()
            .and_then(|s| s.original_replica_count),
        Some(3)
    );
    assert_eq!(
        after_status.spec.min_replica_count, None,
        "spec is ignored on /status"
    );
    assert_eq!(after_status.metadata.generation, Some(1));

    let mut with_spec = after_status.clone();
    with_spec.spec.min_replica_count = Some(1);
    with_spec.status = None;
    let after_spec = api
        .replace("so", &PostParams::default(), &with_spec)
        .await
        .unwrap();
    assert_eq!(after_spec.spec.min_replica_count, Some(1));
    assert_eq!(
        after_spec
            .status
            .as_ref()
            .and_then(|s| s.original_replica_count),
        Some(3),
        "status kept"
    );
    assert_eq!(after_spec.metadata.generation, Some(2));
}

/// Custom resources require a resourceVersion on update (no unconditional update), unlike most built-ins.
#[tokio::test]
async fn custom_resource_update_without_resource_version_is_invalid() {
    let kube = kube().await;
    let api: Api<ebb_api::ScaledObject> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &scaled_object("so"))
        .await
        .unwrap();
    let err = api
        .replace("so", &PostParams::default(), &scaled_object("so"))
        .await
        .unwrap_err();
    assert_eq!(code(&err), 422);
}

/// Scale subresource of apps/v1 Deployments: GET, PUT and PATCH of an autoscaling/v1 Scale.
#[tokio::test]
async fn scale_subresource_reads_and_writes_deployment_replicas() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &deployment("web", 2))
        .await
        .unwrap();
    let scale = api.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(
        scale
            .status
            .as_ref()
            .and_then(|s| s.selector.clone())
            .as_deref(),
        Some("app=web")
    );

    let mut put: Scale = scale.clone();
    put.spec.as_mut().unwrap().replicas = Some(5);
    let after = api
        .replace_scale("web", &PostParams::default(), &put)
        .await
        .unwrap();
    assert_eq!(after.spec.and_then(|s| s.replicas), Some(5));
    // The stale Scale's resourceVersion now conflicts.
    let err = api
        .replace_scale("web", &PostParams::default(), &put)
        .await
        .unwrap_err();
    assert_eq!(code(&err), 409);

    let patched = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.and_then(|s| s.replicas), Some(0));
    let d = api.get("web").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(0));
    assert_eq!(
        d.metadata.generation,
        Some(3),
        "each replica change is a spec change"
    );
}

/// Custom resources, "Scale subresource": specReplicasPath, statusReplicasPath and labelSelectorPath.
#[tokio::test]
async fn scale_subresource_of_a_crd_follows_its_json_paths() {
    let kube = kube().await;
    let crds: Api<CustomResourceDefinition> = Api::all(kube.client());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "workers.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Worker", "plural": "workers", "singular": "worker"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}, "scale": {
                    "specReplicasPath": ".spec.count",
                    "statusReplicasPath": ".status.count",
                    "labelSelectorPath": ".status.selector"}}}]
        }
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Worker");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "workers");
    let api: Api<DynamicObject> = Api::default_namespaced_with(kube.client(), &ar);
    let mut w = DynamicObject::new("w", &ar);
    w.data = json!({"spec": {"count": 2}});
    api.create(&PostParams::default(), &w).await.unwrap();
    api.patch_status(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"count": 2, "selector": "app=w"}})),
    )
    .await
    .unwrap();
    let scale = api.get_scale("w").await.unwrap();
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    let status = scale.status.unwrap();
    assert_eq!(
        (status.replicas, status.selector.as_deref()),
        (2, Some("app=w"))
    );
    api.patch_scale(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 6}})),
    )
    .await
    .unwrap();
    assert_eq!(api.get("w").await.unwrap().data["spec"]["count"], 6);
}
