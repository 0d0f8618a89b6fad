// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::*;
use crate::error::MeasureReason;
use crate::testutil::{self, CANARY, assert_no_canary, measure_once, unique};

fn trigger(meta: &[(&str, &str)], auth: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 1, meta.iter().map(|(k, v)| (*k, *v)))
        .with_auth_params(auth.iter().map(|(k, v)| (*k, *v)))
}

#[test]
fn defaults_vhost_and_metric_name() {
    let c = Config::from_params(&trigger(
        &[
            ("queueName", "namespace/name"),
            ("host", "amqp://u:p@rabbit:5672/%2f"),
        ],
        &[],
    ))
    .unwrap();
    assert_eq!(c.metric_name, "s1-rabbitmq-namespace-2Fname");
    assert_eq!(
        (c.mode, c.value, c.activation),
        (Mode::QueueLength, 20.0, 0.0)
    );
    assert_eq!(
        (c.protocol.clone(), c.vhost.as_str()),
        (Protocol::Amqp, "/")
    );
    assert_eq!(c.base_url.expose(), "amqp://u:p@rabbit:5672");

    let c = Config::from_params(&trigger(
        &[
            ("queueName", "q"),
            ("host", "http://rabbit:15672/prod"),
            ("mode", "MessageRate"),
            ("value", "2.5"),
        ],
        &[("username", "u"), ("password", "p")],
    ))
    .unwrap();
    assert_eq!(
        (c.protocol.clone(), c.vhost.as_str(), c.mode, c.value),
        (Protocol::Http, "prod", Mode::MessageRate, 2.5)
    );
    assert_eq!(c.base_url.expose(), "http://u:p@rabbit:15672");

    let c = Config::from_params(&trigger(
        &[
            ("queueName", "q"),
            ("host", "http://rabbit:15672"),
            ("vhostName", "v/1"),
            ("queueLength", "7"),
        ],
        &[],
    ))
    .unwrap();
    assert_eq!(
        (c.vhost.as_str(), c.mode, c.value),
        ("v/1", Mode::QueueLength, 7.0)
    );
    let c = Config::from_params(&trigger(
        &[("queueName", "q"), ("host", "http://rabbit:15672/")],
        &[],
    ))
    .unwrap();
    assert_eq!(c.vhost, "/");
}

#[test]
fn parameter_rules_name_the_key() {
    let amqp = ("host", "amqp://rabbit/");
    let http = ("host", "http://rabbit:15672/");
    let cases: &[(&[(&str, &str)], &[(&str, &str)], &str)] = &[
        (&[amqp], &[], "queueName"),
        (&[("queueName", "q")], &[], "host"),
        (&[("queueName", "q"), ("host", "ftp://x/")], &[], "host"),
        (
            &[("queueName", "q"), amqp, ("protocol", "kafka")],
            &[],
            "protocol",
        ),
        (
            &[
                ("queueName", "q"),
                amqp,
                ("queueLength", "5"),
                ("mode", "QueueLength"),
            ],
            &[],
            "queueLength",
        ),
        (
            &[
                ("queueName", "q"),
                amqp,
                ("queueLength", "5"),
                ("value", "5"),
            ],
            &[],
            "queueLength",
        ),
        (
            &[("queueName", "q"), amqp, ("mode", "QueueLength")],
            &[],
            "value",
        ),
        (&[("queueName", "q"), amqp, ("value", "3")], &[], "mode"),
        (
            &[("queueName", "q"), amqp, ("mode", "Fast"), ("value", "3")],
            &[],
            "mode",
        ),
        (
            &[
                ("queueName", "q"),
                amqp,
                ("mode", "MessageRate"),
                ("value", "3"),
            ],
            &[],
            "mode",
        ),
        (
            &[("queueName", "q"), amqp, ("queueLength", "abc")],
            &[],
            "queueLength",
        ),
        (
            &[("queueName", "q"), amqp, ("useRegex", "true")],
            &[],
            "useRegex",
        ),
        (
            &[("queueName", "q"), amqp, ("excludeUnacknowledged", "true")],
            &[],
            "excludeUnacknowledged",
        ),
        (
            &[("queueName", "q"), amqp, ("timeout", "1000")],
            &[],
            "timeout",
        ),
        (
            &[("queueName", "q"), http, ("timeout", "-5")],
            &[],
            "timeout",
        ),
        (
            &[("queueName", "q"), http, ("pageSize", "0")],
            &[],
            "pageSize",
        ),
        (
            &[("queueName", "q"), http, ("operation", "median")],
            &[],
            "operation",
        ),
        (
            &[("queueName", "q"), http, ("useRegex", "maybe")],
            &[],
            "useRegex",
        ),
        (
            &[("queueName", "q"), http, ("activationValue", "x")],
            &[],
            "activationValue",
        ),
        (
            &[("queueName", "q"), http],
            &[("username", "u")],
            "password",
        ),
        (
            &[("queueName", "q"), http],
            &[("password", "p")],
            "username",
        ),
        (&[("queueName", "q"), http], &[("tls", "on")], "tls"),
        (
            &[("queueName", "q"), http],
            &[("tls", "enable"), ("cert", "x")],
            "key",
        ),
    ];
    for (meta, auth, key) in cases {
        let err = Config::from_params(&trigger(meta, auth)).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{meta:?} {auth:?}: {err}");
    }
}

#[test]
fn modes_compute_value_and_activity_as_keda() {
    let q = |messages, publish_rate, deliver_rate| QueueInfo {
        messages,
        publish_rate,
        deliver_rate,
    };
    let cases = [
        (Mode::QueueLength, q(5, 0.0, 0.0), 1.0, 5.0, true),
        (Mode::QueueLength, q(1, 0.0, 0.0), 1.0, 1.0, false),
        (Mode::MessageRate, q(0, 3.0, 0.0), 1.0, 3.0, true),
        (Mode::MessageRate, q(5, 0.0, 0.0), 1.0, 0.0, true),
        (Mode::DeliverGetRate, q(5, 0.0, 0.5), 1.0, 0.5, false),
        (
            Mode::PublishedToDeliveredRatio,
            q(0, 4.0, 2.0),
            1.0,
            2.0,
            true,
        ),
        (
            Mode::PublishedToDeliveredRatio,
            q(0, 4.0, 0.0),
            1.0,
            1.0,
            true,
        ),
        (
            Mode::PublishedToDeliveredRatio,
            q(0, 0.0, 0.0),
            1.0,
            0.0,
            false,
        ),
        (
            Mode::ExpectedQueueConsumptionTime,
            q(0, 4.0, 2.0),
            1.0,
            0.0,
            false,
        ),
        (
            Mode::ExpectedQueueConsumptionTime,
            q(10, 4.0, 0.0),
            1.0,
            1.0,
            true,
        ),
        (
            Mode::ExpectedQueueConsumptionTime,
            q(10, 4.0, 2.0),
            1.0,
            6.0,
            true,
        ),
    ];
    for (mode, info, act, value, active) in cases {
        let mut c = Config::from_params(&trigger(
            &[("queueName", "q"), ("host", "http://r:15672/")],
            &[],
        ))
        .unwrap();
        c.mode = mode;
        c.activation = act;
        assert_eq!(c.evaluate(&info), (value, active), "{mode:?} {info:?}");
    }
}

#[test]
fn regex_matches_combine_by_operation() {
    use management_api::combine;
    let qs = [
        QueueInfo {
            messages: 3,
            publish_rate: 1.0,
            deliver_rate: 2.0,
        },
        QueueInfo {
            messages: 4,
            publish_rate: 3.0,
            deliver_rate: 0.0,
        },
    ];
    assert_eq!(combine(&qs, Operation::Sum).messages, 7);
    assert_eq!(combine(&qs, Operation::Avg).messages, 3, "integer division");
    assert_eq!(combine(&qs, Operation::Avg).publish_rate, 2.0);
    assert_eq!(
        combine(&qs, Operation::Max),
        QueueInfo {
            messages: 4,
            publish_rate: 3.0,
            deliver_rate: 2.0
        }
    );
    assert_eq!(combine(&[], Operation::Sum), QueueInfo::default());
}

/// Declares `queue` and publishes `n` messages with publisher confirms.
async fn publish(queue: &str, n: usize) -> Connection {
    testutil::init();
    let url = testutil::amqp_url();
    testutil::require("RabbitMQ (AMQP)", &testutil::host_port(&url)).await;
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            auto_delete: false,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    for i in 0..n {
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                format!("m{i}").as_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }
    conn
}

async fn delete(conn: &Connection, queue: &str) {
    let ch = conn.create_channel().await.unwrap();
    ch.queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .unwrap();
}

async fn require_management() -> String {
    let url = testutil::rabbit_http_url();
    testutil::require("RabbitMQ management API", &testutil::host_port(&url)).await;
    url
}

#[tokio::test]
async fn amqp_queue_length_is_exact_and_activation_is_strict() {
    let queue = unique("ebb.q");
    let conn = publish(&queue, 37).await;
    let host = testutil::amqp_url();
    for (activation, active) in [("37", false), ("36", true)] {
        let m = measure_once(&trigger(
            &[
                ("queueName", &queue),
                ("host", &host),
                ("activationValue", activation),
            ],
            &[],
        ))
        .await
        .unwrap();
        assert_eq!(m.values[0].value, 37.0);
        assert_eq!(m.is_active, active, "activationValue {activation}");
    }
    delete(&conn, &queue).await;
}

#[tokio::test]
async fn amqp_missing_queue_is_not_found_and_the_channel_recovers() {
    let queue = unique("ebb.q");
    let conn = publish(&queue, 2).await;
    let host = testutil::amqp_url();
    let clients = Clients::new();
    let missing = build(
        &trigger(
            &[("queueName", &unique("ebb.absent")), ("host", &host)],
            &[],
        ),
        &clients,
    )
    .unwrap();
    let present = build(
        &trigger(&[("queueName", &queue), ("host", &host)], &[]),
        &clients,
    )
    .unwrap();
    let err = missing.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );
    let m = present.measure(&Poll::new()).await.unwrap();
    assert_eq!(m.values[0].value, 2.0);
    delete(&conn, &queue).await;
}

#[tokio::test]
async fn http_queue_length_rates_and_regex_match_the_broker() {
    let mgmt = require_management().await;
    let prefix = unique("ebb-rx");
    let (qa, qb) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let conn = publish(&qa, 37).await;
    let _conn_b = publish(&qb, 4).await;
    // The management API's queue stats lag behind the broker: wait until they show the backlog.
    let mut last = None;
    for _ in 0..60 {
        let m = measure_once(&trigger(
            &[
                ("queueName", &qa),
                ("host", &mgmt),
                ("activationValue", "36"),
            ],
            &[],
        ))
        .await;
        if let Ok(m) = &m
            && m.values[0].value == 37.0
        {
            assert!(m.is_active);
            last = None;
            break;
        }
        last = Some(format!("{m:?}"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last, None, "management API never reported 37");

    let regex = format!("^{prefix}-.*$");
    for (operation, want) in [("sum", 41.0), ("max", 37.0), ("avg", 20.0)] {
        let m = measure_once(&trigger(
            &[
                ("queueName", &regex),
                ("host", &mgmt),
                ("useRegex", "true"),
                ("operation", operation),
            ],
            &[],
        ))
        .await
        .unwrap();
        assert_eq!(m.values[0].value, want, "{operation}");
    }
    // Credentials from TriggerAuthentication instead of the URL.
    let (bare, _) = crate::http::split_userinfo(&mgmt).unwrap();
    let parsed = url::Url::parse(&mgmt).unwrap();
    let m = measure_once(&trigger(
        &[
            ("queueName", &qa),
            ("host", bare.as_str()),
            ("excludeUnacknowledged", "true"),
        ],
        &[
            ("username", parsed.username()),
            ("password", parsed.password().unwrap_or("")),
        ],
    ))
    .await
    .unwrap();
    assert_eq!(m.values[0].value, 37.0);

    let err = measure_once(&trigger(
        &[("queueName", &unique("ebb.absent")), ("host", &mgmt)],
        &[],
    ))
    .await
    .unwrap_err();
    assert_eq!(err.reason(), MeasureReason::NotFound);
    delete(&conn, &qa).await;
    delete(&conn, &qb).await;
}

#[tokio::test]
async fn wrong_passwords_are_never_printed() {
    testutil::init();
    let amqp = url::Url::parse(&testutil::amqp_url()).unwrap();
    testutil::require("RabbitMQ (AMQP)", &testutil::host_port(amqp.as_str())).await;
    let host = format!(
        "amqp://guest:{CANARY}@{}:{}/%2f",
        amqp.host_str().unwrap(),
        amqp.port().unwrap_or(5672)
    );
    let err = measure_once(&trigger(&[("queueName", "q"), ("host", &host)], &[]))
        .await
        .unwrap_err();
    assert_no_canary(&err);
    let err = measure_once(&trigger(
        &[("queueName", "q"), ("host", "amqp://127.0.0.1:1/%2f")],
        &[("username", "guest"), ("password", CANARY)],
    ))
    .await
    .unwrap_err();
    assert_no_canary(&err);
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );

    let mgmt = url::Url::parse(&require_management().await).unwrap();
    let host = format!(
        "http://guest:{CANARY}@{}:{}",
        mgmt.host_str().unwrap(),
        mgmt.port().unwrap_or(15672)
    );
    let err = measure_once(&trigger(&[("queueName", "q"), ("host", &host)], &[]))
        .await
        .unwrap_err();
    assert_no_canary(&err);
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
}

#[derive(serde::Deserialize)]
struct MgmtConnection {
    #[serde(default)]
    client_properties: serde_json::Value,
}

async fn connections_named(name: &str) -> usize {
    let (base, auth) = crate::http::split_userinfo(&testutil::rabbit_http_url()).unwrap();
    let crate::http::HttpAuth::Basic { username, password } = auth else {
        panic!("management URL has no credentials")
    };
    let client = crate::http::client_for(&crate::http::HttpSettings::with_timeout(
        Duration::from_secs(5),
    ))
    .unwrap();
    let list: Vec<MgmtConnection> = client
        .get(format!(
            "{}/api/connections",
            base.as_str().trim_end_matches('/')
        ))
        .basic_auth(username, password.as_ref().map(|p| p.expose()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.iter()
        .filter(|c| c.client_properties["connection_name"] == name)
        .count()
}

#[tokio::test]
async fn a_thousand_amqp_triggers_share_at_most_two_connections() {
    require_management().await;
    let queues: Vec<String> = (0..20).map(|_| unique("ebb.share")).collect();
    let mut publishers = Vec::new();
    for (i, q) in queues.iter().enumerate() {
        publishers.push(publish(q, i % 5).await);
    }
    let name = unique("ebb-share-test");
    let clients = Clients::named(&name);
    let host = testutil::amqp_url();
    let scalers: Vec<Arc<dyn crate::Scaler>> = (0..1000)
        .map(|i| {
            Arc::from(
                build(
                    &trigger(
                        &[("queueName", &queues[i % queues.len()]), ("host", &host)],
                        &[],
                    ),
                    &clients,
                )
                .unwrap(),
            )
        })
        .collect();
    assert_eq!(clients.live_counts().2, 1, "one shared AMQP client");
    let poll = Arc::new(Poll::new());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, scaler) in scalers.iter().enumerate() {
        let (scaler, poll) = (scaler.clone(), poll.clone());
        tasks.spawn(async move { (i, scaler.measure(&poll).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, m) = joined.unwrap();
        assert_eq!(m.unwrap().values[0].value, ((i % queues.len()) % 5) as f64);
    }
    assert_eq!(
        poll.requests_made(),
        queues.len(),
        "identical requests in one poll are made once"
    );

    // The management API lists connections a moment after they open.
    let mut seen = 0;
    for _ in 0..40 {
        seen = connections_named(&name).await;
        if seen > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        (1..=2).contains(&seen),
        "{seen} connections for 1,000 triggers"
    );

    drop(scalers);
    assert_eq!(clients.live_counts().2, 0, "released with the last trigger");
    let conn = publishers.pop().unwrap();
    for q in &queues {
        delete(&conn, q).await;
    }
}
