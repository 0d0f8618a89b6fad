//! ScaledJobs (keda-compat §3): Jobs created from the backlog with KEDA's names, labels and owner,
//! strategies counting running and pending Jobs, history limits, rollout cleanup, pause, deletion,
//! and a refused `metricType`. The testkube Job controller plays Kubernetes' part (one Pod per Job,
//! Pending then Running, then the outcome).

use std::time::Duration;

use ebb_api::scaled_job::ScaledJob;
use ebb_testkube::controllers::JobController;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::common::{World, eventually, merge};

const T: Duration = Duration::from_secs(10);

/// A ScaledJob with one metrics-api trigger reading `/<metric>` (target 1 per Job).
fn scaled_job(world: &World, name: &str, metric: &str, extra: Value) -> Value {
    let mut sj = json!({
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob",
        "metadata": {"name": name, "namespace": "default", "labels": {"team": "imaging"}},
        "spec": {
            "jobTargetRef": {"template": {"spec": {"containers": [{"name": "worker", "image": "busybox:1"}]}}},
            "pollingInterval": 1,
            "maxReplicaCount": 10,
            "triggers": [{"type": "metrics-api", "metadata": {
                "url": world.server.url(metric), "valueLocation": "value", "targetValue": "1"
            }}]
        }
    });
    merge(&mut sj, extra);
    sj
}

fn sj_api(world: &World) -> Api<ScaledJob> {
    Api::namespaced(world.client(), "default")
}

/// Waits a few polls and asserts the number of Jobs stays `n`.
async fn stays(world: &World, name: &str, n: usize) {
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(world.jobs("default", name).len(), n, "Jobs of {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_follow_the_backlog_with_keda_labels_owner_and_conditions() {
    let mut world = World::start().await;
    JobController::new()
        .run_for(Duration::from_secs(600))
        .start(&world.kube);
    world.server.set("backlog", 3.0);
    world
        .create(scaled_job(&world, "resize", "backlog", json!({})))
        .await;

    eventually("3 Jobs", T, || {
        (world.jobs("default", "resize").len() == 3).then_some(())
    })
    .await;
    stays(&world, "resize", 3).await;

    let sj = world.sj("default", "resize").unwrap();
    let job = &world.jobs("default", "resize")[0];
    assert!(
        job["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("resize-")
    );
    assert_eq!(
        job["metadata"]["labels"],
        json!({"team": "imaging", "app.kubernetes.io/name": "resize", "app.kubernetes.io/version": "2.18.0",
            "app.kubernetes.io/part-of": "resize", "app.kubernetes.io/managed-by": "keda-operator",
            "scaledjob.keda.sh/name": "resize"})
    );
    assert_eq!(
        job["metadata"]["annotations"]["scaledjob.keda.sh/generation"],
        "1"
    );
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "ScaledJob");
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["uid"],
        sj["metadata"]["uid"]
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    assert_eq!(sj["metadata"]["finalizers"], json!(["finalizer.keda.sh"]));
    assert_eq!(sj["status"]["triggersTypes"], "metrics-api");
    assert_eq!(
        sj["status"]["externalMetricNames"],
        json!(["s0-metric-api-value"])
    );
    assert_eq!(
        world.sj_condition("default", "resize", "Ready").unwrap().1,
        "ScaledJobReady"
    );
    let active = world.sj_condition("default", "resize", "Active").unwrap();
    assert_eq!(
        (active.0.as_str(), active.1.as_str()),
        ("True", "ScalerActive")
    );
    assert!(sj["status"]["lastActiveTime"].is_string());

    // Two more events in the backlog: two more Jobs (5 wanted, 3 running).
    world.server.set("backlog", 5.0);
    eventually("5 Jobs", T, || {
        (world.jobs("default", "resize").len() == 5).then_some(())
    })
    .await;
    stays(&world, "resize", 5).await;

    // A restarted operator counts the running Jobs again: no duplicates.
    world.stop_operator().await;
    world.start_operator();
    stays(&world, "resize", 5).await;

    // An empty backlog: Active=False, running Jobs are left alone.
    world.server.set("backlog", 0.0);
    eventually("Active=False", T, || {
        world
            .sj_condition("default", "resize", "Active")
            .filter(|c| c.0 == "False")
    })
    .await;
    stays(&world, "resize", 5).await;

    for (reason, n) in [
        ("KEDAJobsCreated", 2),
        ("ScaledJobActive", 1),
        ("ScaledJobInactive", 1),
        ("KEDAScalersStarted", 2),
    ] {
        assert_eq!(
            world.event_count("default", "resize", reason),
            n,
            "{reason}"
        );
    }
    // The recorder keeps the first note of a series.
    let notes: Vec<String> = world
        .kube
        .objects("events.k8s.io", "events", "default")
        .iter()
        .filter(|e| e["reason"] == "KEDAJobsCreated")
        .map(|e| e["note"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(notes, vec!["Created 3 jobs".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_strategy_counts_pending_jobs() {
    let world = World::start().await;
    // Pods stay Pending for the whole test, so every unfinished Job is pending.
    JobController::new()
        .pending_for(Duration::from_secs(600))
        .run_for(Duration::from_secs(600))
        .start(&world.kube);
    world.server.set("q", 4.0);
    world
        .create(scaled_job(
            &world,
            "eager",
            "q",
            json!({"spec": {"scalingStrategy": {"strategy": "eager"}}}),
        ))
        .await;
    // Poll 1: min(10 − 0 − 0, 4) = 4. Poll 2: min(10 − 4 − 4, 4) = 2. Then min(10 − 6 − 6, 4) < 0.
    eventually("6 Jobs", T, || {
        (world.jobs("default", "eager").len() == 6).then_some(())
    })
    .await;
    stays(&world, "eager", 6).await;
    let pods = world.kube.objects("", "pods", "default");
    assert_eq!(pods.len(), 6);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Pending"));
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["labels"]["scaledjob.keda.sh/name"] == "eager")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_limits_keep_the_newest_finished_jobs() {
    let world = World::start().await;
    JobController::new()
        .run_for(Duration::from_millis(200))
        .start(&world.kube);
    world.server.set("q", 2.0);
    world
        .create(scaled_job(
            &world,
            "ok",
            "q",
            json!({"spec": {"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0}}),
        ))
        .await;
    world
        .create(scaled_job(
            &world,
            "bad",
            "q",
            json!({"metadata": {"annotations": {"testkube.ebb.dev/outcome": "fail"}},
                "spec": {"successfulJobsHistoryLimit": 0, "failedJobsHistoryLimit": 2}}),
        ))
        .await;
    // Every poll creates 2 Jobs (the earlier ones finished); each poll prunes to the limits.
    eventually("4 polls that created Jobs", Duration::from_secs(20), || {
        (world.event_count("default", "ok", "KEDAJobsCreated") >= 4
            && world.event_count("default", "bad", "KEDAJobsCreated") >= 4)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let finished = |name: &str, t: &str| {
        world
            .jobs("default", name)
            .iter()
            .filter(|j| {
                j["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == t && c["status"] == "True"))
            })
            .count()
    };
    // At most the limit survives a poll; a Job may finish between two polls.
    assert!(
        finished("ok", "Complete") <= 1 + 2,
        "{}",
        finished("ok", "Complete")
    );
    assert_eq!(finished("ok", "Failed"), 0);
    assert!(
        finished("bad", "Failed") <= 2 + 2,
        "{}",
        finished("bad", "Failed")
    );
    assert_eq!(finished("bad", "Complete"), 0);
    eventually("pruned to the limits", T, || {
        (finished("ok", "Complete") <= 1 && finished("bad", "Failed") <= 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_pause_and_deletion() {
    let world = World::start().await;
    JobController::new()
        .run_for(Duration::from_secs(600))
        .start(&world.kube);
    world.server.set("q", 2.0);
    world
        .create(scaled_job(&world, "roll", "q", json!({})))
        .await;
    eventually("2 Jobs", T, || {
        (world.jobs("default", "roll").len() == 2).then_some(())
    })
    .await;
    let first: Vec<Value> = world.jobs("default", "roll");

    // A new template (generation 2): the old Jobs go, new ones come.
    sj_api(&world)
        .patch(
            "roll",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"jobTargetRef": {"template": {"spec": {"containers": [{"name": "worker", "image": "busybox:2"}]}}}}})),
        )
        .await
        .unwrap();
    eventually("2 Jobs of generation 2", T, || {
        let jobs = world.jobs("default", "roll");
        (jobs.len() == 2
            && jobs
                .iter()
                .all(|j| j["metadata"]["annotations"]["scaledjob.keda.sh/generation"] == "2"))
        .then_some(())
    })
    .await;
    for old in &first {
        let name = old["metadata"]["name"].as_str().unwrap();
        assert!(
            world
                .kube
                .object("batch", "jobs", "default", name)
                .is_none()
        );
    }
    world
        .wait_events(
            "default",
            "roll",
            &[
                "ScaledJobRolloutCleanupStarted",
                "ScaledJobRolloutCleanupCompleted",
            ],
        )
        .await;

    // Paused: no Jobs however large the backlog.
    sj_api(&world)
        .patch(
            "roll",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused": "true"}}}),
            ),
        )
        .await
        .unwrap();
    let paused = eventually("Paused=True", T, || {
        world
            .sj_condition("default", "roll", "Paused")
            .filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(paused.1, "ScaledJobPaused");
    world.server.set("q", 6.0);
    stays(&world, "roll", 2).await;

    sj_api(&world)
        .patch(
            "roll",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused": null}}}),
            ),
        )
        .await
        .unwrap();
    eventually("6 Jobs after unpausing", T, || {
        (world.jobs("default", "roll").len() == 6).then_some(())
    })
    .await;
    let unpaused = world.sj_condition("default", "roll", "Paused").unwrap();
    assert_eq!(
        (unpaused.0.as_str(), unpaused.1.as_str()),
        ("False", "ScaledJobUnpaused")
    );

    sj_api(&world)
        .delete("roll", &DeleteParams::default())
        .await
        .unwrap();
    eventually("ScaledJob gone", T, || {
        world.sj("default", "roll").is_none().then_some(())
    })
    .await;
    eventually("its Jobs collected", T, || {
        world.jobs("default", "roll").is_empty().then_some(())
    })
    .await;
    world
        .wait_events(
            "default",
            "roll",
            &[
                "ScaledJobPaused",
                "ScaledJobUnpaused",
                "KEDAScalersStopped",
                "ScaledJobDeleted",
            ],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_type_and_unknown_trigger_are_refused_with_a_reason() {
    let world = World::start().await;
    let mut sj = scaled_job(&world, "typed", "q", json!({}));
    sj["spec"]["triggers"][0]["metricType"] = json!("Value");
    world.create(sj).await;
    let ready = eventually("Ready=False", T, || {
        world
            .sj_condition("default", "typed", "Ready")
            .filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(ready.1, "ScaledJobCheckFailed");
    assert_eq!(
        ready.2,
        "metricType is not supported in ScaledJob (trigger 0)"
    );

    let mut sj = scaled_job(&world, "unknown", "q", json!({}));
    sj["spec"]["triggers"][0]["type"] = json!("no-such-scaler");
    world.create(sj).await;
    let ready = eventually("Ready=False", T, || {
        world
            .sj_condition("default", "unknown", "Ready")
            .filter(|c| c.0 == "False")
    })
    .await;
    assert!(ready.2.contains("no-such-scaler"), "{}", ready.2);
    assert!(world.jobs("default", "typed").is_empty());
    assert!(world.jobs("default", "unknown").is_empty());
    assert_eq!(
        world.event_count("default", "typed", "ScaledJobCheckFailed"),
        1
    );
}
