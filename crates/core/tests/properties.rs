//! Property tests: replicas stay in the allowed set, the HPA is monotonic and stabilized, decisions are
//! deterministic, bad values never panic.

// Integration tests are tests: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ebb_core::hpa::{Behavior, ExternalMetric, HpaSpec, HpaState, replicas_for_metric};
use ebb_core::*;
use jiff::Timestamp;
use proptest::prelude::*;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn any_result() -> impl Strategy<Value = TriggerResult> {
    prop_oneof![
        (0.0..1000.0f64).prop_map(TriggerResult::value),
        prop_oneof![
            Just(-1.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY)
        ]
        .prop_map(TriggerResult::value),
        any::<bool>().prop_map(|a| TriggerResult::Measured {
            value: 1.0,
            active: Some(a)
        }),
        Just(TriggerResult::failed("boom")),
        Just(TriggerResult::NotPolled),
    ]
}

prop_compose! {
    fn any_case()(
        min in proptest::option::of(0u32..5),
        extra in 0u32..10,
        idle in proptest::option::of(0u32..3),
        paused_replicas in proptest::option::of(0u32..20),
        paused in any::<bool>(), scale_in in any::<bool>(), scale_out in any::<bool>(), force in any::<bool>(),
        fallback in proptest::option::of((0i32..3, 0i32..8, 0usize..4)),
        modifiers in any::<bool>(),
        current in proptest::option::of(0u32..30),
        ready in proptest::option::of(0u32..30),
        results in proptest::collection::vec((any_result(), 0i32..6), 1..4),
        last_active in proptest::option::of(-1000i64..1000),
        now in 0i64..2000,
    ) -> (ScaledObjectPolicy, Observed, Timestamp) {
        let behaviors = [FallbackBehavior::Static, FallbackBehavior::CurrentReplicas, FallbackBehavior::CurrentReplicasIfHigher, FallbackBehavior::CurrentReplicasIfLower];
        let min_value = min.unwrap_or(0);
        let triggers: Vec<TriggerSpec> = (0..results.len()).map(|i| TriggerSpec {
            name: format!("t{i}"),
            metric_name: format!("s{i}-metric"),
            kind: if i == 2 { TriggerKind::Resource } else { TriggerKind::External },
            target: 5.0,
            ..Default::default()
        }).collect();
        let names: Vec<String> = triggers.iter().map(|t| t.name.clone()).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let policy = ScaledObjectPolicy {
            min_replica_count: min,
            max_replica_count: min_value.max(1) + extra,
            // idle must be below min (CheckReplicaCountBoundsAreValid).
            idle_replica_count: idle.filter(|i| *i < min_value),
            fallback: fallback.map(|(t, r, b)| Fallback { failure_threshold: t, replicas: r, behavior: behaviors[b] }),
            scaling_modifiers: modifiers.then(|| ScalingModifiers::new("t0 * 2", "3", "", MetricType::AverageValue, &name_refs).unwrap()),
            pause: PauseSettings { paused, paused_replicas, paused_scale_in: scale_in, paused_scale_out: scale_out, force_activation: force },
            triggers,
            ..Default::default()
        };
        let observed = Observed {
            current_replicas: current,
            ready_replicas: ready,
            triggers: results.into_iter().map(|(result, failures)| TriggerObservation {
                result,
                health: TriggerHealth { number_of_failures: failures, status: if failures > 0 { HealthStatus::Failing } else { HealthStatus::Happy } },
            }).collect(),
            last_active_time: last_active.map(at),
            creation_time: at(-2000),
        };
        (policy, observed, at(now))
    }
}

proptest! {
    #[test]
    fn replicas_set_are_always_in_the_allowed_set((policy, observed, now) in any_case()) {
        let d = decide(&policy, &observed, now);
        if let Some(to) = d.scale_to {
            let min = policy.min_replica_count.unwrap_or(0);
            let allowed = to == 0
                || policy.idle_replica_count == Some(to)
                || policy.pause.paused_replicas == Some(to)
                || (min..=policy.max_replica_count).contains(&to);
            prop_assert!(allowed, "scale_to {} outside allowed set: {:?}", to, d.why);
            prop_assert_ne!(Some(to), observed.current_replicas);
        }
    }

    #[test]
    fn same_input_gives_the_same_decision((policy, observed, now) in any_case()) {
        prop_assert_eq!(decide(&policy, &observed, now), decide(&policy, &observed, now));
    }

    #[test]
    fn bad_trigger_values_are_errors_never_active(value in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), -1e9..-1e-9f64]) {
        let policy = ScaledObjectPolicy {
            triggers: vec![TriggerSpec { name: "q".into(), metric_name: "s0-q".into(), target: 1.0, ..Default::default() }],
            ..Default::default()
        };
        let observed = Observed {
            current_replicas: Some(1), ready_replicas: Some(1),
            triggers: vec![TriggerObservation::new(TriggerResult::value(value))],
            last_active_time: None, creation_time: at(0),
        };
        let d = decide(&policy, &observed, at(10));
        prop_assert!(d.is_error && !d.triggers[0].active && d.triggers[0].error.is_some());
    }

    #[test]
    fn hpa_average_value_desired_is_non_decreasing_in_the_metric(
        a in 0.0..10_000.0f64, b in 0.0..10_000.0f64, target in 0.01..100.0f64, current in 1u32..50,
    ) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let desired = |v| replicas_for_metric(&ExternalMetric { value: v, target, metric_type: MetricType::AverageValue }, current, current);
        prop_assert!(desired(lo) <= desired(hi));
    }

    #[test]
    fn no_scale_down_inside_the_stabilization_window(
        values in proptest::collection::vec(0.0..200.0f64, 1..30), start in 1u32..20,
    ) {
        // Default behavior: 300 s down window. Syncs every 15 s; the result may never fall below the
        // highest raw recommendation made within the last 300 s.
        let spec = HpaSpec { min_replicas: 1, max_replicas: 50, behavior: Some(Behavior::default()) };
        let mut state = HpaState::new();
        let mut current = start;
        let mut history: Vec<(i64, u32)> = vec![(0, start)];
        for (i, v) in values.iter().enumerate() {
            let t = i as i64 * 15;
            let metric = ExternalMetric { value: *v, target: 5.0, metric_type: MetricType::AverageValue };
            let raw = replicas_for_metric(&metric, current, current).unwrap().clamp(1, 50);
            let r = state.sync(&spec, current, current, &[Some(metric)], at(t));
            history.push((t, raw));
            if r.desired_replicas < current {
                let floor = history.iter().filter(|(at_s, _)| *at_s > t - 300).map(|(_, r)| *r).max().unwrap_or(0);
                prop_assert!(r.desired_replicas >= floor.min(current), "{} < floor {}", r.desired_replicas, floor);
            }
            current = r.desired_replicas;
        }
    }
}
