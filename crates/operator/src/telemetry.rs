//! What the loops report to `ebb-telemetry`: KEDA's per-trigger series (value, activity, latency,
//! errors) and one decision record per check, with an Event when the outcome changes.

use std::time::Duration;

use ebb_api::scaled_object::ScaledObject;
use ebb_core::TriggerResult;
use ebb_core::trace::DecisionRecord;
use ebb_telemetry::{ObjectType, ResourceType, ScalerKey};
use k8s_openapi::api::core::v1::ObjectReference;

use crate::context::Context;
use crate::scalers_cache::ScalerInputs;

/// Reason of the Normal Event emitted when a loop's outcome changes (an Ebb addition).
pub(crate) const DECISION_CHANGED: &str = "EbbScalingDecisionChanged";

fn key(
    object_type: ObjectType,
    namespace: &str,
    name: &str,
    trigger_type: &str,
    index: usize,
    metric: &str,
) -> ScalerKey {
    ScalerKey {
        namespace: namespace.to_owned(),
        object: name.to_owned(),
        object_type,
        metric: metric.to_owned(),
        scaler: format!("{trigger_type}Scaler"),
        trigger_index: index,
    }
}

/// Records each trigger's measurement (or error) and returns the bare results.
pub(crate) fn record_triggers<'a>(
    ctx: &Context,
    object_type: ObjectType,
    namespace: &str,
    name: &str,
    inputs: &ScalerInputs,
    metric_names: impl Iterator<Item = &'a str>,
    results: Vec<(TriggerResult, Duration)>,
) -> Vec<TriggerResult> {
    metric_names
        .zip(inputs.triggers.iter())
        .zip(results)
        .enumerate()
        .map(|(index, ((metric, trigger), (result, took)))| {
            let key = key(object_type, namespace, name, &trigger.type_, index, metric);
            match &result {
                TriggerResult::Measured { value, active } => ctx.telemetry.record_measurement(
                    &key,
                    *value,
                    active.unwrap_or(*value > 0.0),
                    took.as_secs_f64(),
                ),
                TriggerResult::Failed { .. } => ctx.telemetry.record_scaler_error(&key),
                TriggerResult::NotPolled => {}
            }
            result
        })
        .collect()
}

/// Keeps `record` for `/explain`, counts it, and emits an Event when the outcome changed.
pub(crate) fn record_decision(
    ctx: &Context,
    object_type: ObjectType,
    namespace: &str,
    name: &str,
    regarding: &ObjectReference,
    record: DecisionRecord,
) {
    let (summary, reason) = (record.summary.clone(), record.reason.clone());
    if let Some(previous) = ctx
        .telemetry
        .record_decision(object_type, namespace, name, record)
    {
        tracing::info!(namespace = %namespace, name = %name, from = %previous.as_str(), %summary, "decision changed");
        ctx.events
            .normal(regarding, DECISION_CHANGED, format!("{summary}: {reason}"));
    }
}

fn resource(object_type: ObjectType) -> ResourceType {
    match object_type {
        ObjectType::ScaledObject => ResourceType::ScaledObject,
        ObjectType::ScaledJob => ResourceType::ScaledJob,
    }
}

/// A loop started: the object and its triggers count in `keda_*_registered_total`.
pub(crate) fn registered(ctx: &Context, object_type: ObjectType, inputs: &ScalerInputs) {
    ctx.telemetry
        .register_resource(resource(object_type), &inputs.namespace);
    for t in &inputs.triggers {
        ctx.telemetry.register_trigger(&t.type_);
    }
}

/// An object went (deleted, paused outright or broken): its series and decision log go too.
pub(crate) fn forget(
    ctx: &Context,
    object_type: ObjectType,
    namespace: &str,
    name: &str,
    triggers: &[ebb_api::trigger::ScaleTriggers],
    metric_names: &[String],
    was_registered: bool,
) {
    for (index, (t, metric)) in triggers.iter().zip(metric_names).enumerate() {
        ctx.telemetry
            .remove_scaler(&key(object_type, namespace, name, &t.type_, index, metric));
        if was_registered {
            ctx.telemetry.unregister_trigger(&t.type_);
        }
    }
    if was_registered {
        ctx.telemetry
            .unregister_resource(resource(object_type), namespace);
    }
    ctx.telemetry.remove_object(object_type, namespace, name);
}

/// The metric names a ScaledObject's status lists (for [`forget`]).
pub(crate) fn so_metric_names(so: &ScaledObject) -> Vec<String> {
    so.status
        .as_ref()
        .and_then(|s| s.external_metric_names.clone())
        .unwrap_or_default()
}
