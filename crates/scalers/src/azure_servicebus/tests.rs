//! `azure-servicebus` against a recorded-response server.
//!
//! No Service Bus server or emulator can run on this machine, so a small axum server on 127.0.0.1
//! returns the documented Atom shapes of the management API (`QueueDescription`/
//! `SubscriptionDescription` with `CountDetails/d2p1:ActiveMessageCount`, listings as `feed`s, and
//! the empty feed the service returns for an unknown entity). The test only changes
//! `Config.namespace.base_url`; requests, SAS signing and parsing are the production code.

// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::StatusCode;

use super::*;
use crate::error::MeasureReason;
use crate::testutil::{self, CANARY, assert_no_canary};

const NS: &str = "ebbsb.servicebus.windows.net";

fn description(kind: &str, name: &str, active: i64) -> String {
    format!(
        r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>https://{NS}/{name}?api-version=2021-05</id><title type="text">{name}</title><published>2026-11-01T00:00:00Z</published><updated>2026-11-01T00:00:00Z</updated><author><name>ebbsb</name></author><link rel="self" href="https://{NS}/{name}?api-version=2021-05"/><content type="application/xml"><{kind} xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><LockDuration>PT1M</LockDuration><MaxSizeInMegabytes>1024</MaxSizeInMegabytes><MessageCount>{}</MessageCount><CountDetails xmlns:d2p1="http://schemas.microsoft.com/netservices/2011/06/servicebus"><d2p1:ActiveMessageCount>{active}</d2p1:ActiveMessageCount><d2p1:DeadLetterMessageCount>7</d2p1:DeadLetterMessageCount><d2p1:ScheduledMessageCount>3</d2p1:ScheduledMessageCount><d2p1:TransferMessageCount>0</d2p1:TransferMessageCount><d2p1:TransferDeadLetterMessageCount>0</d2p1:TransferDeadLetterMessageCount></CountDetails><Status>Active</Status></{kind}></content></entry>"#,
        active + 10
    )
}

fn feed(kind: &str, entries: &[(String, i64)]) -> String {
    let entries: String = entries
        .iter()
        .map(|(n, c)| {
            description(kind, n, *c).replacen(
                r#"<entry xmlns="http://www.w3.org/2005/Atom">"#,
                "<entry>",
                1,
            )
        })
        .collect();
    format!(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Queues</title><id>https://{NS}/$Resources/Queues</id><updated>2026-11-28T00:00:00Z</updated>{entries}</feed>"#
    )
}

const EMPTY_FEED: &str = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Publicly Listed Services</title><subtitle type="text">This is the list of publicly-listed services currently available.</subtitle><id>uuid:0</id><updated>2026-11-28T00:00:00Z</updated><generator>Service Bus 1.1</generator></feed>"#;

/// 150 queues `orders-000`..`orders-149` with count = index, plus `jobs` (42); topic `events`
/// with subscriptions `sub-a` (4) and `sub-b` (6).
async fn server() -> String {
    async fn handle(req: Request) -> (StatusCode, String) {
        let q: HashMap<String, String> =
            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !auth.starts_with("SharedAccessSignature sr=") || !auth.contains("&skn=listen") {
            return (StatusCode::UNAUTHORIZED, "<Error><Code>401</Code><Detail>InvalidSignature: The token has an invalid signature.</Detail></Error>".into());
        }
        if q.get("api-version").map(String::as_str) != Some("2021-05") {
            return (StatusCode::BAD_REQUEST, "api-version".into());
        }
        let path = req.uri().path().to_owned();
        let skip: usize = q.get("$skip").and_then(|s| s.parse().ok()).unwrap_or(0);
        let top: usize = q.get("$top").and_then(|s| s.parse().ok()).unwrap_or(100);
        let page =
            |all: Vec<(String, i64)>| all.into_iter().skip(skip).take(top).collect::<Vec<_>>();
        match path.as_str() {
            "/jobs" => (StatusCode::OK, description("QueueDescription", "jobs", 42)),
            "/events/Subscriptions/sub-a" => (
                StatusCode::OK,
                description("SubscriptionDescription", "sub-a", 4),
            ),
            "/$Resources/Queues" => {
                let mut all: Vec<(String, i64)> =
                    (0..150).map(|i| (format!("orders-{i:03}"), i)).collect();
                all.push(("jobs".into(), 42));
                (StatusCode::OK, feed("QueueDescription", &page(all)))
            }
            "/events/Subscriptions" => (
                StatusCode::OK,
                feed(
                    "SubscriptionDescription",
                    &page(vec![("sub-a".into(), 4), ("sub-b".into(), 6)]),
                ),
            ),
            "/garbage" => (StatusCode::OK, "<html>not atom</html>".into()),
            _ => (StatusCode::OK, EMPTY_FEED.into()),
        }
    }
    format!(
        "http://{}",
        testutil::serve(axum::Router::new().fallback(handle)).await
    )
}

fn params(meta: &[(&str, &str)], key_name: &str) -> TriggerParams {
    TriggerParams::new(KIND, 1, meta.iter().map(|(k, v)| (*k, *v))).with_auth_params([(
        "connection",
        format!("Endpoint=sb://{NS}/;SharedAccessKeyName={key_name};SharedAccessKey={CANARY}"),
    )])
}

async fn measure(meta: &[(&str, &str)], key_name: &str) -> Result<Measurement, MeasureError> {
    testutil::init();
    let mut config = Config::from_params(&params(meta, key_name)).unwrap();
    config.namespace.base_url = server().await;
    AzureServiceBusScaler::with_config(config, &Clients::new())
        .unwrap()
        .measure(&Poll::new())
        .await
}

#[test]
fn parameters_and_metric_names() {
    let c = Config::from_params(&params(&[("queueName", "jobs")], "listen")).unwrap();
    assert_eq!(c.metric_name, "s1-azure-servicebus-jobs");
    assert_eq!(
        (c.message_count, c.activation, c.operation),
        (5, 0, Operation::Sum)
    );
    let c = Config::from_params(&params(
        &[
            ("topicName", "events"),
            ("subscriptionName", "s.*"),
            ("useRegex", "true"),
        ],
        "listen",
    ))
    .unwrap();
    assert_eq!(c.metric_name, "s1-azure-servicebus-topic-regex");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "queueName"),
        (&[("queueName", "q"), ("topicName", "t")], "queueName"),
        (
            &[("queueName", "q"), ("subscriptionName", "s")],
            "queueName",
        ),
        (&[("topicName", "t")], "subscriptionName"),
        (&[("queueName", "q"), ("messageCount", "x")], "messageCount"),
        (&[("queueName", "("), ("useRegex", "true")], "queueName"),
        (&[("queueName", "q"), ("operation", "median")], "operation"),
        (
            &[("queueName", "q"), ("cloud", "Private")],
            "endpointSuffix",
        ),
    ];
    for (meta, key) in cases {
        let err = Config::from_params(&params(meta, "listen")).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{meta:?}: {err}");
    }
    let no_conn = TriggerParams::new(KIND, 0, [("queueName", "q")]);
    assert_eq!(
        Config::from_params(&no_conn).unwrap_err().key(),
        Some("connection")
    );
}

#[tokio::test]
async fn queue_and_subscription_counts_are_active_messages_only() {
    let m = measure(&[("queueName", "jobs")], "listen").await.unwrap();
    assert_eq!(
        m.values[0].value, 42.0,
        "dead-lettered and scheduled messages are not counted"
    );
    assert!(m.is_active);
    let m = measure(
        &[
            ("topicName", "events"),
            ("subscriptionName", "sub-a"),
            ("activationMessageCount", "4"),
        ],
        "listen",
    )
    .await
    .unwrap();
    assert_eq!((m.values[0].value, m.is_active), (4.0, false));
    assert_eq!(m.values[0].metric_name, "s1-azure-servicebus-events");
}

#[tokio::test]
async fn regex_matches_are_full_and_combine_by_operation_across_pages() {
    // orders-100..=orders-149 match (on the second page): sum 6225, max 149, avg 124.
    let meta = |op: &'static str| {
        vec![
            ("queueName", "orders-1[0-4][0-9]"),
            ("useRegex", "true"),
            ("operation", op),
        ]
    };
    assert_eq!(
        measure(&meta("sum"), "listen").await.unwrap().values[0].value,
        6225.0
    );
    assert_eq!(
        measure(&meta("max"), "listen").await.unwrap().values[0].value,
        149.0
    );
    assert_eq!(
        measure(&meta("avg"), "listen").await.unwrap().values[0].value,
        124.0
    );
    // Full match: `jobs` does not match `job`.
    let m = measure(&[("queueName", "job"), ("useRegex", "true")], "listen")
        .await
        .unwrap();
    assert_eq!(m.values[0].value, 0.0);
    let m = measure(
        &[
            ("topicName", "events"),
            ("subscriptionName", "sub-.*"),
            ("useRegex", "true"),
        ],
        "listen",
    )
    .await
    .unwrap();
    assert_eq!(m.values[0].value, 10.0);
    assert_eq!(m.values[0].metric_name, "s1-azure-servicebus-topic-regex");
}

#[tokio::test]
async fn unknown_entities_wrong_keys_and_garbage_are_classified() {
    let err = measure(&[("queueName", "nope")], "listen")
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );
    let err = measure(&[("queueName", "jobs")], "wrong")
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    let err = measure(&[("queueName", "garbage")], "listen")
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::BadResponse,
        "{}",
        err.full_message()
    );
}
