//! The scalers of one object (KEDA's `ScalersCache`, keda-compat §4.4): built from the triggers with
//! env and TriggerAuthentication parameters resolved from the caches, reused while nothing they were
//! built from changes, dropped after any failed poll so the next poll rebuilds (re-resolving
//! secrets). ScaledObjects and ScaledJobs share it.

use std::time::Duration;

use ebb_api::trigger::ScaleTriggers;
use ebb_core::TriggerResult;
use ebb_manifest::auth::{ObjectLookup, resolve_trigger};
use ebb_manifest::policy::{ResolvedTrigger, trigger_params};
use ebb_scalers::{Clients, MetricSource, MetricSpec, Poll, Scaler, registry};
use k8s_openapi::api::core::v1::PodSpec;

/// What the scalers of one object are built from (everything but the resolved secrets).
#[derive(Debug, Clone)]
pub struct ScalerInputs {
    /// Namespace of the object (and of its Secrets).
    pub namespace: String,
    /// Name of the object (external scalers send it in `ScaledObjectRef`).
    pub name: String,
    /// The triggers.
    pub triggers: Vec<ScaleTriggers>,
    /// The scale target's pod template, for env resolution.
    pub pod: Option<PodSpec>,
    /// `envSourceContainerName`.
    pub env_container: Option<String>,
    /// Whether the triggers feed scalingModifiers.
    pub as_metric_source: bool,
}

/// Why the scalers could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error building scaler for trigger {index} ({trigger_type}): {message}")]
pub struct BuildError {
    /// Trigger index.
    pub index: usize,
    /// Trigger type.
    pub trigger_type: String,
    /// What failed (never a secret value).
    pub message: String,
}

/// Resolved auth + built scalers, or nothing (build on next use).
#[derive(Debug, Default)]
pub struct ScalersCache {
    built: Option<Built>,
    builds: u64,
}

#[derive(Debug)]
struct Built {
    resolved: Vec<ResolvedTrigger>,
    scalers: Vec<Box<dyn Scaler>>,
}

fn same(a: &[ResolvedTrigger], b: &[ResolvedTrigger]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.resolved_env == y.resolved_env
                && x.auth_params == y.auth_params
                && x.pod_identity == y.pod_identity
        })
}

/// Resolves env and auth of every trigger.
pub fn resolve_all(
    inputs: &ScalerInputs,
    lookup: &dyn ObjectLookup,
) -> Result<Vec<ResolvedTrigger>, BuildError> {
    inputs
        .triggers
        .iter()
        .enumerate()
        .map(|(index, t)| {
            resolve_trigger(
                t,
                &inputs.namespace,
                inputs.pod.as_ref(),
                inputs.env_container.as_deref(),
                lookup,
            )
            .map_err(|e| BuildError {
                index,
                trigger_type: t.type_.clone(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Builds one scaler per trigger.
pub fn build_all(
    inputs: &ScalerInputs,
    resolved: &[ResolvedTrigger],
    clients: &Clients,
) -> Result<Vec<Box<dyn Scaler>>, BuildError> {
    inputs
        .triggers
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let params = trigger_params(index, t, inputs.as_metric_source, resolved.get(index))
                .with_scaled_object(&inputs.name, &inputs.namespace);
            let err = |message: String| BuildError {
                index,
                trigger_type: t.type_.clone(),
                message,
            };
            if registry::find(&t.type_).is_none() {
                return Err(err(format!("no scaler found for type: {}", t.type_)));
            }
            registry::build(&params, clients).map_err(|e| err(e.to_string()))
        })
        .collect()
}

impl ScalersCache {
    /// An empty cache.
    pub fn new() -> ScalersCache {
        ScalersCache::default()
    }

    /// The scalers, (re)built when absent or when resolved env/auth changed (secret rotation).
    pub fn ensure(
        &mut self,
        inputs: &ScalerInputs,
        lookup: &dyn ObjectLookup,
        clients: &Clients,
    ) -> Result<&[Box<dyn Scaler>], BuildError> {
        let resolved = resolve_all(inputs, lookup)?;
        let stale = match &self.built {
            Some(b) => !same(&b.resolved, &resolved),
            None => true,
        };
        if stale {
            self.built = None;
            let scalers = build_all(inputs, &resolved, clients)?;
            self.builds += 1;
            self.built = Some(Built { resolved, scalers });
        }
        Ok(self
            .built
            .as_ref()
            .map(|b| b.scalers.as_slice())
            .unwrap_or_default())
    }

    /// Drops the scalers; the next [`ScalersCache::ensure`] rebuilds them.
    pub fn invalidate(&mut self) {
        self.built = None;
    }

    /// How many times the scalers were built.
    pub fn builds(&self) -> u64 {
        self.builds
    }
}

/// Every trigger's metric specs, in trigger order.
pub fn metric_specs(scalers: &[Box<dyn Scaler>]) -> Vec<Vec<MetricSpec>> {
    scalers.iter().map(|s| s.metric_specs()).collect()
}

/// Measures every trigger concurrently within one [`Poll`]; cpu/memory triggers are not polled.
/// Each result comes with how long its measurement took.
pub async fn measure_all(
    scalers: &[Box<dyn Scaler>],
    poll: &Poll,
    timeout: Duration,
) -> Vec<(TriggerResult, Duration)> {
    let futures = scalers.iter().map(|scaler| async move {
        let start = std::time::Instant::now();
        let result = measure_one(scaler.as_ref(), poll, timeout).await;
        (result, start.elapsed())
    });
    futures::future::join_all(futures).await
}

async fn measure_one(scaler: &dyn Scaler, poll: &Poll, timeout: Duration) -> TriggerResult {
    let specs = scaler.metric_specs();
    let Some(spec) = specs.first() else {
        return TriggerResult::failed("the scaler returned no metric spec");
    };
    if matches!(spec.source, MetricSource::Resource { .. }) {
        return TriggerResult::NotPolled;
    }
    match tokio::time::timeout(timeout, scaler.measure(poll)).await {
        Err(_) => TriggerResult::failed(format!("timed out after {timeout:?}")),
        Ok(Err(e)) => TriggerResult::failed(e.to_string()),
        Ok(Ok(m)) => {
            let value = m
                .values
                .iter()
                .find(|v| v.metric_name == spec.metric_name)
                .or(m.values.first())
                .map(|v| v.value);
            match value {
                Some(value) => TriggerResult::Measured {
                    value,
                    active: Some(m.is_active),
                },
                None => TriggerResult::failed("the scaler returned no value"),
            }
        }
    }
}
