//! AdmissionReview round trips over TLS, with cluster lookups against ebb-testkube.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on broken fixtures, like the tests

mod support;

use std::sync::Arc;

use ebb_metrics_api::KubeClusterLookup;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde_json::{Value, json};
use support::{Proto, connect, start};

fn so(name: &str, target: &str, extra_spec: Value) -> Value {
    let mut spec = json!({
        "scaleTargetRef": {"name": target},
        "triggers": [{"type": "cron", "metadata": {"timezone": "Etc/UTC", "start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "3"}}],
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra_spec.as_object()) {
        s.extend(e.clone());
    }
    json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
           "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

fn review(uid: &str, operation: &str, object: &Value, old: Option<&Value>) -> String {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "keda.sh", "version": "v1alpha1", "kind": "ScaledObject"},
            "resource": {"group": "keda.sh", "version": "v1alpha1", "resource": "scaledobjects"},
            "name": object["metadata"]["name"],
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": old,
            "dryRun": false,
        }
    })
    .to_string()
}

async fn fixture() -> (support::Fixture, ebb_testkube::TestKube) {
    let kube = ebb_testkube::TestKube::builder()
        .crds(ebb_api::crds::all())
        .start()
        .await
        .unwrap();
    let lookup = Arc::new(KubeClusterLookup::new(kube.client()));
    let f = start(|b| b.webhook(lookup)).await;
    (f, kube)
}

async fn admit(f: &support::Fixture, body: String) -> Value {
    let mut c = connect(f.addr, &f.server_ca.pem, None, Proto::H2)
        .await
        .unwrap();
    let r = c
        .request(
            "POST",
            "/validate-keda-sh-v1alpha1-scaledobject",
            &[],
            Some(body),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn a_valid_scaled_object_is_allowed() {
    let (f, _kube) = fixture().await;
    let answer = admit(
        &f,
        review("u1", "CREATE", &so("web", "web", json!({})), None),
    )
    .await;
    assert_eq!(
        answer,
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "response": {"uid": "u1", "allowed": true, "status": {}}})
    );
}

#[tokio::test]
async fn admission_rules_come_from_ebb_manifest() {
    let (f, _kube) = fixture().await;
    let bad = so(
        "web",
        "web",
        json!({"minReplicaCount": 5, "maxReplicaCount": 2}),
    );
    let answer = admit(&f, review("u2", "CREATE", &bad, None)).await;
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(answer["response"]["uid"], "u2");
    assert_eq!(
        answer["response"]["status"]["message"],
        "MinReplicaCount=5 must be less than MaxReplicaCount=2"
    );
}

#[tokio::test]
async fn another_hpa_on_the_target_is_denied_unless_ownership_is_transferred() {
    let (f, kube) = fixture().await;
    let hpas: kube::Api<HorizontalPodAutoscaler> = kube::Api::namespaced(kube.client(), "default");
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "legacy"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 3}
    }))
    .unwrap();
    hpas.create(&Default::default(), &hpa).await.unwrap();

    let answer = admit(
        &f,
        review("u3", "CREATE", &so("web", "web", json!({})), None),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(
        answer["response"]["status"]["message"],
        "the workload 'web' of type 'apps/v1.Deployment' is already managed by the hpa 'legacy'"
    );

    let mut transfer = so(
        "web",
        "web",
        json!({"advanced": {"horizontalPodAutoscalerConfig": {"name": "legacy"}}}),
    );
    transfer["metadata"]["annotations"] =
        json!({"scaledobject.keda.sh/transfer-hpa-ownership": "true"});
    let answer = admit(&f, review("u4", "CREATE", &transfer, None)).await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");

    // Another target is not affected.
    let answer = admit(
        &f,
        review("u5", "CREATE", &so("api", "api", json!({})), None),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], true);
}

#[tokio::test]
async fn a_second_scaled_object_on_the_same_target_is_denied() {
    let (f, kube) = fixture().await;
    let api: kube::Api<ebb_api::scaled_object::ScaledObject> =
        kube::Api::namespaced(kube.client(), "default");
    let first: ebb_api::scaled_object::ScaledObject =
        serde_json::from_value(so("first", "web", json!({}))).unwrap();
    api.create(&Default::default(), &first).await.unwrap();
    let answer = admit(
        &f,
        review("u6", "CREATE", &so("second", "web", json!({})), None),
    )
    .await;
    assert_eq!(
        answer["response"]["status"]["message"],
        "the workload 'web' of type 'apps/v1.Deployment' is already managed by the ScaledObject 'first'"
    );
    let same_hpa = so(
        "third",
        "other",
        json!({"advanced": {"horizontalPodAutoscalerConfig": {"name": "keda-hpa-first"}}}),
    );
    let answer = admit(&f, review("u7", "CREATE", &same_hpa, None)).await;
    assert_eq!(
        answer["response"]["status"]["message"],
        "the HPA 'keda-hpa-first' is already managed by the ScaledObject 'first'"
    );
}

#[tokio::test]
async fn an_update_that_only_removes_a_finalizer_is_not_checked() {
    let (f, _kube) = fixture().await;
    let mut old = so(
        "web",
        "web",
        json!({"minReplicaCount": 5, "maxReplicaCount": 2}),
    );
    old["metadata"]["finalizers"] = json!(["finalizer.keda.sh"]);
    let new = so(
        "web",
        "web",
        json!({"minReplicaCount": 5, "maxReplicaCount": 2}),
    );
    let answer = admit(&f, review("u8", "UPDATE", &new, Some(&old))).await;
    assert_eq!(answer["response"]["allowed"], true);
}

#[tokio::test]
async fn unknown_webhook_paths_are_404() {
    let (f, _kube) = fixture().await;
    let mut c = connect(f.addr, &f.server_ca.pem, None, Proto::H1)
        .await
        .unwrap();
    let r = c
        .request(
            "POST",
            "/validate-keda-sh-v1alpha1-nothing",
            &[],
            Some("{}".into()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
}
