//! The HPA KEDA would create (keda-compat App. A.1), custom names and renames.

use std::time::Duration;

use serde_json::json;

use crate::common::{World, eventually, metrics_api_so};

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpa_is_exactly_the_one_keda_creates_for_appendix_a1() {
    let world = World::start().await;
    world
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}))
        .await;
    world.deployment("shop", "worker", 2).await;
    world
        .create(json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "orders", "namespace": "shop", "labels": {"team": "a"}, "annotations": {"note": "x"}},
            "spec": {
                "scaleTargetRef": {"name": "worker"},
                "minReplicaCount": 0, "maxReplicaCount": 10,
                // Short polls: under load a reconcile can still set Ready=True after the first
                // poll's TriggerError (as in KEDA); the next poll sets it again.
                "pollingInterval": 2,
                "triggers": [
                    {"type": "rabbitmq", "metadata": {"queueName": "orders", "mode": "QueueLength", "value": "5", "hostFromEnv": "RABBIT_URL"},
                     "authenticationRef": {"name": "rabbit-auth"}},
                    {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}
                ]
            }
        }))
        .await;
    let hpa = eventually("the HPA", T, || world.hpa("shop", "keda-hpa-orders")).await;
    let uid = world.so("shop", "orders").unwrap()["metadata"]["uid"].clone();
    let mut meta = hpa["metadata"].clone();
    let meta = meta.as_object_mut().unwrap();
    meta.retain(|k, _| {
        [
            "name",
            "namespace",
            "labels",
            "annotations",
            "ownerReferences",
        ]
        .contains(&k.as_str())
    });
    assert_eq!(
        json!(meta),
        json!({
            "name": "keda-hpa-orders",
            "namespace": "shop",
            "labels": {
                "app.kubernetes.io/name": "keda-hpa-orders",
                "app.kubernetes.io/version": "2.18.0",
                "app.kubernetes.io/part-of": "orders",
                "app.kubernetes.io/managed-by": "keda-operator",
                "scaledobject.keda.sh/name": "orders",
                "team": "a"
            },
            "annotations": {"note": "x"},
            "ownerReferences": [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "orders", "uid": uid, "controller": true, "blockOwnerDeletion": true}]
        })
    );
    assert_eq!(
        hpa["spec"],
        json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [
                {"type": "External", "external": {
                    "metric": {"name": "s0-rabbitmq-orders", "selector": {"matchLabels": {"scaledobject.keda.sh/name": "orders"}}},
                    "target": {"type": "AverageValue", "averageValue": "5"}}},
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}
            ]
        })
    );
    let so = eventually("status", T, || {
        let so = world.so("shop", "orders")?;
        so["status"]["hpaName"].is_string().then_some(so)
    })
    .await;
    let s = &so["status"];
    assert_eq!(s["scaleTargetKind"], "apps/v1.Deployment");
    assert_eq!(
        s["scaleTargetGVKR"],
        json!({"group": "apps", "version": "v1", "kind": "Deployment", "resource": "deployments"})
    );
    assert_eq!(s["originalReplicaCount"], 2);
    assert_eq!(s["externalMetricNames"], json!(["s0-rabbitmq-orders"]));
    assert_eq!(s["resourceMetricNames"], json!(["cpu"]));
    assert_eq!(s["triggersTypes"], "rabbitmq,cpu");
    assert_eq!(s["authenticationsTypes"], "rabbit-auth");
    assert_eq!(
        so["metadata"]["labels"]["scaledobject.keda.sh/name"],
        "orders"
    );
    assert_eq!(so["metadata"]["finalizers"], json!(["finalizer.keda.sh"]));
    // Reconciled fine (ScaledObjectReady event); no RabbitMQ listens on port 1, so the first poll
    // finds the object inactive with a failing trigger and no fallback: KEDA's TriggerError.
    eventually("ScaledObjectReady event", T, || {
        world
            .event_reasons("shop", "orders")
            .contains(&"ScaledObjectReady".to_owned())
            .then_some(())
    })
    .await;
    let ready = eventually("TriggerError", T, || {
        world
            .condition("shop", "orders", "Ready")
            .filter(|c| c.1 == "TriggerError")
    })
    .await;
    assert_eq!(ready.0, "False");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_hpa_name_is_used_and_a_rename_deletes_the_old_hpa() {
    let world = World::start().await;
    world.deployment("default", "app", 1).await;
    let so = metrics_api_so(
        &world,
        "default",
        "named",
        "app",
        "named",
        json!({
            "advanced": {"horizontalPodAutoscalerConfig": {"name": "first-hpa"}}
        }),
    );
    world.create(so).await;
    eventually("first-hpa", T, || world.hpa("default", "first-hpa")).await;
    assert!(world.hpa("default", "keda-hpa-named").is_none());
    world
        .patch_so("default", "named", json!({"spec": {"advanced": {"horizontalPodAutoscalerConfig": {"name": "second-hpa"}}}}))
        .await;
    eventually("second-hpa", T, || world.hpa("default", "second-hpa")).await;
    eventually("first-hpa gone", T, || {
        world.hpa("default", "first-hpa").is_none().then_some(())
    })
    .await;
    eventually("status.hpaName", T, || {
        (world.so("default", "named")?["status"]["hpaName"] == "second-hpa").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_modifiers_make_one_composite_metric_served_from_the_formula() {
    let world = World::start().await;
    world.deployment("default", "app", 1).await;
    world.server.set("a", 3.0);
    world.server.set("b", 4.0);
    let mut so = metrics_api_so(
        &world,
        "default",
        "mod",
        "app",
        "a",
        json!({
            "advanced": {"scalingModifiers": {"formula": "a + b", "target": "5"}}
        }),
    );
    so["spec"]["triggers"][0]["name"] = json!("a");
    so["spec"]["triggers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "metrics-api", "name": "b", "metadata": {
        "url": world.server.url("b"), "valueLocation": "value", "targetValue": "5"}}));
    world.create(so).await;
    let hpa = eventually("HPA", T, || world.hpa("default", "keda-hpa-mod")).await;
    assert_eq!(
        hpa["spec"]["metrics"],
        json!([{"type": "External", "external": {
            "metric": {"name": "composite-metric", "selector": {"matchLabels": {"scaledobject.keda.sh/name": "mod"}}},
            "target": {"type": "AverageValue", "averageValue": "5"}}}])
    );
    use ebb_operator::MetricsSource;
    let v = eventually("composite value", T, || {
        world
            .metrics()
            .metric("default", "mod", "composite-metric")
            .ok()
    })
    .await;
    assert_eq!(v.value, 7.0);
}
