// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::testutil::{self, CANARY, assert_no_canary, measure_once, unique};

fn addr() -> String {
    testutil::host_port(&testutil::redis_url())
}

fn trigger(meta: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 0, meta.iter().map(|(k, v)| (*k, *v)))
}

pub(crate) async fn redis_conn() -> redis::aio::MultiplexedConnection {
    testutil::init();
    testutil::require("Redis", &addr()).await;
    redis::Client::open(testutil::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[test]
fn defaults_and_metric_name() {
    let c =
        Config::from_params(&trigger(&[("address", "r:6379"), ("listName", "jobs/a.b")])).unwrap();
    assert_eq!(c.list_length, 5);
    assert_eq!(c.activation_list_length, 0);
    assert_eq!(c.connection.db, 0);
    assert_eq!((c.connection.host.as_str(), c.connection.port), ("r", 6379));
    assert_eq!(c.metric_name, "s0-redis-jobs-a-b");
    assert_eq!(c.connection.tls, None);
}

#[test]
fn host_and_port_may_come_from_env_and_auth() {
    let p = trigger(&[("listName", "l"), ("hostFromEnv", "REDIS_HOST")])
        .with_resolved_env([("REDIS_HOST", "envhost")])
        .with_auth_params([("port", "6380"), ("password", "pw")]);
    let c = Config::from_params(&p).unwrap();
    assert_eq!(
        (c.connection.host.as_str(), c.connection.port),
        ("envhost", 6380)
    );
    assert_eq!(
        c.connection.password.as_ref().map(|s| s.expose()),
        Some("pw")
    );
}

#[test]
fn parameter_rules_name_the_key() {
    let cases: &[(&[(&str, &str)], &[(&str, &str)], &str)] = &[
        (&[("address", "a:1")], &[], "listName"),
        (&[("listName", "l")], &[], "address"),
        (&[("listName", "l"), ("host", "h")], &[], "port"),
        (&[("listName", "l"), ("address", "nocolon")], &[], "address"),
        (
            &[("listName", "l"), ("address", "a:1"), ("listLength", "x")],
            &[],
            "listLength",
        ),
        (
            &[("listName", "l"), ("address", "a:1"), ("listLength", "2.5")],
            &[],
            "listLength",
        ),
        (
            &[
                ("listName", "l"),
                ("address", "a:1"),
                ("databaseIndex", "one"),
            ],
            &[],
            "databaseIndex",
        ),
        (
            &[("listName", "l"), ("address", "a:1"), ("enableTLS", "true")],
            &[("tls", "enable")],
            "enableTLS",
        ),
        (
            &[("listName", "l"), ("address", "a:1")],
            &[("tls", "maybe")],
            "tls",
        ),
        (
            &[("listName", "l"), ("address", "a:1"), ("enableTLS", "true")],
            &[("cert", "x")],
            "key",
        ),
        (
            &[("listName", "l"), ("address", "a:1"), ("enableTLS", "yes")],
            &[],
            "enableTLS",
        ),
    ];
    for (meta, auth, key) in cases {
        let p = trigger(meta).with_auth_params(auth.iter().map(|(k, v)| (*k, *v)));
        let err = Config::from_params(&p).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{meta:?} {auth:?}: {err}");
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[tokio::test]
async fn measures_list_set_zset_hash_and_missing_keys() {
    let mut conn = redis_conn().await;
    let list = unique("ebb_list");
    let set = unique("ebb_set");
    let zset = unique("ebb_zset");
    let hash = unique("ebb_hash");
    let missing = unique("ebb_missing");
    let _: () = redis::pipe()
        .rpush(&list, &["a", "b", "c", "d", "e", "f", "g"])
        .sadd(&set, &["a", "b", "c"])
        .zadd(&zset, "a", 1)
        .zadd(&zset, "b", 2)
        .hset(&hash, "f1", "v")
        .hset(&hash, "f2", "v")
        .hset(&hash, "f3", "v")
        .hset(&hash, "f4", "v")
        .query_async(&mut conn)
        .await
        .unwrap();
    let a = addr();
    for (key, want) in [
        (&list, 7.0),
        (&set, 3.0),
        (&zset, 2.0),
        (&hash, 4.0),
        (&missing, 0.0),
    ] {
        let m = measure_once(&trigger(&[
            ("address", &a),
            ("listName", key),
            ("activationListLength", "3"),
        ]))
        .await
        .unwrap();
        assert_eq!(m.values[0].value, want, "{key}");
        assert_eq!(m.is_active, want > 3.0, "{key}");
    }
    let _: () = redis::cmd("DEL")
        .arg(&[&list, &set, &zset, &hash])
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_string_key_is_a_bad_response() {
    let mut conn = redis_conn().await;
    let key = unique("ebb_string");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("x")
        .query_async(&mut conn)
        .await
        .unwrap();
    let err = measure_once(&trigger(&[("address", &addr()), ("listName", &key)]))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), MeasureReason::BadResponse);
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_password_is_unauthorized_and_never_printed() {
    let _ = redis_conn().await;
    let p = trigger(&[("address", &addr()), ("listName", "x")])
        .with_auth_params([("password", CANARY)]);
    let err = measure_once(&p).await.unwrap_err();
    assert_no_canary(&err);
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
}

#[tokio::test]
async fn wrong_port_is_unreachable_and_never_prints_the_password() {
    testutil::init();
    let p = trigger(&[("address", "127.0.0.1:1"), ("listName", "x")])
        .with_auth_params([("password", CANARY)]);
    let err = measure_once(&p).await.unwrap_err();
    assert_no_canary(&err);
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
}

#[tokio::test]
async fn triggers_on_one_server_share_one_client() {
    testutil::init();
    let clients = Clients::new();
    let a = build(
        &trigger(&[("address", "127.0.0.1:6379"), ("listName", "a")]),
        &clients,
    )
    .unwrap();
    let b = build(
        &trigger(&[("address", "127.0.0.1:6379"), ("listName", "b")]),
        &clients,
    )
    .unwrap();
    let c = build(
        &trigger(&[
            ("address", "127.0.0.1:6379"),
            ("listName", "c"),
            ("databaseIndex", "1"),
        ]),
        &clients,
    )
    .unwrap();
    assert_eq!(clients.live_counts().1, 2);
    drop((a, b));
    assert_eq!(clients.live_counts().1, 1);
    drop(c);
    assert_eq!(clients.live_counts().1, 0);
}
