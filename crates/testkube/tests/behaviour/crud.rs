//! Create, get, list, update and patch semantics.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::{code, deployment, kube, reason};

/// API concepts, "Resource versions" and object metadata: the server sets uid, creationTimestamp,
/// resourceVersion, and generation 1 for kinds with a spec.
#[tokio::test]
async fn create_sets_uid_creation_timestamp_resource_version_and_generation() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    let created = api
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.uid.as_ref().map(String::len), Some(36));
    assert!(meta.creation_timestamp.is_some());
    assert!(meta.resource_version.is_some());
    assert_eq!(meta.generation, Some(1));
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    // Defaults are applied as the API server does for apps/v1.
    assert_eq!(
        created.spec.as_ref().and_then(|s| s.revision_history_limit),
        Some(10)
    );
}

/// API conventions, "Idempotency": creating a name that exists is 409 AlreadyExists.
#[tokio::test]
async fn create_of_an_existing_name_is_409_already_exists() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let err = api
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap_err();
    assert_eq!((code(&err), reason(&err).as_str()), (409, "AlreadyExists"));
}

/// Object names and IDs, "generateName": the server appends a random 5-character suffix.
#[tokio::test]
async fn generate_name_appends_a_random_suffix() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "cfg-"}})).unwrap();
    let a = api.create(&PostParams::default(), &cm).await.unwrap();
    let b = api.create(&PostParams::default(), &cm).await.unwrap();
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("cfg-") && a.len() == 9, "{a}");
    assert_ne!(a, b);
}

/// API conventions, "Response Status Kind": a missing object is 404 with a NotFound Status.
#[tokio::test]
async fn get_of_a_missing_object_is_404_not_found_status() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    let err = api.get("nope").await.unwrap_err();
    let kube::Error::Api(status) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "deployments.apps \"nope\" not found");
    assert_eq!(api.get_opt("nope").await.unwrap(), None);
}

/// Namespaces / the NamespaceLifecycle admission plugin: no objects in a namespace that doesn't exist.
#[tokio::test]
async fn create_in_a_missing_namespace_is_404() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::namespaced(kube.client(), "nowhere");
    let err = api
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap_err();
    assert_eq!(code(&err), 404);
}

/// API concepts, "Efficient detection of changes" / optimistic concurrency: an update with a stale
/// resourceVersion is 409 Conflict.
#[tokio::test]
async fn update_with_a_stale_resource_version_is_409_conflict() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    let first = api
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let mut a = first.clone();
    a.spec.as_mut().unwrap().replicas = Some(2);
    api.replace("web", &PostParams::default(), &a)
        .await
        .unwrap();
    let mut stale = first;
    stale.spec.as_mut().unwrap().replicas = Some(3);
    let err = api
        .replace("web", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!((code(&err), reason(&err).as_str()), (409, "Conflict"));
}

/// Object metadata, "generation": a sequence number of the desired state, bumped by spec changes only.
#[tokio::test]
async fn generation_bumps_on_spec_changes_only() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let pp = PatchParams::default();
    let labelled = api
        .patch(
            "web",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    let scaled = api
        .patch("web", &pp, &Patch::Merge(json!({"spec": {"replicas": 4}})))
        .await
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
    let status = api
        .patch_status(
            "web",
            &pp,
            &Patch::Merge(json!({"status": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(status.metadata.generation, Some(2));
}

/// etcd semantics: a write that changes nothing is not stored, so the resourceVersion stays.
#[tokio::test]
async fn a_no_op_update_keeps_the_resource_version() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    let created = api
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let same = api
        .replace("web", &PostParams::default(), &created)
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        created.metadata.resource_version
    );
}

/// Labels and selectors: equality- and set-based requirements (`=`, `!=`, `in`, `notin`, exists, `!key`),
/// and field selectors on metadata.name/namespace.
#[tokio::test]
async fn list_filters_by_label_and_field_selectors() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    for (name, tier) in [("a", Some("front")), ("b", Some("back")), ("c", None)] {
        let mut labels = json!({"app": "shop"});
        if let Some(t) = tier {
            labels["tier"] = json!(t);
        }
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let names = |lp: ListParams| {
        let api = api.clone();
        async move {
            let list = api.list(&lp).await.unwrap();
            list.items
                .into_iter()
                .map(|c| c.metadata.name.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(ListParams::default().labels("tier=front")).await,
        ["a"]
    );
    assert_eq!(
        names(ListParams::default().labels("tier!=front")).await,
        ["b", "c"]
    );
    assert_eq!(
        names(ListParams::default().labels("tier in (front,back)")).await,
        ["a", "b"]
    );
    assert_eq!(
        names(ListParams::default().labels("tier notin (front)")).await,
        ["b", "c"]
    );
    assert_eq!(
        names(ListParams::default().labels("tier")).await,
        ["a", "b"]
    );
    assert_eq!(names(ListParams::default().labels("!tier")).await, ["c"]);
    assert_eq!(
        names(ListParams::default().labels("app=shop,tier=back")).await,
        ["b"]
    );
    assert_eq!(
        names(ListParams::default().fields("metadata.name=c")).await,
        ["c"]
    );
    assert_eq!(
        names(ListParams::default().fields("metadata.namespace=other")).await,
        Vec::<String>::new()
    );
}

/// API concepts, "Retrieving large results sets in chunks": limit and continue.
#[tokio::test]
async fn list_paginates_with_limit_and_continue() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    for i in 0..5 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("cm-{i}")}})).unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let page1 = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page1.items.len(), 2);
    assert_eq!(page1.metadata.remaining_item_count, Some(3));
    let token = page1.metadata.continue_.clone().unwrap();
    let page2 = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(page2.items[0].metadata.name.as_deref(), Some("cm-2"));
    let page3 = api
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(page2.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(page3.items.len(), 1);
    assert!(page3.metadata.continue_.as_deref().unwrap_or("").is_empty());
    // A continue token from before a compaction has expired: 410.
    api.delete("cm-0", &DeleteParams::default()).await.unwrap();
    kube.compact();
    let err = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap_err();
    assert_eq!(code(&err), 410);
}

/// Patch flavours: JSON merge patch, JSON patch, strategic merge patch (containers merged by name).
#[tokio::test]
async fn merge_json_and_strategic_patches_apply_as_documented() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let pp = PatchParams::default();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}
    ]))
    .unwrap();
    let d = api
        .patch("web", &pp, &Patch::<()>::Json(patch))
        .await
        .unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    let smp = json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}}});
    let d = api.patch("web", &pp, &Patch::Strategic(smp)).await.unwrap();
    let containers = &d.spec.unwrap().template.spec.unwrap().containers;
    assert_eq!(
        containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["main", "sidecar"]
    );
    // A merge patch replaces lists whole.
    let merge =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}]}}}});
    let d = api.patch("web", &pp, &Patch::Merge(merge)).await.unwrap();
    assert_eq!(d.spec.unwrap().template.spec.unwrap().containers.len(), 1);
    // A merge patch carrying a stale resourceVersion is a precondition, like an update's.
    let stale = json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 9}});
    let err = api
        .patch("web", &pp, &Patch::Merge(stale))
        .await
        .unwrap_err();
    assert_eq!(code(&err), 409);
    api.delete("web", &DeleteParams::default()).await.unwrap();
}

/// Custom resources have no strategic merge patch: the real server answers 415 Unsupported Media Type.
#[tokio::test]
async fn strategic_merge_patch_on_a_custom_resource_is_415() {
    let kube = kube().await;
    let api: Api<ebb_api::ScaledObject> = Api::default_namespaced(kube.client());
    api.create(
        &PostParams::default(),
        &crate::subresources::scaled_object("so"),
    )
    .await
    .unwrap();
    let err = api
        .patch(
            "so",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"minReplicaCount": 2}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), 415);
    let ok = api
        .patch(
            "so",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"minReplicaCount": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(ok.spec.min_replica_count, Some(2));
}
