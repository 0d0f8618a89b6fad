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
        (&[("awsRegion", "eu-west-1")], &[], "awsAccessKeyID"),
        (
            &[("awsRegion", "eu-west-1")],
            &[("awsAccessKeyID", "AK")],
            "awsSecretAccessKey",
        ),
        (
            &[("awsRegion", "eu-west-1"), ("identityOwner", "nobody")],
            &[],
            "identityOwner",
        ),
        (
            &[("awsRegion", "eu-west-1"), ("authModes", "bearer")],
            &[("bearerToken", "t")],
            "awsRegion",
        ),
        (
            &[("authModes", "oauth")],
            &[("clientID", "c")],
            "oauthTokenURI",
        ),
        (
            &[("authModes", "oauth")],
            &[("oauthTokenURI", "http://idp/t")],
            "clientID",
        ),
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

// ---------------------------------------------------------------------------------------------
// AWS SigV4 (Amazon Managed Service for Prometheus).

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// AWS's URI encoding for canonical query strings: unreserved characters stay, the rest `%XX`.
fn aws_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Recomputes a SigV4 signature from the request as it arrived (written here from AWS's published
/// algorithm, independently of the signer under test) and compares; `Err` says what differs.
fn verify_sigv4(
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    (access_key, secret, region, service): (&str, &str, &str, &str),
) -> Result<(), String> {
    use sha2::Digest;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or(format!("no {name} header"))
    };
    let auth = header("authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let part = |key: &str| {
        rest.split(", ")
            .find_map(|p| p.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .ok_or(format!("no {key} in Authorization"))
    };
    let (credential, signed_headers, signature) = (
        part("Credential")?,
        part("SignedHeaders")?,
        part("Signature")?,
    );
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, scope_region, scope_service, "aws4_request"] = scope[..] else {
        return Err(format!("bad credential scope {credential}"));
    };
    if (key_id, scope_region, scope_service) != (access_key, region, service) {
        return Err(format!(
            "signed by {key_id} for {scope_region}/{scope_service}"
        ));
    }
    let amz_date = header("x-amz-date")?;
    if !amz_date.starts_with(date) {
        return Err("x-amz-date does not match the scope date".into());
    }
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (aws_encode(&k), aws_encode(&v)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = header(name)?;
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "GET\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        hex(&sha2::Sha256::digest(b""))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&sha2::Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let expected = hex(&hmac(&key, &to_sign));
    if expected == signature {
        Ok(())
    } else {
        Err(format!(
            "signature mismatch; canonical request was:\n{canonical}"
        ))
    }
}

/// An AMP-shaped query endpoint that accepts only requests SigV4-signed for `aps` in `us-west-2`
/// by `AKIDEBB` with `secret` (and, when given, carrying `token` as `x-amz-security-token`).
///
/// No Amazon Managed Prometheus server can run here: this server recomputes every signature from
/// the request it received, with AWS's documented algorithm written independently in this test.
async fn sigv4_api(secret: &'static str, token: Option<&'static str>) -> String {
    let handler = move |uri: axum::http::Uri, headers: HeaderMap| async move {
        let verdict = verify_sigv4(
            uri.path(),
            uri.query().unwrap_or(""),
            &headers,
            ("AKIDEBB", secret, "us-west-2", "aps"),
        )
        .and_then(|()| {
            let sent = headers
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok());
            if sent == token {
                Ok(())
            } else {
                Err("x-amz-security-token differs".into())
            }
        })
        .and_then(|()| {
            let signed = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if token.is_some() && !signed.contains("x-amz-security-token") {
                return Err("x-amz-security-token is not signed".into());
            }
            Ok(())
        });
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let q = query
            .iter()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.as_str());
        match verdict {
            Ok(()) if q == Some(r#"sum(rate(jobs{queue="a b"}[5m]))"#) => (
                StatusCode::OK,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"21"]}]}}"#.to_owned(),
            ),
            Ok(()) => (StatusCode::BAD_REQUEST, format!("unexpected query {q:?}")),
            Err(why) => (
                StatusCode::FORBIDDEN,
                format!(r#"{{"message":"The request signature we calculated does not match: {why}"}}"#),
            ),
        }
    };
    testutil::serve(axum::Router::new().route("/workspaces/ws-1/api/v1/query", get(handler))).await
}

fn amp_trigger(addr: &str, auth: &[(&str, &str)]) -> TriggerParams {
    trigger(
        &[
            ("serverAddress", &format!("http://{addr}/workspaces/ws-1")),
            ("query", r#"sum(rate(jobs{queue="a b"}[5m]))"#),
            ("threshold", "10"),
            ("activationThreshold", "20.5"),
            ("awsRegion", "us-west-2"),
            ("queryParameters", "dedup=false"),
        ],
        auth,
    )
}

#[tokio::test]
async fn aws_region_signs_requests_with_sigv4_for_aps() {
    testutil::init();
    let addr = sigv4_api(CANARY, None).await;
    let m = measure_once(&amp_trigger(
        &addr,
        &[
            ("awsAccessKeyID", "AKIDEBB"),
            ("awsSecretAccessKey", CANARY),
        ],
    ))
    .await
    .unwrap();
    assert_eq!((m.values[0].value, m.is_active), (21.0, true));

    // Temporary credentials: the session token is sent and signed.
    let addr = sigv4_api(CANARY, Some("session-tok")).await;
    let m = measure_once(&amp_trigger(
        &addr,
        &[
            ("awsAccessKeyId", "AKIDEBB"),
            ("awsSecretAccessKey", CANARY),
            ("awsSessionToken", "session-tok"),
        ],
    ))
    .await
    .unwrap();
    assert_eq!(m.values[0].value, 21.0);
}

#[tokio::test]
async fn a_wrong_aws_secret_is_unauthorized_and_never_printed() {
    testutil::init();
    let addr = sigv4_api("the-right-secret", None).await;
    let p = amp_trigger(
        &addr,
        &[
            ("awsAccessKeyID", "AKIDEBB"),
            ("awsSecretAccessKey", CANARY),
        ],
    );
    assert!(!format!("{:?}", Config::from_params(&p).unwrap()).contains(CANARY));
    let err = measure_once(&p).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert!(
        err.full_message().contains("signature"),
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    // Signed for another region: the server's scope check refuses it.
    let mut other = p.clone();
    other
        .metadata
        .insert("awsRegion".into(), "eu-west-1".into());
    let err = measure_once(&other).await.unwrap_err();
    assert_eq!(err.reason(), MeasureReason::Unauthorized);
    assert_no_canary(&err);
}

// ---------------------------------------------------------------------------------------------
// OAuth2 client credentials, in front of the real Prometheus.

/// A token endpoint (client `ebb`, secret `right`) and an authenticating proxy that forwards
/// `/api/v1/query` to the real Prometheus only with the latest token. Returns the address and the
/// number of tokens issued.
async fn oauth_proxy(
    prometheus: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    let token = move |headers: HeaderMap, body: String| {
        let counter = counter.clone();
        async move {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let has = |k: &str, v: &str| form.iter().any(|(fk, fv)| fk == k && fv == v);
            let basic = headers.get("authorization").and_then(|v| v.to_str().ok());
            // base64("ebb:right")
            if basic != Some("Basic ZWJiOnJpZ2h0") || !has("scope", "prometheus:read") {
                return (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"invalid_client"}"#.to_owned(),
                );
            }
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            (
                StatusCode::OK,
                format!(r#"{{"access_token":"prom-tok-{n}","expires_in":300}}"#),
            )
        }
    };
    let latest = issued.clone();
    let upstream =
        crate::http::client_for(&HttpSettings::with_timeout(Duration::from_secs(5))).unwrap();
    let proxy = move |headers: HeaderMap, axum::extract::RawQuery(q): axum::extract::RawQuery| {
        let (latest, upstream, prometheus) = (latest.clone(), upstream.clone(), prometheus.clone());
        async move {
            let want = format!("Bearer prom-tok-{}", latest.load(Ordering::SeqCst));
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
                return (StatusCode::UNAUTHORIZED, "bad token".to_owned());
            }
            let url = format!("{prometheus}/api/v1/query?{}", q.unwrap_or_default());
            let body = upstream
                .get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (StatusCode::OK, body)
        }
    };
    let addr = testutil::serve(
        axum::Router::new()
            .route("/token", axum::routing::post(token))
            .route("/api/v1/query", get(proxy)),
    )
    .await;
    (addr, issued)
}

#[tokio::test]
async fn oauth_tokens_reach_the_real_prometheus_through_an_authenticating_proxy() {
    use std::sync::atomic::Ordering;
    testutil::init();
    let server = testutil::prometheus_url();
    testutil::require("Prometheus", &testutil::host_port(&server)).await;
    let (addr, issued) = oauth_proxy(server).await;
    let p = |secret: &str| {
        trigger(
            &[
                ("serverAddress", &format!("http://{addr}")),
                ("query", "vector(42) * 2"),
                ("threshold", "10"),
                ("authModes", "oauth"),
            ],
            &[
                ("oauthTokenURI", &format!("http://{addr}/token")),
                ("clientID", "ebb"),
                ("clientSecret", secret),
                ("scope", "prometheus:read"),
            ],
        )
    };
    let clients = Clients::new();
    let scalers: Vec<_> = (0..3)
        .map(|i| {
            let mut t = p("right");
            t.index = i;
            build(&t, &clients).unwrap()
        })
        .collect();
    for _ in 0..2 {
        for s in &scalers {
            assert_eq!(s.measure(&Poll::new()).await.unwrap().values[0].value, 84.0);
        }
    }
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token, shared and cached"
    );

    let err = measure_once(&p(CANARY)).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
}
