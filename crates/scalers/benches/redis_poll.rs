//! One poll of 1,000 redis triggers (500 lists, 250 stream-pending, 250 stream-length) against the
//! real Redis: prints time per poll. Target: < 50 ms per 1,000 triggers.
//!
//! `cargo bench -p ebb-scalers --bench redis_poll` (Redis from `EBB_REDIS_URL`, default 127.0.0.1:6379).

// A benchmark binary: a broken setup should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ebb_scalers::{Clients, Poll, Scaler, TriggerParams, registry};

const TRIGGERS: usize = 1000;
const POLLS: usize = 30;

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = std::env::var("EBB_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let prefix = format!("ebb_bench_{}", std::process::id());
        let mut conn = redis::Client::open(url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is not reachable ({e}): run `scripts/services start`"));

        // Seed: list i has i % 17 items; each stream has 3 entries, 2 of them pending in group g.
        let mut pipe = redis::pipe();
        for i in 0..TRIGGERS / 2 {
            let key = format!("{prefix}_list_{i}");
            for j in 0..(i % 17) {
                pipe.rpush(&key, j).ignore();
            }
        }
        for i in 0..TRIGGERS / 2 {
            let key = format!("{prefix}_stream_{i}");
            pipe.cmd("XGROUP").arg("CREATE").arg(&key).arg("g").arg("$").arg("MKSTREAM").ignore();
            for j in 0..3 {
                pipe.cmd("XADD").arg(&key).arg("*").arg("n").arg(j).ignore();
            }
            pipe.cmd("XREADGROUP").arg("GROUP").arg("g").arg("c").arg("COUNT").arg(2).arg("STREAMS").arg(&key).arg(">").ignore();
        }
        let _: () = pipe.query_async(&mut conn).await.expect("seeding");

        let clients = Clients::new();
        let scalers: Vec<Arc<dyn Scaler>> = (0..TRIGGERS)
            .map(|i| {
                let params = if i % 2 == 0 {
                    TriggerParams::new("redis", 0, [("address", addr.clone()), ("listName", format!("{prefix}_list_{}", i / 2))])
                } else if i % 4 == 1 {
                    TriggerParams::new("redis-streams", 0, [("address", addr.clone()), ("stream", format!("{prefix}_stream_{}", i / 2)), ("consumerGroup", "g".into())])
                } else {
                    TriggerParams::new("redis-streams", 0, [("address", addr.clone()), ("stream", format!("{prefix}_stream_{}", i / 2))])
                };
                Arc::from(registry::build(&params, &clients).expect("valid trigger"))
            })
            .collect();

        let poll_once = |scalers: &Vec<Arc<dyn Scaler>>| {
            let scalers = scalers.clone();
            async move {
                let poll = Arc::new(Poll::new());
                let started = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for s in scalers {
                    let poll = poll.clone();
                    tasks.spawn(async move { s.measure(&poll).await });
                }
                let mut errors = 0;
                while let Some(r) = tasks.join_next().await {
                    if !matches!(r, Ok(Ok(_))) {
                        errors += 1;
                    }
                }
                (started.elapsed(), errors, poll.requests_made())
            }
        };

        let (warm, errors, _) = poll_once(&scalers).await;
        assert_eq!(errors, 0, "warm-up poll had errors");
        let mut times: Vec<Duration> = Vec::with_capacity(POLLS);
        let mut requests = 0;
        for _ in 0..POLLS {
            let (t, errors, r) = poll_once(&scalers).await;
            assert_eq!(errors, 0);
            requests = r;
            times.push(t);
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / POLLS as u32;
        println!("redis_poll: {TRIGGERS} triggers (500 lists, 250 stream pending, 250 stream length), 1 shared connection, {requests} distinct requests per poll");
        println!("  first poll (connect): {:.2} ms", warm.as_secs_f64() * 1e3);
        println!(
            "  per poll over {POLLS} polls: min {:.2} ms, median {:.2} ms, mean {:.2} ms, max {:.2} ms (target < 50 ms)",
            times[0].as_secs_f64() * 1e3,
            times[POLLS / 2].as_secs_f64() * 1e3,
            mean.as_secs_f64() * 1e3,
            times[POLLS - 1].as_secs_f64() * 1e3,
        );

        let mut pipe = redis::pipe();
        for i in 0..TRIGGERS / 2 {
            pipe.del(format!("{prefix}_list_{i}")).ignore();
            pipe.del(format!("{prefix}_stream_{i}")).ignore();
        }
        let _: () = pipe.query_async(&mut conn).await.expect("cleanup");
    });
}
