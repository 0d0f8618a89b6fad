//! The wording of each outcome, from real `decide()` calls, and the ring's bounds and merging.

use super::*;
use crate::ScalingModifiers;
use crate::fallback::{Fallback, FallbackBehavior, TriggerHealth};
use crate::hpa::{HpaState, replicas_for_metrics};
use crate::scaled_job::{JobTriggerMetrics, ScaledJobPolicy, aggregate, jobs_to_create};
use crate::scaled_object::{Observed, PauseSettings, ScaleTargetRef, TriggerObservation, decide};
use crate::trigger::{TriggerResult, TriggerSpec};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_767_225_600 + s).unwrap() // 2026-01-01T00:00:00Z
}

fn orders() -> TriggerSpec {
    TriggerSpec {
        name: "orders".into(),
        metric_name: "s0-rabbitmq-orders".into(),
        target: 5.0,
        ..TriggerSpec::default()
    }
}

fn policy(triggers: Vec<TriggerSpec>) -> ScaledObjectPolicy {
    ScaledObjectPolicy {
        target: ScaleTargetRef {
            kind: "apps/v1.Deployment".into(),
            namespace: "shop".into(),
            name: "worker".into(),
        },
        triggers,
        ..ScaledObjectPolicy::default()
    }
}

fn observed(current: u32, results: Vec<TriggerResult>) -> Observed {
    Observed {
        current_replicas: Some(current),
        ready_replicas: Some(current),
        triggers: results.into_iter().map(TriggerObservation::new).collect(),
        last_active_time: Some(at(0)),
        creation_time: at(-1000),
    }
}

/// Decides and records: (outcome, summary, reason).
fn record_at(p: &ScaledObjectPolicy, o: &Observed, now: Timestamp) -> DecisionRecord {
    let d = decide(p, o, now);
    DecisionRecord::scaled_object(p, o.current_replicas, &d, now)
}

fn words(r: &DecisionRecord) -> (Outcome, &str, &str) {
    (r.outcome, r.summary.as_str(), r.reason.as_str())
}

#[test]
fn activation_from_zero_says_which_trigger_and_its_numbers() {
    let p = policy(vec![orders()]);
    let r = record_at(&p, &observed(0, vec![TriggerResult::value(37.0)]), at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Activated,
            "scaled 0→1",
            "scaled 0→1: trigger s0-rabbitmq-orders active, 37 > 0"
        )
    );
    assert_eq!(r.scale_to, Some(1));
    assert_eq!(r.current_replicas, Some(0));
    assert_eq!(r.source, DecisionSource::Poll);
    assert_eq!(
        r.triggers,
        vec![TriggerRecord {
            name: "orders".into(),
            metric_name: "s0-rabbitmq-orders".into(),
            value: Some(37.0),
            target: 5.0,
            activation_target: 0.0,
            metric_type: "AverageValue".into(),
            active: true,
            fallback: false,
            failures: None,
            resource: false,
            error: None,
        }]
    );
    assert_eq!(r.triggers[0].cell(), "s0-rabbitmq-orders=37/5 active");
}

#[test]
fn deactivation_after_cooldown_names_the_last_active_time() {
    let p = policy(vec![orders()]);
    let r = record_at(&p, &observed(3, vec![TriggerResult::value(0.0)]), at(301));
    assert_eq!(
        words(&r),
        (
            Outcome::Deactivated,
            "scaled 3→0",
            "scaled 3→0: no trigger active since lastActiveTime 2026-01-01T00:00:00Z, cooldownPeriod 300s passed"
        )
    );
}

#[test]
fn cooling_down_says_until_when() {
    let p = policy(vec![orders()]);
    let r = record_at(&p, &observed(3, vec![TriggerResult::value(0.0)]), at(100));
    assert_eq!(
        words(&r),
        (
            Outcome::CoolingDown,
            "cooling down, 3 replicas",
            "cooling down: no trigger active, keeping 3 replicas until after 2026-01-01T00:05:00Z"
        )
    );
}

#[test]
fn active_with_replicas_leaves_the_count_to_the_hpa() {
    let p = policy(vec![orders()]);
    let r = record_at(&p, &observed(3, vec![TriggerResult::value(37.0)]), at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Active,
            "active, 3 replicas",
            "active (trigger s0-rabbitmq-orders active, 37 > 0); HPA owns 3 replicas"
        )
    );
}

#[test]
fn active_with_a_failing_trigger_names_the_error() {
    let lag = TriggerSpec {
        metric_name: "s1-kafka-events".into(),
        target: 10.0,
        ..TriggerSpec::default()
    };
    let p = policy(vec![orders(), lag]);
    let o = observed(
        3,
        vec![
            TriggerResult::value(37.0),
            TriggerResult::failed("broker down"),
        ],
    );
    let r = record_at(&p, &o, at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::ActiveWithErrors,
            "active with errors, 3 replicas",
            "active (trigger s0-rabbitmq-orders active, 37 > 0) but trigger s1-kafka-events failed: broker down; lastActiveTime not refreshed, HPA owns 3 replicas"
        )
    );
    assert!(r.error);
    assert_eq!(r.triggers[1].error.as_deref(), Some("broker down"));
    assert_eq!(r.triggers[1].cell(), "s1-kafka-events=ERROR");
}

#[test]
fn inactive_at_zero_has_nothing_to_do() {
    let p = policy(vec![orders()]);
    let r = record_at(&p, &observed(0, vec![TriggerResult::value(0.0)]), at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Inactive,
            "inactive, 0 replicas",
            "no trigger active; 0 replicas, nothing to do"
        )
    );
}

#[test]
fn below_min_is_restored() {
    let p = ScaledObjectPolicy {
        min_replica_count: Some(2),
        ..policy(vec![orders()])
    };
    let r = record_at(&p, &observed(0, vec![TriggerResult::value(0.0)]), at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::RestoredMin,
            "scaled 0→2",
            "scaled 0→2: below minReplicaCount"
        )
    );
}

#[test]
fn paused_scale_out_blocks_activation() {
    let p = ScaledObjectPolicy {
        pause: PauseSettings {
            paused_scale_out: true,
            ..PauseSettings::default()
        },
        ..policy(vec![orders()])
    };
    let r = record_at(&p, &observed(0, vec![TriggerResult::value(37.0)]), at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Blocked,
            "blocked, 0 replicas",
            "active (trigger s0-rabbitmq-orders active, 37 > 0) but paused-scale-out blocks 0→1"
        )
    );
}

#[test]
fn paused_scale_in_blocks_deactivation() {
    let p = ScaledObjectPolicy {
        pause: PauseSettings {
            paused_scale_in: true,
            ..PauseSettings::default()
        },
        ..policy(vec![orders()])
    };
    let r = record_at(&p, &observed(3, vec![TriggerResult::value(0.0)]), at(400));
    assert_eq!(
        words(&r),
        (
            Outcome::Blocked,
            "blocked, 3 replicas",
            "no trigger active but paused-scale-in blocks 3→0"
        )
    );
}

fn with_fallback(replicas: i32) -> ScaledObjectPolicy {
    ScaledObjectPolicy {
        fallback: Some(Fallback {
            failure_threshold: 3,
            replicas,
            behavior: FallbackBehavior::Static,
        }),
        ..policy(vec![orders()])
    }
}

#[test]
fn failing_below_the_threshold_holds_replicas_for_fallback() {
    let p = with_fallback(6);
    let r = record_at(
        &p,
        &observed(3, vec![TriggerResult::failed("connection refused")]),
        at(10),
    );
    assert_eq!(
        words(&r),
        (
            Outcome::FallbackHold,
            "holding 3 replicas for fallback",
            "no trigger active and trigger s0-rabbitmq-orders failed: connection refused; holding 3 replicas for fallback"
        )
    );
    assert_eq!(r.triggers[0].failures, Some(1));
    assert_eq!(
        r.fallback,
        Some(FallbackRecord {
            active: false,
            failure_threshold: 3,
            replicas: 6,
            behavior: "static".into(),
        })
    );
}

#[test]
fn failing_past_the_threshold_serves_the_fallback_metric() {
    let p = with_fallback(6);
    let mut o = observed(3, vec![TriggerResult::failed("connection refused")]);
    o.triggers[0].health = TriggerHealth {
        number_of_failures: 3,
        status: crate::fallback::HealthStatus::Failing,
    };
    let r = record_at(&p, &o, at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Active,
            "active, 3 replicas",
            "active (trigger s0-rabbitmq-orders in fallback, 4 failures > failureThreshold 3); HPA owns 3 replicas"
        )
    );
    let t = &r.triggers[0];
    assert_eq!(
        (t.value, t.fallback, t.failures),
        (Some(30.0), true, Some(4))
    );
    assert_eq!(t.cell(), "s0-rabbitmq-orders=30/5 fallback");
    assert!(r.fallback.as_ref().unwrap().active);
}

#[test]
fn failing_without_fallback_does_not_scale() {
    let p = policy(vec![orders()]);
    let r = record_at(
        &p,
        &observed(3, vec![TriggerResult::failed("connection refused")]),
        at(10),
    );
    assert_eq!(
        words(&r),
        (
            Outcome::Failed,
            "not scaling",
            "not scaling: no trigger active and trigger s0-rabbitmq-orders failed: connection refused"
        )
    );
}

#[test]
fn an_unreadable_replica_count_fails() {
    let p = policy(vec![orders()]);
    let mut o = observed(3, vec![TriggerResult::value(37.0)]);
    o.current_replicas = None;
    let r = record_at(&p, &o, at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Failed,
            "not scaling",
            "not scaling: the target's current replica count could not be read"
        )
    );
}

#[test]
fn paused_replicas_moves_the_target_and_says_so() {
    let p = ScaledObjectPolicy {
        pause: PauseSettings {
            paused_replicas: Some(2),
            ..PauseSettings::default()
        },
        ..policy(vec![orders()])
    };
    let r = record_at(&p, &observed(5, vec![TriggerResult::value(37.0)]), at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Paused,
            "scaled 5→2",
            "paused: set to paused-replicas 2"
        )
    );
    let r = record_at(&p, &observed(2, vec![]), at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Paused,
            "paused, 2 replicas",
            "paused at paused-replicas 2"
        )
    );
}

#[test]
fn a_formula_records_its_composite_value() {
    let lag = TriggerSpec {
        name: "lag".into(),
        metric_name: "s1-kafka-events".into(),
        target: 10.0,
        ..TriggerSpec::default()
    };
    let modifiers = ScalingModifiers::new(
        "orders + lag",
        "10",
        "5",
        MetricType::AverageValue,
        &["orders", "lag"],
    )
    .unwrap();
    let p = ScaledObjectPolicy {
        scaling_modifiers: Some(modifiers),
        ..policy(vec![orders(), lag])
    };
    let o = observed(
        0,
        vec![TriggerResult::value(4.0), TriggerResult::value(3.0)],
    );
    let r = record_at(&p, &o, at(10));
    assert_eq!(
        words(&r),
        (
            Outcome::Activated,
            "scaled 0→1",
            "scaled 0→1: composite-metric active, 7 > 5"
        )
    );
    assert_eq!(
        r.formula,
        Some(FormulaRecord {
            formula: Some("orders + lag".into()),
            value: Some(7.0),
            target: 10.0,
            activation_target: 5.0,
        })
    );
}

#[test]
fn an_hpa_sync_records_its_inputs_and_the_limit() {
    let p = policy(vec![orders()]);
    let spec = HpaSpec {
        min_replicas: 1,
        max_replicas: 4,
        behavior: None,
    };
    let metrics = [Some(ExternalMetric {
        value: 37.0,
        target: 5.0,
        metric_type: MetricType::AverageValue,
    })];
    assert_eq!(replicas_for_metrics(&metrics, 1, 1), Some(8));
    let rec = HpaState::new().sync(&spec, 1, 1, &metrics, at(0));
    let r = DecisionRecord::hpa_sync(&p, &spec, 1, 1, &metrics, &rec, at(0));
    assert_eq!(
        words(&r),
        (
            Outcome::HpaScaled,
            "hpa scaled 1→4",
            "hpa scaled 1→4: metrics s0-rabbitmq-orders 37/5 want 8, set 4 (TooManyReplicas)"
        )
    );
    let hpa = r.hpa.unwrap();
    assert_eq!(
        (hpa.wanted, hpa.desired_replicas, hpa.max_replicas),
        (Some(8), 4, 4)
    );
    assert_eq!(hpa.metrics[0].replicas, Some(8));
}

#[test]
fn a_scaled_job_poll_counts_jobs() {
    let policy = ScaledJobPolicy {
        max_replica_count: Some(10),
        ..ScaledJobPolicy::default()
    };
    let metrics = aggregate(
        &policy,
        &[JobTriggerMetrics {
            queue_length: 3.0,
            target_average: 1.0,
            active: true,
        }],
    );
    let counts = JobCounts {
        running: 1,
        pending: 0,
    };
    let d = jobs_to_create(&policy, &metrics, counts);
    let r = DecisionRecord::scaled_job(
        vec![TriggerRecord::measured("s0-redis-jobs", 3.0, 1.0, true)],
        &metrics,
        counts,
        &d,
        at(0),
    );
    assert_eq!(
        words(&r),
        (
            Outcome::JobsCreated,
            "created 2 Jobs",
            "2 Jobs: queue wants 3, strategy allows 2 (1 running, 0 pending, max 10)"
        )
    );
    assert_eq!(
        r.jobs.as_ref().map(|j| (j.created, j.queue_wants)),
        Some((2, 3))
    );
    let idle = aggregate(&policy, &[]);
    let d = jobs_to_create(&policy, &idle, counts);
    let r = DecisionRecord::scaled_job(
        vec![TriggerRecord::failed(
            "s0-redis-jobs",
            1.0,
            "dial redis://:hunter2@cache:6379: refused",
        )],
        &idle,
        counts,
        &d,
        at(0),
    );
    assert_eq!(
        words(&r),
        (
            Outcome::NoJobs,
            "no Jobs created",
            "no trigger active; running Jobs are left alone"
        )
    );
    assert!(r.error);
    assert_eq!(
        r.triggers[0].error.as_deref(),
        Some("dial redis://[REDACTED]@cache:6379: refused")
    );
}

#[test]
fn credentials_never_reach_a_record() {
    let p = policy(vec![orders()]);
    let error =
        "amqp://guest:s3cret@rabbit:5672/%2f refused; GET https://api.example/q?apiKey=abc123&x=1";
    let r = record_at(&p, &observed(3, vec![TriggerResult::failed(error)]), at(10));
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        !json.contains("s3cret") && !json.contains("abc123"),
        "{json}"
    );
    assert_eq!(
        r.triggers[0].error.as_deref(),
        Some(
            "amqp://[REDACTED]@rabbit:5672/%2f refused; GET https://api.example/q?apiKey=[REDACTED]&x=1"
        )
    );
    assert_eq!(redact("value 37 > 0, a=b"), "value 37 > 0, a=b");
    assert_eq!(
        redact("password=pw token: x"),
        "password=[REDACTED] token: x"
    );
}

fn poll_record(value: f64, current: u32, now: i64) -> DecisionRecord {
    let p = policy(vec![orders()]);
    record_at(
        &p,
        &observed(current, vec![TriggerResult::value(value)]),
        at(now),
    )
}

#[test]
fn the_log_merges_repeats_keeps_the_last_n_and_reports_changes() {
    let mut log = DecisionLog::new(3);
    assert_eq!(log.push(poll_record(37.0, 0, 1)), None, "first record");
    assert_eq!(
        log.push(poll_record(37.0, 1, 2)),
        Some(Outcome::Activated),
        "activated → active"
    );
    // Same outcome, only numbers differ: merged, time and values from the latest.
    assert_eq!(log.push(poll_record(12.0, 1, 3)), None);
    assert_eq!(log.len(), 2);
    let last = log.latest().unwrap();
    assert_eq!((last.count, last.since, last.time), (2, Some(at(2)), at(3)));
    assert_eq!(last.triggers[0].value, Some(12.0));
    // Moving records are never merged.
    log.push(poll_record(37.0, 0, 4));
    log.push(poll_record(37.0, 0, 5));
    assert_eq!(log.len(), 3, "bounded");
    let outcomes: Vec<_> = log.records().map(|r| (r.outcome, r.time)).collect();
    assert_eq!(
        outcomes,
        vec![
            (Outcome::Active, at(3)),
            (Outcome::Activated, at(4)),
            (Outcome::Activated, at(5))
        ]
    );
}

#[test]
fn the_default_log_keeps_fifty() {
    let mut log = DecisionLog::default();
    for i in 0..60 {
        log.push(poll_record(37.0, 0, i));
    }
    assert_eq!(log.len(), DEFAULT_DECISION_LOG_CAPACITY);
    assert_eq!(log.records().next().map(|r| r.time), Some(at(10)));
}

#[test]
fn records_serialize_as_camel_case_json_and_round_trip() {
    let r = poll_record(37.0, 0, 1);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "time": "2026-01-01T00:00:01Z",
            "count": 1,
            "source": "poll",
            "outcome": "activated",
            "summary": "scaled 0→1",
            "reason": "scaled 0→1: trigger s0-rabbitmq-orders active, 37 > 0",
            "currentReplicas": 0,
            "scaleTo": 1,
            "active": true,
            "error": false,
            "triggers": [{
                "name": "orders",
                "metricName": "s0-rabbitmq-orders",
                "value": 37.0,
                "target": 5.0,
                "activationTarget": 0.0,
                "metricType": "AverageValue",
                "active": true,
                "fallback": false,
                "resource": false
            }]
        })
    );
    let back: DecisionRecord = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
    let mut log = DecisionLog::new(2);
    log.push(r);
    let back: DecisionLog = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
    assert_eq!(back, log);
}

#[test]
fn outcome_labels_are_snake_case() {
    assert_eq!(Outcome::ActiveWithErrors.as_str(), "active_with_errors");
    assert_eq!(
        serde_json::to_value(Outcome::HpaScaled).unwrap(),
        serde_json::json!("hpa_scaled")
    );
    assert_eq!(number(2.5), "2.5");
    assert_eq!(number(1.0 / 3.0), "0.333");
}
