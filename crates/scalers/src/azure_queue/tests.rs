//! `azure-queue` against Azurite (`scripts/services start`): exact counts for both strategies,
//! SAS and Shared Key, and the errors a user sees.

// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::azure::testing;
use crate::error::MeasureReason;
use crate::testutil::{self, CANARY, assert_no_canary, measure_once, unique};

fn trigger(meta: &[(&str, &str)], connection: &str) -> TriggerParams {
    TriggerParams::new(KIND, 0, meta.iter().map(|(k, v)| (*k, *v)))
        .with_auth_params([("connection", connection)])
}

/// A queue holding `visible` visible messages and `invisible` dequeued (invisible for 5 min).
async fn queue_with(visible: usize, invisible: usize) -> String {
    testing::require().await;
    let name = unique("ebbq").replace('_', "-").to_ascii_lowercase();
    let base = format!("{}/{name}", testing::queue_endpoint());
    testing::request("PUT", &base, &[], "").await;
    for i in 0..visible + invisible {
        let body = format!("<QueueMessage><MessageText>m{i}</MessageText></QueueMessage>");
        testing::request("POST", &format!("{base}/messages"), &[], &body).await;
    }
    if invisible > 0 {
        let got = testing::request(
            "GET",
            &format!("{base}/messages?numofmessages={invisible}&visibilitytimeout=300"),
            &[],
            "",
        )
        .await;
        assert_eq!(got.matches("<MessageId>").count(), invisible, "{got}");
    }
    name
}

#[test]
fn defaults_and_metric_name() {
    let c = Config::from_params(&trigger(
        &[("queueName", "jobs")],
        &testing::connection_string(),
    ))
    .unwrap();
    assert_eq!(c.metric_name, "s0-azure-queue-jobs");
    assert_eq!((c.queue_length, c.activation), (5, 0));
    assert_eq!(c.strategy, Strategy::All);
    assert_eq!(c.account.account, "devstoreaccount1");

    let c = Config::from_params(&trigger(
        &[
            ("queueName", "jobs"),
            ("queueLengthStrategy", "visibleonly"),
        ],
        "AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn",
    ))
    .unwrap();
    assert_eq!(c.strategy, Strategy::VisibleOnly);
    assert_eq!(
        c.account.endpoint,
        "https://acct.queue.core.chinacloudapi.cn"
    );

    let c = Config::from_params(&trigger(
        &[("queueName", "jobs"), ("cloud", "AzureUSGovernmentCloud")],
        "AccountName=acct;AccountKey=a2V5",
    ))
    .unwrap();
    assert_eq!(
        c.account.endpoint,
        "https://acct.queue.core.usgovcloudapi.net"
    );
}

#[test]
fn parameter_rules_name_the_key_and_never_the_connection_string() {
    let cases: &[(&[(&str, &str)], &str, &str)] = &[
        (&[], "AccountName=a;AccountKey=k", "queueName"),
        (
            &[("queueName", "q"), ("queueLength", "0")],
            "AccountName=a;AccountKey=k",
            "queueLength",
        ),
        (
            &[("queueName", "q"), ("queueLength", "x")],
            "AccountName=a;AccountKey=k",
            "queueLength",
        ),
        (
            &[("queueName", "q"), ("queueLengthStrategy", "some")],
            "AccountName=a;AccountKey=k",
            "queueLengthStrategy",
        ),
        (&[("queueName", "q")], "AccountName=a", "connection"),
        (
            &[("queueName", "q")],
            "garbage-canary-5ecret-9f3a",
            "connection",
        ),
    ];
    for (meta, conn, key) in cases {
        let err = Config::from_params(&trigger(meta, conn)).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{err}");
        assert!(!err.to_string().contains("5ecret"), "{err}");
    }
    let no_conn = TriggerParams::new(KIND, 0, [("queueName", "q")]);
    assert_eq!(
        Config::from_params(&no_conn).unwrap_err().key(),
        Some("connection")
    );
}

#[tokio::test]
async fn both_strategies_count_exactly() {
    testutil::init();
    let name = queue_with(5, 3).await;
    let conn = testing::connection_string();
    // `all` counts invisible (dequeued) messages too.
    let m = measure_once(&trigger(&[("queueName", &name)], &conn))
        .await
        .unwrap();
    assert_eq!(m.values[0].value, 8.0);
    assert_eq!(m.values[0].metric_name, format!("s0-azure-queue-{name}"));
    assert!(m.is_active);
    let m = measure_once(&trigger(
        &[("queueName", &name), ("queueLengthStrategy", "visibleonly")],
        &conn,
    ))
    .await
    .unwrap();
    assert_eq!(m.values[0].value, 5.0);
    // Activation is strict: 5 > 5 is false.
    let m = measure_once(&trigger(
        &[
            ("queueName", &name),
            ("queueLengthStrategy", "visibleonly"),
            ("activationQueueLength", "5"),
        ],
        &conn,
    ))
    .await
    .unwrap();
    assert!(!m.is_active);
}

#[tokio::test]
async fn visibleonly_falls_back_to_the_approximate_count_past_32() {
    testutil::init();
    let name = queue_with(33, 2).await;
    let m = measure_once(&trigger(
        &[("queueName", &name), ("queueLengthStrategy", "visibleonly")],
        &testing::connection_string(),
    ))
    .await
    .unwrap();
    // 32 peeked = "at least 32": the approximate count (visible + invisible) is used.
    assert_eq!(m.values[0].value, 35.0);
}

#[tokio::test]
async fn a_sas_connection_string_works_and_an_expired_one_is_unauthorized() {
    testutil::init();
    let name = queue_with(2, 0).await;
    let sas = testing::account_sas("q", "2099-01-01T00:00:00Z");
    let conn = format!(
        "QueueEndpoint={};SharedAccessSignature={sas}",
        testing::queue_endpoint()
    );
    let m = measure_once(&trigger(&[("queueName", &name)], &conn))
        .await
        .unwrap();
    assert_eq!(m.values[0].value, 2.0);

    let expired = testing::account_sas("q", "2020-01-01T00:00:00Z");
    let sig = expired.rsplit("sig=").next().unwrap().to_owned();
    let conn = format!(
        "QueueEndpoint={};SharedAccessSignature={expired}",
        testing::queue_endpoint()
    );
    let err = measure_once(&trigger(&[("queueName", &name)], &conn))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    let shown = format!("{err:?} {}", err.full_message());
    assert!(!shown.contains(&sig), "SAS leaked: {shown}");
    assert!(!shown.contains("sig="), "SAS leaked: {shown}");
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_never_printed() {
    testutil::init();
    let name = queue_with(1, 0).await;
    let bad_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, CANARY);
    let conn = format!(
        "AccountName={};AccountKey={bad_key};QueueEndpoint={}",
        testing::account(),
        testing::queue_endpoint()
    );
    let err = measure_once(&trigger(&[("queueName", &name)], &conn))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    assert!(!err.full_message().contains(&bad_key));
}

#[tokio::test]
async fn a_missing_queue_is_not_found_and_a_dead_endpoint_unreachable() {
    testutil::init();
    testing::require().await;
    let err = measure_once(&trigger(
        &[("queueName", "no-such-queue-ebb")],
        &testing::connection_string(),
    ))
    .await
    .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );

    let conn = format!(
        "AccountName=devstoreaccount1;AccountKey={};QueueEndpoint=http://127.0.0.1:9/devstoreaccount1",
        testing::key()
    );
    let err = measure_once(&trigger(&[("queueName", "q")], &conn))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
}
