//! The ScaledJob controller (keda-compat §3.1): finalizer, pause, trigger checks, status types,
//! rollout cleanup, and the scale loop; a bad object becomes Ready=False `ScaledJobCheckFailed`
//! with an Event and is retried with backoff.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use ebb_api::condition::{
    self, STATUS_FALSE, STATUS_TRUE, STATUS_UNKNOWN, TYPE_ACTIVE, TYPE_PAUSED, TYPE_READY, message,
    reason,
};
use ebb_api::constants::{FINALIZER, PAUSED_ANNOTATION, SCALED_JOB_NAME_LABEL};
use ebb_api::event_reason;
use ebb_api::scaled_job::{PropagationPolicy, RolloutStrategy, ScaledJob};
use ebb_manifest::policy::{self, PolicyError};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::utils::predicates;
use kube::{Resource, ResourceExt};
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::scale_loop::{LoopChange, loop_key};
use crate::scaled_job::poll::JobLoopSpec;
use crate::scaled_job::{jobs, status};
use crate::scalers_cache::{BuildError, ScalerInputs, build_all, resolve_all};

/// Why a ScaledJob reconcile failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The object does not make a policy (bad trigger metadata, bounds).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A trigger's auth or scaler could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A trigger sets `metricType`, which ScaledJobs do not allow.
    #[error("metricType is not supported in ScaledJob (trigger {0})")]
    MetricType(usize),
    /// The API refused a read or write.
    #[error("kubernetes API request failed")]
    Kube(#[from] kube::Error),
}

impl Error {
    fn is_config(&self) -> bool {
        !matches!(self, Error::Kube(_))
    }
}

fn names(sj: &ScaledJob) -> (String, String) {
    (
        sj.metadata.namespace.clone().unwrap_or_default(),
        sj.metadata.name.clone().unwrap_or_default(),
    )
}

/// KEDA reconciles a ScaledJob on generation and paused-annotation changes; finalizers and
/// deletion are ours to watch too. Status writes do not count.
pub(crate) fn predicate(sj: &ScaledJob) -> u64 {
    let paused = sj.annotations().get(PAUSED_ANNOTATION);
    let mut h = DefaultHasher::new();
    predicates::generation(sj).hash(&mut h);
    paused.hash(&mut h);
    predicates::finalizers(sj).hash(&mut h);
    sj.metadata.deletion_timestamp.is_some().hash(&mut h);
    h.finish()
}

fn is_paused(sj: &ScaledJob) -> bool {
    sj.annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Reconciles one ScaledJob.
pub(crate) async fn reconcile(sj: Arc<ScaledJob>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (ns, name) = names(&sj);
    let key = loop_key("ScaledJob", &ns, &name);
    if !ctx.config.watch_namespace.contains(&ns) {
        return Ok(Action::await_change());
    }
    let hash = predicate(&sj);
    if ctx.unchanged(&key, hash) {
        return Ok(Action::await_change());
    }
    if sj.metadata.deletion_timestamp.is_some() {
        ctx.reconciled(&key, None);
        if sj.finalizers().iter().any(|f| f == FINALIZER) {
            finalize(&ctx, &sj, &key).await?;
        }
        ctx.succeeded(&key);
        return Ok(Action::await_change());
    }
    let sj = match ensure_finalizer(&ctx, &sj).await? {
        Some(patched) => Arc::new(patched),
        None => sj,
    };
    let hash = predicate(&sj);
    let result = if is_paused(&sj) {
        pause(&ctx, &sj, &key).await
    } else {
        setup(&ctx, &sj, &key).await
    };
    match result {
        Ok(()) => {
            ctx.succeeded(&key);
            ctx.reconciled(&key, Some(hash));
            Ok(Action::await_change())
        }
        Err(e) => {
            ctx.reconciled(&key, None);
            let chain = crate::scaled_object::controller::error_chain(&e);
            tracing::warn!(namespace = %ns, name = %name, error = %chain, "reconcile failed");
            if e.is_config() {
                crate::object_loop::stop(
                    &ctx,
                    &key,
                    &sj.object_ref(&()),
                    ebb_telemetry::ObjectType::ScaledJob,
                    &ns,
                    &name,
                    &sj.spec.triggers,
                    &external_names(&sj),
                );
            }
            if let Err(status_error) = check_failed(&ctx, &sj, &key, &chain).await {
                tracing::warn!(namespace = %ns, name = %name, error = %status_error, "could not record the failure");
            }
            Err(e)
        }
    }
}

/// Retry a failed object with backoff (1 s doubling to 5 min), per object.
pub(crate) fn error_policy(sj: Arc<ScaledJob>, _error: &Error, ctx: Arc<Context>) -> Action {
    let (ns, name) = names(&sj);
    Action::requeue(ctx.backoff(&loop_key("ScaledJob", &ns, &name)))
}

async fn ensure_finalizer(ctx: &Context, sj: &ScaledJob) -> Result<Option<ScaledJob>, kube::Error> {
    if sj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(None);
    }
    let (ns, name) = names(sj);
    let mut finalizers = sj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": sj.metadata.resource_version}});
    let api: Api<ScaledJob> = Api::namespaced(ctx.client.clone(), &ns);
    let patched = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(Some(patched))
}

async fn finalize(ctx: &Context, sj: &ScaledJob, key: &str) -> Result<(), Error> {
    let (ns, name) = names(sj);
    let regarding = sj.object_ref(&());
    crate::object_loop::stop(
        ctx,
        key,
        &regarding,
        ebb_telemetry::ObjectType::ScaledJob,
        &sj.metadata.namespace.clone().unwrap_or_default(),
        &sj.metadata.name.clone().unwrap_or_default(),
        &sj.spec.triggers,
        &external_names(sj),
    );
    let finalizers: Vec<&String> = sj.finalizers().iter().filter(|f| *f != FINALIZER).collect();
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": sj.metadata.resource_version}});
    let api: Api<ScaledJob> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    ctx.events.warning(
        &regarding,
        event_reason::SCALED_JOB_DELETED,
        "ScaledJob was deleted",
    );
    tracing::info!(namespace = %ns, name = %name, "ScaledJob finalized");
    Ok(())
}

async fn pause(ctx: &Context, sj: &ScaledJob, key: &str) -> Result<(), Error> {
    let regarding = sj.object_ref(&());
    crate::object_loop::stop(
        ctx,
        key,
        &regarding,
        ebb_telemetry::ObjectType::ScaledJob,
        &sj.metadata.namespace.clone().unwrap_or_default(),
        &sj.metadata.name.clone().unwrap_or_default(),
        &sj.spec.triggers,
        &external_names(sj),
    );
    let mut conditions = status::initialized(sj);
    let was_paused = condition::find(&conditions, TYPE_PAUSED).is_some_and(|c| c.is_true());
    condition::set(
        &mut conditions,
        TYPE_PAUSED,
        STATUS_TRUE,
        reason::SCALED_JOB_PAUSED,
        message::SCALED_JOB_PAUSED,
    );
    let mut fields = Map::new();
    if sj.status.as_ref().and_then(|s| s.paused.as_deref()) != Some("true") {
        fields.insert("Paused".into(), json!("true"));
    }
    status::write(ctx, sj, &conditions, fields).await?;
    if !was_paused {
        ctx.events.normal(
            &regarding,
            event_reason::SCALED_JOB_PAUSED,
            message::SCALED_JOB_PAUSED,
        );
    }
    Ok(())
}

async fn check_failed(
    ctx: &Context,
    sj: &ScaledJob,
    key: &str,
    chain: &str,
) -> Result<(), kube::Error> {
    let mut conditions = status::initialized(sj);
    condition::set(
        &mut conditions,
        TYPE_READY,
        STATUS_FALSE,
        reason::SCALED_JOB_CHECK_FAILED,
        chain,
    );
    condition::set(
        &mut conditions,
        TYPE_ACTIVE,
        STATUS_UNKNOWN,
        reason::UNKNOWN_STATE,
        "ScaledJob check failed",
    );
    // A retry of the same failure writes nothing (the object here may predate our last write).
    if !ctx.new_failure(key, chain) {
        return Ok(());
    }
    status::write(ctx, sj, &conditions, Map::new()).await?;
    ctx.events.warning(
        &sj.object_ref(&()),
        event_reason::SCALED_JOB_CHECK_FAILED,
        chain,
    );
    Ok(())
}

fn external_names(sj: &ScaledJob) -> Vec<String> {
    sj.status
        .as_ref()
        .and_then(|s| s.external_metric_names.clone())
        .unwrap_or_default()
}

fn unique_joined<'a>(items: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    (!seen.is_empty()).then(|| seen.join(","))
}

fn fingerprint(sj: &ScaledJob) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(&sj.spec)
        .unwrap_or_default()
        .hash(&mut h);
    serde_json::to_string(&sj.metadata.annotations)
        .unwrap_or_default()
        .hash(&mut h);
    serde_json::to_string(&sj.metadata.labels)
        .unwrap_or_default()
        .hash(&mut h);
    sj.metadata.uid.hash(&mut h);
    sj.metadata.generation.hash(&mut h);
    h.finish()
}

async fn setup(ctx: &Arc<Context>, sj: &ScaledJob, key: &str) -> Result<(), Error> {
    let (ns, name) = names(sj);
    let regarding = sj.object_ref(&());
    if let Some(index) = sj
        .spec
        .triggers
        .iter()
        .position(|t| t.metric_type.is_some())
    {
        return Err(Error::MetricType(index));
    }
    let inputs = ScalerInputs {
        namespace: ns.clone(),
        name: name.clone(),
        triggers: sj.spec.triggers.clone(),
        pod: sj.spec.job_target_ref.template.spec.clone(),
        env_container: sj.spec.env_source_container_name.clone(),
        as_metric_source: false,
    };
    let resolved = resolve_all(&inputs, &ctx.lookup)?;
    let scalers = build_all(&inputs, &resolved, &ctx.clients)?;
    let policy = policy::scaled_job_policy(sj)?;
    let external_names: Vec<String> = scalers
        .iter()
        .flat_map(|s| s.metric_specs())
        .map(|m| m.metric_name)
        .collect();
    drop(scalers);

    rollout_cleanup(ctx, sj).await;

    let mut conditions = status::initialized(sj);
    let was_ready = condition::find(&conditions, TYPE_READY).is_some_and(|c| c.is_true());
    let was_paused = condition::find(&conditions, TYPE_PAUSED).is_some_and(|c| c.is_true());
    if !was_ready {
        condition::set(
            &mut conditions,
            TYPE_READY,
            STATUS_TRUE,
            reason::SCALED_JOB_READY,
            message::SCALED_JOB_READY,
        );
    }
    if was_paused {
        condition::set(
            &mut conditions,
            TYPE_PAUSED,
            STATUS_FALSE,
            reason::SCALED_JOB_UNPAUSED,
            message::SCALED_JOB_UNPAUSED,
        );
    }
    let status = sj.status.clone().unwrap_or_default();
    let mut fields = Map::new();
    let types = unique_joined(sj.spec.triggers.iter().map(|t| t.type_.as_str()));
    if status.triggers_types != types {
        fields.insert("triggersTypes".into(), json!(types));
    }
    let auths = unique_joined(
        sj.spec
            .triggers
            .iter()
            .filter_map(|t| t.authentication_ref.as_ref())
            .map(|a| a.name.as_str()),
    );
    if status.authentications_types != auths {
        fields.insert("authenticationsTypes".into(), json!(auths));
    }
    if status.external_metric_names.as_ref() != Some(&external_names) {
        fields.insert("externalMetricNames".into(), json!(external_names));
    }
    if status.paused.as_deref().is_some_and(|p| p != "false") {
        fields.insert("Paused".into(), Value::Null);
    }
    status::write(ctx, sj, &conditions, fields).await?;
    if !was_ready {
        ctx.events.normal(
            &regarding,
            event_reason::SCALED_JOB_READY,
            message::SCALED_JOB_READY,
        );
    }
    if was_paused {
        ctx.events.normal(
            &regarding,
            event_reason::SCALED_JOB_UNPAUSED,
            message::SCALED_JOB_UNPAUSED,
        );
    }

    let strategy = sj.spec.scaling_strategy.as_ref();
    let spec = JobLoopSpec {
        namespace: ns,
        name,
        policy,
        inputs,
        regarding: regarding.clone(),
        period: Duration::from_secs(
            u64::try_from(sj.spec.polling_interval())
                .unwrap_or(30)
                .max(1),
        ),
        pending_conditions: strategy
            .and_then(|s| s.pending_pod_conditions.clone())
            .unwrap_or_default(),
        successful_history: usize::try_from(sj.spec.successful_jobs_history_limit()).unwrap_or(0),
        failed_history: usize::try_from(sj.spec.failed_jobs_history_limit()).unwrap_or(0),
    };
    let inputs_for_telemetry = spec.inputs.clone();
    if crate::object_loop::ensure(ctx, key, fingerprint(sj), spec.period, spec)
        == LoopChange::Started
    {
        crate::telemetry::registered(
            ctx,
            ebb_telemetry::ObjectType::ScaledJob,
            &inputs_for_telemetry,
        );
        ctx.events.normal(
            &regarding,
            event_reason::KEDA_SCALERS_STARTED,
            "Started scalers watch",
        );
    }
    Ok(())
}

/// Unless the rollout is gradual, Jobs made from an older generation are deleted (KEDA's
/// rollout cleanup), Background or Foreground per `rollout.propagationPolicy`.
async fn rollout_cleanup(ctx: &Context, sj: &ScaledJob) {
    if sj.spec.rollout_strategy() == RolloutStrategy::Gradual {
        return;
    }
    let (ns, name) = names(sj);
    let regarding = sj.object_ref(&());
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = ListParams::default().labels(&format!("{SCALED_JOB_NAME_LABEL}={name}"));
    let existing = match api.list(&selector).await {
        Ok(list) => list.items,
        Err(error) => {
            tracing::warn!(namespace = %ns, name = %name, %error, "listing Jobs for rollout cleanup failed");
            return;
        }
    };
    let stale = jobs::from_other_generations(&existing, sj.metadata.generation.unwrap_or(0));
    if stale.is_empty() {
        return;
    }
    ctx.events.normal(
        &regarding,
        event_reason::SCALED_JOB_ROLLOUT_CLEANUP_STARTED,
        "Started deletion of old Jobs for ScaledJob rollout",
    );
    let propagation = match sj.spec.propagation_policy() {
        PropagationPolicy::Foreground => kube::api::PropagationPolicy::Foreground,
        PropagationPolicy::Background => kube::api::PropagationPolicy::Background,
    };
    let params = DeleteParams {
        propagation_policy: Some(propagation),
        ..DeleteParams::default()
    };
    for job in &stale {
        match api.delete(job, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(error) => {
                tracing::warn!(namespace = %ns, name = %name, %job, %error, "rollout cleanup failed");
                ctx.events.warning(
                    &regarding,
                    event_reason::SCALED_JOB_ROLLOUT_CLEANUP_FAILED,
                    format!("Failed to delete old Job {job}: {error}"),
                );
                return;
            }
        }
    }
    ctx.events.normal(
        &regarding,
        event_reason::SCALED_JOB_ROLLOUT_CLEANUP_COMPLETED,
        format!("Deleted {} old Jobs for ScaledJob rollout", stale.len()),
    );
}
