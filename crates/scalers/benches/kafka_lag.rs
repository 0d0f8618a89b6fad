//! Kafka lag figures against librdkafka's in-process mock cluster (no Kafka broker is installed):
//!
//! 1. Lag of one consumer group over a topic with 1,000 partitions (half committed): time per
//!    computation, cold (first, creates the handles) and warm (median of 30). Target: < 100 ms.
//! 2. Resident memory of 1,000 kafka triggers (1,000 topics, one group) built with one `Clients`,
//!    so they share one broker connection, after each has measured once: VmRSS before/after.
//!    Target: < 20 MiB.
//!
//! `cargo bench -p ebb-scalers --bench kafka_lag`

// A benchmark binary: a broken setup should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ebb_scalers::kafka::KafkaScaler;
use ebb_scalers::{Clients, Poll, Scaler, TriggerParams};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const PARTITIONS: i32 = 1000;
const TRIGGERS: usize = 1000;
const RUNS: usize = 30;

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn produce(bootstrap: &str, records: impl Iterator<Item = (String, i32)>) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    for (topic, partition) in records {
        loop {
            match producer.send(
                BaseRecord::<(), _>::to(&topic)
                    .partition(partition)
                    .payload("x"),
            ) {
                Ok(()) => break,
                Err(_) => {
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

fn commit(bootstrap: &str, group: &str, offsets: &[(String, i32, i64)]) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in offsets {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o)).unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

fn params(bootstrap: &str, topic: &str) -> TriggerParams {
    let mut p = TriggerParams::new(
        "kafka",
        0,
        [
            ("bootstrapServers", bootstrap),
            ("consumerGroup", "bench"),
            ("topic", topic),
        ],
    );
    p.global_http_timeout = Duration::from_secs(30);
    p
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = MockCluster::new(1).expect("mock cluster");
    let bootstrap = cluster.bootstrap_servers();

    // 1. One group over 1,000 partitions: 3 messages each, the even partitions committed at 1.
    cluster.create_topic("wide", PARTITIONS, 1).unwrap();
    produce(
        &bootstrap,
        (0..PARTITIONS).flat_map(|p| std::iter::repeat_n(("wide".to_owned(), p), 3)),
    );
    let committed: Vec<(String, i32, i64)> = (0..PARTITIONS)
        .step_by(2)
        .map(|p| ("wide".to_owned(), p, 1))
        .collect();
    commit(&bootstrap, "bench", &committed);
    let clients = Clients::new();
    let mut p = params(&bootstrap, "wide");
    p.metadata
        .insert("allowIdleConsumers".into(), "true".into());
    let scaler = KafkaScaler::new(&p, &clients).unwrap();
    runtime.block_on(async {
        let start = Instant::now();
        let lag = scaler.lag(&Poll::new()).await.unwrap();
        let cold = start.elapsed();
        // 500 committed at 1 of 3 (lag 2) + 500 without offsets (policy latest: 1).
        assert_eq!(lag.value, 1500);
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let start = Instant::now();
            let l = scaler.lag(&Poll::new()).await.unwrap();
            assert_eq!(l.value, 1500);
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "kafka lag, 1 group x {PARTITIONS} partitions: cold {:.1} ms, warm median {:.1} ms, max {:.1} ms (target < 100 ms)",
            cold.as_secs_f64() * 1e3,
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3
        );
    });
    drop(scaler);

    // 2. 1,000 triggers, 1,000 topics of one partition, one group, one `Clients`.
    let topics: Vec<String> = (0..TRIGGERS).map(|i| format!("t{i:04}")).collect();
    for t in &topics {
        cluster.create_topic(t, 1, 1).unwrap();
    }
    produce(&bootstrap, topics.iter().map(|t| (t.clone(), 0)));
    let offsets: Vec<(String, i32, i64)> = topics.iter().map(|t| (t.clone(), 0, 0)).collect();
    commit(&bootstrap, "bench", &offsets);
    let clients = Clients::new();
    let before = vm_rss_kib();
    let scalers: Vec<Box<dyn Scaler>> = topics
        .iter()
        .map(|t| ebb_scalers::registry::build(&params(&bootstrap, t), &clients).unwrap())
        .collect();
    let start = Instant::now();
    runtime.block_on(async {
        let poll = Poll::new();
        for s in &scalers {
            let m = s.measure(&poll).await.unwrap();
            assert_eq!(m.values[0].value, 1.0);
        }
    });
    let poll_time = start.elapsed();
    let after = vm_rss_kib();
    println!(
        "{TRIGGERS} kafka triggers sharing one client: VmRSS {:.1} MiB -> {:.1} MiB, +{:.2} MiB (target < 20 MiB); one sequential poll of all {TRIGGERS}: {:.0} ms",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / 1024.0,
        poll_time.as_secs_f64() * 1e3
    );
    drop(scalers);
}
