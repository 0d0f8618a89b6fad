//! Full KEDA manifests survive a trip through our types unchanged; empty specs give KEDA's defaults.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns may panic too

mod support;

use ebb_api::trigger_authentication::{PodIdentityProvider, VaultSecretType};
use ebb_api::{
    ClusterTriggerAuthentication, ScaledJob, ScaledJobSpec, ScaledObject, ScaledObjectSpec,
    TriggerAuthentication,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

/// Parses a fixture as `T`, writes it back, and compares with the untyped parse.
fn round_trip<T: Serialize + DeserializeOwned>(fixture: &str) -> T {
    let path = support::fixture(fixture);
    let untyped = support::read_yaml(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let typed: T = serde_saphyr::from_str(&text).unwrap();
    let written = serde_json::to_value(&typed).unwrap();
    if written != untyped {
        panic!(
            "{fixture} changed in a round trip:\n{}",
            differences("", &untyped, &written).join("\n")
        );
    }
    typed
}

/// Paths where two JSON values differ, for a readable failure.
fn differences(path: &str, a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<_> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    differences(
                        &format!("{path}.{k}"),
                        a.get(k).unwrap_or(&Value::Null),
                        b.get(k).unwrap_or(&Value::Null),
                    )
                })
                .collect()
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .flat_map(|(i, (a, b))| differences(&format!("{path}[{i}]"), a, b))
            .collect(),
        _ if a == b => vec![],
        _ => vec![format!("{path}: manifest {a}, written {b}")],
    }
}

#[test]
fn a_full_keda_scaled_object_round_trips_unchanged() {
    let so: ScaledObject = round_trip("scaledobject-full.yaml");
    assert_eq!(so.hpa_name(), "orders-hpa");
    assert_eq!(so.spec.triggers.len(), 3);
    assert!(so.spec.hpa_behavior().is_some());
}

#[test]
fn a_full_keda_scaled_job_round_trips_unchanged() {
    let sj: ScaledJob = round_trip("scaledjob-full.yaml");
    assert_eq!(
        sj.spec
            .job_target_ref
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers
            .len(),
        1
    );
    assert_eq!(sj.status.unwrap().paused.as_deref(), Some("false"));
}

#[test]
fn a_full_keda_trigger_authentication_round_trips_unchanged() {
    let ta: TriggerAuthentication = round_trip("triggerauthentication-full.yaml");
    let provider = ta.spec.pod_identity.as_ref().map(|p| p.provider);
    assert_eq!(provider, Some(PodIdentityProvider::AzureWorkload));
}

#[test]
fn a_full_keda_cluster_trigger_authentication_round_trips_unchanged() {
    let cta: ClusterTriggerAuthentication = round_trip("clustertriggerauthentication-full.yaml");
    assert_eq!(cta.spec.file_path.as_deref(), Some("kafka/sasl.json"));
    let vault = cta.spec.hashi_corp_vault.as_ref().unwrap();
    assert_eq!(vault.secrets[0].type_, Some(VaultSecretType::Unspecified));
}

#[test]
fn a_minimal_scaled_object_is_written_back_without_invented_fields() {
    let manifest = json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "triggers": [{"type": "cron", "metadata": {}}],
            "fallback": {"failureThreshold": 3, "replicas": 2},
        },
    });
    let so: ScaledObject = serde_json::from_value(manifest.clone()).unwrap();
    assert_eq!(serde_json::to_value(&so).unwrap(), manifest);
}

fn empty_scaled_object_spec() -> ScaledObjectSpec {
    serde_json::from_value(json!({
        "scaleTargetRef": {"name": "web"},
        "triggers": [{"type": "cron", "metadata": {}}],
    }))
    .unwrap()
}

#[test]
fn an_empty_scaled_object_spec_gives_kedas_defaults() {
    let spec = empty_scaled_object_spec();
    assert_eq!(spec.polling_interval(), 30);
    assert_eq!(spec.cooldown_period(), 300);
    assert_eq!(spec.initial_cooldown_period(), 0);
    assert_eq!(spec.min_replica_count(), 0);
    assert_eq!(spec.max_replica_count(), 100);
    assert_eq!(spec.hpa_min_replicas(), 1);
    assert_eq!(spec.hpa_max_replicas(), 100);
    assert_eq!(spec.hpa_name("web"), "keda-hpa-web");
    assert!(!spec.restore_to_original_replica_count());
    assert!(spec.scaling_modifiers().is_none());
    assert_eq!(spec.scale_target_ref.api_version(), "apps/v1");
    assert_eq!(spec.scale_target_ref.kind(), "Deployment");
    let trigger = &spec.triggers[0];
    assert_eq!(
        trigger.metric_type(),
        Ok(ebb_api::MetricTargetType::AverageValue)
    );
    assert_eq!(trigger.name(), "");
    assert!(!trigger.use_cached_metrics());
    assert_eq!(spec.check_replica_count_bounds(), Ok(()));
}

#[test]
fn unset_fallback_behavior_and_modifier_fields_give_kedas_defaults() {
    use ebb_api::scaled_object::{FallbackBehavior, ScalingModifiers};
    let fallback: ebb_api::scaled_object::Fallback =
        serde_json::from_value(json!({"failureThreshold": 3, "replicas": 1})).unwrap();
    assert_eq!(fallback.behavior(), FallbackBehavior::Static);
    let modifiers = ScalingModifiers {
        formula: Some("a + b".into()),
        ..Default::default()
    };
    assert_eq!(
        modifiers.metric_type(),
        ebb_api::MetricTargetType::AverageValue
    );
    assert_eq!(modifiers.activation_target(), "0");
    assert!(ScalingModifiers::default().is_empty());
}

#[test]
fn an_empty_hpa_config_name_falls_back_to_keda_hpa_prefix() {
    let spec: ScaledObjectSpec = serde_json::from_value(json!({
        "scaleTargetRef": {"name": "web"},
        "triggers": [{"type": "cron", "metadata": {}}],
        "advanced": {"horizontalPodAutoscalerConfig": {"name": ""}},
    }))
    .unwrap();
    assert_eq!(spec.hpa_name("web"), "keda-hpa-web");
}

#[test]
fn replica_bounds_are_checked_as_keda_does() {
    let with = |min: Option<i32>, max: Option<i32>, idle: Option<i32>| {
        let mut spec = empty_scaled_object_spec();
        spec.min_replica_count = min;
        spec.max_replica_count = max;
        spec.idle_replica_count = idle;
        spec.check_replica_count_bounds().map_err(|e| e.to_string())
    };
    assert_eq!(with(Some(0), None, Some(0)), Ok(()), "min 0 counts as 1");
    assert!(with(None, None, Some(0)).is_err(), "idle needs min");
    assert_eq!(with(Some(5), Some(10), Some(4)), Ok(()));
    assert_eq!(
        with(Some(5), Some(3), None),
        Err("MinReplicaCount=5 must be less than MaxReplicaCount=3".to_owned())
    );
    assert_eq!(
        with(Some(2), None, Some(2)),
        Err("IdleReplicaCount=2 must be less than MinReplicaCount=2".to_owned())
    );
}

fn scaled_job_spec(min: Option<i32>, max: Option<i32>) -> ScaledJobSpec {
    let mut spec: ScaledJobSpec = serde_json::from_value(json!({
        "jobTargetRef": {"template": {"spec": {"containers": [{"name": "w", "image": "w"}]}}},
        "triggers": [{"type": "cron", "metadata": {}}],
    }))
    .unwrap();
    spec.min_replica_count = min;
    spec.max_replica_count = max;
    spec
}

#[test]
fn an_empty_scaled_job_spec_gives_kedas_defaults() {
    use ebb_api::scaled_job::{
        MultipleScalersCalculation, PropagationPolicy, RolloutStrategy, ScalingStrategyKind,
    };
    let spec = scaled_job_spec(None, None);
    assert_eq!(spec.polling_interval(), 30);
    assert_eq!(spec.successful_jobs_history_limit(), 100);
    assert_eq!(spec.failed_jobs_history_limit(), 100);
    assert_eq!(spec.min_replica_count(), 0);
    assert_eq!(spec.max_replica_count(), 100);
    assert_eq!(spec.rollout_strategy(), RolloutStrategy::Immediate);
    assert_eq!(spec.propagation_policy(), PropagationPolicy::Background);
    assert_eq!(spec.scaling_strategy_kind(), ScalingStrategyKind::Default);
    assert_eq!(
        spec.multiple_scalers_calculation(),
        MultipleScalersCalculation::Max
    );
}

#[test]
fn scaled_job_effective_min_and_max_follow_keda() {
    // (min, max) -> (effective min, effective max), keda-compat §3.2.
    let table = [
        ((None, None), (0, 100)),
        ((Some(3), None), (3, 100)),
        ((None, Some(10)), (0, 10)),
        ((Some(3), Some(10)), (3, 7)),
        ((Some(10), Some(10)), (10, 0)),
        ((Some(12), Some(10)), (10, 10)),
    ];
    for ((min, max), expected) in table {
        let spec = scaled_job_spec(min, max);
        assert_eq!(
            (spec.min_replica_count(), spec.max_replica_count()),
            expected,
            "min {min:?}, max {max:?}"
        );
    }
}

#[test]
fn the_deprecated_rollout_strategy_wins_over_rollout_strategy() {
    use ebb_api::scaled_job::{Rollout, RolloutStrategy};
    let mut spec = scaled_job_spec(None, None);
    spec.rollout = Some(Rollout {
        strategy: Some(RolloutStrategy::Gradual),
        propagation_policy: None,
    });
    assert_eq!(spec.rollout_strategy(), RolloutStrategy::Gradual);
    spec.rollout_strategy = Some(RolloutStrategy::Immediate);
    assert_eq!(spec.rollout_strategy(), RolloutStrategy::Immediate);
}

#[test]
fn a_trigger_without_metadata_is_rejected_as_keda_schema_requires_it() {
    let result: Result<ScaledObjectSpec, _> = serde_json::from_value(json!({
        "scaleTargetRef": {"name": "web"},
        "triggers": [{"type": "cron"}],
    }));
    assert!(result.unwrap_err().to_string().contains("metadata"));
}
