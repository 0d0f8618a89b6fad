//! Applies a ScaledObject's [`ScaleDecision`]: `/scale` only when the replica count changes, a
//! status merge-patch only when a field changes, Events only on transitions, and the HPA-facing
//! values into the metrics store. At steady state it writes nothing.

use std::collections::BTreeMap;

use ebb_api::condition::{
    self, Condition as ApiCondition, TYPE_ACTIVE, TYPE_FALLBACK, TYPE_PAUSED, TYPE_READY,
};
use ebb_api::event_reason::{KEDA_SCALE_TARGET_ACTIVATED, KEDA_SCALE_TARGET_DEACTIVATED};
use ebb_api::scaled_object::{HEALTH_STATUS_FAILING, HEALTH_STATUS_HAPPY, ScaledObject};
use ebb_core::{
    COMPOSITE_METRIC_NAME, Condition, ConditionStatus, HealthStatus, ScaleDecision, TriggerKind,
};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::metrics_store::Reading;
use crate::scaled_object::poll::{LoopSpec, LoopState};
use crate::scaled_object::status;

fn status_str(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::True => condition::STATUS_TRUE,
        ConditionStatus::False => condition::STATUS_FALSE,
        ConditionStatus::Unknown => condition::STATUS_UNKNOWN,
    }
}

fn set(conditions: &mut Vec<ApiCondition>, type_: &str, c: &Condition) -> bool {
    condition::set(
        conditions,
        type_,
        status_str(c.status),
        c.reason,
        &c.message,
    )
}

/// The conditions after this decision, starting from the object's current ones.
pub(crate) fn conditions_after(
    current: &[ApiCondition],
    decision: &ScaleDecision,
) -> Vec<ApiCondition> {
    let mut conditions = current.to_vec();
    if !condition::are_initialized(&conditions) {
        for c in condition::initialized() {
            if condition::find(&conditions, &c.type_).is_none() {
                conditions.push(c);
            }
        }
    }
    let d = &decision.conditions;
    set(&mut conditions, TYPE_READY, &d.ready);
    if let Some(active) = &d.active {
        set(&mut conditions, TYPE_ACTIVE, active);
    }
    if let Some(fallback) = &d.fallback {
        set(&mut conditions, TYPE_FALLBACK, fallback);
    }
    // KEDA writes the Unpaused reason only on a True→False transition.
    let was_paused = condition::find(&conditions, TYPE_PAUSED).is_some_and(ApiCondition::is_true);
    if d.paused.status == ConditionStatus::True || was_paused {
        set(&mut conditions, TYPE_PAUSED, &d.paused);
    }
    conditions
}

pub(crate) fn time_value(t: Timestamp) -> Value {
    // Kubernetes Time has second precision.
    let secs = Timestamp::from_second(t.as_second()).unwrap_or(t);
    serde_json::to_value(Time(secs)).unwrap_or(Value::Null)
}

/// Applies one decision.
pub(crate) async fn apply(
    ctx: &Context,
    spec: &LoopSpec,
    so: &ScaledObject,
    decision: &ScaleDecision,
    current: Option<u32>,
    state: &mut LoopState,
    now: Timestamp,
) {
    // 1. /scale, only when the count changes.
    let mut scaled = true;
    if let Some(to) = decision.scale_to.filter(|to| Some(*to) != current) {
        match spec.target.set_replicas(to).await {
            Ok(()) => {
                tracing::info!(namespace = %spec.namespace, name = %spec.name, from = ?current, to, why = %decision.why, "scaled")
            }
            Err(error) => {
                scaled = false;
                tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "scaling failed");
                if let Some(e) = &decision.on_scale_failure {
                    ctx.events.decided(&spec.regarding, e);
                }
            }
        }
    }
    if scaled && let Some(t) = decision.last_active_time {
        state.last_active = Some(t);
    }

    // 2. Events: scale events on success; the others only when new since the previous check.
    let mut seen = Vec::new();
    for e in &decision.events {
        let is_scale =
            e.reason == KEDA_SCALE_TARGET_ACTIVATED || e.reason == KEDA_SCALE_TARGET_DEACTIVATED;
        if is_scale {
            if scaled && decision.scale_to.is_some() {
                ctx.events.decided(&spec.regarding, e);
            }
            continue;
        }
        let key = (e.reason, e.message.clone());
        if !state.last_events.contains(&key) {
            ctx.events.decided(&spec.regarding, e);
        }
        seen.push(key);
    }
    state.last_events = seen;

    // 3. Health (tracked only with a valid fallback) and the metrics store.
    let mut readings = Vec::with_capacity(decision.triggers.len() + 1);
    for (t, outcome) in spec.policy.triggers.iter().zip(&decision.triggers) {
        if let Some(h) = outcome.health {
            state.health.insert(t.metric_name.clone(), h);
        }
        if t.kind == TriggerKind::External {
            let value = match (&outcome.error, outcome.value) {
                (_, Some(v)) => Ok(v),
                (Some(e), None) => Err(e.clone()),
                (None, None) => Err("not measured".to_owned()),
            };
            readings.push(Reading {
                metric_name: t.metric_name.clone(),
                value,
            });
        }
    }
    if spec.policy.scaling_modifiers.is_some() {
        let value = decision
            .composite
            .ok_or_else(|| "the scalingModifiers formula could not be evaluated".to_owned());
        readings.push(Reading {
            metric_name: COMPOSITE_METRIC_NAME.to_owned(),
            value,
        });
    }
    ctx.metrics
        .record(&spec.namespace, &spec.name, now, readings);

    // 4. Status: only what changed.
    let patch = status_changes(so, spec, decision, state);
    if !patch.is_empty() {
        let patch = json!({"status": Value::Object(patch)});
        if let Err(error) = status::patch(ctx, &spec.namespace, &spec.name, &patch).await {
            tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "status update failed");
        }
    }
}

fn status_changes(
    so: &ScaledObject,
    spec: &LoopSpec,
    decision: &ScaleDecision,
    state: &LoopState,
) -> Map<String, Value> {
    let mut patch = Map::new();
    let status = so.status.clone().unwrap_or_default();
    let current = so.conditions();
    let conditions = conditions_after(current, decision);
    let active_changed = condition::find(&conditions, TYPE_ACTIVE).map(|c| &c.status)
        != condition::find(current, TYPE_ACTIVE).map(|c| &c.status);
    if conditions != current {
        patch.insert(
            "conditions".into(),
            serde_json::to_value(&conditions).unwrap_or(Value::Null),
        );
    }
    // lastActiveTime is persisted when Active flips (or was never written), not every active poll.
    if let Some(t) = state.last_active {
        let persisted = status.last_active_time.as_ref().map(|t| t.0.as_second());
        if persisted != Some(t.as_second()) && (active_changed || persisted.is_none()) {
            patch.insert("lastActiveTime".into(), time_value(t));
        }
    }
    let activity: BTreeMap<String, Value> = spec
        .policy
        .triggers
        .iter()
        .zip(&decision.triggers)
        .filter(|(t, _)| t.kind == TriggerKind::External)
        .map(|(t, o)| (t.metric_name.clone(), json!({"isActive": o.active})))
        .collect();
    let live_activity: BTreeMap<String, Value> = status
        .triggers_activity
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
        .collect();
    if activity != live_activity {
        let mut map: Map<String, Value> = activity.into_iter().collect();
        for k in live_activity.keys() {
            map.entry(k.clone()).or_insert(Value::Null);
        }
        patch.insert("triggersActivity".into(), Value::Object(map));
    }
    if spec.policy.valid_fallback().is_some() {
        let live = status.health.clone().unwrap_or_default();
        let mut map = Map::new();
        for (metric, h) in &state.health {
            let wanted = json!({
                "numberOfFailures": h.number_of_failures,
                "status": match h.status { HealthStatus::Happy => HEALTH_STATUS_HAPPY, HealthStatus::Failing => HEALTH_STATUS_FAILING },
            });
            let same = live.get(metric).is_some_and(|l| {
                l.number_of_failures == Some(h.number_of_failures)
                    && l.status.as_deref() == wanted["status"].as_str()
            });
            if !same {
                map.insert(metric.clone(), wanted);
            }
        }
        if !map.is_empty() {
            patch.insert("health".into(), Value::Object(map));
        }
    }
    patch
}
