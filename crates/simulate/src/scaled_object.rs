//! A ScaledObject over virtual time: KEDA's poll (`ebb_core::decide`, 0↔1, cooldown) every
//! `pollingInterval`, the HPA's sync (`HpaState::sync`, 1↔N with behavior) every sync period, pods
//! that become ready after a startup delay, and optionally a queue they drain.
//!
//! Order within one second: metrics are read at the start of the second; KEDA polls before the HPA
//! syncs when both fall on the same second; then arrivals and consumption happen during the second.

use ebb_core::hpa::{HpaSpec, HpaState};
use ebb_core::{ScaleLoopState, ScaledObjectPolicy, TriggerKind, TriggerResult};

use crate::engine::{Clock, Inputs, Pods, Queue, Settings, SimError, Stopper, primary_name};
use crate::series::{Actor, Sample, ScaleEvent, Simulation, summarize};

/// Everything the simulation needs from one ScaledObject.
#[derive(Debug, Clone)]
pub struct ScaledObjectModel {
    /// Shown in the chart title and summary, e.g. `ScaledObject shop/orders`.
    pub title: String,
    /// KEDA's decision inputs (`ebb_manifest::policy::scaled_object_policy`).
    pub policy: ScaledObjectPolicy,
    /// The HPA KEDA would create (`ebb_manifest::policy::hpa_spec`).
    pub hpa: HpaSpec,
    /// `pollingInterval` in seconds.
    pub polling_interval: u32,
}

/// Runs the ScaledObject against the inputs.
pub fn simulate_scaled_object(
    model: &ScaledObjectModel,
    inputs: &Inputs,
    settings: &Settings,
) -> Result<Simulation, SimError> {
    let policy = &model.policy;
    let triggers = &policy.triggers;
    inputs.check(triggers)?;
    if model.polling_interval == 0 || settings.hpa_sync_period == 0 {
        return Err(SimError::ZeroPeriod);
    }
    let clock = Clock::new();
    let floor = policy
        .idle_replica_count
        .or(policy.min_replica_count)
        .unwrap_or(0);
    let mut pods =
        Pods::new(settings.initial_replicas.unwrap_or(floor)).with_delay(settings.startup_delay);
    let mut hpa = HpaState::new();
    let mut state = ScaleLoopState::new(triggers.len());
    let mut queue = inputs.load.as_ref().map(|l| Queue::new(l.initial_backlog));
    let mut samples = Vec::new();
    let mut events = Vec::new();
    let down_window = model
        .hpa
        .behavior
        .clone()
        .unwrap_or_default()
        .scale_down_rules()
        .stabilization_window_seconds;
    let settle = policy.cooldown_period
        + model.polling_interval
        + down_window
        + 2 * settings.hpa_sync_period
        + settings.startup_delay;
    let mut stopper = Stopper::new(settings.duration, inputs.end(), settle);

    for t in 0.. {
        let now = clock.at(t);
        pods.tick(t);
        let backlog = queue.as_ref().map(Queue::len);
        let values = inputs.values(triggers, t, backlog);

        if t % model.polling_interval == 0 {
            let results = triggers
                .iter()
                .zip(&values)
                .map(|(spec, value)| match (spec.kind, value) {
                    (TriggerKind::Resource, _) => TriggerResult::NotPolled,
                    (_, Some(v)) => TriggerResult::value(*v),
                    (_, None) => TriggerResult::failed(format!("no value at t={t}s")),
                })
                .collect();
            let decision = state.poll(
                policy,
                results,
                Some(pods.desired()),
                Some(pods.ready()),
                clock.at(0),
                now,
            );
            if let Some(e) = decision
                .scale_to
                .and_then(|to| pods.scale(t, to, Actor::Keda))
            {
                events.push(e);
            }
        }

        // Paused outright: KEDA deletes the HPA.
        if t % settings.hpa_sync_period == 0 && !policy.pause.is_paused() {
            let metrics = state.hpa_metrics(policy, &values, pods.desired(), pods.ready());
            let current = pods.desired();
            let rec = hpa.sync(&model.hpa, current, pods.ready(), &metrics, now);
            // At 0 the HPA is ScalingDisabled; only KEDA moves the target.
            if current != 0
                && let Some(e) = pods.scale(t, rec.desired_replicas, Actor::Hpa)
            {
                events.push(e);
            }
        }

        let arrivals = inputs.load.as_ref().map_or(0.0, |l| l.arrivals.rate(t));
        samples.push(Sample {
            t,
            metrics: values.clone(),
            backlog,
            arrivals,
            needed: inputs.load.as_ref().map(|l| arrivals / l.per_replica_rate),
            desired: pods.desired(),
            ready: pods.ready(),
            active: state.active,
        });
        if let (Some(q), Some(load)) = (queue.as_mut(), inputs.load.as_ref()) {
            q.arrive(arrivals);
            q.consume(f64::from(pods.ready()) * load.per_replica_rate);
        }
        if stopper.done(&samples) {
            break;
        }
    }
    stopper.trim(&mut samples);
    events.retain(|e| e.t <= samples.last().map_or(0, |s| s.t));
    let (primary, column) = primary_name(inputs, triggers);
    let summary = summarize(
        primary,
        &samples,
        |s| match column {
            None => s.backlog.unwrap_or(0.0),
            Some(i) => s.metrics.get(i).copied().flatten().unwrap_or(0.0),
        },
        &events,
        None,
    );
    Ok(Simulation {
        title: model.title.clone(),
        metric_names: crate::engine::metric_names(triggers),
        unit: "replicas",
        samples,
        events,
        summary,
    })
}

/// Used by `engine::Pods::scale` to build the event.
pub(crate) fn event(t: u32, from: u32, to: u32, actor: Actor) -> ScaleEvent {
    ScaleEvent { t, from, to, actor }
}
