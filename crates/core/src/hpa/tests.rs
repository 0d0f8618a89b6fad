//! Table tests for the HPA algorithm.

use super::*;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn avg(value: f64, target: f64) -> Option<ExternalMetric> {
    Some(ExternalMetric {
        value,
        target,
        metric_type: MetricType::AverageValue,
    })
}

fn spec(min: u32, max: u32, behavior: Option<Behavior>) -> HpaSpec {
    HpaSpec {
        min_replicas: min,
        max_replicas: max,
        behavior,
    }
}

#[test]
fn average_value_asks_for_ceil_of_value_over_target() {
    let cases = [
        // (value, target, current, want)
        (30.0, 5.0, 1, 6),
        (37.0, 5.0, 2, 8),
        (10.5, 5.0, 2, 2), // ratio 1.05 within tolerance
        (10.9, 5.0, 2, 2), // ratio 1.09
        (11.5, 5.0, 2, 3), // ratio 1.15
        (0.0, 5.0, 4, 0),
    ];
    for (value, target, current, want) in cases {
        let m = avg(value, target).unwrap();
        assert_eq!(
            replicas_for_metric(&m, current, current),
            Some(want),
            "{value}/{target} at {current}"
        );
    }
}

#[test]
fn value_asks_for_ceil_of_ready_pods_times_ratio() {
    let m = ExternalMetric {
        value: 200.0,
        target: 100.0,
        metric_type: MetricType::Value,
    };
    assert_eq!(replicas_for_metric(&m, 3, 3), Some(6));
    let m = ExternalMetric {
        value: 105.0,
        target: 100.0,
        metric_type: MetricType::Value,
    };
    assert_eq!(replicas_for_metric(&m, 3, 3), Some(3));
    let m = ExternalMetric {
        value: 250.0,
        target: 100.0,
        metric_type: MetricType::Value,
    };
    assert_eq!(replicas_for_metric(&m, 0, 0), Some(3));
}

#[test]
fn the_largest_metric_wins_and_invalid_metrics_block_scale_down() {
    assert_eq!(
        replicas_for_metrics(&[avg(10.0, 5.0), avg(40.0, 5.0)], 2, 2),
        Some(8)
    );
    assert_eq!(replicas_for_metrics(&[None, avg(40.0, 5.0)], 2, 2), Some(8));
    assert_eq!(replicas_for_metrics(&[None, avg(1.0, 5.0)], 4, 4), None);
    assert_eq!(replicas_for_metrics(&[None, None], 4, 4), None);
    assert_eq!(replicas_for_metrics(&[avg(f64::NAN, 5.0)], 4, 4), None);
}

#[test]
fn default_scale_up_is_max_of_four_pods_and_double_per_fifteen_seconds() {
    let mut state = HpaState::new();
    let s = spec(1, 100, None);
    let r = state.sync(&s, 1, 1, &[avg(500.0, 1.0)], at(0));
    assert_eq!(
        r,
        HpaRecommendation {
            desired_replicas: 5,
            reason: "ScaleUpLimit"
        }
    );
    // Within the same 15 s period the start-of-period count (1) still limits us.
    let r = state.sync(&s, 5, 5, &[avg(500.0, 1.0)], at(10));
    assert_eq!(r.desired_replicas, 5);
    let r = state.sync(&s, 5, 5, &[avg(500.0, 1.0)], at(16));
    assert_eq!(r.desired_replicas, 10);
}

#[test]
fn max_replicas_caps_scale_up() {
    let mut state = HpaState::new();
    let r = state.sync(&spec(1, 3, None), 2, 2, &[avg(500.0, 1.0)], at(0));
    assert_eq!(
        r,
        HpaRecommendation {
            desired_replicas: 3,
            reason: "TooManyReplicas"
        }
    );
}

#[test]
fn default_scale_down_waits_for_the_five_minute_window() {
    let mut state = HpaState::new();
    let s = spec(1, 100, None);
    assert_eq!(
        state
            .sync(&s, 10, 10, &[avg(10.0, 1.0)], at(0))
            .desired_replicas,
        10
    );
    assert_eq!(
        state
            .sync(&s, 10, 10, &[avg(2.0, 1.0)], at(60))
            .desired_replicas,
        10
    );
    assert_eq!(
        state
            .sync(&s, 10, 10, &[avg(2.0, 1.0)], at(299))
            .desired_replicas,
        10
    );
    assert_eq!(
        state
            .sync(&s, 10, 10, &[avg(2.0, 1.0)], at(301))
            .desired_replicas,
        2
    );
}

#[test]
fn scale_down_policies_limit_the_rate_and_select_policy_picks() {
    let rules = |select| ScalingRules {
        stabilization_window_seconds: Some(0),
        select_policy: Some(select),
        policies: vec![
            ScalingPolicy {
                policy_type: ScalingPolicyType::Pods,
                value: 2,
                period_seconds: 60,
            },
            ScalingPolicy {
                policy_type: ScalingPolicyType::Percent,
                value: 50,
                period_seconds: 60,
            },
        ],
    };
    let cases = [
        (SelectPolicy::Max, 5, "ScaleDownLimit"),
        (SelectPolicy::Min, 8, "ScaleDownLimit"),
        (SelectPolicy::Disabled, 10, "ScaleDownLimit"),
    ];
    for (select, want, reason) in cases {
        let mut state = HpaState::new();
        let behavior = Behavior {
            scale_up: None,
            scale_down: Some(rules(select)),
        };
        let r = state.sync(
            &spec(1, 100, Some(behavior)),
            10,
            10,
            &[avg(1.0, 1.0)],
            at(0),
        );
        assert_eq!(
            r,
            HpaRecommendation {
                desired_replicas: want,
                reason
            },
            "{select:?}"
        );
    }
}

#[test]
fn disabled_scale_up_keeps_the_current_count() {
    let behavior = Behavior {
        scale_up: Some(ScalingRules {
            select_policy: Some(SelectPolicy::Disabled),
            ..Default::default()
        }),
        scale_down: None,
    };
    let mut state = HpaState::new();
    let r = state.sync(
        &spec(1, 100, Some(behavior)),
        3,
        3,
        &[avg(100.0, 1.0)],
        at(0),
    );
    assert_eq!(r.desired_replicas, 3);
}

#[test]
fn replicas_outside_min_max_are_brought_inside_first() {
    let mut state = HpaState::new();
    assert_eq!(
        state
            .sync(&spec(2, 5, None), 9, 9, &[avg(1.0, 1.0)], at(0))
            .desired_replicas,
        5
    );
    assert_eq!(
        state
            .sync(&spec(2, 5, None), 1, 1, &[avg(1.0, 1.0)], at(0))
            .desired_replicas,
        2
    );
    assert_eq!(
        state
            .sync(&spec(2, 5, None), 0, 0, &[avg(9.0, 1.0)], at(0))
            .desired_replicas,
        0
    );
}
