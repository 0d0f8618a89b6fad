//! KEDA's ScaledObject admission checks (verifyReplicaCount, verifyName, verifyFallback,
//! verifyTriggers, scalingModifiers, cpu/memory) plus Ebb's structural ones.

use ebb_api::constants::PAUSED_REPLICAS_ANNOTATION;
use ebb_api::scaled_object::{FallbackBehavior, ScaledObject, ScaledObjectSpec};
use ebb_api::trigger::MetricTargetType;

use super::triggers::{self, Owner, is_cpu_or_memory};
use crate::Violation;

/// Kubernetes names of HPAs and label values stop at 63 characters.
const MAX_NAME_LEN: usize = 63;

/// Every check that needs nothing but the object itself.
pub(crate) fn check(so: &ScaledObject, out: &mut Vec<Violation>) {
    let spec = &so.spec;
    check_name(so, out);
    check_target(spec, out);
    check_periods(spec, out);
    check_replica_counts(spec, out);
    triggers::check(&spec.triggers, Owner::ScaledObject, out);
    check_cpu_memory_only(spec, out);
    check_scaling_modifiers(spec, out);
    check_fallback(spec, out);
    check_pause_annotation(so, out);
}

fn check_name(so: &ScaledObject, out: &mut Vec<Violation>) {
    let name = so.metadata.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        out.push(Violation::new("metadata.name", "name is required"));
    } else if name.len() > MAX_NAME_LEN {
        out.push(Violation::new(
            "metadata.name",
            format!(
                "ScaledObject name must be no more than {MAX_NAME_LEN} characters, it has {}",
                name.len()
            ),
        ));
    }
    let hpa = so.hpa_name();
    // A name that is too long already explains a too-long derived HPA name.
    if !name.is_empty() && name.len() <= MAX_NAME_LEN && hpa.len() > MAX_NAME_LEN {
        let configured = so
            .spec
            .advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
            .and_then(|c| c.name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let path = if configured {
            "spec.advanced.horizontalPodAutoscalerConfig.name"
        } else {
            "metadata.name"
        };
        out.push(Violation::new(
            path,
            format!(
                "HPA name {hpa:?} must be no more than {MAX_NAME_LEN} characters, it has {}",
                hpa.len()
            ),
        ));
    }
}

fn check_target(spec: &ScaledObjectSpec, out: &mut Vec<Violation>) {
    if spec.scale_target_ref.name.trim().is_empty() {
        out.push(Violation::new(
            "spec.scaleTargetRef.name",
            "scale target name is required",
        ));
    }
}

fn check_periods(spec: &ScaledObjectSpec, out: &mut Vec<Violation>) {
    let at_least = |value: Option<i32>, min: i32, path: &str, out: &mut Vec<Violation>| {
        if let Some(v) = value.filter(|v| *v < min) {
            out.push(Violation::new(path, format!("{v} must be {min} or more")));
        }
    };
    at_least(spec.polling_interval, 1, "spec.pollingInterval", out);
    at_least(spec.cooldown_period, 0, "spec.cooldownPeriod", out);
    at_least(
        spec.initial_cooldown_period,
        0,
        "spec.initialCooldownPeriod",
        out,
    );
}

fn check_replica_counts(spec: &ScaledObjectSpec, out: &mut Vec<Violation>) {
    let before = out.len();
    for (value, min, path) in [
        (spec.min_replica_count, 0, "spec.minReplicaCount"),
        (spec.max_replica_count, 1, "spec.maxReplicaCount"),
        (spec.idle_replica_count, 0, "spec.idleReplicaCount"),
    ] {
        if let Some(v) = value.filter(|v| *v < min) {
            out.push(Violation::new(path, format!("{v} must be {min} or more")));
        }
    }
    if out.len() > before {
        return;
    }
    if let Err(e) = spec.check_replica_count_bounds() {
        let path = match e {
            ebb_api::scaled_object::ReplicaBoundsError::MinAboveMax { .. } => {
                "spec.minReplicaCount"
            }
            ebb_api::scaled_object::ReplicaBoundsError::IdleNotBelowMin { .. } => {
                "spec.idleReplicaCount"
            }
        };
        out.push(Violation::new(path, e.to_string()));
    }
}

/// Resource metrics come from metrics-server, which cannot wake a workload from zero.
fn check_cpu_memory_only(spec: &ScaledObjectSpec, out: &mut Vec<Violation>) {
    let all_resource = !spec.triggers.is_empty() && spec.triggers.iter().all(is_cpu_or_memory);
    if all_resource && spec.min_replica_count.unwrap_or(0) == 0 {
        out.push(Violation::new(
            "spec.minReplicaCount",
            "with only cpu and memory triggers the workload cannot scale to zero: set minReplicaCount to 1 or more",
        ));
    }
}

fn check_scaling_modifiers(spec: &ScaledObjectSpec, out: &mut Vec<Violation>) {
    let Some(modifiers) = spec.scaling_modifiers() else {
        return;
    };
    let base = "spec.advanced.scalingModifiers";
    let formula = modifiers.formula.as_deref().unwrap_or("").trim();
    if formula.is_empty() {
        out.push(Violation::new(
            format!("{base}.formula"),
            "formula is required when scalingModifiers are used",
        ));
    }
    match modifiers.target.as_deref().map(str::trim) {
        None | Some("") => out.push(Violation::new(
            format!("{base}.target"),
            "target is required when scalingModifiers are used",
        )),
        Some(t) => match t.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => {}
            _ => out.push(Violation::new(
                format!("{base}.target"),
                format!("{t:?} must be a number greater than 0"),
            )),
        },
    }
    if let Some(t) = modifiers
        .activation_target
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.parse::<f64>().is_ok_and(f64::is_finite))
    {
        out.push(Violation::new(
            format!("{base}.activationTarget"),
            format!("{t:?} is not a number"),
        ));
    }
    if modifiers.metric_type() == MetricTargetType::Utilization {
        out.push(Violation::new(
            format!("{base}.metricType"),
            "metricType Utilization is not supported for scalingModifiers (use AverageValue or Value)",
        ));
    }
    if !formula.is_empty() {
        // Formula variables are the names of the triggers that feed it (cpu/memory never do).
        let names: Vec<&str> = spec
            .triggers
            .iter()
            .filter(|t| !is_cpu_or_memory(t) && !t.name().is_empty())
            .map(|t| t.name())
            .collect();
        if let Err(e) = ebb_core::formula::validate_formula(formula, &names) {
            out.push(Violation::new(format!("{base}.formula"), e.to_string()));
        }
    }
}

fn check_fallback(spec: &ScaledObjectSpec, out: &mut Vec<Violation>) {
    let Some(fallback) = &spec.fallback else {
        return;
    };
    if fallback.failure_threshold < 0 {
        out.push(Violation::new(
            "spec.fallback.failureThreshold",
            format!("{} must be 0 or more", fallback.failure_threshold),
        ));
    }
    if fallback.replicas < 0 {
        out.push(Violation::new(
            "spec.fallback.replicas",
            format!("{} must be 0 or more", fallback.replicas),
        ));
    }
    let uses_modifiers = spec.scaling_modifiers().is_some();
    if fallback.behavior() == FallbackBehavior::ScalingModifiers
        && spec
            .scaling_modifiers()
            .and_then(|m| m.formula.as_deref())
            .is_none_or(|f| f.trim().is_empty())
    {
        out.push(Violation::new(
            "spec.fallback.behavior",
            "behavior scalingModifiers requires spec.advanced.scalingModifiers.formula",
        ));
    }
    if uses_modifiers {
        return;
    }
    // Fallback fakes an External metric; cpu/memory (Resource) metrics cannot carry it.
    let supported = spec.triggers.iter().any(|t| {
        !is_cpu_or_memory(t)
            && matches!(
                t.metric_type(),
                Ok(MetricTargetType::AverageValue | MetricTargetType::Value)
            )
    });
    if !supported {
        out.push(Violation::new(
            "spec.fallback",
            "fallback needs at least one trigger that is not cpu or memory, with metricType AverageValue or Value",
        ));
    }
}

fn check_pause_annotation(so: &ScaledObject, out: &mut Vec<Violation>) {
    let Some(value) = so
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PAUSED_REPLICAS_ANNOTATION))
    else {
        return;
    };
    if !value.trim().parse::<i32>().is_ok_and(|v| v >= 0) {
        out.push(Violation::new(
            format!("metadata.annotations[{PAUSED_REPLICAS_ANNOTATION}]"),
            format!("{value:?} is not a replica count (a whole number, 0 or more)"),
        ));
    }
}
