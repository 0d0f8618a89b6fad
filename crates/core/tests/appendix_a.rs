//! The worked examples of keda-compat Appendix A: A.3 fallback arithmetic, A.4 job counts, A.5 the
//! cooldown timeline.

// Integration tests are tests: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ebb_core::hpa::{ExternalMetric, replicas_for_metric};
use ebb_core::scaled_job::{
    JobCounts, JobTriggerMetrics, ScaledJobPolicy, ScalingStrategy, aggregate, jobs_to_create,
};
use ebb_core::*;
use jiff::Timestamp;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn failing_observation(current: u32, ready: u32) -> Observed {
    Observed {
        current_replicas: Some(current),
        ready_replicas: Some(ready),
        triggers: vec![TriggerObservation {
            result: TriggerResult::failed("unreachable"),
            health: TriggerHealth {
                number_of_failures: 3,
                status: HealthStatus::Failing,
            },
        }],
        last_active_time: Some(at(0)),
        creation_time: at(0),
    }
}

fn fallback_policy(
    metric_type: MetricType,
    target: f64,
    behavior: FallbackBehavior,
) -> ScaledObjectPolicy {
    ScaledObjectPolicy {
        fallback: Some(Fallback {
            failure_threshold: 3,
            replicas: 6,
            behavior,
        }),
        triggers: vec![TriggerSpec {
            name: "q".into(),
            metric_name: "s0-q".into(),
            metric_type,
            target,
            ..Default::default()
        }],
        ..Default::default()
    }
}

// ---- A.3 ---------------------------------------------------------------------------------------

#[test]
fn a3_average_value_fallback_reports_target_times_replicas_so_the_hpa_lands_on_six() {
    let d = decide(
        &fallback_policy(MetricType::AverageValue, 5.0, FallbackBehavior::Static),
        &failing_observation(2, 2),
        at(10),
    );
    assert_eq!(d.triggers[0].value, Some(30.0));
    let m = ExternalMetric {
        value: 30.0,
        target: 5.0,
        metric_type: MetricType::AverageValue,
    };
    assert_eq!(replicas_for_metric(&m, 2, 2), Some(6));
}

#[test]
fn a3_value_fallback_divides_by_ready_pods_so_the_hpa_lands_on_six() {
    let d = decide(
        &fallback_policy(MetricType::Value, 100.0, FallbackBehavior::Static),
        &failing_observation(3, 3),
        at(10),
    );
    assert_eq!(d.triggers[0].value, Some(200.0));
    let m = ExternalMetric {
        value: 200.0,
        target: 100.0,
        metric_type: MetricType::Value,
    };
    assert_eq!(replicas_for_metric(&m, 3, 3), Some(6));
}

#[test]
fn a3_current_replicas_if_higher_keeps_eight() {
    let d = decide(
        &fallback_policy(
            MetricType::AverageValue,
            5.0,
            FallbackBehavior::CurrentReplicasIfHigher,
        ),
        &failing_observation(8, 8),
        at(10),
    );
    assert_eq!(d.triggers[0].value, Some(40.0)); // R = 8
}

#[test]
fn a3_scaling_modifiers_fallback_uses_the_modifiers_target() {
    let mut p = fallback_policy(MetricType::AverageValue, 5.0, FallbackBehavior::Static);
    p.fallback = Some(Fallback {
        failure_threshold: 3,
        replicas: 10,
        behavior: FallbackBehavior::Static,
    });
    p.scaling_modifiers =
        Some(ScalingModifiers::new("q * 2", "2", "", MetricType::AverageValue, &["q"]).unwrap());
    let d = decide(&p, &failing_observation(2, 2), at(10));
    assert_eq!(d.composite, Some(20.0));
    let m = ExternalMetric {
        value: 20.0,
        target: 2.0,
        metric_type: MetricType::AverageValue,
    };
    assert_eq!(replicas_for_metric(&m, 2, 2), Some(10));
}

// ---- A.4 ---------------------------------------------------------------------------------------

fn a4_create(min: Option<u32>, strategy: ScalingStrategy, running: u32, pending: u32) -> u32 {
    let policy = ScaledJobPolicy {
        min_replica_count: min,
        max_replica_count: Some(10),
        strategy,
        ..Default::default()
    };
    let metrics = aggregate(
        &policy,
        &[JobTriggerMetrics {
            queue_length: 20.0,
            target_average: 2.0,
            active: true,
        }],
    );
    jobs_to_create(&policy, &metrics, JobCounts { running, pending }).create
}

#[test]
fn a4_job_counts_per_strategy() {
    let custom = ScalingStrategy::from_spec("custom", Some(1), "0.5");
    let cases = [
        (ScalingStrategy::Default, 7),
        (custom, 8),
        (ScalingStrategy::Accurate, 7),
        (ScalingStrategy::Eager, 6),
    ];
    for (strategy, want) in cases {
        assert_eq!(a4_create(None, strategy, 3, 1), want, "{strategy:?}");
    }
}

#[test]
fn a4_min_two_with_one_running_creates_one_regardless_of_queue() {
    let policy = ScaledJobPolicy {
        min_replica_count: Some(2),
        max_replica_count: Some(10),
        ..Default::default()
    };
    let metrics = aggregate(
        &policy,
        &[JobTriggerMetrics {
            queue_length: 0.0,
            target_average: 2.0,
            active: false,
        }],
    );
    assert!(metrics.is_active);
    assert_eq!(
        jobs_to_create(
            &policy,
            &metrics,
            JobCounts {
                running: 1,
                pending: 0
            }
        )
        .create,
        1
    );
    assert_eq!(a4_create(Some(2), ScalingStrategy::Default, 1, 0), 1);
}

#[test]
fn a4_min_two_with_five_running_creates_five() {
    let policy = ScaledJobPolicy {
        min_replica_count: Some(2),
        max_replica_count: Some(10),
        ..Default::default()
    };
    assert_eq!(policy.effective_max(), 8);
    let metrics = aggregate(
        &policy,
        &[JobTriggerMetrics {
            queue_length: 20.0,
            target_average: 2.0,
            active: true,
        }],
    );
    let d = jobs_to_create(
        &policy,
        &metrics,
        JobCounts {
            running: 5,
            pending: 0,
        },
    );
    assert_eq!((d.effective_max_scale, d.create), (5, 5));
}

// ---- A.5 ---------------------------------------------------------------------------------------

#[test]
fn a5_cooldown_timeline() {
    let policy = ScaledObjectPolicy {
        target: ScaleTargetRef {
            kind: "apps/v1.Deployment".into(),
            namespace: "shop".into(),
            name: "worker".into(),
        },
        triggers: vec![TriggerSpec {
            name: "q".into(),
            metric_name: "s0-rabbitmq-orders".into(),
            target: 5.0,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut replicas = 3;
    let mut last_active = None;
    let queue = |t: i64| if (100..400).contains(&t) { 4.0 } else { 0.0 };
    let mut timeline = Vec::new();
    // Polls every 30 s from t=0 (first poll immediate); the queue drains at t=400.
    for t in (0..=780).step_by(30) {
        let observed = Observed {
            current_replicas: Some(replicas),
            ready_replicas: Some(replicas),
            triggers: vec![TriggerObservation::new(TriggerResult::value(queue(t)))],
            last_active_time: last_active,
            creation_time: at(-1),
        };
        let d = decide(&policy, &observed, at(t));
        if let Some(to) = d.scale_to {
            timeline.push((t, replicas, to));
            replicas = to;
        }
        if let Some(la) = d.last_active_time {
            last_active = Some(la);
        }
        if t == 420 {
            assert_eq!(
                d.conditions.active.as_ref().unwrap().reason,
                "ScalerCooldown"
            );
        }
    }
    // t=0 scales 3→0 (never active, initial cooldown 0); t=120 (first poll ≥ 100) 0→1; the last
    // active poll is t=390, so the first poll with 390+300 < now is t=720.
    assert_eq!(timeline, vec![(0, 3, 0), (120, 0, 1), (720, 1, 0)]);
}
