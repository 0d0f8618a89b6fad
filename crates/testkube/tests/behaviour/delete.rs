//! Deletion: finalizers, propagation policies and garbage collection of owned objects, namespaces.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::{deployment, eventually, kube};

fn owned_config_map(name: &str, owner: &Deployment) -> ConfigMap {
    let owner_ref = owner.controller_owner_ref(&()).unwrap();
    let mut cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    cm.metadata.owner_references = Some(vec![owner_ref]);
    cm
}

/// Finalizers: deletion of an object with finalizers sets deletionTimestamp and keeps the object until the
/// finalizers are removed; then it is gone.
#[tokio::test]
async fn delete_with_a_finalizer_waits_until_the_finalizer_is_removed() {
    let kube = kube().await;
    let api: Api<ebb_api::ScaledObject> = Api::default_namespaced(kube.client());
    let mut so = crate::subresources::scaled_object("so");
    so.metadata.finalizers = Some(vec!["finalizer.keda.sh".into()]);
    api.create(&PostParams::default(), &so).await.unwrap();
    api.delete("so", &DeleteParams::default()).await.unwrap();
    let terminating = api.get("so").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    // No new finalizers while terminating.
    let add = json!({"metadata": {"finalizers": ["finalizer.keda.sh", "other"]}});
    assert!(
        api.patch("so", &PatchParams::default(), &Patch::Merge(add))
            .await
            .is_err()
    );
    api.patch(
        "so",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api.get_opt("so").await.unwrap(), None);
}

/// Garbage collection, "Background cascading deletion": dependents with an ownerReference to a deleted
/// owner are deleted by the garbage collector after the owner is gone.
#[tokio::test]
async fn background_deletion_garbage_collects_owned_objects() {
    let kube = kube().await;
    let deployments: Api<Deployment> = Api::default_namespaced(kube.client());
    let cms: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let owner = deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &owned_config_map("dep", &owner))
        .await
        .unwrap();
    deployments
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    assert_eq!(
        deployments.get_opt("web").await.unwrap(),
        None,
        "the owner goes at once"
    );
    eventually("the dependent is collected", || async {
        cms.get_opt("dep").await.unwrap().is_none()
    })
    .await;
}

/// Garbage collection, "Foreground cascading deletion": the owner stays (deletionTimestamp, the
/// foregroundDeletion finalizer) until its dependents are deleted.
#[tokio::test]
async fn foreground_deletion_removes_dependents_before_the_owner() {
    let kube = kube().await;
    let deployments: Api<Deployment> = Api::default_namespaced(kube.client());
    let cms: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let owner = deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let mut dep = owned_config_map("dep", &owner);
    dep.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &dep).await.unwrap();
    deployments
        .delete("web", &DeleteParams::foreground())
        .await
        .unwrap();
    let held = deployments.get("web").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        held.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()])
    );
    eventually("the dependent is terminating", || async {
        cms.get("dep")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    assert!(
        deployments.get_opt("web").await.unwrap().is_some(),
        "the owner waits for its dependent"
    );
    cms.patch(
        "dep",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually("the owner is deleted", || async {
        deployments.get_opt("web").await.unwrap().is_none()
    })
    .await;
}

/// Garbage collection, "Orphaned dependents": with propagationPolicy Orphan the dependents stay and lose
/// their ownerReference.
#[tokio::test]
async fn orphan_deletion_keeps_dependents_and_drops_their_owner_reference() {
    let kube = kube().await;
    let deployments: Api<Deployment> = Api::default_namespaced(kube.client());
    let cms: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let owner = deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &owned_config_map("dep", &owner))
        .await
        .unwrap();
    deployments
        .delete("web", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually("the owner is deleted", || async {
        deployments.get_opt("web").await.unwrap().is_none()
    })
    .await;
    let dep = cms.get("dep").await.unwrap();
    assert_eq!(dep.metadata.owner_references, None);
}

/// Namespaces, "Deleting a namespace": it turns Terminating, its content is deleted, then it goes.
#[tokio::test]
async fn deleting_a_namespace_deletes_its_content_first() {
    let kube = kube().await;
    let namespaces: Api<Namespace> = Api::all(kube.client());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(kube.client(), "team");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    namespaces
        .delete("team", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the namespace is gone", || async {
        namespaces.get_opt("team").await.unwrap().is_none()
    })
    .await;
    assert!(kube.objects("", "configmaps", "team").is_empty());
}
