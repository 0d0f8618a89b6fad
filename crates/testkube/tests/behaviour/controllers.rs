//! Helper controllers playing Kubernetes' part: Deployments become ready, Jobs finish, the HPA scales.

use std::time::Duration;

use ebb_testkube::controllers::{
    DeploymentController, ExternalMetrics, HpaController, JobController, JobOutcome,
};
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::{deployment, eventually, kube};

/// Deployment controller: status.replicas follows spec.replicas, readyReplicas after the configured delay,
/// observedGeneration tracks generation; Pods are created from the template and removed on scale-down.
#[tokio::test]
async fn deployment_controller_reports_replicas_ready_after_a_delay() {
    let kube = kube().await;
    DeploymentController::new()
        .ready_after(Duration::from_millis(300))
        .with_pods()
        .start(&kube);
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &deployment("web", 3))
        .await
        .unwrap();
    eventually("replicas reported", || async {
        api.get("web")
            .await
            .unwrap()
            .status
            .and_then(|s| s.replicas)
            == Some(3)
    })
    .await;
    let early = api.get("web").await.unwrap().status.unwrap();
    assert_eq!(early.ready_replicas, None, "not ready before the delay");
    eventually("replicas ready", || async {
        api.get("web")
            .await
            .unwrap()
            .status
            .and_then(|s| s.ready_replicas)
            == Some(3)
    })
    .await;
    let status = api.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.observed_generation, Some(1));
    let pods: Api<Pod> = Api::default_namespaced(kube.client());
    assert_eq!(
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually("pods scaled down", || async {
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .len()
            == 1
    })
    .await;
}

fn job(name: &str, annotations: serde_json::Value) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}
    }))
    .unwrap()
}

fn condition(j: &Job, t: &str) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == t && c.status == "True"))
}

/// Job controller: a Job runs, then gets the Complete condition and completionTime — or Failed.
#[tokio::test]
async fn job_controller_completes_or_fails_jobs() {
    let kube = kube().await;
    JobController::new()
        .run_for(Duration::from_millis(200))
        .outcome(JobOutcome::Succeed)
        .start(&kube);
    let api: Api<Job> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &job("ok", json!({})))
        .await
        .unwrap();
    api.create(
        &PostParams::default(),
        &job("bad", json!({"testkube.ebb.dev/outcome": "fail"})),
    )
    .await
    .unwrap();
    eventually("job started", || async {
        api.get("ok")
            .await
            .unwrap()
            .status
            .and_then(|s| s.start_time)
            .is_some()
    })
    .await;
    eventually("job complete", || async {
        condition(&api.get("ok").await.unwrap(), "Complete")
    })
    .await;
    let ok = api.get("ok").await.unwrap().status.unwrap();
    assert!(ok.completion_time.is_some());
    assert_eq!(ok.succeeded, Some(1));
    eventually("job failed", || async {
        condition(&api.get("bad").await.unwrap(), "Failed")
    })
    .await;
}

struct Fixed(f64);

impl ExternalMetrics for Fixed {
    fn value<'a>(
        &'a self,
        _ns: &'a str,
        _metric: &'a str,
        _selector: &'a str,
    ) -> BoxFuture<'a, Option<f64>> {
        Box::pin(async move { Some(self.0) })
    }
}

/// HPA controller (algorithm from ebb_core::hpa): an AverageValue External metric of 10 against a target
/// of 2 asks for 5 replicas, within min/max.
#[tokio::test]
async fn hpa_controller_scales_the_target_from_external_metrics() {
    let kube = kube().await;
    DeploymentController::new().start(&kube);
    HpaController::new(Fixed(10.0))
        .sync_period(Duration::from_millis(100))
        .start(&kube);
    let deployments: Api<Deployment> = Api::default_namespaced(kube.client());
    deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "keda-hpa-web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 4,
            "metrics": [{"type": "External", "external": {
                "metric": {"name": "s0-queue", "selector": {"matchLabels": {"scaledobject.keda.sh/name": "web"}}},
                "target": {"type": "AverageValue", "averageValue": "2"}}}]
        }
    }))
    .unwrap();
    let hpas: Api<HorizontalPodAutoscaler> = Api::default_namespaced(kube.client());
    hpas.create(&PostParams::default(), &hpa).await.unwrap();
    eventually("scaled to max 4", || async {
        deployments
            .get("web")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.replicas)
            == Some(4)
    })
    .await;
    eventually("HPA status reports it", || async {
        hpas.get("keda-hpa-web")
            .await
            .unwrap()
            .status
            .is_some_and(|s| s.desired_replicas == 4)
    })
    .await;
}
