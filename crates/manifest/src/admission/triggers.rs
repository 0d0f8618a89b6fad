//! Checks every trigger list shares: known type, unique names, metadata per type, cached metrics.

use std::collections::HashSet;

use ebb_api::trigger::{MetricTargetType, ScaleTriggers};
use ebb_scalers::{ConfigError, TriggerParams};

use crate::Violation;
use crate::scaler_params;

/// Trigger types that produce Resource metrics served by metrics-server, not by Ebb.
pub(crate) fn is_cpu_or_memory(trigger: &ScaleTriggers) -> bool {
    matches!(trigger.type_.as_str(), "cpu" | "memory")
}

/// Which kind of object holds the triggers, for KEDA's wording.
#[derive(Clone, Copy)]
pub(crate) enum Owner {
    ScaledObject,
    ScaledJob,
}

impl Owner {
    fn as_str(self) -> &'static str {
        match self {
            Owner::ScaledObject => "ScaledObject",
            Owner::ScaledJob => "ScaledJob",
        }
    }
}

/// KEDA's `verifyTriggers` plus the per-type metadata table.
pub(crate) fn check(triggers: &[ScaleTriggers], owner: Owner, out: &mut Vec<Violation>) {
    if triggers.is_empty() {
        out.push(Violation::new(
            "spec.triggers",
            "at least one trigger is required",
        ));
        return;
    }
    let mut names = HashSet::new();
    for (i, trigger) in triggers.iter().enumerate() {
        let path = format!("spec.triggers[{i}]");
        let name = trigger.name();
        if !name.is_empty() && !names.insert(name) {
            out.push(Violation::new(
                format!("{path}.name"),
                format!(
                    "triggerName {name:?} is defined multiple times in the {}, but it must be unique",
                    owner.as_str()
                ),
            ));
        }
        check_one(trigger, i, owner, &path, out);
    }
}

fn check_one(
    trigger: &ScaleTriggers,
    index: usize,
    owner: Owner,
    path: &str,
    out: &mut Vec<Violation>,
) {
    let before = out.len();
    let ty = trigger.type_.as_str();
    if ty.trim().is_empty() {
        out.push(Violation::new(
            format!("{path}.type"),
            "trigger type is required",
        ));
        return;
    }
    if trigger.use_cached_metrics() && matches!(ty, "cpu" | "memory" | "cron") {
        out.push(Violation::new(
            format!("{path}.useCachedMetrics"),
            format!("property useCachedMetrics cannot be enabled for trigger type {ty}"),
        ));
    }
    match owner {
        Owner::ScaledJob
            if trigger
                .metric_type
                .as_deref()
                .is_some_and(|m| !m.is_empty()) =>
        {
            out.push(Violation::new(
                format!("{path}.metricType"),
                "metricType is not supported in a ScaledJob trigger",
            ));
        }
        Owner::ScaledObject => check_metric_type(trigger, path, out),
        Owner::ScaledJob => {}
    }
    let Some(table) = scaler_params::trigger_type(ty) else {
        // Ebb-only trigger types (`sqlite`) have no KEDA table: their own parser is the authority.
        if ebb_scalers::registry::find(ty).is_some() {
            check_with_scaler(trigger, index, path, out);
            return;
        }
        let hint = scaler_params::closest_type(ty)
            .map(|t| format!(" (did you mean {t:?}?)"))
            .unwrap_or_default();
        out.push(Violation::new(
            format!("{path}.type"),
            format!("unknown trigger type {ty:?}{hint}"),
        ));
        return;
    };
    scaler_params::check_metadata(
        table,
        &trigger.metadata,
        trigger.authentication_ref.is_some(),
        path,
        out,
    );
    if out.len() == before {
        check_with_scaler(trigger, index, path, out);
    }
}

/// Where Ebb has the trigger type's own parser, it is the authority: it knows the rules between
/// keys (exclusive pairs, formats) that KEDA's table cannot say. Offline, values that come from the
/// workload's env or a TriggerAuthentication are unknown, so "missing" for such keys is not an error.
fn check_with_scaler(trigger: &ScaleTriggers, index: usize, path: &str, out: &mut Vec<Violation>) {
    if ebb_scalers::registry::find(&trigger.type_).is_none() {
        return;
    }
    let mut params = TriggerParams::new(trigger.type_.clone(), index, trigger.metadata.clone());
    params.name = trigger.name.clone();
    if let Some(m) = trigger.metric_type.as_deref().filter(|m| !m.is_empty()) {
        params = params.with_metric_type(m);
    }
    let Err(err) = ebb_scalers::registry::validate(&params) else {
        return;
    };
    if let ConfigError::Missing { key, .. } = &err {
        let from_env = key.split(';').any(|k| {
            trigger
                .metadata
                .get(&format!("{k}FromEnv"))
                .is_some_and(|v| !v.trim().is_empty())
        });
        if from_env || trigger.authentication_ref.is_some() {
            return;
        }
    }
    let key = err
        .key()
        .map(|k| k.split(';').next().unwrap_or(k).to_owned());
    let message = err.to_string();
    let message = match &key {
        Some(k) => message
            .strip_prefix(&format!("{k}: "))
            .map(str::to_owned)
            .unwrap_or(message),
        None => message,
    };
    let at = match key {
        // The trigger-level field, which scalers read alongside the metadata.
        Some(k) if k == "metricType" => format!("{path}.metricType"),
        Some(k) => format!("{path}.metadata.{k}"),
        None => path.to_owned(),
    };
    out.push(Violation::new(at, message));
}

fn check_metric_type(trigger: &ScaleTriggers, path: &str, out: &mut Vec<Violation>) {
    let at = || format!("{path}.metricType");
    match (is_cpu_or_memory(trigger), trigger.metric_type()) {
        (_, Err(e)) => out.push(Violation::new(at(), e.to_string())),
        // KEDA requires cpu/memory triggers to say which target they mean.
        (true, Ok(_)) if trigger.metric_type.as_deref().unwrap_or("").is_empty() => out.push(
            Violation::new(at(), "metricType is required for cpu and memory triggers (Utilization or AverageValue)"),
        ),
        (true, Ok(MetricTargetType::Value)) => out.push(Violation::new(
            at(),
            "metricType Value is not supported for cpu and memory triggers (use Utilization or AverageValue)",
        )),
        (false, Ok(MetricTargetType::Utilization)) => out.push(Violation::new(
            at(),
            format!("metricType Utilization is only supported for cpu and memory triggers, not {}", trigger.type_),
        )),
        _ => {}
    }
}
