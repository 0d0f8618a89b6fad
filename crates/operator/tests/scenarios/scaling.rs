//! Scaling through the scale loop: activation, cooldown, fallback, steady state.

use std::time::Duration;

use ebb_operator::MetricsSource;
use serde_json::json;

use crate::common::{World, eventually, metrics_api_so};

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_scales_zero_to_one_and_cooldown_scales_back_to_zero() {
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
    eventually("Active=False", T, || {
        (world.condition("default", "so", "Active")?.0 == "False").then_some(())
    })
    .await;
    assert_eq!(world.replicas("default", "app"), 0);

    world.server.set("q", 12.0);
    eventually("scaled to 1", T, || {
        (world.replicas("default", "app") == 1).then_some(())
    })
    .await;
    let active = eventually("Active=True", T, || {
        world
            .condition("default", "so", "Active")
            .filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(active.1, "ScalerActive");
    assert_eq!(
        world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .unwrap()
            .value,
        12.0
    );
    eventually("lastActiveTime", T, || {
        world.so("default", "so")?["status"]["lastActiveTime"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert_eq!(
        world.so("default", "so").unwrap()["status"]["triggersActivity"],
        json!({"s0-metric-api-value": {"isActive": true}})
    );

    world.server.set("q", 0.0);
    let cooling = eventually("ScalerCooldown", T, || {
        world
            .condition("default", "so", "Active")
            .filter(|c| c.1 == "ScalerCooldown")
    })
    .await;
    assert_eq!(cooling.0, "False");
    assert_eq!(world.replicas("default", "app"), 1, "still cooling down");
    eventually("scaled to 0", T, || {
        (world.replicas("default", "app") == 0).then_some(())
    })
    .await;
    // Events are published in the background: wait for them rather than race them.
    for reason in [
        "KEDAScaleTargetActivated",
        "KEDAScaleTargetDeactivated",
        "KEDAScalersStarted",
    ] {
        eventually(reason, T, || {
            world
                .event_reasons("default", "so")
                .contains(&reason.to_owned())
                .then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_cooldown_holds_the_first_scale_to_zero() {
    let world = World::start().await;
    world.deployment("default", "app", 3).await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "app",
            "q",
            json!({"initialCooldownPeriod": 3}),
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        world.replicas("default", "app"),
        3,
        "initialCooldownPeriod not over"
    );
    eventually("scaled to 0", T, || {
        (world.replicas("default", "app") == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_min_replicas_bound_what_the_loop_sets() {
    let world = World::start().await;
    world.deployment("default", "app", 5).await;
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "app",
            "q",
            json!({"idleReplicaCount": 0, "minReplicaCount": 2, "cooldownPeriod": 1}),
        ))
        .await;
    eventually("scaled to idle 0", T, || {
        (world.replicas("default", "app") == 0).then_some(())
    })
    .await;
    world.server.set("q", 1.0);
    eventually("scaled from idle to min 2", T, || {
        (world.replicas("default", "app") == 2).then_some(())
    })
    .await;
    let hpa = world.hpa("default", "keda-hpa-so").unwrap();
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone()
        ),
        (json!(2), json!(10))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_makes_no_api_writes() {
    let world = World::start().await;
    world.deployment("default", "app", 0).await;
    world.server.set("q", 7.0);
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = world.kube.counts();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let delta = world.kube.counts().since(&before);
    let writes: Vec<_> = delta
        .iter()
        .filter(|(v, _, n)| v.is_write() && *n > 0)
        .collect();
    assert_eq!(delta.writes(), 0, "writes at steady state: {writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_serves_target_times_replicas_after_the_failure_threshold_and_recovers() {
    let world = World::start().await;
    world.deployment("default", "app", 1).await;
    world.server.set("q", 5.0);
    world
        .create(metrics_api_so(
            &world,
            "default",
            "so",
            "app",
            "q",
            json!({"minReplicaCount": 1, "fallback": {"failureThreshold": 2, "replicas": 4}}),
        ))
        .await;
    eventually("healthy value", T, || {
        world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .ok()
    })
    .await;
    eventually("Fallback=False", T, || {
        (world.condition("default", "so", "Fallback")?.1 == "NoFallbackFound").then_some(())
    })
    .await;
    world.server.fail(true);
    let fb = eventually("Fallback=True", T, || {
        world
            .condition("default", "so", "Fallback")
            .filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(fb.1, "FallbackExists");
    // targetValue 5 × fallback replicas 4.
    let v = world
        .metrics()
        .metric("default", "so", "s0-metric-api-value")
        .unwrap();
    assert_eq!(v.value, 20.0);
    let health =
        world.so("default", "so").unwrap()["status"]["health"]["s0-metric-api-value"].clone();
    assert_eq!(health["status"], "Failing");
    assert!(health["numberOfFailures"].as_i64().unwrap() > 2);
    eventually("fallback event", T, || {
        world
            .event_reasons("default", "so")
            .contains(&"ScaledObjectFallbackActivated".to_owned())
            .then_some(())
    })
    .await;

    world.server.fail(false);
    eventually("Fallback=False again", T, || {
        (world.condition("default", "so", "Fallback")?.0 == "False").then_some(())
    })
    .await;
    eventually("real value again", T, || {
        (world
            .metrics()
            .metric("default", "so", "s0-metric-api-value")
            .ok()?
            .value
            == 5.0)
            .then_some(())
    })
    .await;
    eventually("deactivated event", T, || {
        world
            .event_reasons("default", "so")
            .contains(&"ScaledObjectFallbackDeactivated".to_owned())
            .then_some(())
    })
    .await;
}

/// KEDA's per-trigger series and Ebb's decision log (`/explain`) follow the loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_reports_trigger_values_and_decisions() {
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
    world.server.set("q", 12.0);
    eventually("scaled to 1", T, || {
        (world.replicas("default", "app") == 1).then_some(())
    })
    .await;
    let telemetry = world.operator.as_ref().unwrap().telemetry.clone();
    let line = eventually("keda_scaler_metrics_value", T, || {
        telemetry
            .encode()
            .lines()
            .find(|l| {
                l.starts_with("keda_scaler_metrics_value{")
                    && l.contains("scaledObject=\"so\"")
                    && l.contains("metric=\"s0-metric-api-value\"")
                    && l.contains("scaler=\"metrics-apiScaler\"")
            })
            .map(str::to_owned)
    })
    .await;
    assert_eq!(
        line.rsplit(' ').next().unwrap().parse::<f64>().unwrap(),
        12.0
    );
    let text = telemetry.encode();
    assert!(
        text.lines().any(|l| l.starts_with("keda_scaler_active{")
            && l.contains("scaledObject=\"so\"")
            && l.ends_with(" 1")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("keda_resource_registered_total{")
                && l.contains("type=\"scaled_object\"")
                && l.ends_with(" 1")),
        "{text}"
    );
    let answer = telemetry
        .decisions()
        .answer("/explain/scaledobject/default/so")
        .expect("an /explain path");
    assert_eq!(answer.status, 200);
    let log: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let text = log.to_string();
    assert!(text.contains("scaled 0→1"), "{text}");
    assert!(text.contains("s0-metric-api-value"), "{text}");
    // The first check scales 0→1; the next ones leave 1..N to the HPA: a new outcome, an Event.
    eventually("EbbScalingDecisionChanged", T, || {
        (world.event_count("default", "so", "EbbScalingDecisionChanged") >= 1).then_some(())
    })
    .await;

    // Deleting the object removes its scaler series and its decision log (counters stay).
    world
        .so_api("default")
        .delete("so", &Default::default())
        .await
        .unwrap();
    eventually("scaler series gone", T, || {
        let text = telemetry.encode();
        (!text.lines().any(|l| {
            (l.starts_with("keda_scaler_metrics_value{") || l.starts_with("keda_scaler_active{"))
                && l.contains("scaledObject=\"so\"")
        }))
        .then_some(())
    })
    .await;
    assert_eq!(
        telemetry
            .decisions()
            .answer("/explain/scaledobject/default/so")
            .unwrap()
            .status,
        404
    );
}
