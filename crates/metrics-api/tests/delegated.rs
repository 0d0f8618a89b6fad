//! Bearer tokens through TokenReview and authorization through SubjectAccessReview, against
//! ebb-testkube's review endpoints.

mod support;

use std::sync::Arc;

use ebb_metrics_api::KubeDelegatedAuth;
use serde_json::json;
use support::{ALICE, Proto, connect, start};

const PATH: &str = "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders?labelSelector=scaledobject.keda.sh%2Fname%3Dorders";

#[tokio::test]
async fn tokens_and_access_are_delegated_to_the_api_server() {
    let kube = ebb_testkube::TestKube::start().await.unwrap();
    kube.reviews().add_token(
        "hpa-token",
        "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
        &["system:serviceaccounts"],
    );
    kube.reviews().add_token("nobody-token", "nobody", &[]);
    kube.reviews().allow(
        "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
        "get",
        "external.metrics.k8s.io",
        "s0-rabbitmq-orders",
        "shop",
    );
    kube.reviews().allow(
        "alice",
        "get",
        "external.metrics.k8s.io",
        "s0-rabbitmq-orders",
        "shop",
    );
    let auth = Arc::new(KubeDelegatedAuth::new(kube.client()));
    let f = start(|b| b.token_reviewer(auth.clone()).authorizer(auth)).await;

    let mut c = connect(f.addr, &f.server_ca.pem, None, Proto::H2)
        .await
        .unwrap();
    let r = c.get(PATH, &[("authorization", "Bearer hpa-token")]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = c.get(PATH, &[("authorization", "Bearer wrong")]).await;
    assert_eq!(r.status, 401);

    let r = c
        .get(PATH, &[("authorization", "Bearer nobody-token")])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "s0-rabbitmq-orders.external.metrics.k8s.io is forbidden: User \"nobody\" cannot get resource \"s0-rabbitmq-orders\" in API group \"external.metrics.k8s.io\" in the namespace \"shop\"",
               "reason": "Forbidden", "code": 403})
    );

    // Front-proxy users are authorized the same way.
    let proxy = f.proxy_ca.client("front-proxy-client");
    let mut p = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H2)
        .await
        .unwrap();
    assert_eq!(p.get(PATH, &ALICE).await.status, 200);
    assert_eq!(p.get(PATH, &[("X-Remote-User", "bob")]).await.status, 403);
}
