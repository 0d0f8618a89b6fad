//! `kafka` against librdkafka's in-process mock cluster (`rdkafka::mocking::MockCluster`): no Kafka
//! broker is installed on this machine, and the mock speaks the real Kafka protocol (metadata,
//! ListOffsets, OffsetCommit/OffsetFetch), so the scaler's librdkafka calls are the production ones.

// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::*;
use crate::error::MeasureReason;
use crate::testutil::{self, CANARY, assert_no_canary};

const GROUP: &str = "workers";
/// Messages per partition of `orders`.
const MESSAGES: [i64; 8] = [10, 20, 5, 0, 7, 3, 1, 4];
/// Committed offsets of `workers` on `orders` (`None`: nothing committed).
const COMMITTED: [Option<i64>; 8] = [Some(4), Some(20), Some(0), None, Some(2), None, None, None];

type Cluster = MockCluster<'static, DefaultProducerContext>;

fn produce(bootstrap: &str, topic: &str, counts: &[i64]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (p, &n) in counts.iter().enumerate() {
        for i in 0..n {
            let payload = format!("m{i}");
            producer
                .send(
                    BaseRecord::<(), _>::to(topic)
                        .partition(p as i32)
                        .payload(&payload),
                )
                .unwrap();
        }
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

fn commit(bootstrap: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for &(p, o) in offsets {
        tpl.add_partition_offset(topic, p, Offset::Offset(o))
            .unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

/// `orders` (8 partitions) with `MESSAGES`, `workers` committed as `COMMITTED`; `other` (2
/// partitions, 3 messages on p0, `workers` at 1 on p0); `unused` (1 partition, no commits).
fn cluster() -> (Cluster, String) {
    testutil::init();
    let cluster = MockCluster::new(1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    cluster.create_topic("orders", 8, 1).unwrap();
    cluster.create_topic("other", 2, 1).unwrap();
    cluster.create_topic("unused", 1, 1).unwrap();
    produce(&bootstrap, "orders", &MESSAGES);
    produce(&bootstrap, "other", &[3]);
    produce(&bootstrap, "unused", &[2]);
    let offsets: Vec<(i32, i64)> = COMMITTED
        .iter()
        .enumerate()
        .filter_map(|(p, o)| o.map(|o| (p as i32, o)))
        .collect();
    commit(&bootstrap, GROUP, "orders", &offsets);
    commit(&bootstrap, GROUP, "other", &[(0, 1)]);
    (cluster, bootstrap)
}

fn trigger(bootstrap: &str, meta: &[(&str, &str)]) -> TriggerParams {
    let mut all = vec![("bootstrapServers", bootstrap), ("consumerGroup", GROUP)];
    all.extend_from_slice(meta);
    let mut p = TriggerParams::new(KIND, 0, all);
    p.global_http_timeout = Duration::from_secs(5);
    p
}

async fn lag(bootstrap: &str, meta: &[(&str, &str)]) -> Lag {
    let scaler = KafkaScaler::new(&trigger(bootstrap, meta), &Clients::new()).unwrap();
    scaler.lag(&Poll::new()).await.unwrap()
}

async fn value(bootstrap: &str, meta: &[(&str, &str)]) -> i64 {
    lag(bootstrap, meta).await.value
}

#[test]
fn defaults_metric_names_and_security_settings() {
    let c = Config::from_params(&trigger("a:9092, b:9092", &[("topic", "orders")])).unwrap();
    assert_eq!(c.metric_name, "s0-kafka-orders");
    assert_eq!((c.lag_threshold, c.activation), (10, 0));
    assert_eq!(c.reset, OffsetResetPolicy::Latest);
    assert_eq!(c.key.bootstrap, "a:9092,b:9092");
    assert_eq!(
        c.key.settings,
        vec![("security.protocol".to_owned(), "plaintext".to_owned())]
    );

    let c = Config::from_params(&trigger("a:9092", &[])).unwrap();
    assert_eq!(c.metric_name, "s0-kafka-workers-topics");

    let p = trigger(
        "a:9092",
        &[
            ("topic", "t"),
            ("sasl", "scram_sha512"),
            ("tls", "enable"),
            ("unsafeSsl", "true"),
        ],
    )
    .with_auth_params([("username", "u"), ("password", CANARY)]);
    let c = Config::from_params(&p).unwrap();
    let get = |k: &str| {
        c.key
            .settings
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("security.protocol"), Some("sasl_ssl"));
    assert_eq!(get("sasl.mechanism"), Some("SCRAM-SHA-512"));
    assert_eq!(get("sasl.username"), Some("u"));
    assert_eq!(get("enable.ssl.certificate.verification"), Some("false"));
    assert!(!format!("{c:?}").contains(CANARY));

    let c = Config::from_params(&trigger(
        "a:9092",
        &[("topic", "t"), ("partitionLimitation", "0,1,4-6")],
    ))
    .unwrap();
    assert_eq!(c.partitions, Some(vec![0, 1, 4, 5, 6]));
    // Ignored without a topic, as KEDA does.
    let c = Config::from_params(&trigger("a:9092", &[("partitionLimitation", "0")])).unwrap();
    assert_eq!(c.partitions, None);
}

#[test]
fn parameter_rules_name_the_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("topic", "t"), ("lagThreshold", "0")], "lagThreshold"),
        (
            &[("topic", "t"), ("activationLagThreshold", "-1")],
            "activationLagThreshold",
        ),
        (
            &[("topic", "t"), ("offsetResetPolicy", "middle")],
            "offsetResetPolicy",
        ),
        (
            &[
                ("topic", "t"),
                ("limitToPartitionsWithLag", "true"),
                ("allowIdleConsumers", "true"),
            ],
            "limitToPartitionsWithLag",
        ),
        (
            &[
                ("topic", "t"),
                ("limitToPartitionsWithLag", "true"),
                ("ensureEvenDistributionOfPartitions", "true"),
            ],
            "limitToPartitionsWithLag",
        ),
        (
            &[("limitToPartitionsWithLag", "true")],
            "limitToPartitionsWithLag",
        ),
        (
            &[("ensureEvenDistributionOfPartitions", "true")],
            "ensureEvenDistributionOfPartitions",
        ),
        (
            &[("topic", "t"), ("partitionLimitation", "3-1")],
            "partitionLimitation",
        ),
        (&[("topic", "t"), ("sasl", "plaintext")], "username"),
        (&[("topic", "t"), ("sasl", "gssapi")], "sasl"),
        (&[("topic", "t"), ("tls", "maybe")], "tls"),
    ];
    for (meta, key) in cases {
        let err = Config::from_params(&trigger("a:9092", meta)).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{err}");
    }
    let err =
        Config::from_params(&TriggerParams::new(KIND, 0, [("consumerGroup", "g")])).unwrap_err();
    assert_eq!(err.key(), Some("bootstrapServers"));
}

#[tokio::test]
async fn per_partition_and_total_lag_are_exact() {
    let (_cluster, bootstrap) = cluster();
    let l = lag(&bootstrap, &[("topic", "orders")]).await;
    let per: Vec<i64> = l.per_partition.iter().map(|(_, (lag, _))| *lag).collect();
    // Committed: lag = end − committed; none committed (policy latest): 1.
    assert_eq!(per, vec![6, 0, 5, 1, 5, 1, 1, 1]);
    assert_eq!((l.value, l.total_with_persistent), (20, 20));
    let keys: Vec<i32> = l.per_partition.iter().map(|((_, p), _)| *p).collect();
    assert_eq!(keys, (0..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn reset_policy_and_invalid_offsets() {
    let (_cluster, bootstrap) = cluster();
    let l = lag(
        &bootstrap,
        &[("topic", "orders"), ("offsetResetPolicy", "earliest")],
    )
    .await;
    let per: Vec<i64> = l.per_partition.iter().map(|(_, (lag, _))| *lag).collect();
    // Earliest: a partition without a committed offset lags by its end offset.
    assert_eq!(per, vec![6, 0, 5, 0, 5, 3, 1, 4]);
    assert_eq!(l.value, 24);
    assert_eq!(
        value(
            &bootstrap,
            &[("topic", "orders"), ("scaleToZeroOnInvalidOffset", "true")]
        )
        .await,
        16
    );
    assert_eq!(
        value(
            &bootstrap,
            &[
                ("topic", "orders"),
                ("offsetResetPolicy", "earliest"),
                ("scaleToZeroOnInvalidOffset", "true")
            ]
        )
        .await,
        16
    );
}

#[tokio::test]
async fn the_partition_cap_and_its_options() {
    let (_cluster, bootstrap) = cluster();
    let t = |extra: &[(&'static str, &'static str)]| {
        let mut m = vec![("topic", "orders")];
        m.extend_from_slice(extra);
        m
    };
    // 20 / 1 > 8 partitions ⇒ 8 × 1.
    assert_eq!(value(&bootstrap, &t(&[("lagThreshold", "1")])).await, 8);
    assert_eq!(
        value(
            &bootstrap,
            &t(&[("lagThreshold", "1"), ("allowIdleConsumers", "true")])
        )
        .await,
        20
    );
    // 7 partitions have lag.
    assert_eq!(
        value(
            &bootstrap,
            &t(&[("lagThreshold", "1"), ("limitToPartitionsWithLag", "true")])
        )
        .await,
        7
    );
    // Divisors of 8: 1, 2, 4, 8; 4 × 6 = 24 ≥ 20.
    assert_eq!(
        value(
            &bootstrap,
            &t(&[
                ("lagThreshold", "6"),
                ("ensureEvenDistributionOfPartitions", "true")
            ])
        )
        .await,
        24
    );
    // 8 × 3 = 24 ≥ 20 (no smaller divisor reaches it).
    assert_eq!(
        value(
            &bootstrap,
            &t(&[
                ("lagThreshold", "3"),
                ("ensureEvenDistributionOfPartitions", "true")
            ])
        )
        .await,
        24
    );
    // Partitions 0, 1, 2 and 7: 6 + 0 + 5 + 1.
    assert_eq!(
        value(&bootstrap, &t(&[("partitionLimitation", "0-2,7")])).await,
        12
    );
}

#[tokio::test]
async fn exclude_persistent_lag_keeps_state_per_scaler_instance() {
    let (_cluster, bootstrap) = cluster();
    let params = trigger(
        &bootstrap,
        &[
            ("topic", "orders"),
            ("excludePersistentLag", "true"),
            ("activationLagThreshold", "10"),
        ],
    );
    let clients = Clients::new();
    let scaler = KafkaScaler::new(&params, &clients).unwrap();
    let first = scaler.measure(&Poll::new()).await.unwrap();
    assert_eq!(
        first.values[0].value, 20.0,
        "the first poll counts everything"
    );
    let second = scaler.measure(&Poll::new()).await.unwrap();
    // p0, p2, p4 did not move: 0 for the metric; the four uncommitted partitions still count 1.
    assert_eq!(second.values[0].value, 4.0);
    assert!(
        second.is_active,
        "activity uses the lag including persistent lag (20 > 10)"
    );
    // Another instance has its own memory.
    let other = KafkaScaler::new(&params, &clients).unwrap();
    assert_eq!(
        other.measure(&Poll::new()).await.unwrap().values[0].value,
        20.0
    );
    commit(&bootstrap, GROUP, "orders", &[(0, 5)]);
    let third = scaler.measure(&Poll::new()).await.unwrap();
    assert_eq!(
        third.values[0].value, 9.0,
        "p0 moved (lag 5) + 4 uncommitted"
    );
}

#[tokio::test]
async fn without_a_topic_every_topic_with_committed_offsets_counts() {
    let (_cluster, bootstrap) = cluster();
    let scaler = crate::registry::build(&trigger(&bootstrap, &[]), &Clients::new()).unwrap();
    let m = scaler.measure(&Poll::new()).await.unwrap();
    // orders 20 + other (p0: 3 − 1, p1: none ⇒ 1); `unused` has no offsets of the group.
    assert_eq!(m.values[0].value, 23.0);
    assert_eq!(m.values[0].metric_name, "s0-kafka-workers-topics");
    assert!(m.is_active);
}

#[tokio::test]
async fn a_group_without_offsets_follows_the_reset_policy() {
    let (_cluster, bootstrap) = cluster();
    let meta = |extra: &[(&'static str, &'static str)]| {
        let mut p = trigger(&bootstrap, extra);
        p.metadata.insert("consumerGroup".into(), "nobody".into());
        p
    };
    let m = crate::registry::build(&meta(&[("topic", "orders")]), &Clients::new()).unwrap();
    assert_eq!(m.measure(&Poll::new()).await.unwrap().values[0].value, 8.0);
    let m = crate::registry::build(
        &meta(&[
            ("topic", "orders"),
            ("offsetResetPolicy", "earliest"),
            ("allowIdleConsumers", "true"),
        ]),
        &Clients::new(),
    )
    .unwrap();
    assert_eq!(m.measure(&Poll::new()).await.unwrap().values[0].value, 50.0);
    // No topic and no offsets: nothing to count, inactive.
    let m = crate::registry::build(&meta(&[]), &Clients::new()).unwrap();
    let got = m.measure(&Poll::new()).await.unwrap();
    assert_eq!((got.values[0].value, got.is_active), (0.0, false));
}

#[tokio::test]
async fn a_missing_topic_is_not_found() {
    let (_cluster, bootstrap) = cluster();
    let s = crate::registry::build(&trigger(&bootstrap, &[("topic", "nope")]), &Clients::new())
        .unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );
}

#[tokio::test]
async fn triggers_share_one_client_and_one_handle_per_group() {
    let (_cluster, bootstrap) = cluster();
    let clients = Clients::new();
    let scalers: Vec<KafkaScaler> = ["orders", "other", "orders"]
        .iter()
        .map(|t| KafkaScaler::new(&trigger(&bootstrap, &[("topic", t)]), &clients).unwrap())
        .collect();
    let poll = Poll::new();
    let values = futures::future::join_all(scalers.iter().map(|s| s.measure(&poll))).await;
    let values: Vec<f64> = values
        .into_iter()
        .map(|m| m.unwrap().values[0].value)
        .collect();
    assert_eq!(values, vec![20.0, 3.0, 20.0]);
    assert_eq!(
        poll.requests_made(),
        2,
        "orders is read once for two triggers"
    );
    assert!(Arc::ptr_eq(scalers[0].client(), scalers[1].client()));
    assert_eq!(scalers[0].client().handles(), 2, "metadata + one group");
}

#[tokio::test]
async fn a_dead_broker_is_unreachable_and_garbage_is_a_bad_response() {
    testutil::init();
    let mut p = trigger("127.0.0.1:9", &[("topic", "t")])
        .with_auth_params([("username", "u"), ("password", CANARY)]);
    p.metadata.insert("sasl".into(), "plaintext".into());
    p.global_http_timeout = Duration::from_secs(2);
    let s = crate::registry::build(&p, &Clients::new()).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);

    // A server that answers every connection with bytes that are not Kafka.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = sock
                    .write_all(b"\xff\xff\xff\xffHTTP/1.1 400 garbage\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    let mut p = trigger(&addr, &[("topic", "t")]);
    p.global_http_timeout = Duration::from_secs(2);
    let s = crate::registry::build(&p, &Clients::new()).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::BadResponse,
        "{}",
        err.full_message()
    );
}

#[test]
fn even_distribution_picks_the_smallest_sufficient_divisor() {
    assert_eq!(even_factor(20, 8, 6), 4);
    assert_eq!(even_factor(20, 8, 3), 8);
    assert_eq!(even_factor(100, 8, 3), 8);
    assert_eq!(even_factor(0, 6, 5), 1);
    assert_eq!(even_factor(11, 6, 5), 3);
}
