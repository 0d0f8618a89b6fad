//! Replicas of one workload as local processes: a Deployment's replicas restart whenever they exit
//! (restartPolicy Always) after an exponential backoff; a Job's process runs once. Scale-in stops
//! the newest replicas first with SIGTERM, then SIGKILL after the grace period.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::backoff::{Backoff, BackoffPolicy};
use crate::process::{self, Output, ProcessTemplate};
use crate::view::View;

/// What every replica of a run shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) output: Output,
    pub(crate) view: Arc<View>,
    pub(crate) backoff: BackoffPolicy,
}

#[derive(Debug)]
struct Replica {
    index: u32,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    alive: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
}

/// The replicas of one Deployment (or any workload with a pod template).
#[derive(Debug)]
pub(crate) struct ReplicaSet {
    name: String,
    template: Arc<ProcessTemplate>,
    ctx: Arc<Ctx>,
    replicas: Vec<Replica>,
    stopping: Vec<JoinHandle<()>>,
}

impl ReplicaSet {
    pub(crate) fn new(name: &str, template: ProcessTemplate, ctx: Arc<Ctx>) -> ReplicaSet {
        ReplicaSet {
            name: name.to_owned(),
            template: Arc::new(template),
            ctx,
            replicas: Vec::new(),
            stopping: Vec::new(),
        }
    }

    /// The view replicas report to.
    pub(crate) fn view(&self) -> Arc<View> {
        self.ctx.view.clone()
    }

    /// `spec.replicas`.
    pub(crate) fn desired(&self) -> u32 {
        u32::try_from(self.replicas.len()).unwrap_or(u32::MAX)
    }

    /// Replicas whose process is running now (the HPA's ready pods).
    pub(crate) fn running(&self) -> u32 {
        let n = self
            .replicas
            .iter()
            .filter(|r| r.alive.load(Ordering::Relaxed))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Restarts across the current replicas.
    pub(crate) fn restarts(&self) -> u32 {
        self.replicas
            .iter()
            .map(|r| r.restarts.load(Ordering::Relaxed))
            .sum()
    }

    /// Replicas still shutting down after a scale-in.
    pub(crate) fn terminating(&mut self) -> usize {
        self.stopping.retain(|t| !t.is_finished());
        self.stopping.len()
    }

    /// Sets `spec.replicas`: starts replicas with the lowest free indices, stops the newest.
    pub(crate) fn scale(&mut self, desired: u32) {
        while self.desired() > desired {
            let Some(r) = self.replicas.pop() else { break };
            // A send error means the task already ended.
            let _ = r.stop.send(());
            self.stopping.push(r.task);
        }
        while self.desired() < desired {
            let index = (0..)
                .find(|i| self.replicas.iter().all(|r| r.index != *i))
                .unwrap_or(0);
            let name = format!("{}-{index}", self.name);
            let (stop, stop_rx) = oneshot::channel();
            let alive = Arc::new(AtomicBool::new(false));
            let restarts = Arc::new(AtomicU32::new(0));
            let task = tokio::spawn(supervise(
                name,
                self.template.clone(),
                self.ctx.clone(),
                stop_rx,
                alive.clone(),
                restarts.clone(),
            ));
            self.replicas.push(Replica {
                index,
                stop,
                task,
                alive,
                restarts,
            });
        }
    }

    /// Stops every replica and waits until each process is reaped.
    pub(crate) async fn shutdown(&mut self) {
        self.scale(0);
        for task in self.stopping.drain(..) {
            let _ = task.await;
        }
    }
}

/// restartPolicy Always: start, wait, back off, start again — until told to stop.
async fn supervise(
    name: String,
    template: Arc<ProcessTemplate>,
    ctx: Arc<Ctx>,
    mut stop: oneshot::Receiver<()>,
    alive: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
) {
    let mut backoff = Backoff::new(ctx.backoff);
    loop {
        let started = Instant::now();
        match process::start(&template, &name, &ctx.output) {
            Ok(mut running) => {
                alive.store(true, Ordering::Relaxed);
                ctx.view.log(format!(
                    "{name}: started `{}` (pid {})",
                    template.command_line(),
                    running.pgid().unwrap_or(0)
                ));
                tokio::select! {
                    status = running.wait() => {
                        alive.store(false, Ordering::Relaxed);
                        let how = status.map_or_else(|e| e.to_string(), |s| process::describe(&s));
                        ctx.view.log(format!("{name}: exited ({how}) after {}", secs(started.elapsed())));
                    }
                    _ = &mut stop => {
                        alive.store(false, Ordering::Relaxed);
                        let status = running.stop(template.grace).await;
                        let how = status.map_or_else(|e| e.to_string(), |s| process::describe(&s));
                        ctx.view.log(format!("{name}: stopped ({how})"));
                        return;
                    }
                }
            }
            Err(e) => ctx.view.log(format!(
                "{name}: cannot start `{}`: {e}",
                template.command_line()
            )),
        }
        let delay = backoff.after_exit(started.elapsed());
        restarts.fetch_add(1, Ordering::Relaxed);
        ctx.view
            .log(format!("{name}: restarting in {} (back-off)", secs(delay)));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = &mut stop => return,
        }
    }
}

/// How a Job's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobEnd {
    pub(crate) name: String,
    /// Exit 0 ⇒ Complete; anything else (or failing to start) ⇒ Failed.
    pub(crate) succeeded: bool,
    pub(crate) how: String,
}

#[derive(Debug)]
struct JobProc {
    name: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    started: Arc<AtomicBool>,
}

/// The unfinished Jobs of one ScaledJob, each one process that runs once.
#[derive(Debug)]
pub(crate) struct JobSet {
    name: String,
    template: Arc<ProcessTemplate>,
    ctx: Arc<Ctx>,
    next: u64,
    jobs: Vec<JobProc>,
    ended_tx: mpsc::UnboundedSender<JobEnd>,
    ended_rx: mpsc::UnboundedReceiver<JobEnd>,
}

impl JobSet {
    pub(crate) fn new(name: &str, template: ProcessTemplate, ctx: Arc<Ctx>) -> JobSet {
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        JobSet {
            name: name.to_owned(),
            template: Arc::new(template),
            ctx,
            next: 0,
            jobs: Vec::new(),
            ended_tx,
            ended_rx,
        }
    }

    /// Starts one Job process; returns its name (`<scaledjob>-<n>`, as generateName would).
    pub(crate) fn create(&mut self) -> String {
        self.next += 1;
        let name = format!("{}-{}", self.name, self.next);
        let (stop, stop_rx) = oneshot::channel();
        let started = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run_job(
            name.clone(),
            self.template.clone(),
            self.ctx.clone(),
            stop_rx,
            started.clone(),
            self.ended_tx.clone(),
        ));
        self.jobs.push(JobProc {
            name: name.clone(),
            stop,
            task,
            started,
        });
        name
    }

    /// Jobs that ended since the last call; they stop counting as running.
    pub(crate) fn ended(&mut self) -> Vec<JobEnd> {
        let mut out = Vec::new();
        while let Ok(end) = self.ended_rx.try_recv() {
            self.jobs.retain(|j| j.name != end.name);
            out.push(end);
        }
        out
    }

    /// Jobs without a Complete/Failed condition.
    pub(crate) fn running(&self) -> u32 {
        u32::try_from(self.jobs.len()).unwrap_or(u32::MAX)
    }

    /// Unfinished Jobs whose process has not started yet (local processes start at once, so this
    /// is 0 but for a moment).
    pub(crate) fn pending(&self) -> u32 {
        let n = self
            .jobs
            .iter()
            .filter(|j| !j.started.load(Ordering::Relaxed))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Stops every unfinished Job and waits until each process is reaped.
    pub(crate) async fn shutdown(&mut self) {
        let mut tasks = Vec::new();
        for j in self.jobs.drain(..) {
            let _ = j.stop.send(());
            tasks.push(j.task);
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

async fn run_job(
    name: String,
    template: Arc<ProcessTemplate>,
    ctx: Arc<Ctx>,
    mut stop: oneshot::Receiver<()>,
    started_flag: Arc<AtomicBool>,
    ended: mpsc::UnboundedSender<JobEnd>,
) {
    let started = Instant::now();
    let (succeeded, how) = match process::start(&template, &name, &ctx.output) {
        Ok(mut running) => {
            started_flag.store(true, Ordering::Relaxed);
            ctx.view.log(format!(
                "{name}: started `{}` (pid {})",
                template.command_line(),
                running.pgid().unwrap_or(0)
            ));
            tokio::select! {
                status = running.wait() => match status {
                    Ok(s) => (s.success(), process::describe(&s)),
                    Err(e) => (false, e.to_string()),
                },
                _ = &mut stop => {
                    let status = running.stop(template.grace).await;
                    let how = status.map_or_else(|e| e.to_string(), |s| process::describe(&s));
                    ctx.view.log(format!("{name}: stopped ({how})"));
                    return;
                }
            }
        }
        Err(e) => (
            false,
            format!("cannot start `{}`: {e}", template.command_line()),
        ),
    };
    let verdict = if succeeded { "Complete" } else { "Failed" };
    ctx.view.log(format!(
        "{name}: {verdict} ({how}) after {}",
        secs(started.elapsed())
    ));
    let _ = ended.send(JobEnd {
        name,
        succeeded,
        how,
    });
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
