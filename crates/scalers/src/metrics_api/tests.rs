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
        (&[("format", "XML")], &[], "format"),
        (
            &[("authModes", "oauth")],
            &[("clientID", "c")],
            "oauthTokenURI",
        ),
        (
            &[("authModes", "oauth")],
            &[("oauthTokenURI", "http://idp/token")],
            "clientID",
        ),
        (
            &[("authMode", "oauth")],
            &[("oauthTokenURI", "idp/token"), ("clientID", "c")],
            "oauthTokenURI",
        ),
        (
            &[("authModes", "oauth")],
            &[
                ("oauthTokenURI", "http://idp/token"),
                ("clientID", "c"),
                ("endpointParams", "=orphan"),
            ],
            "endpointParams",
        ),
        (
            &[("authModes", "basic,oauth")],
            &[
                ("username", "u"),
                ("oauthTokenURI", "http://idp/token"),
                ("clientID", "c"),
            ],
            "authModes",
        ),
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

#[tokio::test]
async fn reads_dot_paths_from_yaml_and_xml_bodies() {
    testutil::init();
    let yaml = || async { "components:\n  - id: a\n    tasks: 32\n    size: 2k\ncount: 2.43\n" };
    let xml = || async {
        "<?xml version=\"1.0\"?><stats><worker><tasks>12</tasks></worker>\
         <queue><depth>4</depth></queue><queue><depth>250m</depth></queue><up>yes</up></stats>"
    };
    let addr = testutil::serve(
        axum::Router::new()
            .route("/yaml", get(yaml))
            .route("/xml", get(xml)),
    )
    .await;
    for (path, format, location, want) in [
        ("/yaml", "yaml", "components.0.tasks", Some(32.0)),
        ("/yaml", "yaml", "components.0.size", Some(2000.0)),
        ("/yaml", "yaml", "count", Some(2.43)),
        ("/yaml", "yaml", "components.0.id", None),
        ("/xml", "xml", "stats.worker.tasks", Some(12.0)),
        ("/xml", "xml", "stats.queue.1.depth", Some(0.25)),
        ("/xml", "xml", "stats.up", None),
        ("/xml", "yaml", "stats.worker.tasks", None),
    ] {
        let url = format!("http://{addr}{path}");
        let meta = [
            ("url", url.as_str()),
            ("format", format),
            ("valueLocation", location),
            ("targetValue", "10"),
            ("activationTargetValue", "12"),
        ];
        let got = measure_once(&trigger(&meta, &[])).await;
        match (got, want) {
            (Ok(m), Some(v)) => {
                assert_eq!(m.values[0].value, v, "{format} {location}");
                assert_eq!(m.is_active, v > 12.0, "{format} {location}");
            }
            (Err(e), None) => assert_eq!(e.reason(), MeasureReason::BadResponse, "{e}"),
            (got, want) => panic!("{format} {location}: got {got:?}, want {want:?}"),
        }
    }
}

/// A client-credentials token endpoint and a resource that accepts only its tokens: the protocol a
/// user's own OAuth2 server and metrics API speak. Counts token requests; tokens live `ttl` s.
#[derive(Default)]
struct OAuthWorld {
    issued: std::sync::atomic::AtomicUsize,
    ttl: std::sync::atomic::AtomicU64,
    /// The last form body the token endpoint saw.
    last_form: std::sync::Mutex<String>,
}

async fn oauth_world(world: std::sync::Arc<OAuthWorld>) -> String {
    use std::sync::atomic::Ordering;
    let token_world = world.clone();
    let token = move |headers: HeaderMap, body: String| {
        let world = token_world.clone();
        async move {
            *world.last_form.lock().unwrap() = body.clone();
            let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            // The client authenticates with HTTP Basic (id and secret form-encoded, then base64).
            let basic = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let want = format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    "ebb-client:right%2Fsecret"
                )
            );
            if field("grant_type").as_deref() != Some("client_credentials") {
                return (
                    StatusCode::BAD_REQUEST,
                    r#"{"error":"unsupported_grant_type"}"#.to_owned(),
                );
            }
            if basic != want {
                return (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"invalid_client"}"#.to_owned(),
                );
            }
            let n = world.issued.fetch_add(1, Ordering::SeqCst) + 1;
            let ttl = world.ttl.load(Ordering::SeqCst);
            (
                StatusCode::OK,
                format!(r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":{ttl}}}"#),
            )
        }
    };
    let metrics_world = world.clone();
    let metrics = move |headers: HeaderMap| {
        let world = metrics_world.clone();
        async move {
            let issued = world.issued.load(Ordering::SeqCst);
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            // Only the latest token is valid.
            if issued > 0 && auth == format!("Bearer tok-{issued}") {
                (StatusCode::OK, r#"{"queue":{"depth":17}}"#)
            } else {
                (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_token"}"#)
            }
        }
    };
    testutil::serve(
        axum::Router::new()
            .route("/oauth/token", axum::routing::post(token))
            .route("/metrics", get(metrics)),
    )
    .await
}

fn oauth_trigger(addr: &str, secret: &str) -> TriggerParams {
    trigger(
        &[
            ("url", &format!("http://{addr}/metrics")),
            ("valueLocation", "queue.depth"),
            ("targetValue", "5"),
            ("authModes", "oauth"),
        ],
        &[
            ("oauthTokenURI", &format!("http://{addr}/oauth/token")),
            ("clientID", "ebb-client"),
            ("clientSecret", secret),
            ("scopes", "metrics.read, queue.read"),
            (
                "endpointParams",
                "audience=https%3A%2F%2Fmetrics.example&tenant=t1",
            ),
        ],
    )
}

#[tokio::test]
async fn oauth_tokens_are_fetched_cached_until_expiry_and_shared() {
    use std::sync::atomic::Ordering;
    testutil::init();
    let world = std::sync::Arc::new(OAuthWorld::default());
    world.ttl.store(3600, Ordering::SeqCst);
    let addr = oauth_world(world.clone()).await;
    let clients = Clients::new();
    let a = build(&oauth_trigger(&addr, "right/secret"), &clients).unwrap();
    let mut second = oauth_trigger(&addr, "right/secret");
    second.index = 4;
    let b = build(&second, &clients).unwrap();
    for _ in 0..3 {
        for s in [&a, &b] {
            let m = s.measure(&Poll::new()).await.unwrap();
            assert_eq!(m.values[0].value, 17.0);
            assert!(m.is_active);
        }
    }
    assert_eq!(
        world.issued.load(Ordering::SeqCst),
        1,
        "one token for two triggers and three polls"
    );
    let form = world.last_form.lock().unwrap().clone();
    for part in [
        "grant_type=client_credentials",
        "scope=metrics.read+queue.read",
        "audience=https%3A%2F%2Fmetrics.example",
        "tenant=t1",
    ] {
        assert!(form.contains(part), "{part} missing from {form}");
    }
    assert!(
        !form.contains("client_secret"),
        "credentials go in the header"
    );

    // A token that expires within the 10 s margin is replaced on the next request.
    world.ttl.store(11, Ordering::SeqCst);
    let short_clients = Clients::new();
    let c = build(&oauth_trigger(&addr, "right/secret"), &short_clients).unwrap();
    assert_eq!(c.measure(&Poll::new()).await.unwrap().values[0].value, 17.0);
    let after_first = world.issued.load(Ordering::SeqCst);
    assert_eq!(after_first, 2);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(c.measure(&Poll::new()).await.unwrap().values[0].value, 17.0);
    assert_eq!(
        world.issued.load(Ordering::SeqCst),
        3,
        "expired token replaced"
    );

    // The first client's token (tok-1) is no longer the latest: a 401 drops it, the next poll
    // fetches a new one.
    let err = a.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(err.reason(), MeasureReason::Unauthorized);
    assert_eq!(a.measure(&Poll::new()).await.unwrap().values[0].value, 17.0);
    assert_eq!(world.issued.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn oauth_failures_are_classified_and_never_show_the_secret_or_token() {
    use std::sync::atomic::Ordering;
    testutil::init();
    let world = std::sync::Arc::new(OAuthWorld::default());
    world.ttl.store(3600, Ordering::SeqCst);
    let addr = oauth_world(world.clone()).await;
    // A wrong client secret: the header attempt and the form-body retry are both refused.
    let p = oauth_trigger(&addr, CANARY);
    assert!(!format!("{p:?}").contains(CANARY));
    let config = Config::from_params(&p).unwrap();
    assert!(!format!("{config:?}").contains(CANARY));
    let err = measure_once(&p).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    assert!(
        world.last_form.lock().unwrap().contains("client_secret="),
        "the second attempt sends the credentials in the body"
    );
    assert_eq!(world.issued.load(Ordering::SeqCst), 0);
    // The token endpoint is down.
    let mut down = oauth_trigger(&addr, CANARY);
    down.auth_params
        .insert("oauthTokenURI".into(), "http://127.0.0.1:1/token".into());
    let err = measure_once(&down).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    // A good token never shows in an error from the resource server.
    let clients = Clients::new();
    let s = build(&oauth_trigger(&addr, "right/secret"), &clients).unwrap();
    s.measure(&Poll::new()).await.unwrap();
    let mut broken = oauth_trigger(&addr, "right/secret");
    broken
        .metadata
        .insert("valueLocation".into(), "queue.nothing".into());
    let s = build(&broken, &clients).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(err.reason(), MeasureReason::BadResponse);
    assert!(
        !err.full_message().contains("tok-"),
        "{}",
        err.full_message()
    );
}
