//! KEDA's ScaledJob admission checks (verifyTriggers) plus Ebb's structural ones.

use ebb_api::scaled_job::{ScaledJob, ScaledJobSpec, ScalingStrategyKind};

use super::triggers::{self, Owner};
use crate::Violation;

/// Every check that needs nothing but the object itself.
pub(crate) fn check(sj: &ScaledJob, out: &mut Vec<Violation>) {
    let spec = &sj.spec;
    if sj.metadata.name.as_deref().unwrap_or_default().is_empty() {
        out.push(Violation::new("metadata.name", "name is required"));
    }
    check_counts(spec, out);
    check_job_template(spec, out);
    check_scaling_strategy(spec, out);
    triggers::check(&spec.triggers, Owner::ScaledJob, out);
    // Ebb's task data annotations (KEDA ignores them).
    if let Err(e) = crate::task_data::TaskDataSettings::from_scaled_job(sj) {
        out.push(Violation::new(e.path(), e.message));
    }
}

fn check_counts(spec: &ScaledJobSpec, out: &mut Vec<Violation>) {
    for (value, min, path) in [
        (spec.polling_interval, 1, "spec.pollingInterval"),
        (spec.min_replica_count, 0, "spec.minReplicaCount"),
        (spec.max_replica_count, 1, "spec.maxReplicaCount"),
        (
            spec.successful_jobs_history_limit,
            0,
            "spec.successfulJobsHistoryLimit",
        ),
        (
            spec.failed_jobs_history_limit,
            0,
            "spec.failedJobsHistoryLimit",
        ),
    ] {
        if let Some(v) = value.filter(|v| *v < min) {
            out.push(Violation::new(path, format!("{v} must be {min} or more")));
        }
    }
}

fn check_job_template(spec: &ScaledJobSpec, out: &mut Vec<Violation>) {
    let containers = spec
        .job_target_ref
        .template
        .spec
        .as_ref()
        .map(|p| p.containers.len())
        .unwrap_or(0);
    if containers == 0 {
        out.push(Violation::new(
            "spec.jobTargetRef.template.spec.containers",
            "the Job template needs at least one container",
        ));
    }
}

fn check_scaling_strategy(spec: &ScaledJobSpec, out: &mut Vec<Violation>) {
    let Some(strategy) = &spec.scaling_strategy else {
        return;
    };
    if strategy.strategy() != ScalingStrategyKind::Custom {
        return;
    }
    // KEDA silently falls back to the default strategy here; saying so saves a debugging session.
    match strategy
        .custom_scaling_running_job_percentage
        .as_deref()
        .map(str::trim)
    {
        Some(p) if p.parse::<f64>().is_ok_and(f64::is_finite) => {}
        Some(p) => out.push(Violation::new(
            "spec.scalingStrategy.customScalingRunningJobPercentage",
            format!("{p:?} is not a number (KEDA would silently use the default strategy)"),
        )),
        None => out.push(Violation::new(
            "spec.scalingStrategy.customScalingRunningJobPercentage",
            "required for the custom strategy (KEDA would silently use the default strategy)",
        )),
    }
}
