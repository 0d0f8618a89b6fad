//! One ScaledObject, live: KEDA's poll every `pollingInterval` (`ScaleLoopState::poll`, i.e.
//! `ebb_core::decide`: activation, 0↔1, cooldown, idle, fallback, formulas) and the HPA's sync every
//! sync period (`HpaState::sync` with behavior, 1↔N), applied to a `ReplicaSet` of processes.
//! The same composition as `ebb simulate`, on the real clock. Every poll, and every HPA sync that
//! moves the target, is recorded (`DecisionRecord`) for `/explain` and `ebb explain`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ebb_core::hpa::{HpaSpec, HpaState};
use ebb_core::trace::DecisionRecord;
use ebb_core::trigger::is_active;
use ebb_core::{EventType, ScaleLoopState, ScaledObjectPolicy, TriggerResult};
use ebb_telemetry::{Metrics, ObjectType};
use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::supervisor::ReplicaSet;
use crate::triggers::{Reading, Trigger, measure_all};
use crate::view::{Row, View, number};

/// Everything one ScaledObject's loop needs.
#[derive(Debug)]
pub(crate) struct ScaledObjectLoop {
    pub(crate) display: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) policy: ScaledObjectPolicy,
    pub(crate) hpa_spec: HpaSpec,
    pub(crate) polling_interval: Duration,
    pub(crate) hpa_sync_period: Duration,
    pub(crate) measure_timeout: Duration,
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) replicas: ReplicaSet,
    pub(crate) view: Arc<View>,
    pub(crate) metrics: Arc<Metrics>,
    /// `metadata.creationTimestamp`: when `ebb run` started.
    pub(crate) created: Timestamp,
}

#[derive(Debug, Default)]
struct Shown {
    readings: Vec<Reading>,
    last: String,
    why: String,
}

impl ScaledObjectLoop {
    /// Runs until `stop` turns true, then stops every replica.
    pub(crate) async fn run(mut self, initial_replicas: u32, mut stop: watch::Receiver<bool>) {
        let mut state = ScaleLoopState::new(self.policy.triggers.len());
        let mut hpa = HpaState::new();
        let mut shown = Shown::default();
        self.replicas.scale(initial_replicas);
        self.view.log(format!(
            "{}: started with {initial_replicas} replica(s) (spec.replicas); polling every {}s, HPA sync every {}s",
            self.display,
            self.polling_interval.as_secs_f64(),
            self.hpa_sync_period.as_secs_f64()
        ));
        self.metrics
            .set_paused(&self.namespace, &self.name, self.policy.pause.is_paused());
        let mut poll = tokio::time::interval(self.polling_interval);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut sync = tokio::time::interval(self.hpa_sync_period);
        sync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(Duration::from_millis(250));
        // Decisions are stamped with the scheduled time of their tick, not the time after measuring:
        // the HPA's 15 s rate-limit windows then line up with its 15 s syncs as in `ebb simulate`.
        let (base_instant, base_time) = (Instant::now(), Timestamp::now());
        let at = |scheduled: Instant| {
            let since = scheduled.saturating_duration_since(base_instant);
            base_time + jiff::SignedDuration::try_from(since).unwrap_or_default()
        };
        loop {
            tokio::select! {
                scheduled = poll.tick() => {
                    let scheduled = scheduled.into_std();
                    let late = Instant::now().saturating_duration_since(scheduled);
                    self.metrics.record_loop_latency(ObjectType::ScaledObject, &self.namespace, &self.name, late.as_secs_f64());
                    self.poll(&mut state, &mut shown, at(scheduled)).await;
                }
                scheduled = sync.tick() => self.sync(&state, &mut hpa, &mut shown, at(scheduled.into_std())).await,
                _ = refresh.tick() => {}
                _ = stop.changed() => break,
            }
            self.show(&shown);
        }
        self.replicas.shutdown().await;
        self.show(&shown);
    }

    /// KEDA's poll: measure, decide, apply `scale_to`.
    async fn poll(&mut self, state: &mut ScaleLoopState, shown: &mut Shown, now: Timestamp) {
        let readings = measure_all(&self.triggers, self.measure_timeout, &self.metrics).await;
        let results = readings
            .iter()
            .zip(&self.policy.triggers)
            .map(|(r, spec)| match r {
                // A scaler's activity that just follows activationTarget is left to the core, so
                // the record says "37 > 0"; only a verdict of the scaler's own is passed as such.
                Reading::Value { value, active } => TriggerResult::Measured {
                    value: *value,
                    active: (*active != is_active(*value, spec.activation_target))
                        .then_some(*active),
                },
                Reading::Failed(e) => TriggerResult::failed(e.clone()),
                Reading::NotPolled => TriggerResult::NotPolled,
            })
            .collect();
        let current = self.replicas.desired();
        let decision = state.poll(
            &self.policy,
            results,
            Some(current),
            Some(self.replicas.running()),
            self.created,
            now,
        );
        if decision.is_error {
            self.metrics
                .record_object_error(ObjectType::ScaledObject, &self.namespace, &self.name);
        }
        for e in &decision.events {
            let level = match e.event_type {
                EventType::Normal => "",
                EventType::Warning => "Warning ",
            };
            self.view.log(format!(
                "{}: {level}{}: {}",
                self.display, e.reason, e.message
            ));
        }
        let record = DecisionRecord::scaled_object(&self.policy, Some(current), &decision, now);
        let changed = shape(&decision.why) != shape(&shown.why);
        let moved = decision.scale_to.filter(|to| *to != current);
        if let Some(to) = moved {
            self.replicas.scale(to);
            shown.last = format!("keda {current}→{to}");
        }
        if self.view.is_json() {
            if moved.is_some() || changed {
                self.view.decision(
                    ObjectType::ScaledObject,
                    &self.namespace,
                    &self.name,
                    &record,
                );
            }
        } else if let Some(to) = moved {
            self.view.log(format!(
                "{}: keda {current}→{to}: {}",
                self.display, decision.why
            ));
        } else if changed && !self.view.is_terminal() {
            self.view.log(format!("{}: {}", self.display, decision.why));
        }
        self.metrics.record_decision(
            ObjectType::ScaledObject,
            &self.namespace,
            &self.name,
            record,
        );
        shown.why = decision.why;
        shown.readings = readings;
    }

    /// The HPA's sync: read the metrics as the external metrics API serves them, then scale 1↔N.
    async fn sync(
        &mut self,
        state: &ScaleLoopState,
        hpa: &mut HpaState,
        shown: &mut Shown,
        now: Timestamp,
    ) {
        let current = self.replicas.desired();
        // Paused: KEDA deletes the HPA. At 0 the HPA is ScalingDisabled and reads nothing.
        if self.policy.pause.is_paused() || current == 0 {
            return;
        }
        let readings = measure_all(&self.triggers, self.measure_timeout, &self.metrics).await;
        let values: Vec<Option<f64>> = readings.iter().map(Reading::value).collect();
        let ready = self.replicas.running();
        let metrics = state.hpa_metrics(&self.policy, &values, current, ready);
        // KEDA may have moved the target while we measured.
        let current = self.replicas.desired();
        if current == 0 {
            return;
        }
        let rec = hpa.sync(&self.hpa_spec, current, ready, &metrics, now);
        if rec.desired_replicas != current {
            self.replicas.scale(rec.desired_replicas);
            let record = DecisionRecord::hpa_sync(
                &self.policy,
                &self.hpa_spec,
                current,
                ready,
                &metrics,
                &rec,
                now,
            );
            self.view.decision(
                ObjectType::ScaledObject,
                &self.namespace,
                &self.name,
                &record,
            );
            self.metrics.record_decision(
                ObjectType::ScaledObject,
                &self.namespace,
                &self.name,
                record,
            );
            shown.last = format!("hpa {current}→{}", rec.desired_replicas);
            let served: Vec<String> = metrics
                .iter()
                .map(|m| {
                    m.map_or("?".into(), |m| {
                        format!("{}/{}", number(m.value), number(m.target))
                    })
                })
                .collect();
            shown.why = format!(
                "HPA: metrics {} want {} replica(s) ({})",
                served.join(", "),
                rec.desired_replicas,
                rec.reason
            );
            if !self.view.is_json() {
                self.view.log(format!(
                    "{}: hpa {current}→{}: {}",
                    self.display, rec.desired_replicas, shown.why
                ));
            }
        }
    }

    fn show(&mut self, shown: &Shown) {
        let triggers = self
            .triggers
            .iter()
            .zip(&shown.readings)
            .map(|(t, r)| match r {
                Reading::Value { value, active } => format!(
                    "{}={}/{}{}",
                    t.metric_name,
                    number(*value),
                    number(t.target),
                    if *active { " active" } else { "" }
                ),
                Reading::Failed(_) => format!("{}=ERROR", t.metric_name),
                Reading::NotPolled => format!("{}=(not polled)", t.metric_name),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut notes = Vec::new();
        let restarts = self.replicas.restarts();
        if restarts > 0 {
            notes.push(format!("{restarts} restarts"));
        }
        let terminating = self.replicas.terminating();
        if terminating > 0 {
            notes.push(format!("{terminating} terminating"));
        }
        self.view.set_row(
            &self.display,
            Row {
                object: self.display.clone(),
                triggers,
                desired: self.replicas.desired(),
                running: self.replicas.running(),
                notes: notes.join(", "),
                last: shown.last.clone(),
                why: shown.why.clone(),
            },
        );
    }
}

/// A why without its numbers: plain mode logs a why again only when its shape changes.
fn shape(why: &str) -> String {
    why.chars()
        .filter(|c| !c.is_ascii_digit() && *c != '.')
        .collect()
}
