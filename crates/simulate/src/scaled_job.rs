//! A ScaledJob over virtual time: every `pollingInterval` the Jobs to create come from
//! `ebb_core::scaled_job` (aggregate the triggers, then the strategy), each Job's pod starts after
//! the startup delay, works for the job duration and exits.
//!
//! With the load model each Job takes one message when its pod starts and acks it when it exits, so
//! the queue length counts messages being worked on until they are done (RabbitMQ's `messages`,
//! SQS with `scaleOnInFlight`). A Job that starts when no message is free exits at once.

use ebb_core::scaled_job::{
    JobCounts, JobTriggerMetrics, ScaledJobPolicy, aggregate, jobs_to_create,
};
use ebb_core::{TriggerKind, TriggerSpec};

use crate::engine::{Inputs, Queue, Settings, SimError, Stopper, metric_names, primary_name};
use crate::series::{Actor, Sample, ScaleEvent, Simulation, summarize};

/// Everything the simulation needs from one ScaledJob.
#[derive(Debug, Clone)]
pub struct ScaledJobModel {
    /// Shown in the chart title and summary, e.g. `ScaledJob shop/reports`.
    pub title: String,
    /// Job-count inputs (`ebb_manifest::policy::scaled_job_policy`).
    pub policy: ScaledJobPolicy,
    /// The triggers (`ebb_manifest::policy::trigger_specs`).
    pub triggers: Vec<TriggerSpec>,
    /// `pollingInterval` in seconds.
    pub polling_interval: u32,
}

#[derive(Debug, Clone, Copy)]
struct Job {
    starts: u32,
    ends: Option<u32>,
    has_message: bool,
}

/// Runs the ScaledJob against the inputs.
pub fn simulate_scaled_job(
    model: &ScaledJobModel,
    inputs: &Inputs,
    settings: &Settings,
) -> Result<Simulation, SimError> {
    let triggers = &model.triggers;
    inputs.check(triggers)?;
    if model.polling_interval == 0 {
        return Err(SimError::ZeroPeriod);
    }
    let mut jobs: Vec<Job> = Vec::new();
    let mut queue = inputs.load.as_ref().map(|l| Queue::new(l.initial_backlog));
    let mut in_flight = 0u32;
    let mut active = false;
    let mut created_total = 0u64;
    let mut samples = Vec::new();
    let mut events = Vec::new();
    let settle = model.polling_interval + settings.startup_delay + settings.job_duration + 60;
    let mut stopper = Stopper::new(settings.duration, inputs.end(), settle);

    for t in 0.. {
        // Jobs that finish now ack their message; then pods that start now take one.
        for job in jobs
            .iter_mut()
            .filter(|j| j.ends == Some(t) && j.has_message)
        {
            job.has_message = false;
            in_flight = in_flight.saturating_sub(1);
            if let Some(q) = queue.as_mut() {
                q.ack();
            }
        }
        start_jobs(
            &mut jobs,
            t,
            &mut queue,
            &mut in_flight,
            settings.job_duration,
        );
        let values = inputs.values(triggers, t, queue.as_ref().map(Queue::len));
        let unfinished =
            |jobs: &[Job]| jobs.iter().filter(|j| j.ends.is_none_or(|e| e > t)).count();

        if t % model.polling_interval == 0 {
            let metrics: Vec<JobTriggerMetrics> = triggers
                .iter()
                .zip(&values)
                .filter(|(spec, _)| spec.kind == TriggerKind::External)
                .filter_map(|(spec, value)| {
                    value.map(|v| JobTriggerMetrics {
                        queue_length: v,
                        target_average: spec.target,
                        active: v > spec.activation_target,
                    })
                })
                .collect();
            let aggregated = aggregate(&model.policy, &metrics);
            active = aggregated.is_active;
            let running = count(unfinished(&jobs));
            let pending = count(jobs.iter().filter(|j| j.starts > t).count());
            let decision =
                jobs_to_create(&model.policy, &aggregated, JobCounts { running, pending });
            if decision.create > 0 {
                for _ in 0..decision.create {
                    jobs.push(Job {
                        starts: t + settings.startup_delay,
                        ends: None,
                        has_message: false,
                    });
                }
                created_total += u64::from(decision.create);
                events.push(ScaleEvent {
                    t,
                    from: running,
                    to: running + decision.create,
                    actor: Actor::Jobs,
                });
            }
            // Jobs that start this very second (no startup delay) take their message now.
            if settings.startup_delay == 0 {
                start_jobs(
                    &mut jobs,
                    t,
                    &mut queue,
                    &mut in_flight,
                    settings.job_duration,
                );
            }
        }

        let arrivals = inputs.load.as_ref().map_or(0.0, |l| l.arrivals.rate(t));
        let started = jobs
            .iter()
            .filter(|j| j.starts <= t && j.ends.is_none_or(|e| e > t))
            .count();
        samples.push(Sample {
            t,
            metrics: values,
            backlog: queue.as_ref().map(Queue::len),
            arrivals,
            needed: inputs
                .load
                .as_ref()
                .map(|_| arrivals * f64::from(settings.job_duration.max(1))),
            desired: count(unfinished(&jobs)),
            ready: count(started),
            active,
        });
        if let Some(q) = queue.as_mut() {
            q.arrive(arrivals);
        }
        // Finished Jobs no longer matter (history limits are not modelled).
        jobs.retain(|j| j.ends.is_none_or(|e| e >= t));
        if stopper.done(&samples) {
            break;
        }
    }
    stopper.trim(&mut samples);
    let end = samples.last().map_or(0, |s| s.t);
    events.retain(|e| e.t <= end);
    let (primary, column) = primary_name(inputs, triggers);
    let summary = summarize(
        primary,
        &samples,
        |s| match column {
            None => s.backlog.unwrap_or(0.0),
            Some(i) => s.metrics.get(i).copied().flatten().unwrap_or(0.0),
        },
        &events,
        Some(created_total),
    );
    Ok(Simulation {
        title: model.title.clone(),
        metric_names: metric_names(triggers),
        unit: "jobs",
        samples,
        events,
        summary,
    })
}

/// Pods starting at `t` take a free message (or exit at once when there is none).
fn start_jobs(
    jobs: &mut [Job],
    t: u32,
    queue: &mut Option<Queue>,
    in_flight: &mut u32,
    duration: u32,
) {
    for job in jobs
        .iter_mut()
        .filter(|j| j.starts == t && j.ends.is_none())
    {
        match queue {
            Some(q) if q.len() - f64::from(*in_flight) < 1.0 => job.ends = Some(t),
            Some(q) if duration == 0 => {
                q.ack();
                job.ends = Some(t);
            }
            Some(_) => {
                *in_flight += 1;
                job.has_message = true;
                job.ends = Some(t + duration);
            }
            None => job.ends = Some(t + duration),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
