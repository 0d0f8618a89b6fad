//! One test per row of KEDA's RequestScale decision table (keda-compat §2.3), plus pausing (§2.6),
//! fallback (§2.7), scalingModifiers (§2.8) and multiple triggers (§2.9).

// Integration tests are tests: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ebb_core::*;
use jiff::Timestamp;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn rabbit() -> TriggerSpec {
    TriggerSpec {
        name: "orders".into(),
        metric_name: "s0-rabbitmq-orders".into(),
        target: 5.0,
        ..Default::default()
    }
}

fn kafka() -> TriggerSpec {
    TriggerSpec {
        name: "lag".into(),
        metric_name: "s1-kafka-events".into(),
        target: 10.0,
        ..Default::default()
    }
}

fn cpu() -> TriggerSpec {
    TriggerSpec {
        name: "cpu".into(),
        metric_name: "cpu".into(),
        kind: TriggerKind::Resource,
        ..Default::default()
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
        ..Default::default()
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

fn active_reason(d: &ScaleDecision) -> &'static str {
    d.conditions.active.as_ref().unwrap().reason
}

// ---- Active rows -------------------------------------------------------------------------------

#[test]
fn active_trigger_scales_from_zero_to_one_when_min_is_zero() {
    let d = decide(
        &policy(vec![rabbit()]),
        &observed(0, vec![TriggerResult::value(37.0)]),
        at(10),
    );
    assert_eq!(d.scale_to, Some(1));
    assert_eq!(d.last_active_time, Some(at(10)));
    assert_eq!(active_reason(&d), "ScalerActive");
    assert_eq!(d.events.last().unwrap().reason, "KEDAScaleTargetActivated");
    assert_eq!(
        d.events.last().unwrap().message,
        "Scaled apps/v1.Deployment shop/worker from 0 to 1, triggered by s0-rabbitmq-orders"
    );
    assert_eq!(
        d.on_scale_failure.as_ref().unwrap().reason,
        "KEDAScaleTargetActivationFailed"
    );
    assert_eq!(
        d.why,
        "scaled 0→1: trigger s0-rabbitmq-orders active, 37 > 0"
    );
}

#[test]
fn active_trigger_scales_from_zero_to_min_when_min_is_set() {
    let mut p = policy(vec![rabbit()]);
    p.min_replica_count = Some(3);
    let d = decide(&p, &observed(0, vec![TriggerResult::value(1.0)]), at(10));
    assert_eq!(d.scale_to, Some(3));
}

#[test]
fn active_trigger_scales_from_idle_to_min() {
    let mut p = policy(vec![rabbit()]);
    p.min_replica_count = Some(2);
    p.idle_replica_count = Some(0);
    let d = decide(&p, &observed(1, vec![TriggerResult::value(1.0)]), at(10));
    assert_eq!(d.scale_to, Some(2));
}

#[test]
fn paused_scale_out_blocks_activation_from_zero() {
    let mut p = policy(vec![rabbit()]);
    p.pause.paused_scale_out = true;
    let d = decide(&p, &observed(0, vec![TriggerResult::value(9.0)]), at(10));
    assert_eq!(d.scale_to, None);
    assert_eq!(d.last_active_time, None);
    assert_eq!(d.conditions.paused.reason, "ScaledObjectPaused");
}

#[test]
fn force_activation_annotation_activates_with_its_own_message() {
    let mut p = policy(vec![rabbit()]);
    p.pause.force_activation = true;
    let d = decide(&p, &observed(0, vec![TriggerResult::value(0.0)]), at(10));
    assert_eq!(d.scale_to, Some(1));
    let active = d.conditions.active.as_ref().unwrap();
    assert_eq!(
        active.message,
        "Scaling is performed because activation is being forced by annotation"
    );
    assert_eq!(
        d.events.last().unwrap().message,
        "Scaled apps/v1.Deployment shop/worker from 0 to 1, caused by forced activation annotation"
    );
}

#[test]
fn active_with_a_failing_trigger_is_a_partial_error_without_refreshing_last_active_time() {
    let d = decide(
        &policy(vec![rabbit(), kafka()]),
        &observed(
            3,
            vec![
                TriggerResult::value(9.0),
                TriggerResult::failed("broker down"),
            ],
        ),
        at(10),
    );
    assert_eq!(d.scale_to, None);
    assert_eq!(d.last_active_time, None);
    assert_eq!(d.conditions.ready.reason, "PartialTriggerError");
    assert_eq!(d.conditions.ready.status, ConditionStatus::Unknown);
    assert!(
        d.events
            .iter()
            .any(|e| e.reason == "KEDAScalerFailed" && e.message == "broker down")
    );
}

#[test]
fn active_with_replicas_refreshes_last_active_time_and_leaves_scaling_to_the_hpa() {
    let d = decide(
        &policy(vec![rabbit()]),
        &observed(4, vec![TriggerResult::value(9.0)]),
        at(10),
    );
    assert_eq!(d.scale_to, None);
    assert_eq!(d.last_active_time, Some(at(10)));
    assert_eq!(d.conditions.ready.reason, "ScaledObjectReady");
}

// ---- Inactive rows -----------------------------------------------------------------------------

#[test]
fn inactive_with_error_and_fallback_holds_replicas_for_the_hpa() {
    let mut p = policy(vec![rabbit()]);
    p.fallback = Some(Fallback {
        failure_threshold: 3,
        replicas: 6,
        behavior: FallbackBehavior::Static,
    });
    let d = decide(
        &p,
        &observed(2, vec![TriggerResult::failed("timeout")]),
        at(1000),
    );
    assert_eq!(d.scale_to, None);
    assert_eq!(active_reason(&d), "ScalerNotActive");
    assert_eq!(d.conditions.ready.reason, "ScaledObjectReady");
    assert_eq!(
        d.triggers[0].health,
        Some(TriggerHealth {
            number_of_failures: 1,
            status: HealthStatus::Failing
        })
    );
}

#[test]
fn inactive_with_error_and_no_fallback_is_a_trigger_error() {
    let d = decide(
        &policy(vec![rabbit()]),
        &observed(2, vec![TriggerResult::failed("timeout")]),
        at(1000),
    );
    assert_eq!(d.scale_to, None);
    assert_eq!(d.conditions.ready.reason, "TriggerError");
    assert_eq!(d.conditions.ready.status, ConditionStatus::False);
    assert_eq!(
        d.why,
        "not scaling: no trigger active and trigger s0-rabbitmq-orders failed: timeout"
    );
}

#[test]
fn inactive_with_error_and_zero_fallback_replicas_falls_through_to_scale_to_zero() {
    let mut p = policy(vec![rabbit()]);
    p.fallback = Some(Fallback {
        failure_threshold: 3,
        replicas: 0,
        behavior: FallbackBehavior::Static,
    });
    let d = decide(
        &p,
        &observed(2, vec![TriggerResult::failed("timeout")]),
        at(1000),
    );
    assert_eq!(d.scale_to, Some(0));
}

#[test]
fn inactive_scales_to_zero_after_cooldown() {
    let d = decide(
        &policy(vec![rabbit()]),
        &observed(3, vec![TriggerResult::value(0.0)]),
        at(301),
    );
    assert_eq!(d.scale_to, Some(0));
    assert_eq!(
        d.events.last().unwrap().reason,
        "KEDAScaleTargetDeactivated"
    );
    assert_eq!(
        d.events.last().unwrap().message,
        "Deactivated apps/v1.Deployment shop/worker from 3 to 0"
    );
    assert_eq!(active_reason(&d), "ScalerNotActive");
}

#[test]
fn inactive_inside_cooldown_reports_scaler_cooldown() {
    let d = decide(
        &policy(vec![rabbit()]),
        &observed(3, vec![TriggerResult::value(0.0)]),
        at(300),
    );
    assert_eq!(d.scale_to, None);
    assert_eq!(active_reason(&d), "ScalerCooldown");
}

#[test]
fn idle_replicas_apply_when_all_triggers_inactive() {
    let mut p = policy(vec![rabbit()]);
    p.min_replica_count = Some(2);
    p.idle_replica_count = Some(0);
    let d = decide(&p, &observed(5, vec![TriggerResult::value(0.0)]), at(400));
    assert_eq!(d.scale_to, Some(0));
}

#[test]
fn paused_scale_in_blocks_scale_to_zero() {
    let mut p = policy(vec![rabbit()]);
    p.pause.paused_scale_in = true;
    let d = decide(&p, &observed(3, vec![TriggerResult::value(0.0)]), at(400));
    assert_eq!(d.scale_to, None);
}

#[test]
fn never_active_object_scales_in_after_initial_cooldown_from_creation() {
    let mut p = policy(vec![rabbit()]);
    p.initial_cooldown_period = 120;
    let mut o = observed(3, vec![TriggerResult::value(0.0)]);
    o.last_active_time = None;
    o.creation_time = at(0);
    assert_eq!(decide(&p, &o, at(100)).scale_to, None);
    assert_eq!(decide(&p, &o, at(121)).scale_to, Some(0));
}

#[test]
fn inactive_below_min_without_idle_restores_min_without_an_event() {
    let mut p = policy(vec![rabbit()]);
    p.min_replica_count = Some(2);
    let d = decide(&p, &observed(1, vec![TriggerResult::value(0.0)]), at(10));
    assert_eq!(d.scale_to, Some(2));
    assert!(d.events.is_empty());
}

#[test]
fn inactive_at_min_does_nothing() {
    let mut p = policy(vec![rabbit()]);
    p.min_replica_count = Some(2);
    let d = decide(&p, &observed(2, vec![TriggerResult::value(0.0)]), at(1000));
    assert_eq!(d.scale_to, None);
    assert_eq!(d.last_active_time, None);
    let d = decide(
        &policy(vec![rabbit()]),
        &observed(0, vec![TriggerResult::value(0.0)]),
        at(1000),
    );
    assert_eq!(d.scale_to, None);
}

#[test]
fn unreadable_current_replicas_is_a_ready_false_condition() {
    let mut o = observed(0, vec![TriggerResult::value(9.0)]);
    o.current_replicas = None;
    let d = decide(&policy(vec![rabbit()]), &o, at(10));
    assert_eq!(d.scale_to, None);
    assert_eq!(d.conditions.ready.reason, "ErrorGettingCurrentReplicas");
}

// ---- Activation, multiple triggers, cpu/memory -------------------------------------------------

#[test]
fn activation_is_strictly_greater_than_the_activation_threshold() {
    let mut t = rabbit();
    t.activation_target = 10.0;
    let p = policy(vec![t]);
    assert_eq!(
        decide(&p, &observed(0, vec![TriggerResult::value(10.0)]), at(10)).scale_to,
        None
    );
    assert_eq!(
        decide(&p, &observed(0, vec![TriggerResult::value(10.5)]), at(10)).scale_to,
        Some(1)
    );
}

#[test]
fn scaler_reported_activity_overrides_the_threshold() {
    let r = TriggerResult::Measured {
        value: 0.0,
        active: Some(true),
    };
    assert_eq!(
        decide(&policy(vec![rabbit()]), &observed(0, vec![r]), at(10)).scale_to,
        Some(1)
    );
}

#[test]
fn any_active_trigger_activates_the_object() {
    let d = decide(
        &policy(vec![rabbit(), kafka()]),
        &observed(
            0,
            vec![TriggerResult::value(0.0), TriggerResult::value(3.0)],
        ),
        at(10),
    );
    assert_eq!(d.scale_to, Some(1));
    assert!(
        d.events
            .last()
            .unwrap()
            .message
            .ends_with("triggered by s1-kafka-events")
    );
    assert_eq!(
        d.triggers.iter().map(|t| t.active).collect::<Vec<_>>(),
        vec![false, true]
    );
}

#[test]
fn only_cpu_and_memory_triggers_count_as_active() {
    let mut p = policy(vec![cpu()]);
    p.min_replica_count = Some(1);
    let d = decide(&p, &observed(2, vec![TriggerResult::NotPolled]), at(10));
    assert!(d.is_active);
    assert_eq!(d.last_active_time, Some(at(10)));
}

#[test]
fn a_cpu_trigger_beside_an_external_one_does_not_force_activity() {
    let d = decide(
        &policy(vec![rabbit(), cpu()]),
        &observed(3, vec![TriggerResult::value(0.0), TriggerResult::NotPolled]),
        at(1000),
    );
    assert!(!d.is_active);
    assert_eq!(d.scale_to, Some(0));
}

#[test]
fn negative_or_non_finite_metric_values_are_trigger_errors() {
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let d = decide(
            &policy(vec![rabbit()]),
            &observed(2, vec![TriggerResult::value(bad)]),
            at(1000),
        );
        assert!(d.is_error, "{bad}");
        assert_eq!(d.conditions.ready.reason, "TriggerError");
    }
}

// ---- Pausing -----------------------------------------------------------------------------------

#[test]
fn paused_replicas_sets_the_target_and_nothing_else() {
    let mut p = policy(vec![rabbit()]);
    p.pause.paused_replicas = Some(4);
    let d = decide(&p, &observed(1, vec![TriggerResult::value(99.0)]), at(10));
    assert_eq!(d.scale_to, Some(4));
    assert_eq!(d.conditions.paused.reason, "ScaledObjectPaused");
    assert_eq!(d.conditions.active, None);
    assert_eq!(decide(&p, &observed(4, vec![]), at(10)).scale_to, None);
}

#[test]
fn paused_freezes_the_current_replicas() {
    let mut p = policy(vec![rabbit()]);
    p.pause.paused = true;
    let d = decide(&p, &observed(0, vec![TriggerResult::value(99.0)]), at(10));
    assert_eq!(d.scale_to, None);
    assert_eq!(d.conditions.paused.status, ConditionStatus::True);
}

// ---- Fallback ----------------------------------------------------------------------------------

fn failing(failures_before: i32) -> TriggerObservation {
    TriggerObservation {
        result: TriggerResult::failed("connection refused"),
        health: TriggerHealth {
            number_of_failures: failures_before,
            status: HealthStatus::Failing,
        },
    }
}

#[test]
fn fallback_starts_only_when_failures_strictly_exceed_the_threshold() {
    let mut p = policy(vec![rabbit()]);
    p.fallback = Some(Fallback {
        failure_threshold: 3,
        replicas: 6,
        behavior: FallbackBehavior::Static,
    });
    let mut o = observed(2, vec![]);
    o.triggers = vec![failing(2)];
    let d = decide(&p, &o, at(10));
    assert!(d.is_error && !d.fallback_active);
    assert_eq!(
        d.conditions.fallback.as_ref().unwrap().reason,
        "NoFallbackFound"
    );

    o.triggers = vec![failing(3)];
    let d = decide(&p, &o, at(10));
    assert!(!d.is_error && d.fallback_active && d.is_active);
    assert_eq!(d.triggers[0].value, Some(30.0));
    assert_eq!(
        d.conditions.fallback.as_ref().unwrap().reason,
        "FallbackExists"
    );
    assert!(
        d.events
            .iter()
            .any(|e| e.reason == "ScaledObjectFallbackActivated")
    );
    assert_eq!(d.last_active_time, Some(at(10)));
}

#[test]
fn recovery_resets_health_and_emits_fallback_deactivated() {
    let mut p = policy(vec![rabbit()]);
    p.fallback = Some(Fallback {
        failure_threshold: 1,
        replicas: 6,
        behavior: FallbackBehavior::Static,
    });
    let mut o = observed(6, vec![]);
    o.triggers = vec![TriggerObservation {
        result: TriggerResult::value(3.0),
        health: TriggerHealth {
            number_of_failures: 5,
            status: HealthStatus::Failing,
        },
    }];
    let d = decide(&p, &o, at(10));
    assert_eq!(d.triggers[0].health, Some(TriggerHealth::happy()));
    assert!(
        d.events
            .iter()
            .any(|e| e.reason == "ScaledObjectFallbackDeactivated")
    );
}

#[test]
fn health_is_not_tracked_without_a_valid_fallback() {
    let d = decide(
        &policy(vec![rabbit()]),
        &observed(2, vec![TriggerResult::value(1.0)]),
        at(10),
    );
    assert_eq!(d.triggers[0].health, None);
    assert_eq!(
        d.conditions.fallback.as_ref().unwrap().reason,
        "NoFallbackFound"
    );
}

#[test]
fn value_metric_fallback_with_no_ready_pods_is_an_error() {
    let mut t = rabbit();
    t.metric_type = MetricType::Value;
    let mut p = policy(vec![t]);
    p.fallback = Some(Fallback {
        failure_threshold: 0,
        replicas: 6,
        behavior: FallbackBehavior::Static,
    });
    let mut o = observed(2, vec![]);
    o.ready_replicas = Some(0);
    o.triggers = vec![failing(0)];
    let d = decide(&p, &o, at(10));
    assert!(d.is_error && !d.fallback_active);
    assert!(
        d.triggers[0]
            .error
            .as_ref()
            .unwrap()
            .contains("no ready replicas")
    );
}

// ---- scalingModifiers --------------------------------------------------------------------------

fn modifiers(formula: &str, target: &str, activation: &str) -> ScalingModifiers {
    ScalingModifiers::new(
        formula,
        target,
        activation,
        MetricType::AverageValue,
        &["orders", "lag"],
    )
    .unwrap()
}

#[test]
fn composite_metric_decides_activity_with_modifiers() {
    let mut p = policy(vec![rabbit(), kafka()]);
    p.scaling_modifiers = Some(modifiers("(orders + lag) / 2", "5", "4"));
    let d = decide(
        &p,
        &observed(
            0,
            vec![TriggerResult::value(3.0), TriggerResult::value(6.0)],
        ),
        at(10),
    );
    assert_eq!(d.composite, Some(4.5));
    assert_eq!(d.scale_to, Some(1));
    assert!(
        d.events
            .last()
            .unwrap()
            .message
            .ends_with("triggered by composite-metric")
    );
    assert_eq!(d.why, "scaled 0→1: composite-metric active, 4.5 > 4");

    let d = decide(
        &p,
        &observed(
            0,
            vec![TriggerResult::value(3.0), TriggerResult::value(5.0)],
        ),
        at(10),
    );
    assert_eq!(d.composite, Some(4.0));
    assert!(!d.is_active);
}

#[test]
fn a_failing_trigger_makes_a_modifiers_object_inactive() {
    let mut p = policy(vec![rabbit(), kafka()]);
    p.scaling_modifiers = Some(modifiers("orders + lag", "5", ""));
    let d = decide(
        &p,
        &observed(
            2,
            vec![TriggerResult::value(30.0), TriggerResult::failed("down")],
        ),
        at(10),
    );
    assert!(!d.is_active && d.is_error);
    assert!(
        d.events
            .iter()
            .any(|e| e.reason == "KEDAMetricSourceFailed")
    );
}

#[test]
fn scaling_modifiers_fallback_binds_failing_triggers_as_nil() {
    let mut p = policy(vec![rabbit(), kafka()]);
    p.scaling_modifiers = Some(modifiers("orders ?? lag", "2", ""));
    p.fallback = Some(Fallback {
        failure_threshold: 1,
        replicas: 10,
        behavior: FallbackBehavior::ScalingModifiers,
    });
    let mut o = observed(2, vec![]);
    o.triggers = vec![
        failing(1),
        TriggerObservation::new(TriggerResult::value(7.0)),
    ];
    let d = decide(&p, &o, at(10));
    assert!(!d.is_error);
    assert_eq!(d.composite, Some(7.0));
}

#[test]
fn nil_formula_result_uses_fallback_replicas_times_target() {
    let mut p = policy(vec![rabbit()]);
    p.scaling_modifiers = Some(modifiers("orders ?? nil", "2", ""));
    p.fallback = Some(Fallback {
        failure_threshold: 1,
        replicas: 10,
        behavior: FallbackBehavior::ScalingModifiers,
    });
    let mut o = observed(2, vec![]);
    o.triggers = vec![failing(5)];
    let d = decide(&p, &o, at(10));
    assert_eq!(d.composite, Some(20.0));
    assert!(d.is_active);
}

#[test]
fn a_formula_error_counts_as_a_trigger_error() {
    let mut p = policy(vec![rabbit(), kafka()]);
    p.scaling_modifiers = Some(modifiers("orders / lag", "5", ""));
    let d = decide(
        &p,
        &observed(
            2,
            vec![TriggerResult::value(3.0), TriggerResult::value(0.0)],
        ),
        at(10),
    );
    assert!(d.is_error);
    assert_eq!(d.conditions.ready.reason, "TriggerError");
}
