// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use std::io::Write;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use super::*;
use crate::testutil::{self, CANARY, assert_no_canary, measure_once, unique};

fn trigger(meta: &[(&str, &str)], auth: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 0, meta.iter().map(|(k, v)| (*k, *v)))
        .with_auth_params(auth.iter().map(|(k, v)| (*k, *v)))
}

const OK: [(&str, &str); 3] = [
    ("serverAddress", "http://p:9090"),
    ("query", "up"),
    ("threshold", "10"),
];

fn with(extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut m: Vec<(&'static str, String)> = OK.iter().map(|(k, v)| (*k, v.to_string())).collect();
    for (k, v) in extra {
        m.retain(|(mk, _)| mk != k);
        if !v.is_empty() {
            m.push((Box::leak(k.to_string().into_boxed_str()), v.to_string()));
        }
    }
    m
}

#[test]
fn defaults() {
    let c = Config::from_params(&trigger(&OK, &[])).unwrap();
    assert_eq!(c.metric_name, "s0-prometheus");
    assert!(c.ignore_null_values);
    assert_eq!((c.threshold, c.activation), (10.0, 0.0));
    assert_eq!(c.http.timeout, Duration::from_millis(3000));
    assert_eq!(c.auth, HttpAuth::None);
}

#[test]
fn parameter_rules_name_the_key() {
    let cases: &[(&[(&str, &str)], &[(&str, &str)], &str)] = &[
        (&[("serverAddress", "")], &[], "serverAddress"),
        (&[("serverAddress", "not a url")], &[], "serverAddress"),
        (&[("query", "")], &[], "query"),
        (&[("threshold", "")], &[], "threshold"),
        (&[("threshold", "ten")], &[], "threshold"),
        (&[("activationThreshold", "x")], &[], "activationThreshold"),
        (&[("ignoreNullValues", "nope")], &[], "ignoreNullValues"),
        (&[("unsafeSsl", "2")], &[], "unsafeSsl"),
        (&[("timeout", "soon")], &[], "timeout"),
        (&[("customHeaders", "novalue")], &[], "customHeaders"),
        (&[("queryParameters", "=x")], &[], "queryParameters"),
        (&[("awsRegion", "eu-west-1")], &[], "awsRegion"),
        (&[("authModes", "basic")], &[], "username"),
        (&[("authModes", "bearer")], &[], "bearerToken"),
        (&[("authModes", "tls")], &[], "cert"),
        (&[("authModes", "magic")], &[], "authModes"),
        (
            &[("authModes", "basic,bearer")],
            &[("username", "u"), ("bearerToken", "t")],
            "authModes",
        ),
        (&[], &[("ca", "not pem")], "ca"),
    ];
    for (extra, auth, key) in cases {
        let meta = with(extra);
        let p = TriggerParams::new(KIND, 0, meta.clone())
            .with_auth_params(auth.iter().map(|(k, v)| (*k, *v)));
        let err = Config::from_params(&p).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{extra:?} {auth:?}: {err}");
    }
}

#[test]
fn results_are_read_as_keda_reads_them() {
    let vector = |values: &[&str]| {
        let series: Vec<String> = values
            .iter()
            .map(|v| format!(r#"{{"metric":{{}},"value":[1,"{v}"]}}"#))
            .collect();
        format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
            series.join(",")
        )
    };
    let keep = Config::from_params(&trigger(&OK, &[])).unwrap();
    let strict = Config::from_params(&trigger(
        &with(&[("ignoreNullValues", "false")])
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
        &[],
    ))
    .unwrap();
    assert_eq!(keep.value_from(&vector(&["42.5"])).unwrap(), 42.5);
    assert_eq!(keep.value_from(&vector(&[])).unwrap(), 0.0);
    assert!(strict.value_from(&vector(&[])).is_err());
    assert_eq!(keep.value_from(&vector(&["NaN"])).unwrap(), 0.0);
    assert!(strict.value_from(&vector(&["+Inf"])).is_err());
    assert_eq!(
        keep.value_from(&vector(&["1", "2"])).unwrap_err().reason(),
        MeasureReason::BadResponse
    );
    assert_eq!(
        keep.value_from(r#"{"data":{"resultType":"scalar","result":[1,"7"]}}"#)
            .unwrap(),
        7.0
    );
}

/// Adds `target` to the Prometheus file_sd targets file (under a lock, keeping other entries).
fn edit_targets(target: &str, add: bool) {
    let path = testutil::endpoint(
        "EBB_PROMETHEUS_TARGETS_FILE",
        "/tmp/ebb-services/prometheus/targets.json",
    );
    let lock = std::fs::File::create(format!("{path}.lock")).unwrap();
    lock.lock().unwrap();
    let mut entries: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    entries.retain(|e| e["targets"][0] != target);
    if add {
        entries.push(
            serde_json::json!({"targets": [target], "labels": {"source": "ebb-scalers-test"}}),
        );
    }
    let tmp = format!("{path}.{}.tmp", std::process::id());
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(serde_json::to_string(&entries).unwrap().as_bytes())
        .unwrap();
    drop(f);
    std::fs::rename(&tmp, &path).unwrap();
}

#[tokio::test]
async fn reads_a_known_value_scraped_from_a_local_exporter() {
    testutil::init();
    let server = testutil::prometheus_url();
    testutil::require("Prometheus", &testutil::host_port(&server)).await;
    let run = unique("run");
    let body =
        format!("# TYPE ebb_scaler_test_depth gauge\nebb_scaler_test_depth{{run=\"{run}\"}} 42\n");
    let exporter =
        testutil::serve(axum::Router::new().route("/metrics", get(move || async move { body })))
            .await;
    edit_targets(&exporter, true);
    let query = format!("sum(ebb_scaler_test_depth{{run=\"{run}\"}})");
    let meta = [
        ("serverAddress", server.as_str()),
        ("query", query.as_str()),
        ("threshold", "5"),
        ("activationThreshold", "41.5"),
    ];
    let mut got = None;
    for i in 0..80 {
        let m = measure_once(&trigger(&meta, &[])).await.unwrap();
        if m.values[0].value == 42.0 {
            got = Some(m);
            break;
        }
        if i % 20 == 19 {
            edit_targets(&exporter, true); // someone may have rewritten the file
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    edit_targets(&exporter, false);
    let m = got.expect("Prometheus never reported 42 for our exporter (is it reading EBB_PROMETHEUS_TARGETS_FILE?)");
    assert!(m.is_active);

    // No series: 0 by default, an error with ignoreNullValues=false.
    let absent = format!("ebb_scaler_absent{{run=\"{run}\"}}");
    let m = measure_once(&trigger(
        &[
            ("serverAddress", &server),
            ("query", &absent),
            ("threshold", "5"),
        ],
        &[],
    ))
    .await
    .unwrap();
    assert_eq!(m.values[0].value, 0.0);
    let err = measure_once(&trigger(
        &[
            ("serverAddress", &server),
            ("query", &absent),
            ("threshold", "5"),
            ("ignoreNullValues", "false"),
        ],
        &[],
    ))
    .await
    .unwrap_err();
    assert_eq!(err.reason(), MeasureReason::BadResponse);
}

/// A Prometheus-shaped API that insists on the headers, parameters and credentials a trigger sends.
async fn strict_api() -> String {
    let handler = |headers: HeaderMap, axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
        let query = query.unwrap_or_default();
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // base64("u:right")
        if auth != "Basic dTpyaWdodA==" {
            return (StatusCode::UNAUTHORIZED, "unauthorized".to_owned());
        }
        let tenant = headers.get("X-Scope-OrgID").and_then(|v| v.to_str().ok()) == Some("team-a");
        let ok = tenant
            && query.contains("namespace=apps")
            && query.contains("dedup=false")
            && query.contains("time=");
        let value = if ok { "9" } else { "-1" };
        (
            StatusCode::OK,
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1,"{value}"]}}]}}}}"#
            ),
        )
    };
    testutil::serve(axum::Router::new().route("/api/v1/query", get(handler))).await
}

#[tokio::test]
async fn custom_headers_query_parameters_namespace_and_basic_auth_are_sent() {
    testutil::init();
    let addr = strict_api().await;
    let server = format!("http://{addr}");
    let meta = [
        ("serverAddress", server.as_str()),
        ("query", "up"),
        ("threshold", "5"),
        ("namespace", "apps"),
        ("queryParameters", "dedup=false"),
        ("customHeaders", "X-Scope-OrgID=team-a"),
        ("authModes", "basic"),
    ];
    let m = measure_once(&trigger(&meta, &[("username", "u"), ("password", "right")]))
        .await
        .unwrap();
    assert_eq!(m.values[0].value, 9.0);

    let err = measure_once(&trigger(&meta, &[("username", "u"), ("password", CANARY)]))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), MeasureReason::Unauthorized);
    assert_no_canary(&err);

    let mut closed = meta;
    closed[0] = ("serverAddress", "http://127.0.0.1:1");
    let err = measure_once(&trigger(
        &closed,
        &[("username", "u"), ("password", CANARY)],
    ))
    .await
    .unwrap_err();
    assert_eq!(err.reason(), MeasureReason::Unreachable);
    assert_no_canary(&err);
}

#[tokio::test]
async fn identical_queries_in_one_poll_are_sent_once() {
    testutil::init();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let api = axum::Router::new().route(
        "/api/v1/query",
        get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"3"]}]}}"#
            }
        }),
    );
    let server = format!("http://{}", testutil::serve(api).await);
    let clients = Clients::new();
    let poll = Poll::new();
    let scalers: Vec<_> = (0..50)
        .map(|i| {
            let mut p = trigger(
                &[
                    ("serverAddress", &server),
                    ("query", "sum(x)"),
                    ("threshold", "1"),
                ],
                &[],
            );
            p.index = i;
            build(&p, &clients).unwrap()
        })
        .collect();
    for s in &scalers {
        assert_eq!(s.measure(&poll).await.unwrap().values[0].value, 3.0);
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(clients.live_counts().0, 1, "one shared HTTP client");
}
