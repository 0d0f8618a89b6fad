//! ebb-testkube's behaviour compared with documented Kubernetes API server behaviour, through a real
//! `kube::Client`. One test binary (linking kube once) with a module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns may panic too

mod apply;
mod controllers;
mod crud;
mod delete;
mod discovery;
mod faults;
mod subresources;
mod watch;

use std::time::Duration;

use ebb_testkube::TestKube;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

/// A server with Ebb's CRDs registered.
pub(crate) async fn kube() -> TestKube {
    TestKube::builder()
        .crds(ebb_api::crds::all())
        .start()
        .await
        .expect("testkube starts")
}

/// The HTTP status code of a failed kube request.
pub(crate) fn code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The reason of a failed kube request.
pub(crate) fn reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.reason.clone(),
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub(crate) fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]}
            }
        }
    }))
    .expect("valid deployment")
}

/// Poll `check` until it returns true or 5 seconds pass.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
