// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use super::*;
use crate::testutil::{self, CANARY, assert_no_canary, measure_once};

fn trigger(meta: &[(&str, &str)], auth: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 3, meta.iter().map(|(k, v)| (*k, *v)))
        .with_auth_params(auth.iter().map(|(k, v)| (*k, *v)))
}

#[test]
fn defaults_and_metric_name() {
    let c = Config::from_params(&trigger(
        &[
            ("url", "http://x/m"),
            ("valueLocation", "components.worker.tasks"),
            ("targetValue", "5"),
        ],
        &[],
    ))
    .unwrap();
    assert_eq!(c.metric_name, "s3-metric-api-components-worker-tasks");
    assert_eq!((c.format, c.target, c.activation), (Format::Json, 5.0, 0.0));
}

#[test]
fn parameter_rules_name_the_key() {
    let base = [
        ("url", "http://x/m"),
        ("valueLocation", "a"),
        ("targetValue", "5"),
    ];
    let cases: &[(&[(&str, &str)], &[(&str, &str)], &str)] = &[
        (&[("url", "")], &[], "url"),
        (&[("url", "::")], &[], "url"),
        (&[("valueLocation", "")], &[], "valueLocation"),
        (&[("targetValue", "")], &[], "targetValue"),
        (&[("targetValue", "0")], &[], "targetValue"),
        (&[("targetValue", "five")], &[], "targetValue"),
        (&[("format", "csv")], &[], "format"),
        (&[("format", "xml")], &[], "format"),
        (
            &[("activationTargetValue", "x")],
            &[],
            "activationTargetValue",
        ),
        (
            &[("aggregateFromKubeServiceEndpoints", "true")],
            &[],
            "aggregateFromKubeServiceEndpoints",
        ),
        (&[("authModes", "apiKey")], &[], "apiKey"),
        (
            &[("authModes", "apiKey"), ("method", "cookie")],
            &[("apiKey", "k")],
            "method",
        ),
    ];
    for (extra, auth, key) in cases {
        let mut meta: Vec<(&str, &str)> = base
            .iter()
            .copied()
            .filter(|(k, _)| !extra.iter().any(|(ek, _)| ek == k))
            .collect();
        meta.extend(extra.iter().copied().filter(|(_, v)| !v.is_empty()));
        let err = Config::from_params(&trigger(&meta, auth)).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{extra:?}: {err}");
    }
}

#[test]
fn quantities_parse_like_kubernetes() {
    let cases = [
        ("12", 12.0),
        ("250m", 0.25),
        ("2k", 2000.0),
        ("1Ki", 1024.0),
        ("1.5", 1.5),
        ("1e3", 1000.0),
    ];
    for (raw, want) in cases {
        assert_eq!(parse_quantity(raw), Some(want), "{raw}");
    }
    assert_eq!(parse_quantity("lots"), None);
    assert_eq!(parse_quantity("5 apples"), None);
}

#[test]
fn prometheus_selectors_match_samples() {
    let text = "# HELP q depth\n# TYPE q gauge\nq{queue=\"a\",env=\"x\"} 3\nq{queue=\"b\"} 7 1700000000\nother 1\n";
    assert_eq!(prometheus_sample(text, "q{queue=\"b\"}"), Some(7.0));
    assert_eq!(prometheus_sample(text, "q{queue=\"a\"}"), Some(3.0));
    assert_eq!(prometheus_sample(text, "other"), Some(1.0));
    assert_eq!(prometheus_sample(text, "q{queue=\"c\"}"), None);
}

async fn api() -> String {
    let json = || async {
        r#"{"components":{"worker":{"tasks":12}},"items":[{"v":1},{"v":3}],"quantity":"250m","name":"x"}"#
    };
    let prom = || async { "# TYPE jobs gauge\njobs{queue=\"fast\"} 4\njobs{queue=\"slow\"} 9\n" };
    let keyed = |headers: HeaderMap, axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
        let header_ok = headers.get("X-API-KEY").and_then(|v| v.to_str().ok()) == Some("right-key");
        let query_ok = q.unwrap_or_default().contains("api_key=right-key");
        if header_ok || query_ok {
            (StatusCode::OK, r#"{"v":5}"#)
        } else {
            (StatusCode::FORBIDDEN, "no")
        }
    };
    let bearer = |headers: HeaderMap| async move {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer tok") {
            (StatusCode::OK, r#"{"v":6}"#)
        } else {
            (StatusCode::UNAUTHORIZED, "no")
        }
    };
    let broken = || async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") };
    testutil::serve(
        axum::Router::new()
            .route("/json", get(json))
            .route("/prom", get(prom))
            .route("/keyed", get(keyed))
            .route("/bearer", get(bearer))
            .route("/broken", get(broken)),
    )
    .await
}

#[tokio::test]
async fn reads_json_paths_prometheus_text_and_authenticates() {
    testutil::init();
    let addr = api().await;
    let url = |path: &str| format!("http://{addr}{path}");
    let cases: Vec<(Vec<(&str, String)>, Vec<(&str, &str)>, f64)> = vec![
        (
            vec![
                ("url", url("/json")),
                ("valueLocation", "components.worker.tasks".into()),
            ],
            vec![],
            12.0,
        ),
        (
            vec![("url", url("/json")), ("valueLocation", "items.1.v".into())],
            vec![],
            3.0,
        ),
        (
            vec![("url", url("/json")), ("valueLocation", "items.#".into())],
            vec![],
            2.0,
        ),
        (
            vec![("url", url("/json")), ("valueLocation", "quantity".into())],
            vec![],
            0.25,
        ),
        (
            vec![
                ("url", url("/prom")),
                ("valueLocation", "jobs{queue=\"slow\"}".into()),
                ("format", "prometheus".into()),
            ],
            vec![],
            9.0,
        ),
        (
            vec![
                ("url", url("/keyed")),
                ("valueLocation", "v".into()),
                ("authModes", "apiKey".into()),
            ],
            vec![("apiKey", "right-key")],
            5.0,
        ),
        (
            vec![
                ("url", url("/keyed")),
                ("valueLocation", "v".into()),
                ("authModes", "apiKey".into()),
                ("method", "query".into()),
            ],
            vec![("apiKey", "right-key")],
            5.0,
        ),
        (
            vec![
                ("url", url("/bearer")),
                ("valueLocation", "v".into()),
                ("authModes", "bearer".into()),
            ],
            vec![("bearerToken", "tok")],
            6.0,
        ),
    ];
    for (meta, auth, want) in cases {
        let mut meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
        meta.push(("targetValue", "4"));
        meta.push(("activationTargetValue", "5.5"));
        let m = measure_once(&trigger(&meta, &auth)).await.unwrap();
        assert_eq!(m.values[0].value, want, "{meta:?}");
        assert_eq!(m.is_active, want > 5.5, "{meta:?}");
    }
}

#[tokio::test]
async fn failures_have_reasons_and_never_print_the_key() {
    testutil::init();
    let addr = api().await;
    let cases = [
        (
            format!("http://{addr}/json"),
            "name",
            MeasureReason::BadResponse,
        ),
        (
            format!("http://{addr}/json"),
            "nowhere",
            MeasureReason::BadResponse,
        ),
        (
            format!("http://{addr}/broken"),
            "v",
            MeasureReason::BadResponse,
        ),
        (
            format!("http://{addr}/keyed"),
            "v",
            MeasureReason::Unauthorized,
        ),
        (
            format!("http://{addr}/missing"),
            "v",
            MeasureReason::NotFound,
        ),
        (
            "http://127.0.0.1:1/x".to_owned(),
            "v",
            MeasureReason::Unreachable,
        ),
        (
            format!("http://u:{CANARY}@{addr}/keyed"),
            "v",
            MeasureReason::Unauthorized,
        ),
        (
            format!("http://u:{CANARY}@127.0.0.1:1/x"),
            "v",
            MeasureReason::Unreachable,
        ),
    ];
    for (url, location, reason) in cases {
        let meta = [
            ("url", url.as_str()),
            ("valueLocation", location),
            ("targetValue", "1"),
            ("authModes", "apiKey"),
        ];
        let err = measure_once(&trigger(&meta, &[("apiKey", CANARY)]))
            .await
            .unwrap_err();
        assert_eq!(
            err.reason(),
            reason,
            "{url} {location}: {}",
            err.full_message()
        );
        assert_no_canary(&err);
    }
}
