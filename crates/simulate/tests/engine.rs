//! The simulation makes exactly the decisions KEDA plus the HPA would: exact event timelines.

// Integration tests are tests: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ebb_core::hpa::HpaSpec;
use ebb_core::scaled_job::ScaledJobPolicy;
use ebb_core::{ScaledObjectPolicy, TriggerKind, TriggerSpec};
use ebb_simulate::*;

fn orders(target: f64) -> TriggerSpec {
    TriggerSpec {
        name: "orders".into(),
        metric_name: "s0-rabbitmq-orders".into(),
        target,
        ..Default::default()
    }
}

fn model(policy: ScaledObjectPolicy, polling_interval: u32) -> ScaledObjectModel {
    let hpa = HpaSpec {
        min_replicas: policy.min_replica_count.unwrap_or(0).max(1),
        max_replicas: policy.max_replica_count,
        behavior: None,
    };
    ScaledObjectModel {
        title: "ScaledObject shop/orders".into(),
        policy,
        hpa,
        polling_interval,
    }
}

fn trace(text: &str, triggers: &[TriggerSpec]) -> Inputs {
    Inputs {
        trace: Some(Trace::parse(text, triggers).unwrap()),
        load: None,
    }
}

fn timeline(sim: &Simulation) -> Vec<(u32, u32, u32, Actor)> {
    sim.events
        .iter()
        .map(|e| (e.t, e.from, e.to, e.actor))
        .collect()
}

#[test]
fn a_step_to_37_messages_activates_at_the_next_poll_then_the_hpa_scales_within_behavior_limits() {
    let policy = ScaledObjectPolicy {
        triggers: vec![orders(5.0)],
        ..Default::default()
    };
    let sim = simulate_scaled_object(
        &model(policy, 30),
        &trace("time_s,orders\n0,0\n10,37\n100,0\n", &[orders(5.0)]),
        &Settings::default(),
    )
    .unwrap();
    use Actor::*;
    assert_eq!(
        timeline(&sim),
        vec![
            // The step lands at t=10; KEDA's next poll (t=30) activates 0→1. The HPA syncs in the
            // same second and wants ceil(37/5)=8, but the default scaleUp policy allows
            // max(+4 pods, +100 %) per 15 s: 1→5, then 5→8 at the next sync.
            (30, 0, 1, Keda),
            (30, 1, 5, Hpa),
            (45, 5, 8, Hpa),
            // Queue empty from t=100. The HPA's 300 s scaleDown stabilization holds 8 until the last
            // recommendation of 8 (t=90) leaves the window at t=390; it stops at minReplicas 1.
            (390, 8, 1, Hpa),
            // lastActiveTime is the t=90 poll; 90+300 < now first holds at the t=420 poll.
            (420, 1, 0, Keda),
        ]
    );
    let s = &sim.summary;
    assert_eq!(s.peak, (37.0, 10));
    assert_eq!(s.drained_at, Some(100));
    assert_eq!(s.max_desired, (8, 45));
    assert_eq!(s.scale_events, 5);
    // 1 s at 5 replicas is recorded after the HPA's same-second move; Σ desired over seconds.
    assert_eq!(s.replica_seconds, 15 * 5 + (390 - 45) * 8 + 30);
    // The open-ended run stops a while after the last change.
    assert!(s.end >= 420 && s.end < 520, "{}", s.end);
    assert!(!sim.samples[419].active && !sim.samples[29].active);
    assert!(sim.samples[30].active);
}

#[test]
fn cooldown_period_and_min_replicas_come_from_the_policy() {
    let policy = ScaledObjectPolicy {
        triggers: vec![orders(5.0)],
        cooldown_period: 60,
        min_replica_count: Some(2),
        max_replica_count: 4,
        ..Default::default()
    };
    let sim = simulate_scaled_object(
        &model(policy, 10),
        &trace("time_s,orders\n0,100\n20,0\n", &[orders(5.0)]),
        &Settings {
            duration: Some(400),
            ..Settings::default()
        },
    )
    .unwrap();
    use Actor::*;
    // Starts at min 2; HPA to max 4 at once (2+4 ≥ 4); with min 2 KEDA never scales to 0, and the
    // HPA scales down to minReplicas after its 300 s window (last 4 recommended at t=15).
    assert_eq!(timeline(&sim), vec![(0, 2, 4, Hpa), (315, 4, 2, Hpa)]);
    assert_eq!(sim.samples.len(), 401);
}

#[test]
fn ready_replicas_lag_desired_by_the_startup_delay() {
    let policy = ScaledObjectPolicy {
        triggers: vec![orders(5.0)],
        ..Default::default()
    };
    let sim = simulate_scaled_object(
        &model(policy, 30),
        &trace("time_s,orders\n0,37\n", &[orders(5.0)]),
        &Settings {
            duration: Some(60),
            startup_delay: 10,
            ..Settings::default()
        },
    )
    .unwrap();
    let at = |t: usize| (sim.samples[t].desired, sim.samples[t].ready);
    assert_eq!(at(0), (5, 0));
    assert_eq!(at(9), (5, 0));
    assert_eq!(at(10), (5, 5));
    assert_eq!(at(15), (8, 5));
    assert_eq!(at(25), (8, 8));
}

#[test]
fn the_queue_grows_with_arrivals_and_drains_with_ready_replicas() {
    let policy = ScaledObjectPolicy {
        triggers: vec![orders(50.0)],
        min_replica_count: Some(1),
        max_replica_count: 1,
        ..Default::default()
    };
    let inputs = Inputs {
        trace: None,
        load: Some(LoadModel {
            arrivals: Arrivals::parse("time_s,events_per_s\n0,10\n10,0\n").unwrap(),
            per_replica_rate: 5.0,
            trigger: 0,
            initial_backlog: 0.0,
        }),
    };
    let sim = simulate_scaled_object(&model(policy, 30), &inputs, &Settings::default()).unwrap();
    // One replica eats 5/s of 10/s for 10 s: +5/s up to 50, then −5/s back to 0 at t=20.
    let backlog = |t: usize| sim.samples[t].backlog.unwrap();
    assert_eq!(
        (
            backlog(0),
            backlog(1),
            backlog(10),
            backlog(15),
            backlog(20)
        ),
        (0.0, 5.0, 50.0, 25.0, 0.0)
    );
    assert_eq!(sim.summary.peak, (50.0, 10));
    assert_eq!(sim.summary.drained_at, Some(20));
    assert!(sim.events.is_empty());
    assert_eq!(sim.summary.primary, "backlog");
}

#[test]
fn runs_are_deterministic() {
    let policy = ScaledObjectPolicy {
        triggers: vec![orders(100.0)],
        max_replica_count: 30,
        ..Default::default()
    };
    let inputs = Inputs {
        trace: None,
        load: Some(LoadModel {
            arrivals: Arrivals::parse("time_s,events_per_s\n5,1000\n65,0\n").unwrap(),
            per_replica_rate: 50.0,
            trigger: 0,
            initial_backlog: 0.0,
        }),
    };
    let settings = Settings {
        startup_delay: 10,
        ..Settings::default()
    };
    let m = model(policy, 15);
    let a = simulate_scaled_object(&m, &inputs, &settings).unwrap();
    let b = simulate_scaled_object(&m, &inputs, &settings).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_csv(), b.to_csv());
    assert!(a.summary.drained_at.is_some());
}

#[test]
fn an_empty_trace_cell_is_a_scaler_failure_that_feeds_fallback() {
    let policy = ScaledObjectPolicy {
        triggers: vec![orders(5.0)],
        min_replica_count: Some(1),
        fallback: Some(ebb_core::Fallback {
            failure_threshold: 2,
            replicas: 6,
            ..Default::default()
        }),
        ..Default::default()
    };
    let sim = simulate_scaled_object(
        &model(policy, 10),
        &trace("time_s,orders\n0,5\n20,\n", &[orders(5.0)]),
        &Settings {
            duration: Some(80),
            ..Settings::default()
        },
    )
    .unwrap();
    // Failures at the t=20, 30, 40 polls: the third exceeds threshold 2, so from the t=45 sync the
    // HPA reads 5×6 and scales to 6 (+4 pods per 15 s allows 1→5 first).
    assert_eq!(
        timeline(&sim),
        vec![(45, 1, 5, Actor::Hpa), (60, 5, 6, Actor::Hpa)]
    );
}

fn jobs_model(max: u32) -> ScaledJobModel {
    ScaledJobModel {
        title: "ScaledJob shop/reports".into(),
        policy: ScaledJobPolicy {
            max_replica_count: Some(max),
            ..Default::default()
        },
        triggers: vec![TriggerSpec {
            target: 2.0,
            ..orders(2.0)
        }],
        polling_interval: 10,
    }
}

#[test]
fn scaled_job_default_strategy_counts_follow_appendix_a4() {
    let triggers = jobs_model(10).triggers;
    let sim = simulate_scaled_job(
        &jobs_model(10),
        &trace("time_s,orders\n0,4\n10,6\n30,20\n", &triggers),
        &Settings {
            duration: Some(40),
            startup_delay: 25,
            job_duration: 1000,
            ..Settings::default()
        },
    )
    .unwrap();
    // t=0: queue 4, target 2 ⇒ maxScale 2 ⇒ 2 Jobs. t=10: maxScale 3 − 2 running ⇒ 1. t=20: 3 − 3 ⇒ 0.
    // t=30 is A.4's poll: queue 20, max 10, 3 running (1 pending) ⇒ effMax 10 − 3 = 7 ⇒ 7 Jobs.
    assert_eq!(
        timeline(&sim),
        vec![
            (0, 0, 2, Actor::Jobs),
            (10, 2, 3, Actor::Jobs),
            (30, 3, 10, Actor::Jobs)
        ]
    );
    assert_eq!((sim.samples[30].desired, sim.samples[30].ready), (10, 2));
    assert_eq!(sim.summary.jobs_created, Some(10));
}

#[test]
fn each_job_takes_one_message_and_acks_it_when_done() {
    let inputs = Inputs {
        trace: None,
        load: Some(LoadModel {
            arrivals: Arrivals::parse("time_s,events_per_s\n0,0\n").unwrap(),
            per_replica_rate: 1.0,
            trigger: 0,
            initial_backlog: 5.0,
        }),
    };
    let mut m = jobs_model(100);
    m.triggers[0].target = 1.0;
    let sim = simulate_scaled_job(
        &m,
        &inputs,
        &Settings {
            job_duration: 10,
            ..Settings::default()
        },
    )
    .unwrap();
    assert_eq!(timeline(&sim)[0], (0, 0, 5, Actor::Jobs));
    assert_eq!(sim.summary.jobs_created, Some(5));
    assert_eq!(sim.samples[9].backlog, Some(5.0));
    assert_eq!(sim.summary.drained_at, Some(10));
    assert_eq!((sim.samples[10].desired, sim.samples[9].desired), (0, 5));
}

#[test]
fn inputs_that_cannot_run_are_errors() {
    let cpu = TriggerSpec {
        metric_name: "cpu".into(),
        kind: TriggerKind::Resource,
        ..Default::default()
    };
    let policy = ScaledObjectPolicy {
        triggers: vec![orders(5.0), cpu],
        ..Default::default()
    };
    let none = simulate_scaled_object(
        &model(policy.clone(), 30),
        &Inputs::default(),
        &Settings::default(),
    );
    assert_eq!(none.unwrap_err(), SimError::NoInput);
    let load = Inputs {
        trace: None,
        load: Some(LoadModel {
            arrivals: Arrivals::parse("time_s,events_per_s\n0,1\n").unwrap(),
            per_replica_rate: 1.0,
            trigger: 1,
            initial_backlog: 0.0,
        }),
    };
    let err = simulate_scaled_object(&model(policy, 30), &load, &Settings::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the load model's queue must feed a trigger that is not cpu or memory; known: orders, cpu"
    );
}
