//! Starting and stopping the scale loop of one ScaledObject or ScaledJob: the one place that wires
//! a check into [`crate::scale_loop::ScaleLoops`] with its state and lateness metric, and that
//! stops it with KEDA's `KEDAScalersStopped` Event and the object's telemetry dropped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ebb_api::event_reason;
use ebb_api::trigger::ScaleTriggers;
use ebb_telemetry::ObjectType;
use k8s_openapi::api::core::v1::ObjectReference;

use crate::context::Context;
use crate::scale_loop::LoopChange;

/// What one kind of object's loop runs at each tick.
pub(crate) trait LoopCheck: Send + Sync + 'static {
    /// What the loop remembers between checks.
    type State: Default + Send + 'static;
    /// ScaledObject or ScaledJob.
    const OBJECT_TYPE: ObjectType;
    /// `(namespace, name)` of the object.
    fn names(&self) -> (&str, &str);
    /// One check.
    fn check<'a>(
        &'a self,
        ctx: &'a Context,
        state: &'a mut Self::State,
    ) -> impl Future<Output = ()> + Send + 'a;
}

/// Starts (or keeps, when `fingerprint` is unchanged) the loop of `spec` under `key`.
pub(crate) fn ensure<L: LoopCheck>(
    ctx: &Arc<Context>,
    key: &str,
    fingerprint: u64,
    period: Duration,
    spec: L,
) -> LoopChange {
    let spec = Arc::new(spec);
    let state = Arc::new(tokio::sync::Mutex::new(L::State::default()));
    let shared = ctx.clone();
    ctx.loops.ensure(key, fingerprint, period, move |late| {
        let (ctx, spec, state) = (shared.clone(), spec.clone(), state.clone());
        async move {
            let (namespace, name) = spec.names();
            ctx.telemetry
                .record_loop_latency(L::OBJECT_TYPE, namespace, name, late.as_secs_f64());
            let mut state = state.lock().await;
            spec.check(&ctx, &mut state).await;
        }
    })
}

/// Stops the loop under `key` if one runs: the `KEDAScalersStopped` Event, and the object's
/// series and decision log dropped. Whether a loop was running.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stop(
    ctx: &Context,
    key: &str,
    regarding: &ObjectReference,
    object_type: ObjectType,
    namespace: &str,
    name: &str,
    triggers: &[ScaleTriggers],
    metric_names: &[String],
) -> bool {
    let stopped = ctx.loops.stop(key);
    if stopped {
        ctx.events.normal(
            regarding,
            event_reason::KEDA_SCALERS_STOPPED,
            "Stopped scalers watch",
        );
    }
    crate::telemetry::forget(
        ctx,
        object_type,
        namespace,
        name,
        triggers,
        metric_names,
        stopped,
    );
    stopped
}
