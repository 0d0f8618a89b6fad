//! Full `decide` over 30,000 distinct ScaledObjects (mixed triggers, some with fallback or modifiers)
//! on one core; prints decisions per second. Run: `cargo bench -p ebb-core --bench decisions`.

use criterion::{Criterion, criterion_group, criterion_main};
use ebb_core::*;
use jiff::Timestamp;
use std::hint::black_box;
use std::time::Instant;

const OBJECTS: usize = 30_000;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn fleet() -> Vec<(ScaledObjectPolicy, Observed)> {
    let types = ["rabbitmq", "kafka", "redis", "prometheus", "aws-sqs"];
    (0..OBJECTS)
        .map(|i| {
            let trigger_count = 1 + i % 3;
            let mut triggers: Vec<TriggerSpec> = (0..trigger_count)
                .map(|t| TriggerSpec {
                    name: format!("t{t}"),
                    metric_name: format!("s{t}-{}-queue-{i}", types[(i + t) % types.len()]),
                    metric_type: if (i + t) % 7 == 0 {
                        MetricType::Value
                    } else {
                        MetricType::AverageValue
                    },
                    target: 5.0 + (i % 11) as f64,
                    activation_target: (i % 4) as f64,
                    ..Default::default()
                })
                .collect();
            if i % 13 == 0 {
                triggers.push(TriggerSpec {
                    name: "cpu".into(),
                    metric_name: "cpu".into(),
                    kind: TriggerKind::Resource,
                    ..Default::default()
                });
            }
            let names: Vec<String> = triggers
                .iter()
                .filter(|t| t.kind == TriggerKind::External)
                .map(|t| t.name.clone())
                .collect();
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let scaling_modifiers = (i % 10 == 0).then(|| {
                let formula = if name_refs.len() > 1 {
                    "(t0 + t1) / 2"
                } else {
                    "t0 * 2"
                };
                ScalingModifiers::new(formula, "5", "1", MetricType::AverageValue, &name_refs)
            });
            let policy = ScaledObjectPolicy {
                target: ScaleTargetRef {
                    kind: "apps/v1.Deployment".into(),
                    namespace: format!("ns-{}", i % 50),
                    name: format!("worker-{i}"),
                },
                min_replica_count: if i % 5 == 0 { Some(1) } else { None },
                max_replica_count: 10 + (i % 90) as u32,
                fallback: (i % 4 == 0).then_some(Fallback {
                    failure_threshold: 3,
                    replicas: 6,
                    behavior: [
                        FallbackBehavior::Static,
                        FallbackBehavior::CurrentReplicasIfHigher,
                    ][i % 2],
                }),
                scaling_modifiers: scaling_modifiers.and_then(Result::ok),
                triggers,
                ..Default::default()
            };
            let observations = policy
                .triggers
                .iter()
                .enumerate()
                .map(|(t, spec)| {
                    let result = match (spec.kind, (i + t) % 9) {
                        (TriggerKind::Resource, _) => TriggerResult::NotPolled,
                        (_, 0) => TriggerResult::failed("connection refused"),
                        (_, k) => {
                            TriggerResult::value(((i * 7 + t * 3) % 40) as f64 * k as f64 / 4.0)
                        }
                    };
                    let failures = ((i + t) % 6) as i32;
                    TriggerObservation {
                        result,
                        health: TriggerHealth {
                            number_of_failures: failures,
                            status: if failures > 0 {
                                HealthStatus::Failing
                            } else {
                                HealthStatus::Happy
                            },
                        },
                    }
                })
                .collect();
            let observed = Observed {
                current_replicas: Some((i % 6) as u32),
                ready_replicas: Some((i % 6) as u32),
                triggers: observations,
                last_active_time: (i % 3 != 0).then(|| at(-((i % 600) as i64))),
                creation_time: at(-10_000),
            };
            (policy, observed)
        })
        .collect()
}

fn decide_all(fleet: &[(ScaledObjectPolicy, Observed)], now: Timestamp) -> usize {
    let mut scaled = 0;
    for (policy, observed) in fleet {
        let d = decide(black_box(policy), black_box(observed), now);
        scaled += usize::from(d.scale_to.is_some());
        black_box(d);
    }
    scaled
}

fn bench(c: &mut Criterion) {
    let fleet = fleet();
    let now = at(0);
    // A plain timed run for the headline figure.
    let rounds = 10;
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(decide_all(&fleet, now));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let per_second = (rounds * OBJECTS) as f64 / elapsed;
    println!(
        "decide: {OBJECTS} ScaledObjects × {rounds} rounds in {elapsed:.3} s = {per_second:.0} decisions/s (one core)"
    );

    let mut group = c.benchmark_group("decide");
    group.throughput(criterion::Throughput::Elements(OBJECTS as u64));
    group.bench_function("30k_scaled_objects", |b| b.iter(|| decide_all(&fleet, now)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
