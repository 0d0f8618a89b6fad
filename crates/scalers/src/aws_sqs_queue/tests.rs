//! `aws-sqs-queue` against moto (`scripts/services start`, port 5000): exact counts per flag
//! combination, name resolution, and the errors a user sees. Queue names are unique per test
//! (moto keeps queues for the life of the server and limits PurgeQueue).

// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::error::MeasureReason;
use crate::http::aws::BaseIdentity;
use crate::testutil::{self, CANARY, assert_no_canary, endpoint, measure_once, unique};

fn sqs_endpoint() -> String {
    endpoint("EBB_SQS_ENDPOINT", "http://127.0.0.1:5000")
}
fn region() -> String {
    endpoint("EBB_AWS_REGION", "us-east-1")
}

fn trigger(meta: &[(&str, &str)]) -> TriggerParams {
    let mut meta: Vec<(String, String)> = meta
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if !meta.iter().any(|(k, _)| k == "awsEndpoint") {
        meta.push(("awsEndpoint".into(), sqs_endpoint()));
    }
    if !meta.iter().any(|(k, _)| k == "awsRegion") {
        meta.push(("awsRegion".into(), region()));
    }
    TriggerParams::new(KIND, 0, meta)
        .with_auth_params([("awsAccessKeyID", "test"), ("awsSecretAccessKey", CANARY)])
}

async fn moto(target: &str, body: serde_json::Value) -> serde_json::Value {
    let client = Clients::new()
        .http(&HttpSettings::with_timeout(std::time::Duration::from_secs(
            10,
        )))
        .unwrap();
    let auth = AwsAuth {
        region: region(),
        service: "sqs".into(),
        identity: AwsIdentity::Static(AwsCredentials {
            access_key_id: "test".into(),
            secret_access_key: SecretString::new("test"),
            session_token: None,
        }),
    };
    call(&client, &sqs_endpoint(), &auth, target, &body)
        .await
        .unwrap_or_else(|e| panic!("{target}: {}", e.full_message()))
}

/// A queue with 5 visible, 2 in-flight and 3 delayed messages; returns (url, name).
async fn queue_5_2_3() -> (String, String) {
    testutil::init();
    testutil::require("moto", &testutil::host_port(&sqs_endpoint())).await;
    let name = unique("ebb-sqs");
    let url = moto("CreateQueue", serde_json::json!({ "QueueName": name })).await["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..2 {
        moto(
            "SendMessage",
            serde_json::json!({"QueueUrl": url, "MessageBody": format!("f{i}")}),
        )
        .await;
    }
    let got = moto(
        "ReceiveMessage",
        serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 2, "VisibilityTimeout": 600}),
    )
    .await;
    assert_eq!(got["Messages"].as_array().map(Vec::len), Some(2), "{got}");
    for i in 0..5 {
        moto(
            "SendMessage",
            serde_json::json!({"QueueUrl": url, "MessageBody": format!("v{i}")}),
        )
        .await;
    }
    for i in 0..3 {
        moto(
            "SendMessage",
            serde_json::json!({"QueueUrl": url, "MessageBody": format!("d{i}"), "DelaySeconds": 600}),
        )
        .await;
    }
    (url, name)
}

#[test]
fn defaults_names_and_endpoints() {
    let c = Config::from_params(&trigger(&[(
        "queueURL",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
    )]))
    .unwrap();
    assert_eq!(c.queue_name, "orders");
    assert_eq!(c.metric_name, "s0-aws-sqs-orders");
    assert_eq!((c.queue_length, c.activation), (5, 0));
    assert_eq!((c.scale_on_in_flight, c.scale_on_delayed), (true, false));

    let c = Config::from_params(
        &TriggerParams::new(
            KIND,
            2,
            [("queueURL", "jobs"), ("awsRegion", "eu-central-1")],
        )
        .with_auth_params([("awsAccessKeyId", "AKID"), ("awsSecretAccessKey", "s")]),
    )
    .unwrap();
    assert_eq!(c.queue_url, None);
    assert_eq!(c.endpoint, "https://sqs.eu-central-1.amazonaws.com");
    match &c.auth.identity {
        AwsIdentity::Static(creds) => assert_eq!(creds.access_key_id, "AKID"),
        other => panic!("static keys expected, got {other:?}"),
    }
    // A role is assumed at the endpoint override when there is one, else at regional STS.
    let role = |meta: &[(&str, &str)]| {
        let mut m = vec![("queueURL", "jobs"), ("awsRegion", "eu-central-1")];
        m.extend_from_slice(meta);
        let p = TriggerParams::new(KIND, 0, m)
            .with_auth_params([("awsRoleArn", "arn:aws:iam::123456789012:role/r")]);
        Config::from_params(&p).unwrap().auth.role_key().unwrap()
    };
    assert_eq!(
        role(&[]).sts_endpoint,
        "https://sts.eu-central-1.amazonaws.com"
    );
    assert_eq!(
        role(&[("awsEndpoint", "http://127.0.0.1:5000/")]).sts_endpoint,
        "http://127.0.0.1:5000"
    );
    let p = TriggerParams::new(
        KIND,
        0,
        [
            ("queueURL", "jobs"),
            ("awsRegion", "eu-central-1"),
            ("identityOwner", "operator"),
        ],
    );
    assert_eq!(
        Config::from_params(&p).unwrap().auth.identity,
        AwsIdentity::Ambient
    );
}

#[test]
fn parameter_rules_name_the_key() {
    let auth = [("awsAccessKeyID", "a"), ("awsSecretAccessKey", CANARY)];
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("awsRegion", "us-east-1")], "queueURL"),
        (&[("queueURL", "q")], "awsRegion"),
        (
            &[("queueURL", "https://sqs/only-name"), ("awsRegion", "r")],
            "queueURL",
        ),
        (
            &[("queueURL", "q"), ("awsRegion", "r"), ("queueLength", "0")],
            "queueLength",
        ),
        (
            &[
                ("queueURL", "q"),
                ("awsRegion", "r"),
                ("scaleOnDelayed", "maybe"),
            ],
            "scaleOnDelayed",
        ),
        (
            &[("queueURL", "q"), ("awsRegion", "r"), ("awsEndpoint", "::")],
            "awsEndpoint",
        ),
        (
            &[
                ("queueURL", "q"),
                ("awsRegion", "r"),
                ("identityOwner", "me"),
            ],
            "identityOwner",
        ),
    ];
    for (meta, key) in cases {
        let p = TriggerParams::new(KIND, 0, meta.iter().copied()).with_auth_params(auth);
        let err = Config::from_params(&p).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{err}");
        assert!(!err.to_string().contains("5ecret"));
    }
    let p = TriggerParams::new(KIND, 0, [("queueURL", "q"), ("awsRegion", "r")]);
    assert_eq!(
        Config::from_params(&p).unwrap_err().key(),
        Some("awsAccessKeyID")
    );
}

#[tokio::test]
async fn each_flag_combination_counts_exactly() {
    let (url, name) = queue_5_2_3().await;
    let cases = [
        ("false", "false", 5.0),
        ("true", "false", 7.0),
        ("false", "true", 8.0),
        ("true", "true", 10.0),
    ];
    for (in_flight, delayed, want) in cases {
        let m = measure_once(&trigger(&[
            ("queueURL", &url),
            ("scaleOnInFlight", in_flight),
            ("scaleOnDelayed", delayed),
        ]))
        .await
        .unwrap();
        assert_eq!(
            m.values[0].value, want,
            "inFlight={in_flight} delayed={delayed}"
        );
        assert_eq!(m.values[0].metric_name, format!("s0-aws-sqs-{name}"));
    }
    // Defaults: visible + in-flight.
    let m = measure_once(&trigger(&[
        ("queueURL", &url),
        ("activationQueueLength", "7"),
    ]))
    .await
    .unwrap();
    assert_eq!(m.values[0].value, 7.0);
    assert!(!m.is_active, "activation is strict: 7 > 7 is false");
}

#[tokio::test]
async fn a_bare_queue_name_is_resolved_and_triggers_share_one_request_per_poll() {
    let (_url, name) = queue_5_2_3().await;
    let clients = Clients::new();
    let a = crate::registry::build(&trigger(&[("queueURL", &name)]), &clients).unwrap();
    let b = crate::registry::build(
        &trigger(&[("queueURL", &name), ("scaleOnDelayed", "true")]),
        &clients,
    )
    .unwrap();
    let poll = Poll::new();
    let (ma, mb) = tokio::join!(a.measure(&poll), b.measure(&poll));
    assert_eq!(ma.unwrap().values[0].value, 7.0);
    assert_eq!(mb.unwrap().values[0].value, 10.0);
    assert_eq!(
        poll.requests_made(),
        1,
        "one GetQueueAttributes for both triggers"
    );
}

#[tokio::test]
async fn a_missing_queue_or_wrong_region_is_not_found_without_the_secret() {
    let (url, _) = queue_5_2_3().await;
    let err = measure_once(&trigger(&[("queueURL", &format!("{url}-nope"))]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    // moto keeps queues per region: the same URL signed for another region does not exist there.
    let err = measure_once(&trigger(&[("queueURL", &url), ("awsRegion", "eu-west-3")]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
}

#[tokio::test]
async fn a_dead_endpoint_is_unreachable() {
    testutil::init();
    let err = measure_once(&trigger(&[
        ("queueURL", "http://127.0.0.1:9/123456789012/q"),
        ("awsEndpoint", "http://127.0.0.1:9"),
    ]))
    .await
    .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
}

#[test]
fn error_codes_are_classified() {
    assert_eq!(
        classify(400, "AWS.SimpleQueueService.NonExistentQueue"),
        MeasureReason::NotFound
    );
    assert_eq!(classify(400, "QueueDoesNotExist"), MeasureReason::NotFound);
    assert_eq!(
        classify(403, "InvalidClientTokenId"),
        MeasureReason::Unauthorized
    );
    assert_eq!(
        classify(400, "SignatureDoesNotMatch"),
        MeasureReason::Unauthorized
    );
    assert_eq!(classify(500, "InternalError"), MeasureReason::BadResponse);
}

/// STS `GetCallerIdentity` with `creds` against moto: who moto thinks the caller is.
async fn caller_arn(creds: &AwsCredentials) -> String {
    let url = format!("{}/", sqs_endpoint());
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let ct = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = crate::http::aws::sign(
        "POST",
        &url,
        &[("content-type", ct)],
        body.as_bytes(),
        &region(),
        "sts",
        creds,
    )
    .unwrap();
    let client = Clients::new()
        .http(&HttpSettings::with_timeout(std::time::Duration::from_secs(
            10,
        )))
        .unwrap();
    let mut req = client
        .client()
        .unwrap()
        .post(&url)
        .header("content-type", ct)
        .body(body);
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.expose());
    }
    let text = req.send().await.unwrap().text().await.unwrap();
    crate::azure::xml_texts(&text, &["Arn"])
        .unwrap()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no Arn in {text}"))
}

/// Params for a trigger that assumes `role` (authParams `awsRoleArn`), as a parsed config whose
/// base identity is given keys: Ebb's own identity is the process environment, which a test
/// cannot set (`set_var` is unsafe), so the test hands the same kind of keys in directly.
fn role_config(queue: &str, role: &str, endpoint: &str) -> Config {
    let p = TriggerParams::new(
        KIND,
        0,
        [
            ("queueURL", queue),
            ("awsRegion", region().as_str()),
            ("awsEndpoint", endpoint),
        ],
    )
    .with_auth_params([("awsRoleArn", role)]);
    let mut config = Config::from_params(&p).unwrap();
    let AwsIdentity::AssumeRole(key) = &mut config.auth.identity else {
        panic!("awsRoleArn must assume a role");
    };
    assert_eq!(key.base, BaseIdentity::Ambient);
    key.base = BaseIdentity::Static(AwsCredentials {
        access_key_id: "AKIDEBBBASE".into(),
        secret_access_key: SecretString::new(CANARY),
        session_token: None,
    });
    config
}

#[tokio::test]
async fn an_assumed_role_reads_the_queue_and_its_credentials_are_shared_and_cached() {
    let (url, _) = queue_5_2_3().await;
    let role = "arn:aws:iam::123456789012:role/ebb-reader";
    let config = role_config(&url, role, &sqs_endpoint());
    let clients = Clients::new();
    let a = AwsSqsQueueScaler::new(config.clone(), &clients).unwrap();
    let b = AwsSqsQueueScaler::new(config, &clients).unwrap();
    let held = a.auth_hold().role_credentials().unwrap();
    assert!(
        Arc::ptr_eq(held, b.auth_hold().role_credentials().unwrap()),
        "one set of role credentials for both triggers"
    );
    for _ in 0..2 {
        assert_eq!(a.measure(&Poll::new()).await.unwrap().values[0].value, 7.0);
        assert_eq!(b.measure(&Poll::new()).await.unwrap().values[0].value, 7.0);
    }
    assert_eq!(held.fetches(), 1, "AssumeRole once, then cached");
    // The requests were signed with the role's temporary credentials, not the base keys.
    let assumed = held.cached().await.unwrap();
    assert_ne!(assumed.access_key_id, "AKIDEBBBASE");
    assert!(assumed.session_token.is_some());
    let arn = caller_arn(&assumed).await;
    assert!(
        arn.contains(":assumed-role/ebb-reader/ebb-"),
        "moto says the caller is {arn}"
    );
}

#[tokio::test]
async fn role_errors_are_classified_without_secrets() {
    testutil::init();
    // STS unreachable (the endpoint override applies to STS as well).
    let config = role_config(
        "http://127.0.0.1:9/123456789012/q",
        "arn:aws:iam::123456789012:role/ebb-reader",
        "http://127.0.0.1:9",
    );
    let s = AwsSqsQueueScaler::new(config, &Clients::new()).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
    assert!(
        err.full_message().contains("AssumeRole"),
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);

    // Ebb's own identity without credentials in its environment is a config problem, said so.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let p = trigger(&[("queueURL", "q"), ("identityOwner", "operator")]);
        let err = measure_once(&p).await.unwrap_err();
        assert_eq!(err.reason(), MeasureReason::Config);
        assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
    }
}
