//! One check of one ScaledObject's scale loop (KEDA's `checkScalers`): build or reuse the scalers,
//! read the target's replicas, measure every trigger concurrently, decide with `ebb_core::decide`,
//! and hand the decision to the executor.

use std::collections::BTreeMap;
use std::time::Duration;

use ebb_api::condition::{TYPE_ACTIVE, find};
use ebb_api::scaled_object::{HEALTH_STATUS_FAILING, ScaledObject};
use ebb_core::{HealthStatus, Observed, ScaledObjectPolicy, TriggerHealth, TriggerObservation};
use ebb_scalers::Poll;
use ebb_telemetry::ObjectType;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::executor;
use crate::metrics_store::Reading;
use crate::scalers_cache::{ScalerInputs, ScalersCache};
use crate::target::ScaleTarget;

/// What a ScaledObject's loop was started from (one reconcile's view of the object).
#[derive(Debug)]
pub(crate) struct LoopSpec {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) policy: ScaledObjectPolicy,
    pub(crate) inputs: ScalerInputs,
    pub(crate) target: ScaleTarget,
    pub(crate) regarding: ObjectReference,
    pub(crate) period: Duration,
}

/// What a loop remembers between checks.
#[derive(Debug, Default)]
pub(crate) struct LoopState {
    pub(crate) cache: ScalersCache,
    /// Authoritative in the loop; persisted on Active transitions only (see executor).
    pub(crate) last_active: Option<Timestamp>,
    pub(crate) health: BTreeMap<String, TriggerHealth>,
    /// Non-scale events of the previous check: emitted again only after a check without them.
    pub(crate) last_events: Vec<(&'static str, String)>,
    pub(crate) build_error: Option<String>,
    pub(crate) started: bool,
}

fn health_from_status(so: &ScaledObject) -> BTreeMap<String, TriggerHealth> {
    so.status
        .iter()
        .flat_map(|s| s.health.iter().flatten())
        .map(|(metric, h)| {
            let status = match h.status.as_deref() {
                Some(HEALTH_STATUS_FAILING) => HealthStatus::Failing,
                _ => HealthStatus::Happy,
            };
            let number_of_failures = h.number_of_failures.unwrap_or(0);
            (
                metric.clone(),
                TriggerHealth {
                    number_of_failures,
                    status,
                },
            )
        })
        .collect()
}

/// First check of a loop: adopt what the status says. While the status says Active=True the
/// object was active at least until the previous operator stopped, so the cooldown counts from
/// now (lastActiveTime is only persisted on Active transitions).
fn adopt_status(state: &mut LoopState, so: &ScaledObject, now: Timestamp) {
    state.health = health_from_status(so);
    let persisted = so
        .status
        .as_ref()
        .and_then(|s| s.last_active_time.as_ref())
        .map(|t| t.0);
    let was_active = find(so.conditions(), TYPE_ACTIVE).is_some_and(|c| c.is_true());
    state.last_active = match (persisted, was_active) {
        (Some(_), true) => Some(now),
        (p, _) => p,
    };
    state.started = true;
}

/// Runs one check.
pub(crate) async fn check(ctx: &Context, spec: &LoopSpec, state: &mut LoopState) {
    let Some(so) = ctx
        .scaled_objects
        .get(&ObjectRef::new(&spec.name).within(&spec.namespace))
    else {
        return;
    };
    let now = Timestamp::now();
    if !state.started {
        adopt_status(state, &so, now);
    }
    let scalers = match state.cache.ensure(&spec.inputs, &ctx.lookup, &ctx.clients) {
        Ok(s) => s,
        Err(e) => {
            // KEDA: a failed build skips the poll (no scaling, no status change).
            let message = e.to_string();
            if state.build_error.as_deref() != Some(message.as_str()) {
                ctx.events.warning(
                    &spec.regarding,
                    ebb_api::event_reason::KEDA_SCALER_FAILED,
                    &message,
                );
                tracing::warn!(namespace = %spec.namespace, name = %spec.name, error = %message, "building scalers failed");
            }
            state.build_error = Some(message.clone());
            ctx.telemetry.record_object_error(
                ObjectType::ScaledObject,
                &spec.namespace,
                &spec.name,
            );
            let readings = spec
                .policy
                .triggers
                .iter()
                .map(|t| Reading {
                    metric_name: t.metric_name.clone(),
                    value: Err(message.clone()),
                })
                .collect();
            ctx.metrics
                .record(&spec.namespace, &spec.name, now, readings);
            return;
        }
    };
    state.build_error = None;
    let poll = Poll::at(now);
    let (current, results) = tokio::join!(
        spec.target.get_scale(),
        crate::scalers_cache::measure_all(scalers, &poll, ctx.config.measure_timeout)
    );
    let results = crate::telemetry::record_triggers(
        ctx,
        ObjectType::ScaledObject,
        &spec.namespace,
        &spec.name,
        &spec.inputs,
        spec.policy.triggers.iter().map(|t| t.metric_name.as_str()),
        results,
    );
    let current = match current {
        Ok(r) => Some(r.replicas),
        Err(error) => {
            tracing::warn!(namespace = %spec.namespace, name = %spec.name, %error, "reading /scale failed");
            None
        }
    };
    let observed = Observed {
        current_replicas: current,
        ready_replicas: None,
        triggers: spec
            .policy
            .triggers
            .iter()
            .zip(results)
            .map(|(t, result)| TriggerObservation {
                result,
                health: state
                    .health
                    .get(&t.metric_name)
                    .copied()
                    .unwrap_or_default(),
            })
            .collect(),
        last_active_time: state.last_active,
        creation_time: so
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .unwrap_or(now),
    };
    let decision = ebb_core::decide(&spec.policy, &observed, now);
    let record =
        ebb_core::trace::DecisionRecord::scaled_object(&spec.policy, current, &decision, now);
    crate::telemetry::record_decision(
        ctx,
        ObjectType::ScaledObject,
        &spec.namespace,
        &spec.name,
        &spec.regarding,
        record,
    );
    if decision.is_error {
        // KEDA §4.4: any error drops the scalers; the next check rebuilds (re-resolving secrets).
        state.cache.invalidate();
    }
    tracing::debug!(namespace = %spec.namespace, name = %spec.name, why = %decision.why, "checked");
    executor::apply(ctx, spec, &so, &decision, current, state, now).await;
}

impl crate::object_loop::LoopCheck for LoopSpec {
    type State = LoopState;
    const OBJECT_TYPE: ObjectType = ObjectType::ScaledObject;

    fn names(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }

    fn check<'a>(
        &'a self,
        ctx: &'a Context,
        state: &'a mut LoopState,
    ) -> impl std::future::Future<Output = ()> + Send + 'a {
        check(ctx, self, state)
    }
}
