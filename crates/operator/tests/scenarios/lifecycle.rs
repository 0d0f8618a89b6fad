//! Pausing, deletion, bad input, authentication, and operator restarts.

use std::time::Duration;

use ebb_operator::MetricsSource;
use ebb_testkube::Verb;
use serde_json::json;

use crate::common::{World, eventually, metrics_api_so};

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_replicas_deletes_the_hpa_pins_replicas_and_unpausing_recreates_it() {
    let world = World::start().await;
    world.deployment("default", "app", 1).await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "app",
            "q",
            json!({"minReplicaCount": 1}),
        ))
        .await;
    eventually("HPA", T, || world.hpa("default", "keda-hpa-so")).await;

    world
        .patch_so(
            "default",
            "so",
            json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused-replicas": "3"}}}),
        )
        .await;
    eventually("HPA deleted", T, || {
        world.hpa("default", "keda-hpa-so").is_none().then_some(())
    })
    .await;
    eventually("replicas 3", T, || {
        (world.replicas("default", "app") == 3).then_some(())
    })
    .await;
    let paused = eventually("Paused=True", T, || {
        world
            .condition("default", "so", "Paused")
            .filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(paused.1, "ScaledObjectPaused");
    eventually("pausedReplicaCount", T, || {
        (world.so("default", "so")?["status"]["pausedReplicaCount"] == 3).then_some(())
    })
    .await;
    assert!(
        world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .is_err(),
        "paused objects serve no metrics"
    );

    world
        .patch_so(
            "default",
            "so",
            json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused-replicas": null}}}),
        )
        .await;
    eventually("HPA recreated", T, || world.hpa("default", "keda-hpa-so")).await;
    let unpaused = eventually("Paused=False", T, || {
        world
            .condition("default", "so", "Paused")
            .filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(unpaused.1, "ScaledObjectUnpaused");
    eventually("pausedReplicaCount cleared", T, || {
        world.so("default", "so")?["status"]["pausedReplicaCount"]
            .is_null()
            .then_some(())
    })
    .await;
    world
        .wait_events(
            "default",
            "so",
            &[
                "ScaledObjectPaused",
                "KEDAScalersStopped",
                "ScaledObjectUnpaused",
            ],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_freezes_replicas_while_the_metric_would_scale() {
    let world = World::start().await;
    world.deployment("default", "app", 0).await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "app",
            "q",
            json!({}),
        ))
        .await;
    eventually("HPA", T, || world.hpa("default", "keda-hpa-so")).await;
    world
        .patch_so(
            "default",
            "so",
            json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused": "true"}}}),
        )
        .await;
    eventually("HPA deleted", T, || {
        world.hpa("default", "keda-hpa-so").is_none().then_some(())
    })
    .await;
    world.server.set("q", 9.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.replicas("default", "app"), 0);
    world
        .patch_so(
            "default",
            "so",
            json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused": "false"}}}),
        )
        .await;
    eventually("scaled to 1 after unpause", T, || {
        (world.replicas("default", "app") == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_restores_the_original_replica_count_and_removes_the_finalizer() {
    let world = World::start().await;
    world.deployment("default", "app", 2).await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "app",
            "q",
            json!({"advanced": {"restoreToOriginalReplicaCount": true}}),
        ))
        .await;
    eventually("scaled to 0", T, || {
        (world.replicas("default", "app") == 0).then_some(())
    })
    .await;
    world
        .so_api("default")
        .delete("so", &Default::default())
        .await
        .unwrap();
    eventually("SO gone", T, || {
        world.so("default", "so").is_none().then_some(())
    })
    .await;
    assert_eq!(world.replicas("default", "app"), 2);
    eventually("HPA gone", T, || {
        world.hpa("default", "keda-hpa-so").is_none().then_some(())
    })
    .await;
    assert!(
        world
            .event_reasons("default", "so")
            .contains(&"ScaledObjectDeleted".to_owned())
    );
    assert!(world.operator.as_ref().unwrap().loops.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_target_is_ready_false_with_backoff_not_a_hot_loop() {
    let world = World::start().await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "nothere",
            "q",
            json!({}),
        ))
        .await;
    let ready = eventually("Ready=False", T, || {
        world
            .condition("default", "so", "Ready")
            .filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(ready.1, "ScaledObjectCheckFailed");
    assert!(
        ready.2.contains("Target resource doesn't exist"),
        "{}",
        ready.2
    );
    assert_eq!(
        world.condition("default", "so", "Active").unwrap().1,
        "UnknownState"
    );
    let before = world.kube.counts();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let delta = world.kube.counts().since(&before);
    // Backoff 1, 2, 4 s: a handful of retries, each one GET of the target, nothing written.
    assert!(delta.get(Verb::Get, "deployments") <= 4, "{delta:?}");
    assert_eq!(delta.writes(), 0, "{delta:?}");
    assert_eq!(
        world
            .event_reasons("default", "so")
            .iter()
            .filter(|r| *r == "ScaledObjectCheckFailed")
            .count(),
        1
    );
    // The target appears: the next retry picks it up.
    world.deployment("default", "nothere", 1).await;
    eventually("Ready=True", Duration::from_secs(40), || {
        (world.condition("default", "so", "Ready")?.0 == "True").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_trigger_type_is_ready_false_with_the_reason() {
    let world = World::start().await;
    world.deployment("default", "app", 1).await;
    let mut so = metrics_api_so(&world, "default", "so", "app", "q", json!({}));
    so["spec"]["triggers"][0]["type"] = json!("no-such-scaler");
    world.create(so).await;
    let ready = eventually("Ready=False", T, || {
        world
            .condition("default", "so", "Ready")
            .filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(ready.1, "ScaledObjectCheckFailed");
    assert!(
        ready.2.contains("no scaler found for type: no-such-scaler"),
        "{}",
        ready.2
    );
    assert!(world.hpa("default", "keda-hpa-so").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_scaled_object_on_the_same_target_is_refused() {
    let world = World::start().await;
    world.deployment("default", "app", 1).await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "first",
            "app",
            "q",
            json!({}),
        ))
        .await;
    eventually("first ready", T, || {
        (world.condition("default", "first", "Ready")?.0 == "True").then_some(())
    })
    .await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "second",
            "app",
            "q",
            json!({}),
        ))
        .await;
    let ready = eventually("second refused", T, || {
        world
            .condition("default", "second", "Ready")
            .filter(|c| c.0 == "False")
    })
    .await;
    assert!(
        ready
            .2
            .contains("already managed by the ScaledObject 'first'"),
        "{}",
        ready.2
    );
    assert!(world.hpa("default", "keda-hpa-second").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_authentication_secret_rotation_is_picked_up() {
    let world = World::start().await;
    world.deployment("default", "app", 1).await;
    world.server.set("q", 6.0);
    world.server.require_token("one");
    world
        .create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tok", "namespace": "default"}, "stringData": {"token": "one"}}))
        .await;
    world
        .create(json!({"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": "ta", "namespace": "default"},
            "spec": {"secretTargetRef": [{"parameter": "bearerToken", "name": "tok", "key": "token"}]}}))
        .await;
    let mut so = metrics_api_so(
        &world,
        "default",
        "so",
        "app",
        "q",
        json!({"minReplicaCount": 1}),
    );
    so["spec"]["triggers"][0]["metadata"]["authModes"] = json!("bearer");
    so["spec"]["triggers"][0]["authenticationRef"] = json!({"name": "ta"});
    world.create(so).await;
    eventually("value with token one", T, || {
        world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .ok()
    })
    .await;
    eventually("TA status lists the SO", T, || {
        let ta = world
            .kube
            .object("keda.sh", "triggerauthentications", "default", "ta")?;
        (ta["status"]["scaledobjects"] == "so"
            && ta["metadata"]["finalizers"] == json!(["finalizer.keda.sh"]))
        .then_some(())
    })
    .await;

    world.server.require_token("two");
    eventually("fails with the old token", T, || {
        world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .is_err()
            .then_some(())
    })
    .await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(world.client(), "default");
    secrets
        .patch(
            "tok",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"data": {"token": "dHdv"}})),
        )
        .await
        .unwrap();
    eventually("value with token two", T, || {
        world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .ok()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_restart_resumes_without_a_second_hpa_or_rewrites() {
    let mut world = World::start().await;
    world.deployment("default", "app", 0).await;
    world.server.set("q", 8.0);
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "app",
            "q",
            json!({"cooldownPeriod": 300}),
        ))
        .await;
    eventually("scaled to 1", T, || {
        (world.replicas("default", "app") == 1).then_some(())
    })
    .await;
    eventually("Active=True", T, || {
        (world.condition("default", "so", "Active")?.0 == "True").then_some(())
    })
    .await;
    let hpa_before = world.hpa("default", "keda-hpa-so").unwrap();
    world.stop_operator().await;
    let before = world.kube.counts();
    world.start_operator();
    eventually("loop running again", T, || {
        world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .ok()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delta = world.kube.counts().since(&before);
    assert_eq!(delta.get(Verb::Create, "horizontalpodautoscalers"), 0);
    assert_eq!(delta.get(Verb::Update, "horizontalpodautoscalers"), 0);
    assert_eq!(
        world
            .kube
            .objects("autoscaling", "horizontalpodautoscalers", "default")
            .len(),
        1
    );
    assert_eq!(
        world.hpa("default", "keda-hpa-so").unwrap()["metadata"]["resourceVersion"],
        hpa_before["metadata"]["resourceVersion"]
    );
    assert_eq!(world.replicas("default", "app"), 1);
    // Still active: the cooldown is not cut short by the restart.
    world.server.set("q", 0.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.replicas("default", "app"), 1);
}
