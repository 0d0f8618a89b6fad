//! Server-side apply: create, update, field ownership conflicts, force, and removal of unapplied fields.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::{code, kube};

fn applied(replicas: i32, labels: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "main", "image": "x"}]}}}
    })
}

/// Server-Side Apply: applying an object that doesn't exist creates it, recording the field manager in
/// managedFields; applying again updates it.
#[tokio::test]
async fn server_side_apply_creates_then_updates() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    let pp = PatchParams::apply("ebb");
    let created = api
        .patch("web", &pp, &Patch::Apply(applied(1, json!({"a": "1"}))))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let managers: Vec<_> = created
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| m.manager.unwrap())
        .collect();
    assert_eq!(managers, ["ebb"]);
    let updated = api
        .patch("web", &pp, &Patch::Apply(applied(3, json!({"a": "1"}))))
        .await
        .unwrap();
    assert_eq!(updated.spec.unwrap().replicas, Some(3));
    assert_eq!(updated.metadata.generation, Some(2));
    // Re-applying the same configuration is a no-op: no new resourceVersion.
    let again = api
        .patch("web", &pp, &Patch::Apply(applied(3, json!({"a": "1"}))))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        updated.metadata.resource_version
    );
}

/// Server-Side Apply, "Conflicts": changing a field another manager owns is 409 unless forced; forcing
/// takes ownership.
#[tokio::test]
async fn server_side_apply_conflicts_unless_forced() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.patch(
        "web",
        &PatchParams::apply("ebb"),
        &Patch::Apply(applied(1, json!({}))),
    )
    .await
    .unwrap();
    let err = api
        .patch(
            "web",
            &PatchParams::apply("other"),
            &Patch::Apply(applied(5, json!({}))),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), 409);
    // The same value is no conflict: ownership is shared.
    api.patch(
        "web",
        &PatchParams::apply("other"),
        &Patch::Apply(applied(1, json!({}))),
    )
    .await
    .unwrap();
    let forced = api
        .patch(
            "web",
            &PatchParams::apply("other").force(),
            &Patch::Apply(applied(5, json!({}))),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().replicas, Some(5));
    // A field changed by a plain update belongs to that update's manager, so apply conflicts with it too.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .unwrap();
    let err = api
        .patch(
            "web",
            &PatchParams::apply("other"),
            &Patch::Apply(applied(7, json!({}))),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), 409);
}

/// Server-Side Apply, "Merge strategy": a field the manager applied before and no longer applies is removed.
#[tokio::test]
async fn server_side_apply_removes_fields_no_longer_applied() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    let pp = PatchParams::apply("ebb");
    api.patch(
        "web",
        &pp,
        &Patch::Apply(applied(1, json!({"a": "1", "b": "2"}))),
    )
    .await
    .unwrap();
    let d = api
        .patch("web", &pp, &Patch::Apply(applied(1, json!({"a": "1"}))))
        .await
        .unwrap();
    let labels = d.metadata.labels.unwrap();
    assert_eq!(labels.keys().collect::<Vec<_>>(), ["a"]);
}
