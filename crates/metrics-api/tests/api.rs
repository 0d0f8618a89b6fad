//! The external metrics API over real TLS: discovery, values, errors, front-proxy authentication,
//! HTTP/2 and certificate reload.

mod support;

use serde_json::json;
use support::{ALICE, Proto, connect, start};

const SO: &str = "?labelSelector=scaledobject.keda.sh%2Fname%3Dorders";

#[tokio::test]
async fn discovery_bodies_are_exact() {
    let f = start(|b| b).await;
    let proxy = f.proxy_ca.client("front-proxy-client");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H1)
        .await
        .unwrap();
    let gv = json!({"groupVersion": "external.metrics.k8s.io/v1beta1", "version": "v1beta1"});
    let r = c.get("/apis", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": "external.metrics.k8s.io", "versions": [gv], "preferredVersion": gv}]})
    );
    let r = c.get("/apis/external.metrics.k8s.io", &[]).await;
    assert_eq!(
        r.json(),
        json!({"kind": "APIGroup", "apiVersion": "v1", "name": "external.metrics.k8s.io",
               "versions": [gv], "preferredVersion": gv})
    );
    let r = c.get("/apis/external.metrics.k8s.io/v1beta1", &[]).await;
    assert_eq!(
        r.json(),
        json!({"kind": "APIResourceList", "apiVersion": "v1",
               "groupVersion": "external.metrics.k8s.io/v1beta1",
               "resources": [{"name": "externalmetrics", "singularName": "", "namespaced": true,
                              "kind": "ExternalMetricValueList", "verbs": ["get"]}]})
    );
    assert_eq!(c.get("/openapi/v2", &[]).await.json()["swagger"], "2.0");
    assert_eq!(
        c.get("/openapi/v3/apis/external.metrics.k8s.io/v1beta1", &[])
            .await
            .json()["openapi"],
        "3.0.0"
    );
    assert!(
        c.get("/openapi/v3", &[]).await.json()["paths"]["apis/external.metrics.k8s.io/v1beta1"]
            .is_object()
    );
    for path in ["/healthz", "/readyz", "/livez"] {
        let r = c.get(path, &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{path}");
    }
}

#[tokio::test]
async fn health_is_open_to_clients_without_certificates() {
    let f = start(|b| b).await;
    let mut c = connect(f.addr, &f.server_ca.pem, None, Proto::H1)
        .await
        .unwrap();
    assert_eq!(c.get("/healthz", &[]).await.status, 200);
}

#[tokio::test]
async fn metric_values_are_keda_s_exact_bodies_over_http2() {
    let f = start(|b| b).await;
    let proxy = f.proxy_ca.client("front-proxy-client");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H2)
        .await
        .unwrap();
    assert_eq!(c.alpn.as_deref(), Some(&b"h2"[..]));
    let r = c
        .get(
            &format!(
                "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}"
            ),
            &ALICE,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        r#"{"kind":"ExternalMetricValueList","apiVersion":"external.metrics.k8s.io/v1beta1","metadata":{},"items":[{"metricName":"s0-rabbitmq-orders","metricLabels":null,"timestamp":"2026-08-20T10:48:17Z","value":"42"}]}"#
    );
    // The API server may lowercase the name; the match is case-insensitive.
    let r = c
        .get(
            &format!(
                "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s1-prometheus-latency{SO}"
            ),
            &ALICE,
        )
        .await;
    assert_eq!(
        r.body,
        r#"{"kind":"ExternalMetricValueList","apiVersion":"external.metrics.k8s.io/v1beta1","metadata":{},"items":[{"metricName":"s1-Prometheus-Latency","metricLabels":null,"timestamp":"2026-08-20T10:48:17Z","value":"2500m"}]}"#
    );
}

#[tokio::test]
async fn http1_is_negotiated_when_asked() {
    let f = start(|b| b).await;
    let proxy = f.proxy_ca.client("front-proxy-client");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H1)
        .await
        .unwrap();
    assert_eq!(c.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let r = c
        .get(
            &format!(
                "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}"
            ),
            &ALICE,
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn errors_are_status_objects_with_the_right_codes() {
    let f = start(|b| b).await;
    let proxy = f.proxy_ca.client("front-proxy-client");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H2)
        .await
        .unwrap();
    let base = "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop";
    let cases = [
        (
            format!("{base}/s0-rabbitmq-orders"),
            400,
            "BadRequest",
            "scaledObject name is not specified",
        ),
        (
            format!("{base}/s0-rabbitmq-orders?labelSelector=app%3Dx"),
            400,
            "BadRequest",
            "scaledObject name is not specified",
        ),
        (
            format!("{base}/s0-rabbitmq-orders?labelSelector=a%20in%20(b"),
            400,
            "BadRequest",
            "invalid labelSelector: unable to parse requirement: a in (b",
        ),
        (
            format!("{base}/s9-unknown{SO}"),
            404,
            "NotFound",
            "no matching metrics found for s9-unknown",
        ),
        (
            format!(
                "/apis/external.metrics.k8s.io/v1beta1/namespaces/other/s0-rabbitmq-orders{SO}"
            ),
            404,
            "NotFound",
            "scaledobject other/orders not found",
        ),
    ];
    for (path, code, reason, message) in cases {
        let r = c.get(&path, &ALICE).await;
        assert_eq!(r.status, code, "{path}: {}", r.body);
        assert_eq!(
            r.json(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": reason, "code": code}),
            "{path}"
        );
    }
}

fn unauthorized() -> serde_json::Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
}

#[tokio::test]
async fn callers_without_credentials_get_401() {
    let f = start(|b| b).await;
    let path =
        format!("/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}");
    // No client certificate: the user headers are not trusted.
    let mut c = connect(f.addr, &f.server_ca.pem, None, Proto::H2)
        .await
        .unwrap();
    let r = c.get(&path, &ALICE).await;
    assert_eq!((r.status, r.json()), (401, unauthorized()));
    // A verified proxy that forgot the user header.
    let proxy = f.proxy_ca.client("front-proxy-client");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H2)
        .await
        .unwrap();
    assert_eq!(c.get(&path, &[]).await.status, 401);
}

#[tokio::test]
async fn a_proxy_certificate_with_a_name_not_allowed_gets_401() {
    let f = start(|b| b).await;
    let path =
        format!("/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}");
    let wrong = f.proxy_ca.client("mallory");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&wrong), Proto::H2)
        .await
        .unwrap();
    let r = c.get(&path, &ALICE).await;
    assert_eq!((r.status, r.json()), (401, unauthorized()));
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    let f = start(|b| b).await;
    let rogue = support::ca("rogue").client("front-proxy-client");
    let path =
        format!("/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}");
    // TLS 1.3 reports the client certificate's rejection after the client's handshake completes, so
    // the failure shows up either at connect or at the first request.
    match connect(f.addr, &f.server_ca.pem, Some(&rogue), Proto::H2).await {
        Err(_) => {}
        Ok(mut c) => assert!(c.request("GET", &path, &ALICE, None).await.is_err()),
    }
}

#[tokio::test]
async fn an_open_http2_connection_survives_a_certificate_reload() {
    let f = start(|b| b).await;
    let proxy = f.proxy_ca.client("front-proxy-client");
    let path =
        format!("/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}");
    let mut old = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H2)
        .await
        .unwrap();
    assert_eq!(old.get(&path, &ALICE).await.status, 200);

    let new_ca = support::ca("rotated-ca");
    let (cert, key) = new_ca.serving("ebb-metrics-rotated");
    f.handle
        .serving_cert()
        .set_pem(cert.as_bytes(), key.as_bytes())
        .unwrap();

    // The open connection keeps working; new connections get the new certificate.
    assert_eq!(old.get(&path, &ALICE).await.status, 200);
    assert!(
        connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H2)
            .await
            .is_err()
    );
    let mut new = connect(f.addr, &new_ca.pem, Some(&proxy), Proto::H2)
        .await
        .unwrap();
    assert_eq!(new.get(&path, &ALICE).await.status, 200);
    assert_eq!(old.get(&path, &ALICE).await.status, 200);
}

#[tokio::test]
async fn serving_certificates_reload_from_a_directory() {
    let f = start(|b| b).await;
    let dir = tempfile::tempdir().unwrap();
    let ca2 = support::ca("dir-ca");
    let (cert, key) = ca2.serving("from-dir");
    std::fs::write(dir.path().join("tls.crt"), &cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), &key).unwrap();
    let serving = f.handle.serving_cert();
    tokio::spawn(serving.watch_dir(dir.path().to_owned(), std::time::Duration::from_millis(50)));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // The watcher only reloads on change: write a third pair.
    let ca3 = support::ca("dir-ca-3");
    let (cert, key) = ca3.serving("from-dir-3");
    std::fs::write(dir.path().join("tls.crt"), &cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), &key).unwrap();
    let mut ok = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if connect(f.addr, &ca3.pem, None, Proto::H1).await.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(ok, "the new certificate was not served");
}

#[tokio::test]
async fn a_new_front_proxy_ca_applies_to_new_connections() {
    let f = start(|b| b).await;
    let path =
        format!("/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}");
    let new_proxy_ca = support::ca("new-front-proxy-ca");
    let data = std::collections::BTreeMap::from([
        (
            "requestheader-client-ca-file".to_string(),
            new_proxy_ca.pem.clone(),
        ),
        (
            "requestheader-allowed-names".to_string(),
            r#"["aggregator"]"#.to_string(),
        ),
        (
            "requestheader-username-headers".to_string(),
            r#"["X-Remote-User"]"#.to_string(),
        ),
        (
            "requestheader-group-headers".to_string(),
            r#"["X-Remote-Group"]"#.to_string(),
        ),
    ]);
    let rh = ebb_metrics_api::RequestHeaderConfig::from_configmap_data(&data).unwrap();
    f.handle.set_requestheader(rh).unwrap();
    let client = new_proxy_ca.client("aggregator");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&client), Proto::H2)
        .await
        .unwrap();
    assert_eq!(c.get(&path, &ALICE).await.status, 200);
}

/// Records what the observer was told.
#[derive(Default)]
struct Seen(std::sync::Mutex<Vec<(&'static str, u16)>>);

impl ebb_metrics_api::RequestObserver for Seen {
    fn observe(&self, request: &'static str, code: u16, seconds: f64) {
        assert!(seconds >= 0.0);
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((request, code));
    }
}

#[tokio::test]
async fn every_request_reaches_the_observer_with_its_kind_and_status() {
    let seen = std::sync::Arc::new(Seen::default());
    let observer = seen.clone();
    let f = start(move |b| b.observer(observer)).await;
    let proxy = f.proxy_ca.client("front-proxy-client");
    let mut c = connect(f.addr, &f.server_ca.pem, Some(&proxy), Proto::H1)
        .await
        .unwrap();
    c.get("/healthz", &[]).await;
    c.get("/apis/external.metrics.k8s.io/v1beta1", &ALICE).await;
    let ok =
        format!("/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s0-rabbitmq-orders{SO}");
    c.get(&ok, &ALICE).await;
    let missing = format!("/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/s9-nothing{SO}");
    c.get(&missing, &ALICE).await;
    assert_eq!(
        *seen.0.lock().unwrap(),
        vec![
            ("health", 200),
            ("discovery", 200),
            ("external_metrics", 200),
            ("external_metrics", 404)
        ]
    );
}
