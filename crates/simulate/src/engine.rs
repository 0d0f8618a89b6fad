//! What both simulations share: settings, inputs, the virtual clock, pods with a startup delay, and
//! when to stop.

use ebb_core::{TriggerKind, TriggerSpec};
use jiff::Timestamp;

use crate::input::{Arrivals, Trace};
use crate::series::{Actor, Sample, ScaleEvent};

/// Knobs of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Seconds to simulate; `None` runs past the last input row until nothing has changed for a
    /// cooldown's worth of time, then trims the quiet tail.
    pub duration: Option<u32>,
    /// The HPA controller's `--horizontal-pod-autoscaler-sync-period` (15 s).
    pub hpa_sync_period: u32,
    /// Seconds from creating a pod to it being ready (and consuming).
    pub startup_delay: u32,
    /// Replicas at t=0 (default: idleReplicaCount, else minReplicaCount, else 0).
    pub initial_replicas: Option<u32>,
    /// ScaledJob: seconds a Job works on its message.
    pub job_duration: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            duration: None,
            hpa_sync_period: 15,
            startup_delay: 0,
            initial_replicas: None,
            job_duration: 30,
        }
    }
}

/// A queue fed by arrivals and drained by the workload: its length is the metric of one trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadModel {
    /// Events per second over time.
    pub arrivals: Arrivals,
    /// ScaledObject: events each ready replica consumes per second. (A ScaledJob's Jobs take one
    /// message each instead.)
    pub per_replica_rate: f64,
    /// Index of the trigger whose metric is the queue length.
    pub trigger: usize,
    /// Messages waiting at t=0.
    pub initial_backlog: f64,
}

/// Where metric values come from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inputs {
    /// Metric values per trigger over time.
    pub trace: Option<Trace>,
    /// A queue that reacts to the replicas the rules choose.
    pub load: Option<LoadModel>,
}

/// Why a simulation cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// Neither a trace nor a load model.
    #[error("nothing to simulate: give a trace or an arrivals load model")]
    NoInput,
    /// The load model names a trigger that does not exist or is cpu/memory.
    #[error("the load model's queue must feed a trigger that is not cpu or memory; known: {0}")]
    LoadTrigger(String),
    /// Both inputs feed the same trigger.
    #[error("trigger {0} is fed by both the trace and the load model")]
    BothInputs(String),
    /// The per-replica rate is not a positive number.
    #[error("per-replica rate {0} must be a number greater than 0")]
    Rate(f64),
    /// pollingInterval or the HPA sync period is 0.
    #[error("pollingInterval and the HPA sync period must be at least 1 second")]
    ZeroPeriod,
}

/// The virtual clock: second `t` of the run is `START + t`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Timestamp,
}

/// 2026-01-01T00:00:00Z: any fixed instant keeps runs reproducible.
const START_SECOND: i64 = 1_767_225_600;

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            start: Timestamp::from_second(START_SECOND).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    pub(crate) fn at(&self, t: u32) -> Timestamp {
        self.start
            .checked_add(jiff::SignedDuration::from_secs(i64::from(t)))
            .unwrap_or(Timestamp::MAX)
    }
}

/// Pods of the target, oldest first, each with the second it becomes ready.
#[derive(Debug, Clone)]
pub(crate) struct Pods {
    ready_at: Vec<u32>,
    now: u32,
    delay: u32,
}

impl Pods {
    /// `n` pods, all ready at t=0.
    pub(crate) fn new(n: u32) -> Pods {
        Pods {
            ready_at: vec![0; n as usize],
            now: 0,
            delay: 0,
        }
    }

    pub(crate) fn with_delay(mut self, delay: u32) -> Pods {
        self.delay = delay;
        self
    }

    pub(crate) fn tick(&mut self, t: u32) {
        self.now = t;
    }

    pub(crate) fn desired(&self) -> u32 {
        u32::try_from(self.ready_at.len()).unwrap_or(u32::MAX)
    }

    pub(crate) fn ready(&self) -> u32 {
        let n = self.ready_at.iter().filter(|&&r| r <= self.now).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Sets the replica count; new pods start now, and scale-in removes the newest (not yet ready)
    /// pods first, as the ReplicaSet controller does.
    pub(crate) fn scale(&mut self, t: u32, to: u32, actor: Actor) -> Option<ScaleEvent> {
        let from = self.desired();
        if to == from {
            return None;
        }
        let ready_at = t.saturating_add(self.delay);
        self.ready_at.resize(to as usize, ready_at);
        Some(crate::scaled_object::event(t, from, to, actor))
    }
}

impl Inputs {
    pub(crate) fn check(&self, triggers: &[TriggerSpec]) -> Result<(), SimError> {
        if self.trace.is_none() && self.load.is_none() {
            return Err(SimError::NoInput);
        }
        if let Some(load) = &self.load {
            let external = triggers
                .get(load.trigger)
                .is_some_and(|t| t.kind == TriggerKind::External);
            if !external {
                return Err(SimError::LoadTrigger(metric_names(triggers).join(", ")));
            }
            if !(load.per_replica_rate.is_finite() && load.per_replica_rate > 0.0) {
                return Err(SimError::Rate(load.per_replica_rate));
            }
            if self
                .trace
                .as_ref()
                .is_some_and(|t| t.columns.contains(&load.trigger))
            {
                return Err(SimError::BothInputs(
                    metric_names(triggers)[load.trigger].clone(),
                ));
            }
        }
        Ok(())
    }

    /// Each trigger's value at `t`: the queue for the load model's trigger, the trace's value for
    /// traced ones (`None` = the scaler fails), 0 for the rest; cpu/memory are not modelled.
    pub(crate) fn values(
        &self,
        triggers: &[TriggerSpec],
        t: u32,
        backlog: Option<f64>,
    ) -> Vec<Option<f64>> {
        triggers
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                if spec.kind == TriggerKind::Resource {
                    None
                } else if self.load.as_ref().is_some_and(|l| l.trigger == i) {
                    backlog
                } else {
                    match self.trace.as_ref().and_then(|tr| tr.value(i, t)) {
                        Some(v) => v,
                        None => Some(0.0),
                    }
                }
            })
            .collect()
    }

    /// The last input row's time.
    pub(crate) fn end(&self) -> u32 {
        let trace = self.trace.as_ref().map_or(0, Trace::end);
        let load = self.load.as_ref().map_or(0, |l| l.arrivals.end());
        trace.max(load)
    }
}

/// Trigger names, or metric names for unnamed triggers.
pub(crate) fn metric_names(triggers: &[TriggerSpec]) -> Vec<String> {
    triggers
        .iter()
        .map(|t| {
            if t.name.is_empty() {
                t.metric_name.clone()
            } else {
                t.name.clone()
            }
        })
        .collect()
}

/// The series the summary and chart lead with: the backlog, else the first traced trigger.
pub(crate) fn primary_name(inputs: &Inputs, triggers: &[TriggerSpec]) -> (String, Option<usize>) {
    match (&inputs.load, &inputs.trace) {
        (Some(_), _) | (None, None) => ("backlog".to_owned(), None),
        (None, Some(trace)) => {
            let i = trace.columns.first().copied().unwrap_or(0);
            (metric_names(triggers).swap_remove(i), Some(i))
        }
    }
}

/// A queue of whole messages: fractional arrival and consumption rates carry over to the next
/// second (83,333.333/s is 83,333 messages in most seconds and 83,334 in every third).
#[derive(Debug, Clone, Default)]
pub(crate) struct Queue {
    messages: f64,
    arrival_carry: f64,
    consume_carry: f64,
}

impl Queue {
    pub(crate) fn new(initial: f64) -> Queue {
        Queue {
            messages: initial.max(0.0).floor(),
            ..Queue::default()
        }
    }

    /// Messages waiting (including those being worked on).
    pub(crate) fn len(&self) -> f64 {
        self.messages
    }

    /// One second of arrivals at `rate` events/s.
    pub(crate) fn arrive(&mut self, rate: f64) {
        self.arrival_carry += rate;
        let whole = self.arrival_carry.floor();
        self.arrival_carry -= whole;
        self.messages += whole;
    }

    /// One second of consumption at `capacity` events/s; unused capacity is not banked.
    pub(crate) fn consume(&mut self, capacity: f64) {
        self.consume_carry += capacity;
        let take = self.consume_carry.floor().min(self.messages);
        self.messages -= take;
        self.consume_carry -= take;
        if self.messages == 0.0 {
            self.consume_carry = self.consume_carry.fract();
        }
    }

    /// One message acked.
    pub(crate) fn ack(&mut self) {
        self.messages = (self.messages - 1.0).max(0.0);
    }
}

/// Longest run past the last input row when no duration is given.
const MAX_EXTRA: u32 = 86_400;

/// Decides when an open-ended run has settled, and trims its quiet tail.
#[derive(Debug)]
pub(crate) struct Stopper {
    duration: Option<u32>,
    input_end: u32,
    settle: u32,
    last_change: u32,
}

impl Stopper {
    pub(crate) fn new(duration: Option<u32>, input_end: u32, settle: u32) -> Stopper {
        Stopper {
            duration,
            input_end,
            settle,
            last_change: 0,
        }
    }

    /// Whether the sample just pushed is the last one.
    pub(crate) fn done(&mut self, samples: &[Sample]) -> bool {
        let Some(last) = samples.last() else {
            return false;
        };
        if let [.., prev, _] = samples {
            let changed = prev.desired != last.desired
                || prev.ready != last.ready
                || prev.active != last.active
                || prev.metrics != last.metrics
                || prev.backlog != last.backlog;
            if changed {
                self.last_change = last.t;
            }
        }
        match self.duration {
            Some(d) => last.t >= d,
            None => {
                let past_inputs = last.t >= self.input_end;
                (past_inputs && last.t - self.last_change >= self.settle)
                    || last.t >= self.input_end.saturating_add(MAX_EXTRA)
            }
        }
    }

    /// Open-ended runs end a little after the last change instead of a whole settle period later.
    pub(crate) fn trim(&self, samples: &mut Vec<Sample>) {
        if self.duration.is_none() {
            let last = self.last_change.max(self.input_end);
            let keep = last + (last / 10).max(60);
            samples.truncate(keep as usize + 1);
        }
    }
}
