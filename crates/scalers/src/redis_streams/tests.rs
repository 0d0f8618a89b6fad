// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::redis::tests::redis_conn;
use crate::testutil::{self, measure_once, unique};

fn trigger(meta: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 1, meta.iter().map(|(k, v)| (*k, *v)))
}

#[test]
fn mode_follows_consumer_group_and_lag_count() {
    let cases: &[(&[(&str, &str)], Mode, i64)] = &[
        (&[("stream", "s")], Mode::StreamLength, 5),
        (
            &[("stream", "s"), ("streamLength", "9")],
            Mode::StreamLength,
            9,
        ),
        (
            &[("stream", "s"), ("consumerGroup", "g")],
            Mode::PendingEntries { group: "g".into() },
            5,
        ),
        (
            &[
                ("stream", "s"),
                ("consumerGroup", "g"),
                ("pendingEntriesCount", "3"),
            ],
            Mode::PendingEntries { group: "g".into() },
            3,
        ),
        (
            &[("stream", "s"), ("consumerGroup", "g"), ("lagCount", "0")],
            Mode::PendingEntries { group: "g".into() },
            5,
        ),
        (
            &[("stream", "s"), ("consumerGroup", "g"), ("lagCount", "7")],
            Mode::Lag { group: "g".into() },
            7,
        ),
        (&[("stream", "s"), ("lagCount", "7")], Mode::StreamLength, 5),
    ];
    for (meta, mode, target) in cases {
        let mut m = meta.to_vec();
        m.push(("address", "r:6379"));
        let c = Config::from_params(&trigger(&m)).unwrap();
        assert_eq!((&c.mode, c.target), (mode, *target), "{meta:?}");
        assert_eq!(c.metric_name, "s1-redis-streams-s");
    }
}

#[test]
fn parameter_rules_name_the_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("address", "a:1")], "stream"),
        (
            &[
                ("address", "a:1"),
                ("stream", "s"),
                ("pendingEntriesCount", "x"),
            ],
            "pendingEntriesCount",
        ),
        (
            &[("address", "a:1"), ("stream", "s"), ("lagCount", "1.5")],
            "lagCount",
        ),
        (
            &[
                ("address", "a:1"),
                ("stream", "s"),
                ("activationLagCount", "-"),
            ],
            "activationLagCount",
        ),
        (&[("stream", "s")], "address"),
    ];
    for (meta, key) in cases {
        let err = Config::from_params(&trigger(meta)).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{meta:?}: {err}");
    }
}

#[tokio::test]
async fn pending_length_and_lag_have_exact_values() {
    let mut conn = redis_conn().await;
    let stream = unique("ebb_stream");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("g1")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();
    for i in 0..8 {
        let _: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("n")
            .arg(i)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    // Read 5 without acking: 5 pending, lag 3, length 8.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g1")
        .arg("c1")
        .arg("COUNT")
        .arg(5)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let addr = testutil::host_port(&testutil::redis_url());
    let base = [("address", addr.as_str()), ("stream", stream.as_str())];

    let pending = measure_once(&trigger(&[
        base[0],
        base[1],
        ("consumerGroup", "g1"),
        ("activationLagCount", "5"),
    ]))
    .await
    .unwrap();
    assert_eq!(pending.values[0].value, 5.0);
    assert!(
        !pending.is_active,
        "5 pending is not > activationLagCount 5"
    );
    let pending = measure_once(&trigger(&[
        base[0],
        base[1],
        ("consumerGroup", "g1"),
        ("activationLagCount", "4"),
    ]))
    .await
    .unwrap();
    assert!(pending.is_active);

    let length = measure_once(&trigger(&base)).await.unwrap();
    assert_eq!(length.values[0].value, 8.0);

    let lag = measure_once(&trigger(&[
        base[0],
        base[1],
        ("consumerGroup", "g1"),
        ("lagCount", "10"),
    ]))
    .await
    .unwrap();
    assert_eq!(lag.values[0].value, 3.0);

    // Unknown group in lag mode: the whole stream is lag.
    let lag = measure_once(&trigger(&[
        base[0],
        base[1],
        ("consumerGroup", "nope"),
        ("lagCount", "10"),
    ]))
    .await
    .unwrap();
    assert_eq!(lag.values[0].value, 8.0);

    // Missing stream in lag mode: 0.
    let missing = unique("ebb_nostream");
    let lag = measure_once(&trigger(&[
        base[0],
        ("stream", &missing),
        ("consumerGroup", "g1"),
        ("lagCount", "10"),
    ]))
    .await
    .unwrap();
    assert_eq!(lag.values[0].value, 0.0);

    // Unknown group in pending mode is an error.
    let err = measure_once(&trigger(&[base[0], base[1], ("consumerGroup", "nope")]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        crate::MeasureReason::NotFound,
        "{}",
        err.full_message()
    );

    let _: () = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
}
