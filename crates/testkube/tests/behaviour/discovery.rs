//! Discovery: built-in groups, and a CRD becoming a discoverable, usable kind once applied.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::discovery::{Discovery, Scope};
use kube::runtime::wait::{await_condition, conditions};

use ebb_testkube::TestKube;

/// API discovery: built-in kinds, their scope and subresources, via both discovery protocols.
#[tokio::test]
async fn discovery_lists_the_built_in_kinds_with_their_subresources() {
    let kube = TestKube::start().await.unwrap();
    for discovery in [
        Discovery::new(kube.client()).run().await.unwrap(),
        Discovery::new(kube.client())
            .run_aggregated()
            .await
            .unwrap(),
    ] {
        let apps = discovery.get("apps").expect("apps group");
        let (deploy, caps) = apps.recommended_kind("Deployment").expect("Deployment");
        assert_eq!(deploy.plural, "deployments");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(
            caps.subresources.iter().any(|(r, _)| r.plural == "scale"),
            "{:?}",
            caps.subresources
        );
        let core = discovery.get("").expect("core group");
        let (_, ns_caps) = core.recommended_kind("Namespace").expect("Namespace");
        assert_eq!(ns_caps.scope, Scope::Cluster);
        for group in [
            "autoscaling",
            "batch",
            "coordination.k8s.io",
            "events.k8s.io",
            "apiregistration.k8s.io",
            "admissionregistration.k8s.io",
            "apiextensions.k8s.io",
        ] {
            assert!(discovery.get(group).is_some(), "{group}");
        }
    }
    assert_eq!(kube.client().apiserver_version().await.unwrap().major, "1");
}

/// Custom resources, "Create a CustomResourceDefinition": once created the CRD becomes Established and its
/// kind is served and discoverable.
#[tokio::test]
async fn applying_a_crd_makes_its_kind_discoverable_and_usable() {
    let kube = TestKube::start().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(kube.client());
    for crd in ebb_api::crds::all() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let established = await_condition(
        crds.clone(),
        "scaledobjects.keda.sh",
        conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(5), established)
        .await
        .unwrap()
        .unwrap();
    let discovery = Discovery::new(kube.client()).run().await.unwrap();
    let keda = discovery.get("keda.sh").expect("keda.sh served");
    let (so, caps) = keda.recommended_kind("ScaledObject").expect("ScaledObject");
    assert_eq!(
        (so.plural.as_str(), caps.scope.clone()),
        ("scaledobjects", Scope::Namespaced)
    );
    assert!(caps.subresources.iter().any(|(r, _)| r.plural == "status"));
    let (_, cta) = keda
        .recommended_kind("ClusterTriggerAuthentication")
        .expect("CTA");
    assert_eq!(cta.scope, Scope::Cluster);

    let api: Api<ebb_api::ScaledObject> = Api::default_namespaced(kube.client());
    api.create(
        &PostParams::default(),
        &crate::subresources::scaled_object("so"),
    )
    .await
    .unwrap();
    // Deleting the CRD stops serving the kind and removes its objects.
    crds.delete("scaledobjects.keda.sh", &Default::default())
        .await
        .unwrap();
    assert_eq!(crate::code(&api.get("so").await.unwrap_err()), 404);
}
