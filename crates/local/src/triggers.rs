//! A scaled object's triggers, built once with auth resolved from the files, and measured together
//! each poll (one `Poll` memo per round, a timeout per trigger), feeding `/metrics` as they go.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ebb_api::trigger::ScaleTriggers;
use ebb_manifest::auth::resolve_trigger;
use ebb_manifest::objects::FileObjects;
use ebb_manifest::policy::{ResolvedTrigger, trigger_params};
use ebb_scalers::{Clients, Poll, Scaler, registry};
use ebb_telemetry::{Metrics, ObjectType, ScalerKey};
use k8s_openapi::api::core::v1::PodSpec;

/// One built trigger.
#[derive(Debug)]
pub(crate) struct Trigger {
    pub(crate) scaler: Box<dyn Scaler>,
    /// The metric name of its first spec (`s0-sqlite`).
    pub(crate) metric_name: String,
    /// Its first spec's target (ScaledJobs average these).
    pub(crate) target: f64,
    pub(crate) key: ScalerKey,
}

/// What one trigger measured in one poll.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reading {
    Value {
        value: f64,
        active: bool,
    },
    Failed(String),
    /// cpu/memory: the metrics-server's business; local mode has none.
    NotPolled,
}

impl Reading {
    pub(crate) fn value(&self) -> Option<f64> {
        match self {
            Reading::Value { value, .. } => Some(*value),
            Reading::Failed(_) | Reading::NotPolled => None,
        }
    }
}

/// Where a scaled object's triggers read env and auth from.
pub(crate) struct Scope<'a> {
    pub(crate) object_type: ObjectType,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) pod: Option<&'a PodSpec>,
    pub(crate) env_source_container: Option<&'a str>,
    pub(crate) as_metric_source: bool,
}

/// Resolves and builds every trigger (no network); the first error names the trigger.
pub(crate) fn build_all(
    triggers: &[ScaleTriggers],
    scope: &Scope<'_>,
    objects: &FileObjects,
    clients: &Clients,
    metrics: &Metrics,
) -> Result<(Vec<Trigger>, Vec<ResolvedTrigger>), String> {
    let mut built = Vec::new();
    let mut resolved_all = Vec::new();
    for (index, trigger) in triggers.iter().enumerate() {
        let at = format!("spec.triggers[{index}] ({})", trigger.type_);
        let resolved = resolve_trigger(
            trigger,
            scope.namespace,
            scope.pod,
            scope.env_source_container,
            objects,
        )
        .map_err(|e| format!("{at}: {e}"))?;
        let params = trigger_params(index, trigger, scope.as_metric_source, Some(&resolved))
            .with_scaled_object(scope.name, scope.namespace);
        let scaler = registry::build(&params, clients).map_err(|e| format!("{at}: {e}"))?;
        let spec = scaler.metric_specs().into_iter().next();
        let metric_name = spec
            .as_ref()
            .map_or_else(String::new, |s| s.metric_name.clone());
        let target = spec.as_ref().and_then(|s| s.target.as_f64()).unwrap_or(0.0);
        metrics.register_trigger(&trigger.type_);
        built.push(Trigger {
            key: ScalerKey {
                namespace: scope.namespace.to_owned(),
                object: scope.name.to_owned(),
                object_type: scope.object_type,
                metric: metric_name.clone(),
                scaler: format!("{}Scaler", trigger.type_),
                trigger_index: index,
            },
            scaler,
            metric_name,
            target,
        });
        resolved_all.push(resolved);
    }
    Ok((built, resolved_all))
}

/// Measures every trigger concurrently; records values, activity, latency and errors.
pub(crate) async fn measure_all(
    triggers: &[Trigger],
    timeout: Duration,
    metrics: &Arc<Metrics>,
) -> Vec<Reading> {
    let poll = Poll::new();
    let futures = triggers.iter().map(|t| {
        let poll = &poll;
        async move {
            if matches!(t.scaler.trigger_type(), "cpu" | "memory") {
                return Reading::NotPolled;
            }
            let start = Instant::now();
            let reading = match tokio::time::timeout(timeout, t.scaler.measure(poll)).await {
                Ok(Ok(m)) => match m.values.iter().find(|v| v.metric_name == t.metric_name) {
                    Some(v) => Reading::Value {
                        value: v.value,
                        active: m.is_active,
                    },
                    None => match m.values.first() {
                        Some(v) => Reading::Value {
                            value: v.value,
                            active: m.is_active,
                        },
                        None => Reading::Failed("the scaler returned no value".into()),
                    },
                },
                Ok(Err(e)) => {
                    Reading::Failed(format!("{}: {}", e.reason().as_str(), e.full_message()))
                }
                Err(_) => Reading::Failed(format!("timeout: no answer within {timeout:?}")),
            };
            match &reading {
                Reading::Value { value, active } => metrics.record_measurement(
                    &t.key,
                    *value,
                    *active,
                    start.elapsed().as_secs_f64(),
                ),
                Reading::Failed(_) => metrics.record_scaler_error(&t.key),
                Reading::NotPolled => {}
            }
            reading
        }
    });
    futures::future::join_all(futures).await
}
