//! The ScaledObject controller (keda-compat §2.1, App. C): finalizer, conditions, pause, the
//! target's `/scale`, auth, the HPA, status, and the scale loop; bad input becomes Ready=False with
//! KEDA's reason and an Event, retried with backoff, never a crash or a hot loop.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use ebb_api::constants::{FINALIZER, SCALED_OBJECT_NAME_LABEL};
use ebb_api::event_reason;
use ebb_api::scaled_object::{ReplicaBoundsError, ScaledObject};
use ebb_core::PauseSettings;
use ebb_manifest::policy::{self, PolicyError, Resolution};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::scale_loop::{LoopChange, loop_key};
use crate::scaled_object::hpa::{self, HpaError};
use crate::scaled_object::pause::{self, PauseOutcome};
use crate::scaled_object::poll::LoopSpec;
use crate::scaled_object::{finalize, status};
use crate::scalers_cache::{BuildError, ScalerInputs, build_all, metric_specs, resolve_all};
use crate::target::TargetError;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scale target cannot be used.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The object does not make a policy (bad trigger metadata, formula, bounds).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Replica bounds are inconsistent.
    #[error(transparent)]
    Bounds(#[from] ReplicaBoundsError),
    /// A trigger's auth or scaler could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The HPA could not be built or written.
    #[error(transparent)]
    Hpa(#[from] HpaError),
    /// Another ScaledObject scales the same target.
    #[error(
        "the workload '{target}' of type '{kind}' is already managed by the ScaledObject '{owner}'"
    )]
    Duplicate {
        /// Target name.
        target: String,
        /// `apiVersion.Kind`.
        kind: String,
        /// The ScaledObject that owns it.
        owner: String,
    },
    /// The API refused a read or write.
    #[error("kubernetes API request failed")]
    Kube(#[from] kube::Error),
}

impl Error {
    /// Whether the object itself is wrong (stop scaling it) rather than the API having a bad moment.
    fn is_config(&self) -> bool {
        !matches!(
            self,
            Error::Kube(_) | Error::Target(TargetError::Api(_)) | Error::Hpa(HpaError::Api(_))
        )
    }
}

fn names(so: &ScaledObject) -> (String, String) {
    (
        so.metadata.namespace.clone().unwrap_or_default(),
        so.metadata.name.clone().unwrap_or_default(),
    )
}

/// Reconciles one ScaledObject.
pub(crate) async fn reconcile(so: Arc<ScaledObject>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (ns, name) = names(&so);
    let key = loop_key("ScaledObject", &ns, &name);
    if !ctx.config.watch_namespace.contains(&ns) {
        return Ok(Action::await_change());
    }
    let hash = crate::operator::so_predicate(&so);
    if ctx.unchanged(&key, hash) {
        return Ok(Action::await_change());
    }
    if so.metadata.deletion_timestamp.is_some() {
        ctx.reconciled(&key, None);
        if so.finalizers().iter().any(|f| f == FINALIZER) {
            finalize::finalize(&ctx, &so, &key).await?;
        }
        ctx.release_target(&ns, &name);
        ctx.succeeded(&key);
        return Ok(Action::await_change());
    }
    let so = match ensure_metadata(&ctx, &so).await? {
        Some(patched) => Arc::new(patched),
        None => so,
    };
    // The watch event of our own metadata patch must not cause a second full reconcile.
    let hash = crate::operator::so_predicate(&so);
    let result = async {
        let annotations = so
            .metadata
            .annotations
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        let pause = PauseSettings::from_annotations(annotations).map_err(PolicyError::from)?;
        if pause::handle(&ctx, &so, &key, &pause).await? == PauseOutcome::Paused {
            return Ok(());
        }
        setup(&ctx, &so, &key).await
    }
    .await;
    match result {
        Ok(()) => {
            ctx.succeeded(&key);
            ctx.reconciled(&key, Some(hash));
            Ok(Action::await_change())
        }
        Err(e) => {
            ctx.reconciled(&key, None);
            tracing::warn!(namespace = %ns, name = %name, error = %error_chain(&e), "reconcile failed");
            if e.is_config() {
                crate::object_loop::stop(
                    &ctx,
                    &key,
                    &so.object_ref(&()),
                    ebb_telemetry::ObjectType::ScaledObject,
                    &ns,
                    &name,
                    &so.spec.triggers,
                    &crate::telemetry::so_metric_names(&so),
                );
                ctx.metrics.remove(&ns, &name);
            }
            if let Err(status_error) = status::check_failed(&ctx, &so, &key, &error_chain(&e)).await
            {
                tracing::warn!(namespace = %ns, name = %name, error = %status_error, "could not record the failure");
            }
            Err(e)
        }
    }
}

/// The error and its causes, `: `-joined (never a secret: errors carry keys, not values).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Retry a failed object with backoff (1 s doubling to 5 min), per object.
pub(crate) fn error_policy(so: Arc<ScaledObject>, _error: &Error, ctx: Arc<Context>) -> Action {
    let (ns, name) = names(&so);
    Action::requeue(ctx.backoff(&loop_key("ScaledObject", &ns, &name)))
}

/// Finalizer and the `scaledobject.keda.sh/name` label, in one optimistic-concurrency patch;
/// the patched object when it wrote one.
async fn ensure_metadata(
    ctx: &Context,
    so: &ScaledObject,
) -> Result<Option<ScaledObject>, kube::Error> {
    let (ns, name) = names(so);
    let has_finalizer = so.finalizers().iter().any(|f| f == FINALIZER);
    let has_label = so.labels().get(SCALED_OBJECT_NAME_LABEL) == Some(&name);
    if has_finalizer && has_label {
        return Ok(None);
    }
    let mut meta = Map::new();
    meta.insert(
        "resourceVersion".into(),
        json!(so.metadata.resource_version),
    );
    if !has_finalizer {
        let mut finalizers = so.finalizers().to_vec();
        finalizers.push(FINALIZER.to_owned());
        meta.insert("finalizers".into(), json!(finalizers));
    }
    if !has_label {
        meta.insert("labels".into(), json!({SCALED_OBJECT_NAME_LABEL: name}));
    }
    let api: Api<ScaledObject> = Api::namespaced(ctx.client.clone(), &ns);
    let patched = api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": meta})),
        )
        .await?;
    Ok(Some(patched))
}

fn fingerprint(so: &ScaledObject, extra: &impl serde::Serialize) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(&so.spec)
        .unwrap_or_default()
        .hash(&mut h);
    serde_json::to_string(&so.metadata.annotations)
        .unwrap_or_default()
        .hash(&mut h);
    so.metadata.uid.hash(&mut h);
    serde_json::to_string(extra)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

fn unique_joined<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen.join(",")
}

fn differs<T: serde::Serialize>(fields: &mut Map<String, Value>, key: &str, live: &T, want: Value) {
    if serde_json::to_value(live).unwrap_or(Value::Null) != want {
        fields.insert(key.to_owned(), want);
    }
}

async fn setup(ctx: &Arc<Context>, so: &ScaledObject, key: &str) -> Result<(), Error> {
    let (ns, name) = names(so);
    let t = &so.spec.scale_target_ref;
    let kind = format!("{}.{}", t.api_version(), t.kind());
    if let Some(owner) = ctx.claim_target(&ns, &name, &kind, &t.name) {
        return Err(Error::Duplicate {
            target: t.name.clone(),
            kind,
            owner,
        });
    }
    let target = ctx
        .targets
        .resolve(&ctx.client, &ns, t.api_version(), t.kind(), &t.name)
        .await?;
    let scale = target.get_scale().await?;
    let pod = target.pod_spec().await?;
    let inputs = ScalerInputs {
        namespace: ns.clone(),
        name: name.clone(),
        triggers: so.spec.triggers.clone(),
        pod,
        env_container: t.env_source_container_name.clone(),
        as_metric_source: so.spec.scaling_modifiers().is_some(),
    };
    let resolved = resolve_all(&inputs, &ctx.lookup)?;
    let scalers = build_all(&inputs, &resolved, &ctx.clients)?;
    let policy = policy::scaled_object_policy_with(so, Resolution::Resolved(&resolved))?;
    so.spec.check_replica_count_bounds()?;
    let metrics = hpa::metrics(
        &name,
        &metric_specs(&scalers),
        policy.scaling_modifiers.as_ref(),
    )?;
    let hpa_spec = policy::hpa_spec(so)?;
    let hpa_name = so.hpa_name();

    let status = so.status.clone().unwrap_or_default();
    if let Some(old) = status.hpa_name.as_ref().filter(|old| **old != hpa_name) {
        hpa::delete(&ctx.client, &ns, old).await?;
    }
    let want = hpa::desired(
        so,
        &hpa_name,
        &target.gvkr,
        &hpa_spec,
        &metrics,
        &ctx.config.version,
    );
    let change = hpa::ensure(&ctx.client, so, &want).await?;
    if change != hpa::HpaChange::Unchanged {
        tracing::info!(namespace = %ns, name = %name, hpa = %hpa_name, ?change, "HPA written");
    }

    let mut fields = Map::new();
    differs(
        &mut fields,
        "scaleTargetKind",
        &status.scale_target_kind,
        json!(target.gvkr.group_version_kind()),
    );
    differs(
        &mut fields,
        "scaleTargetGVKR",
        &status.scale_target_gvkr,
        serde_json::to_value(&target.gvkr).unwrap_or(Value::Null),
    );
    if status.original_replica_count.is_none() {
        fields.insert("originalReplicaCount".into(), json!(scale.replicas));
    }
    differs(&mut fields, "hpaName", &status.hpa_name, json!(hpa_name));
    differs(
        &mut fields,
        "externalMetricNames",
        &status.external_metric_names,
        json!(metrics.external_names),
    );
    differs(
        &mut fields,
        "resourceMetricNames",
        &status.resource_metric_names,
        json!(metrics.resource_names),
    );
    let types = unique_joined(so.spec.triggers.iter().map(|t| t.type_.as_str()));
    differs(
        &mut fields,
        "triggersTypes",
        &status.triggers_types,
        json!(types),
    );
    let auths = unique_joined(
        so.spec
            .triggers
            .iter()
            .filter_map(|t| t.authentication_ref.as_ref())
            .map(|a| a.name.as_str()),
    );
    let auths = if auths.is_empty() {
        Value::Null
    } else {
        json!(auths)
    };
    differs(
        &mut fields,
        "authenticationsTypes",
        &status.authentications_types,
        auths,
    );
    let fp = fingerprint(so, &(&target.gvkr, &inputs.pod));
    // A loop that keeps running owns Ready between reconciles (TriggerError and friends).
    let loop_owns_ready = ctx.loops.runs_with(key, fp);
    status::ready(
        ctx,
        so,
        policy.valid_fallback().is_some(),
        fields,
        loop_owns_ready,
    )
    .await?;

    let period = Duration::from_secs(
        u64::try_from(so.spec.polling_interval())
            .unwrap_or(30)
            .max(1),
    );
    let spec = LoopSpec {
        namespace: ns,
        name,
        policy,
        inputs,
        target,
        regarding: so.object_ref(&()),
        period,
    };
    let inputs_for_telemetry = spec.inputs.clone();
    if crate::object_loop::ensure(ctx, key, fp, spec.period, spec) == LoopChange::Started {
        crate::telemetry::registered(
            ctx,
            ebb_telemetry::ObjectType::ScaledObject,
            &inputs_for_telemetry,
        );
        ctx.events.normal(
            &so.object_ref(&()),
            event_reason::KEDA_SCALERS_STARTED,
            "Started scalers watch",
        );
    }
    Ok(())
}
