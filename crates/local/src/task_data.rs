//! Task data in local mode: a ScaledJob that opts in (`taskdata.ebb.dev/trigger`) gives each Job
//! process the one message it was created for, as `KEDA_TASK_DATA` (or a file named by
//! `KEDA_TASK_DATA_FILE`), with `KEDA_TASK_ID` and `KEDA_TASK_SOURCE`.
//!
//! A Job "exists" once its journal entry does: `<state dir>/tasks/<task hash>/` holds the payload
//! and the attempt. The order per message is take → journal → start the process → acknowledge, so
//! a crash at any point loses nothing: a message taken but not journaled is re-handed by the broker
//! (or `recover`); one journaled but not acknowledged comes back too and finds its entry
//! (AlreadyExists: acknowledge only); an entry left by a stopped or crashed run is started again
//! at the next start. A process exiting non-zero is a failed attempt; the same task runs again
//! (attempt n+1, a new Job name) until `max-attempts`, then it is dead-lettered (or dropped with a
//! warning when there is no target) and its entry removed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ebb_api::constants::{TASK_DATA_ENV, TASK_DATA_FILE_ENV, TASK_ID_ENV, TASK_SOURCE_ENV};
use ebb_api::scaled_job::ScaledJob;
use ebb_core::task::{
    AfterFailure, Delivery, TOO_LARGE, after_failure, delivery, job_name, task_hash,
};
use ebb_manifest::policy::{ResolvedTrigger, trigger_params};
use ebb_manifest::task_data::TaskDataSettings;
use ebb_scalers::Clients;
use ebb_scalers::task::{Task, TaskSource};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::process::{self, ProcessTemplate};
use crate::supervisor::{Ctx, JobEnd, secs};

/// Counts since the run started (shown in the view, asserted by tests and the bench).
#[derive(Debug, Default)]
pub(crate) struct TaskCounts {
    /// Messages taken (or recovered) from the broker.
    pub(crate) taken: AtomicU64,
    /// Messages acknowledged.
    pub(crate) acked: AtomicU64,
    /// Messages acknowledged without a new Job: their Job already existed.
    pub(crate) already: AtomicU64,
    /// Tasks whose Job completed.
    pub(crate) succeeded: AtomicU64,
    /// Tasks dead-lettered to the target.
    pub(crate) dead_lettered: AtomicU64,
    /// Poison tasks dropped (no dead-letter target).
    pub(crate) dropped: AtomicU64,
}

impl TaskCounts {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `taken 5, 1 dead-lettered` for the view.
    pub(crate) fn summary(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = format!("tasks: {} taken", get(&self.taken));
        for (n, what) in [
            (get(&self.dead_lettered), "dead-lettered"),
            (get(&self.dropped), "dropped"),
        ] {
            if n > 0 {
                out.push_str(&format!(", {n} {what}"));
            }
        }
        out
    }
}

/// What every task runner of one ScaledJob shares.
#[derive(Debug)]
struct Shared {
    display: String,
    namespace: String,
    scaled_job: String,
    settings: TaskDataSettings,
    source: Arc<dyn TaskSource>,
    template: ProcessTemplate,
    ctx: Arc<Ctx>,
    journal: Journal,
    counts: Arc<TaskCounts>,
}

enum Event {
    /// An attempt's process ended.
    Attempt(JobEnd),
    /// The task is finished (completed, dead-lettered or dropped): its runner is gone.
    Done(String),
}

#[derive(Debug)]
struct Runner {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    started: Arc<AtomicBool>,
}

/// The task-data Jobs of one ScaledJob.
#[derive(Debug)]
pub(crate) struct TaskJobs {
    shared: Arc<Shared>,
    runners: HashMap<String, Runner>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Attempt(end) => write!(f, "Attempt({})", end.name),
            Event::Done(hash) => write!(f, "Done({hash})"),
        }
    }
}

/// Where a ScaledJob's task journal lives under the run's state directory.
pub(crate) fn state_dir(root: &Path, namespace: &str, name: &str) -> PathBuf {
    root.join(namespace).join(name)
}

/// The task jobs of `sj` when it opts in to task data: settings from its annotations, the source
/// from its trigger (with env and auth resolved). No I/O but creating the state directory.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    sj: &ScaledJob,
    resolved: &[ResolvedTrigger],
    display: &str,
    namespace: &str,
    template: &ProcessTemplate,
    ctx: &Arc<Ctx>,
    clients: &Clients,
    dir: PathBuf,
) -> Result<Option<TaskJobs>, String> {
    let Some(settings) = TaskDataSettings::from_scaled_job(sj).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let index = settings.trigger_index;
    let trigger = sj
        .spec
        .triggers
        .get(index)
        .ok_or_else(|| format!("spec.triggers[{index}] is missing"))?;
    let params = trigger_params(index, trigger, false, resolved.get(index));
    let source = ebb_scalers::task::build(&params, clients)
        .map_err(|e| format!("spec.triggers[{index}] ({}): task data: {e}", trigger.type_))?;
    Ok(Some(TaskJobs::new(
        display,
        namespace,
        sj.metadata.name.as_deref().unwrap_or_default(),
        settings,
        source,
        template.clone(),
        ctx.clone(),
        dir,
    )?))
}

impl TaskJobs {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        display: &str,
        namespace: &str,
        scaled_job: &str,
        settings: TaskDataSettings,
        source: Arc<dyn TaskSource>,
        template: ProcessTemplate,
        ctx: Arc<Ctx>,
        dir: PathBuf,
    ) -> Result<TaskJobs, String> {
        let journal = Journal::new(dir.join("tasks"))?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Ok(TaskJobs {
            shared: Arc::new(Shared {
                display: display.to_owned(),
                namespace: namespace.to_owned(),
                scaled_job: scaled_job.to_owned(),
                settings,
                source,
                template,
                ctx,
                journal,
                counts: Arc::new(TaskCounts::default()),
            }),
            runners: HashMap::new(),
            events_tx,
            events_rx,
        })
    }

    /// The counts since the start.
    pub(crate) fn counts(&self) -> Arc<TaskCounts> {
        self.shared.counts.clone()
    }

    /// `task data from …` for the log.
    pub(crate) fn describe(&self) -> String {
        format!("{} ({})", self.shared.settings, self.shared.source.source())
    }

    /// At start: runs the Jobs a previous run left (journal), then takes back what the broker
    /// still holds for this taker (`recover`). Returns the Jobs started.
    pub(crate) async fn resume(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        for entry in self.shared.journal.entries() {
            let hash = entry.hash.clone();
            if self.runners.contains_key(&hash) {
                continue;
            }
            self.shared.ctx.view.log(format!(
                "{}: task {:?}: resuming its Job from the journal (attempt {})",
                self.shared.display, entry.task.id, entry.attempt
            ));
            names.push(self.spawn(hash, entry.task, entry.attempt, false));
        }
        match self.shared.source.recover().await {
            Ok(tasks) => {
                for t in tasks {
                    names.extend(self.handle(t).await);
                }
            }
            Err(e) => self.shared.ctx.view.log(format!(
                "{}: WARNING recovering in-flight tasks: {}",
                self.shared.display,
                e.full_message()
            )),
        }
        names
    }

    /// Takes up to `max` messages and starts a Job for each new one; returns the Jobs started.
    pub(crate) async fn take(&mut self, max: usize) -> Result<Vec<String>, String> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let tasks = self
            .shared
            .source
            .take(max)
            .await
            .map_err(|e| format!("taking messages: {}", e.full_message()))?;
        let mut names = Vec::new();
        for t in tasks {
            names.extend(self.handle(t).await);
        }
        Ok(names)
    }

    /// One message in hand: AlreadyExists, too large, or a new Job.
    async fn handle(&mut self, task: Task) -> Option<String> {
        let s = self.shared.clone();
        TaskCounts::add(&s.counts.taken);
        let hash = task_hash(&s.namespace, &s.scaled_job, &task.id);
        if self.runners.contains_key(&hash) || s.journal.exists(&hash) {
            // Its Job exists (redelivered after a crash or a failed ack): acknowledge only.
            TaskCounts::add(&s.counts.already);
            ack(&s, &task).await;
            return None;
        }
        if delivery(&task.payload) == Delivery::TooLarge {
            s.ctx.view.log(format!(
                "{}: task {:?}: {} bytes is more than the 1 MiB limit",
                s.display,
                task.id,
                task.payload.len()
            ));
            if give_up(&s, &task, TOO_LARGE).await {
                ack(&s, &task).await;
            }
            return None;
        }
        if let Err(e) = s.journal.write(&hash, &task, 1) {
            // Not journaled, not acknowledged: the broker hands it out again.
            s.ctx
                .view
                .log(format!("{}: ERROR task {:?}: {e}", s.display, task.id));
            return None;
        }
        Some(self.spawn(hash, task, 1, true))
    }

    fn spawn(&mut self, hash: String, task: Task, attempt: u32, held: bool) -> String {
        let s = &self.shared;
        let name = job_name(&s.namespace, &s.scaled_job, &task.id, attempt);
        let (stop, stop_rx) = oneshot::channel();
        let started = Arc::new(AtomicBool::new(false));
        let runner = tokio::spawn(run_task(
            self.shared.clone(),
            hash.clone(),
            task,
            attempt,
            held,
            stop_rx,
            started.clone(),
            self.events_tx.clone(),
        ));
        self.runners.insert(
            hash,
            Runner {
                stop,
                task: runner,
                started,
            },
        );
        name
    }

    /// Attempts that ended since the last call (finished tasks stop counting as running).
    pub(crate) fn ended(&mut self) -> Vec<JobEnd> {
        let mut out = Vec::new();
        while let Ok(event) = self.events_rx.try_recv() {
            match event {
                Event::Attempt(end) => out.push(end),
                Event::Done(hash) => {
                    self.runners.remove(&hash);
                }
            }
        }
        out
    }

    /// Tasks whose Job runs (or waits to be retried).
    pub(crate) fn running(&self) -> u32 {
        u32::try_from(self.runners.len()).unwrap_or(u32::MAX)
    }

    /// Tasks whose first process has not started yet.
    pub(crate) fn pending(&self) -> u32 {
        let n = self
            .runners
            .values()
            .filter(|r| !r.started.load(Ordering::Relaxed))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Stops every task's process; their journal entries stay, so the next run starts them again.
    pub(crate) async fn shutdown(&mut self) {
        let mut tasks = Vec::new();
        for (_, r) in self.runners.drain() {
            let _ = r.stop.send(());
            tasks.push(r.task);
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// Acknowledgements tried per message before giving up (the Job exists either way).
const ACK_TRIES: u32 = 5;

async fn ack(s: &Shared, task: &Task) {
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=ACK_TRIES {
        match s.source.ack(task).await {
            Ok(()) => {
                TaskCounts::add(&s.counts.acked);
                return;
            }
            // A busy run (hundreds of processes starting on one thread) can miss a reply's
            // deadline: try again before leaving the message to come back as AlreadyExists.
            Err(e) if attempt < ACK_TRIES => {
                s.ctx.view.log(format!(
                    "{}: task {:?}: acknowledging (try {attempt} of {ACK_TRIES}): {}",
                    s.display,
                    task.id,
                    e.full_message()
                ));
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            // The Job exists (journal): when the broker hands the message out again, it is
            // acknowledged as AlreadyExists.
            Err(e) => s.ctx.view.log(format!(
                "{}: WARNING task {:?}: acknowledging failed {ACK_TRIES} times: {}",
                s.display,
                task.id,
                e.full_message()
            )),
        }
    }
}

/// Dead-letters `task` (or drops it with a warning when there is no target). False when the
/// dead-letter target could not be reached: the caller keeps the task.
async fn give_up(s: &Shared, task: &Task, reason: &str) -> bool {
    match &s.settings.dead_letter {
        Some(target) => match s.source.dead_letter(task, target, reason).await {
            Ok(()) => {
                TaskCounts::add(&s.counts.dead_lettered);
                s.ctx.view.log(format!(
                    "{}: task {:?} dead-lettered to {target:?}: {reason}",
                    s.display, task.id
                ));
                true
            }
            Err(e) => {
                s.ctx.view.log(format!(
                    "{}: ERROR task {:?}: dead-lettering to {target:?}: {}",
                    s.display,
                    task.id,
                    e.full_message()
                ));
                false
            }
        },
        None => {
            TaskCounts::add(&s.counts.dropped);
            s.ctx.view.log(format!(
                "{}: WARNING task {:?} dropped ({reason}): the ScaledJob names no dead-letter target",
                s.display, task.id
            ));
            true
        }
    }
}

/// The env of a task's process.
fn task_env(s: &Shared, hash: &str, task: &Task) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    match (delivery(&task.payload), task.text()) {
        (Delivery::Env, Some(text)) => {
            env.insert(TASK_DATA_ENV.to_owned(), text.to_owned());
        }
        _ => {
            env.insert(
                TASK_DATA_FILE_ENV.to_owned(),
                s.journal.data_path(hash).display().to_string(),
            );
        }
    }
    env.insert(TASK_ID_ENV.to_owned(), task.id.clone());
    env.insert(TASK_SOURCE_ENV.to_owned(), task.source.clone());
    env
}

/// One task's Jobs: attempt after attempt until one completes or the attempts run out.
#[allow(clippy::too_many_arguments)]
async fn run_task(
    s: Arc<Shared>,
    hash: String,
    task: Task,
    mut attempt: u32,
    mut held: bool,
    mut stop: oneshot::Receiver<()>,
    started_flag: Arc<AtomicBool>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut backoff = Backoff::new(s.ctx.backoff);
    let env = task_env(&s, &hash, &task);
    loop {
        let name = job_name(&s.namespace, &s.scaled_job, &task.id, attempt);
        if attempt > 1
            && let Err(e) = s.journal.set_attempt(&hash, attempt)
        {
            s.ctx
                .view
                .log(format!("{}: WARNING task {:?}: {e}", s.display, task.id));
        }
        let started = Instant::now();
        let outcome = match process::start_with_env(&s.template, &name, &s.ctx.output, &env) {
            Ok(mut running) => {
                started_flag.store(true, Ordering::Relaxed);
                s.ctx.view.log(format!(
                    "{name}: started `{}` (pid {}) for task {:?}, attempt {attempt}",
                    s.template.command_line(),
                    running.pgid().unwrap_or(0),
                    task.id
                ));
                // The Job exists now: the message can go.
                if held {
                    ack(&s, &task).await;
                    held = false;
                }
                tokio::select! {
                    status = running.wait() => match status {
                        Ok(st) => (st.success(), process::describe(&st)),
                        Err(e) => (false, e.to_string()),
                    },
                    _ = &mut stop => {
                        let status = running.stop(s.template.grace).await;
                        let how = status.map_or_else(|e| e.to_string(), |st| process::describe(&st));
                        s.ctx.view.log(format!("{name}: stopped ({how}); the task runs again at the next start"));
                        return;
                    }
                }
            }
            Err(e) => {
                started_flag.store(true, Ordering::Relaxed);
                if held {
                    ack(&s, &task).await;
                    held = false;
                }
                (
                    false,
                    format!("cannot start `{}`: {e}", s.template.command_line()),
                )
            }
        };
        let (succeeded, how) = outcome;
        s.ctx.view.log(format!(
            "{name}: {} ({how}) after {}",
            if succeeded { "Complete" } else { "Failed" },
            secs(started.elapsed())
        ));
        let _ = events.send(Event::Attempt(JobEnd {
            name,
            succeeded,
            how: how.clone(),
        }));
        if succeeded {
            TaskCounts::add(&s.counts.succeeded);
            break;
        }
        match after_failure(attempt, s.settings.max_attempts, &how) {
            AfterFailure::Retry { attempt: next } => {
                let delay = backoff.after_exit(started.elapsed());
                s.ctx.view.log(format!(
                    "{}: task {:?}: attempt {attempt} failed; attempt {next} in {}",
                    s.display,
                    task.id,
                    secs(delay)
                ));
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = &mut stop => return,
                }
                attempt = next;
            }
            AfterFailure::DeadLetter { reason } => {
                // Keep trying the target while the run lasts; the journal keeps the task meanwhile.
                while !give_up(&s, &task, &reason).await {
                    tokio::select! {
                        () = tokio::time::sleep(backoff.after_exit(Duration::ZERO)) => {}
                        _ = &mut stop => return,
                    }
                }
                break;
            }
        }
    }
    s.journal.remove(&hash);
    let _ = events.send(Event::Done(hash));
}

/// A journal entry read back at start.
#[derive(Debug)]
struct Entry {
    hash: String,
    task: Task,
    attempt: u32,
}

/// One directory per task whose Job exists: `data` (the payload) and `meta` (id, source, attempt).
#[derive(Debug)]
struct Journal {
    dir: PathBuf,
}

impl Journal {
    fn new(dir: PathBuf) -> Result<Journal, String> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("creating the task journal {}: {e}", dir.display()))?;
        Ok(Journal { dir })
    }

    fn data_path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash).join("data")
    }

    fn exists(&self, hash: &str) -> bool {
        self.dir.join(hash).join("meta").exists()
    }

    /// Writes the entry; `meta` last (atomically), so a half-written entry does not count.
    fn write(&self, hash: &str, task: &Task, attempt: u32) -> Result<(), String> {
        let entry = self.dir.join(hash);
        let err = |e: std::io::Error| format!("writing the task journal {}: {e}", entry.display());
        std::fs::create_dir_all(&entry).map_err(err)?;
        std::fs::write(entry.join("data"), &task.payload).map_err(err)?;
        self.write_meta(&entry, task, attempt).map_err(err)
    }

    fn write_meta(&self, entry: &Path, task: &Task, attempt: u32) -> std::io::Result<()> {
        let meta = serde_json::json!({"id": task.id, "source": task.source, "attempt": attempt});
        let tmp = entry.join("meta.tmp");
        std::fs::write(&tmp, meta.to_string())?;
        std::fs::rename(tmp, entry.join("meta"))
    }

    fn set_attempt(&self, hash: &str, attempt: u32) -> Result<(), String> {
        let entry = self.dir.join(hash);
        let mut meta = self.read_meta(&entry).ok_or("the journal entry is gone")?;
        meta["attempt"] = attempt.into();
        let tmp = entry.join("meta.tmp");
        std::fs::write(&tmp, meta.to_string())
            .and_then(|()| std::fs::rename(&tmp, entry.join("meta")))
            .map_err(|e| format!("updating the task journal {}: {e}", entry.display()))
    }

    fn read_meta(&self, entry: &Path) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(entry.join("meta")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn remove(&self, hash: &str) {
        let _ = std::fs::remove_dir_all(self.dir.join(hash));
    }

    /// Every complete entry, oldest directory name order (stable).
    fn entries(&self) -> Vec<Entry> {
        let Ok(read) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut dirs: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
        dirs.sort();
        dirs.into_iter()
            .filter_map(|dir| {
                let meta = self.read_meta(&dir)?;
                let payload = std::fs::read(dir.join("data")).ok()?;
                // Rebuilt tasks are not held: their messages were acknowledged (or come back).
                let task = Task::new(meta["id"].as_str()?, payload, meta["source"].as_str()?);
                Some(Entry {
                    hash: dir.file_name()?.to_string_lossy().into_owned(),
                    task,
                    attempt: u32::try_from(meta["attempt"].as_u64()?).ok()?.max(1),
                })
            })
            .collect()
    }
}
