//! One check of a ScaledJob's scale loop (KEDA's `checkScalers` for jobs and `RequestJobScale`):
//! measure every trigger, aggregate (`ebb_core::scaled_job`), count the running and pending Jobs,
//! create what the strategy allows, set Ready/Active, and prune finished Jobs beyond the history
//! limits.

use std::time::Duration;

use ebb_api::condition::{
    self, STATUS_FALSE, STATUS_TRUE, STATUS_UNKNOWN, TYPE_ACTIVE, TYPE_READY,
};
use ebb_api::constants::SCALED_JOB_NAME_LABEL;
use ebb_api::event_reason;
use ebb_core::TriggerResult;
use ebb_core::scaled_job::{JobTriggerMetrics, ScaledJobPolicy, aggregate, jobs_to_create};
use ebb_core::trace::TriggerRecord;
use ebb_scalers::{MetricSource, Poll};
use ebb_telemetry::ObjectType;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::reflector::ObjectRef;
use serde_json::Map;

use crate::context::Context;
use crate::scaled_job::{jobs, status};
use crate::scalers_cache::{ScalerInputs, ScalersCache, measure_all};

/// What a ScaledJob's loop was started from.
#[derive(Debug)]
pub(crate) struct JobLoopSpec {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) policy: ScaledJobPolicy,
    pub(crate) inputs: ScalerInputs,
    pub(crate) regarding: ObjectReference,
    pub(crate) period: Duration,
    pub(crate) pending_conditions: Vec<String>,
    pub(crate) successful_history: usize,
    pub(crate) failed_history: usize,
}

/// What a loop remembers between checks.
#[derive(Debug, Default)]
pub(crate) struct JobLoopState {
    cache: ScalersCache,
    /// The scaler errors of the previous check: an Event only for a new one.
    last_errors: Vec<String>,
}

const READY_WHILE_POLLING: &str = "ScaledJob is defined correctly and is ready for scaling";
const PARTIAL_ERROR: &str = "Some triggers defined in ScaledJob are not working correctly";
const ALL_ERROR: &str = "Triggers defined in ScaledJob are not working correctly";
const ACTIVE: &str = "Scaling is performed because triggers are active";
const NOT_ACTIVE: &str = "Scaling is not performed because triggers are not active";

/// Runs one check.
pub(crate) async fn check(ctx: &Context, spec: &JobLoopSpec, state: &mut JobLoopState) {
    let Some(sj) = ctx
        .scaled_jobs
        .get(&ObjectRef::new(&spec.name).within(&spec.namespace))
    else {
        return;
    };
    let now = Timestamp::now();
    let (metrics, errors, trigger_records) =
        match state.cache.ensure(&spec.inputs, &ctx.lookup, &ctx.clients) {
            Ok(scalers) => {
                let specs = crate::scalers_cache::metric_specs(scalers);
                let poll = Poll::at(now);
                let results = measure_all(scalers, &poll, ctx.config.measure_timeout).await;
                let names: Vec<String> = specs
                    .iter()
                    .map(|s| s.first().map(|m| m.metric_name.clone()).unwrap_or_default())
                    .collect();
                let results = crate::telemetry::record_triggers(
                    ctx,
                    ObjectType::ScaledJob,
                    &spec.namespace,
                    &spec.name,
                    &spec.inputs,
                    names.iter().map(String::as_str),
                    results,
                );
                trigger_metrics(&specs, results)
            }
            // A trigger that cannot be built counts as failing, as in KEDA's poll.
            Err(e) => {
                ctx.telemetry.record_object_error(
                    ObjectType::ScaledJob,
                    &spec.namespace,
                    &spec.name,
                );
                (Vec::new(), vec![e.to_string()], Vec::new())
            }
        };
    if !errors.is_empty() {
        state.cache.invalidate();
        for error in &errors {
            if !state.last_errors.contains(error) {
                tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "trigger failed");
                ctx.events
                    .warning(&spec.regarding, event_reason::KEDA_SCALER_FAILED, error);
            }
        }
    }
    state.last_errors = errors.clone();
    let aggregated = aggregate(&spec.policy, &metrics);

    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &spec.namespace);
    let selector = ListParams::default().labels(&format!("{SCALED_JOB_NAME_LABEL}={}", spec.name));
    let existing = match jobs_api.list(&selector).await {
        Ok(list) => list.items,
        Err(error) => {
            tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "listing Jobs failed");
            return;
        }
    };
    let unfinished = existing.iter().any(|j| jobs::finished(j).is_none());
    let pods = if unfinished {
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &spec.namespace);
        match pods_api.list(&selector).await {
            Ok(list) => list.items,
            Err(error) => {
                tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "listing Pods failed");
                return;
            }
        }
    } else {
        Vec::new()
    };
    let counts = jobs::counts(&existing, &pods, &spec.pending_conditions);
    let decision = jobs_to_create(&spec.policy, &aggregated, counts);
    let record = ebb_core::trace::DecisionRecord::scaled_job(
        trigger_records,
        &aggregated,
        counts,
        &decision,
        now,
    );
    crate::telemetry::record_decision(
        ctx,
        ObjectType::ScaledJob,
        &spec.namespace,
        &spec.name,
        &spec.regarding,
        record,
    );
    tracing::debug!(namespace = %spec.namespace, name = %spec.name, why = %decision.why, "checked");

    let mut fields = Map::new();
    if aggregated.is_active && decision.create > 0 {
        create_jobs(ctx, spec, &sj, &jobs_api, decision.create).await;
        fields.insert("lastActiveTime".into(), crate::executor::time_value(now));
    }

    let mut conditions = status::initialized(&sj);
    let ready = condition::find(&conditions, TYPE_READY).cloned();
    match (errors.is_empty(), aggregated.is_active) {
        (false, true) if !ready.as_ref().is_some_and(|c| c.is_unknown()) => {
            condition::set(
                &mut conditions,
                TYPE_READY,
                STATUS_UNKNOWN,
                condition::reason::PARTIAL_TRIGGER_ERROR,
                PARTIAL_ERROR,
            );
        }
        (false, false) if !ready.as_ref().is_some_and(|c| c.is_false()) => {
            condition::set(
                &mut conditions,
                TYPE_READY,
                STATUS_FALSE,
                condition::reason::TRIGGER_ERROR,
                ALL_ERROR,
            );
        }
        (true, _) if !ready.as_ref().is_some_and(|c| c.is_true()) => {
            condition::set(
                &mut conditions,
                TYPE_READY,
                STATUS_TRUE,
                condition::reason::SCALED_JOB_READY,
                READY_WHILE_POLLING,
            );
        }
        _ => {}
    }
    let active = condition::find(&conditions, TYPE_ACTIVE).cloned();
    let was_true = active.as_ref().is_some_and(|c| c.is_true());
    let was_false = active.as_ref().is_some_and(|c| c.is_false());
    if aggregated.is_active && !was_true {
        ctx.events
            .normal(&spec.regarding, event_reason::SCALED_JOB_ACTIVE, ACTIVE);
        condition::set(
            &mut conditions,
            TYPE_ACTIVE,
            STATUS_TRUE,
            condition::reason::SCALER_ACTIVE,
            ACTIVE,
        );
        fields.insert("lastActiveTime".into(), crate::executor::time_value(now));
    } else if !aggregated.is_active && !was_false {
        ctx.events.normal(
            &spec.regarding,
            event_reason::SCALED_JOB_INACTIVE,
            NOT_ACTIVE,
        );
        condition::set(
            &mut conditions,
            TYPE_ACTIVE,
            STATUS_FALSE,
            condition::reason::SCALER_NOT_ACTIVE,
            NOT_ACTIVE,
        );
    }
    if let Err(error) = status::write(ctx, &sj, &conditions, fields).await {
        tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "status write failed");
    }

    let victims = jobs::beyond_history(&existing, spec.successful_history, spec.failed_history);
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    for victim in victims {
        match jobs_api.delete(&victim, &background).await {
            Ok(_) => {
                tracing::info!(namespace = %spec.namespace, name = %spec.name, job = %victim, "removed a Job beyond the history limit");
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(error) => {
                tracing::warn!(namespace = %spec.namespace, name = %spec.name, job = %victim, %error, "could not remove a Job beyond the history limit");
                break;
            }
        }
    }
}

/// Per measured trigger its queue length, mean target and activity; the failed triggers' errors
/// (cpu/memory triggers are not polled and count as neither); and each trigger's trace record.
fn trigger_metrics(
    specs: &[Vec<ebb_scalers::MetricSpec>],
    results: Vec<TriggerResult>,
) -> (Vec<JobTriggerMetrics>, Vec<String>, Vec<TriggerRecord>) {
    let mut metrics = Vec::new();
    let mut errors = Vec::new();
    let mut records = Vec::new();
    for (specs, result) in specs.iter().zip(results) {
        let external: Vec<&ebb_scalers::MetricSpec> = specs
            .iter()
            .filter(|s| matches!(s.source, MetricSource::External))
            .collect();
        let name = external.first().map_or("", |s| s.metric_name.as_str());
        let targets: Vec<f64> = external
            .iter()
            .map(|s| s.target.as_f64().unwrap_or(0.0))
            .collect();
        let target_average = if targets.is_empty() {
            0.0
        } else {
            targets.iter().sum::<f64>() / targets.len() as f64
        };
        match result {
            TriggerResult::Measured { value, active } => {
                let threshold = external.first().map_or(0.0, |s| s.activation_threshold);
                let active = active.unwrap_or(value > threshold);
                records.push(TriggerRecord::measured(name, value, target_average, active));
                metrics.push(JobTriggerMetrics {
                    queue_length: value,
                    target_average,
                    active,
                });
            }
            TriggerResult::Failed { error } => {
                records.push(TriggerRecord::failed(name, target_average, &error));
                errors.push(error);
            }
            TriggerResult::NotPolled => {}
        }
    }
    (metrics, errors, records)
}

async fn create_jobs(
    ctx: &Context,
    spec: &JobLoopSpec,
    sj: &ebb_api::scaled_job::ScaledJob,
    api: &Api<Job>,
    count: u32,
) {
    let job = jobs::desired(sj, &ctx.config.version);
    for _ in 0..count {
        if let Err(error) = api.create(&PostParams::default(), &job).await {
            tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "creating a Job failed");
            ctx.events.warning(
                &spec.regarding,
                event_reason::KEDA_JOB_CREATE_FAILED,
                format!("Failed to create job {}-: {error}", spec.name),
            );
        }
    }
    tracing::info!(namespace = %spec.namespace, name = %spec.name, jobs = count, "created Jobs");
    ctx.events.normal(
        &spec.regarding,
        event_reason::KEDA_JOBS_CREATED,
        format!("Created {count} jobs"),
    );
}

impl crate::object_loop::LoopCheck for JobLoopSpec {
    type State = JobLoopState;
    const OBJECT_TYPE: ObjectType = ObjectType::ScaledJob;

    fn names(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }

    fn check<'a>(
        &'a self,
        ctx: &'a Context,
        state: &'a mut JobLoopState,
    ) -> impl std::future::Future<Output = ()> + Send + 'a {
        check(ctx, self, state)
    }
}
