//! One ScaledJob, live: every `pollingInterval` the triggers are measured and aggregated and the
//! strategy says how many Jobs to create (`ebb_core::scaled_job`); each Job is one local process
//! that runs once — exit 0 is Complete, anything else Failed (no retries: backoffLimit and
//! restartPolicy OnFailure are not modelled). Finished Jobs are kept per the history limits; a
//! pruned Job's log file goes with it. With task data (`taskdata.ebb.dev/trigger`) each Job takes
//! one message first and never more Jobs start than messages were taken (`task_data`).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ebb_core::scaled_job::{
    JobCounts, JobTriggerMetrics, ScaledJobPolicy, aggregate, jobs_to_create,
};
use ebb_core::trace::{DecisionRecord, TriggerRecord};
use ebb_telemetry::{Metrics, ObjectType};
use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::supervisor::{JobEnd, JobSet};
use crate::task_data::TaskJobs;
use crate::triggers::{Reading, Trigger, measure_all};
use crate::view::{Row, View, number};

/// Everything one ScaledJob's loop needs.
#[derive(Debug)]
pub(crate) struct ScaledJobLoop {
    pub(crate) display: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) policy: ScaledJobPolicy,
    pub(crate) polling_interval: Duration,
    pub(crate) measure_timeout: Duration,
    pub(crate) successful_history: usize,
    pub(crate) failed_history: usize,
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) jobs: JobSet,
    pub(crate) log_dir: Option<PathBuf>,
    pub(crate) view: Arc<View>,
    pub(crate) metrics: Arc<Metrics>,
    /// Task data: each Job gets its own message (`None`: KEDA's behaviour).
    pub(crate) tasks: Option<TaskJobs>,
}

#[derive(Debug, Default)]
struct History {
    succeeded: VecDeque<String>,
    failed: VecDeque<String>,
    total_succeeded: u64,
    total_failed: u64,
}

impl ScaledJobLoop {
    /// Runs until `stop` turns true, then stops every unfinished Job.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut history = History::default();
        let mut readings: Vec<Reading> = Vec::new();
        let (mut last, mut why) = (String::new(), String::new());
        self.view.log(format!(
            "{}: polling every {}s",
            self.display,
            self.polling_interval.as_secs_f64()
        ));
        if let Some(tasks) = &mut self.tasks {
            self.view
                .log(format!("{}: {}", self.display, tasks.describe()));
            let resumed = tasks.resume().await;
            if !resumed.is_empty() {
                self.view.log(format!(
                    "{}: resumed {} task Job(s) left in flight: {}",
                    self.display,
                    resumed.len(),
                    resumed.join(", ")
                ));
            }
        }
        let mut poll = tokio::time::interval(self.polling_interval);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                scheduled = poll.tick() => {
                    let late = Instant::now().saturating_duration_since(scheduled.into_std());
                    self.metrics.record_loop_latency(ObjectType::ScaledJob, &self.namespace, &self.name, late.as_secs_f64());
                    self.collect(&mut history);
                    readings = measure_all(&self.triggers, self.measure_timeout, &self.metrics).await;
                    let (l, w) = self.poll(&readings).await;
                    if !l.is_empty() {
                        last = l;
                    }
                    if w != why && !self.view.is_terminal() {
                        self.view.log(format!("{}: {w}", self.display));
                    }
                    why = w;
                }
                _ = refresh.tick() => self.collect(&mut history),
                _ = stop.changed() => break,
            }
            self.show(&readings, &history, &last, &why);
        }
        self.jobs.shutdown().await;
        if let Some(tasks) = &mut self.tasks {
            tasks.shutdown().await;
        }
        self.show(&readings, &history, &last, &why);
    }

    /// Unfinished Jobs, task-data ones included.
    fn running(&self) -> u32 {
        self.jobs.running() + self.tasks.as_ref().map_or(0, TaskJobs::running)
    }

    fn pending(&self) -> u32 {
        self.jobs.pending() + self.tasks.as_ref().map_or(0, TaskJobs::pending)
    }

    async fn poll(&mut self, readings: &[Reading]) -> (String, String) {
        let mut errors = false;
        let metrics: Vec<JobTriggerMetrics> = self
            .triggers
            .iter()
            .zip(readings)
            .filter_map(|(t, r)| match r {
                Reading::Value { value, active } => Some(JobTriggerMetrics {
                    queue_length: *value,
                    target_average: t.target,
                    active: *active,
                }),
                Reading::Failed(_) => {
                    errors = true;
                    None
                }
                Reading::NotPolled => None,
            })
            .collect();
        if errors {
            self.metrics
                .record_object_error(ObjectType::ScaledJob, &self.namespace, &self.name);
        }
        let aggregated = aggregate(&self.policy, &metrics);
        let counts = JobCounts {
            running: self.running(),
            pending: self.pending(),
        };
        let decision = jobs_to_create(&self.policy, &aggregated, counts);
        let records = self
            .triggers
            .iter()
            .zip(readings)
            .filter_map(|(t, r)| match r {
                Reading::Value { value, active } => Some(TriggerRecord::measured(
                    &t.metric_name,
                    *value,
                    t.target,
                    *active,
                )),
                Reading::Failed(e) => Some(TriggerRecord::failed(&t.metric_name, t.target, e)),
                Reading::NotPolled => None,
            })
            .collect();
        self.metrics.record_decision(
            ObjectType::ScaledJob,
            &self.namespace,
            &self.name,
            DecisionRecord::scaled_job(records, &aggregated, counts, &decision, Timestamp::now()),
        );
        let mut last = String::new();
        let mut why = decision.why;
        let names: Vec<String> = match &mut self.tasks {
            // One Job per message taken, never more than the strategy asks for.
            Some(tasks) => match tasks.take(decision.create as usize).await {
                Ok(names) => names,
                Err(e) => {
                    self.metrics.record_object_error(
                        ObjectType::ScaledJob,
                        &self.namespace,
                        &self.name,
                    );
                    why = format!("{why}; task data: {e}");
                    Vec::new()
                }
            },
            None => (0..decision.create).map(|_| self.jobs.create()).collect(),
        };
        if !names.is_empty() {
            last = format!("created {} Job(s)", names.len());
            self.view.log(format!(
                "{}: KEDAJobsCreated: Created {} jobs ({}): {}",
                self.display,
                names.len(),
                names.join(", "),
                why
            ));
        }
        (last, why)
    }

    /// Moves ended Jobs into the history, pruning the oldest beyond the limits.
    fn collect(&mut self, history: &mut History) {
        let mut ended = self.jobs.ended();
        if let Some(tasks) = &mut self.tasks {
            ended.extend(tasks.ended());
        }
        for JobEnd {
            name, succeeded, ..
        } in ended
        {
            let (list, limit) = if succeeded {
                history.total_succeeded += 1;
                (&mut history.succeeded, self.successful_history)
            } else {
                history.total_failed += 1;
                (&mut history.failed, self.failed_history)
            };
            list.push_back(name);
            while list.len() > limit {
                if let (Some(old), Some(dir)) = (list.pop_front(), &self.log_dir) {
                    let _ = std::fs::remove_file(dir.join(format!("{old}.log")));
                }
            }
        }
    }

    fn show(&mut self, readings: &[Reading], history: &History, last: &str, why: &str) {
        let triggers = self
            .triggers
            .iter()
            .zip(readings)
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
        self.view.set_row(
            &self.display,
            Row {
                object: self.display.clone(),
                triggers,
                desired: self.running(),
                running: self.running() - self.pending().min(self.running()),
                notes: match &self.tasks {
                    Some(tasks) => format!(
                        "{} complete, {} failed; {}",
                        history.total_succeeded,
                        history.total_failed,
                        tasks.counts().summary()
                    ),
                    None => format!(
                        "{} complete, {} failed",
                        history.total_succeeded, history.total_failed
                    ),
                },
                last: last.to_owned(),
                why: why.to_owned(),
            },
        );
    }
}
