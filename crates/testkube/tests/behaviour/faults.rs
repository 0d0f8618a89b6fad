//! Fault injection and request counting.

use std::time::{Duration, Instant};

use ebb_testkube::{Fault, Verb};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::{code, deployment, kube};

/// Injected 500s reach the caller; they are not retried by kube's client.
#[tokio::test]
async fn injected_errors_reach_the_client_for_matching_requests_only() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    kube.faults().inject(
        Fault::error(500)
            .verb(Verb::Get)
            .resource("deployments")
            .times(1),
    );
    assert_eq!(code(&api.get("web").await.unwrap_err()), 500);
    assert!(api.get("web").await.is_ok(), "only once");
    kube.faults().inject(
        Fault::error(500)
            .verb(Verb::Patch)
            .resource("deployments/scale"),
    );
    let patch = Patch::Merge(json!({"spec": {"replicas": 2}}));
    let scale = api
        .patch_scale("web", &PatchParams::default(), &patch)
        .await;
    assert_eq!(code(&scale.unwrap_err()), 500);
    assert!(api.get("web").await.is_ok(), "other requests pass");
    kube.faults().clear();
}

/// kube's default client retries 503 and 429 (honouring Retry-After); the counters show the retries.
#[tokio::test]
async fn the_client_retries_503_and_429_with_retry_after() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    kube.faults()
        .inject(Fault::unavailable().verb(Verb::Create).times(2));
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    assert_eq!(kube.counts().get(Verb::Create, "configmaps"), 3);

    kube.faults()
        .inject(Fault::too_many_requests(1).verb(Verb::Get).times(1));
    let started = Instant::now();
    api.get("c").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(kube.counts().get(Verb::Get, "configmaps"), 2);
}

/// Latency injection delays matching requests.
#[tokio::test]
async fn injected_latency_delays_matching_requests() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    kube.faults()
        .inject(Fault::delay(Duration::from_millis(300)).verb(Verb::List));
    let started = Instant::now();
    api.list(&Default::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// Request counters by verb and resource, and `since` for "no writes at steady state" assertions.
#[tokio::test]
async fn requests_are_counted_by_verb_and_resource() {
    let kube = kube().await;
    let api: Api<Deployment> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    api.get("web").await.unwrap();
    api.get_scale("web").await.unwrap();
    api.list(&Default::default()).await.unwrap();
    let counts = kube.counts();
    assert_eq!(counts.get(Verb::Create, "deployments"), 1);
    assert_eq!(counts.get(Verb::Get, "deployments"), 1);
    assert_eq!(counts.get(Verb::Get, "deployments/scale"), 1);
    assert_eq!(counts.get(Verb::List, "deployments"), 1);
    assert_eq!(counts.writes(), 1);
    let steady = kube.counts();
    api.get("web").await.unwrap();
    let delta = kube.counts().since(&steady);
    assert_eq!((delta.writes(), delta.total()), (0, 1));
}
