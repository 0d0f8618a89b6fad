//! Generated certificates against ebb-testkube: the Secret, the caBundle patches, and reuse.

use ebb_metrics_api::certs::{CertOptions, ensure};
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

#[tokio::test]
async fn certificates_are_generated_stored_and_patched_into_the_apiservice_and_webhook() {
    let kube = ebb_testkube::TestKube::start().await.unwrap();
    let client = kube.client();
    let ns: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    ns.create(
        &Default::default(),
        &serde_json::from_value(json!({"metadata": {"name": "keda"}})).unwrap(),
    )
    .await
    .unwrap();
    let apis: kube::Api<k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService> =
        kube::Api::all(client.clone());
    apis.create(&Default::default(), &serde_json::from_value(json!({
        "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
        "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
                 "service": {"name": "keda-operator-metrics-apiserver", "namespace": "keda"}}
    })).unwrap()).await.unwrap();
    let hooks: kube::Api<
        k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    > = kube::Api::all(client.clone());
    hooks.create(&Default::default(), &serde_json::from_value(json!({
        "metadata": {"name": "keda-admission"},
        "webhooks": [{"name": "vscaledobject.kb.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                      "clientConfig": {"service": {"name": "keda-admission-webhooks", "namespace": "keda", "path": "/validate-keda-sh-v1alpha1-scaledobject"}}}]
    })).unwrap()).await.unwrap();

    let opts = CertOptions::new("keda");
    let bundle = ensure(client.clone(), &opts).await.unwrap();
    ebb_metrics_api::ServingCert::from_pem(bundle.tls_crt.as_bytes(), bundle.tls_key.as_bytes())
        .unwrap();

    let secret = kube::Api::<Secret>::namespaced(client.clone(), "keda")
        .get("kedaorg-certs")
        .await
        .unwrap();
    let data = secret.data.unwrap();
    assert_eq!(data["ca.crt"].0, bundle.ca_crt.as_bytes());
    assert_eq!(data["tls.crt"].0, bundle.tls_crt.as_bytes());
    let api = apis.get("v1beta1.external.metrics.k8s.io").await.unwrap();
    assert_eq!(
        api.spec.unwrap().ca_bundle.unwrap().0,
        bundle.ca_crt.as_bytes()
    );
    let hook = hooks.get("keda-admission").await.unwrap();
    assert_eq!(
        hook.webhooks.unwrap()[0]
            .client_config
            .ca_bundle
            .as_ref()
            .unwrap()
            .0,
        bundle.ca_crt.as_bytes()
    );

    // A second replica (or the next rotation check) reuses what is stored.
    assert_eq!(ensure(client.clone(), &opts).await.unwrap(), bundle);

    // A certificate about to expire is renewed with the same CA.
    let mut soon = opts.clone();
    soon.renew_before = std::time::Duration::from_secs(400 * 24 * 3600);
    let renewed = ensure(client, &soon).await.unwrap();
    assert_ne!(renewed.tls_crt, bundle.tls_crt);
    assert_eq!(renewed.ca_crt, bundle.ca_crt);
}
