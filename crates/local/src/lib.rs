//! Local mode (`ebb run`): the same manifests scale local processes. Each scaled workload's first
//! container `command` + `args` runs as supervised processes; ScaledObjects and ScaledJobs are
//! decided by `ebb-core` exactly as in a cluster (KEDA's poll plus the HPA's sync), on the real
//! clock. Only this crate starts processes.

mod backoff;
mod metrics_server;
mod process;
mod scaled_job_loop;
mod scaled_object_loop;
mod setup;
mod supervisor;
mod task_data;
mod triggers;
mod view;
mod workload;

pub use backoff::BackoffPolicy;
pub use metrics_server::DEFAULT_METRICS_PORT;
pub use process::ProcessTemplate;
pub use view::{Row, View};
pub use workload::{Workload, WorkloadError, find_workload, process_template};

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ebb_telemetry::{BuildInfo, Metrics};
use tokio::sync::watch;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Manifest files and directories (kubectl-style).
    pub files: Vec<PathBuf>,
    /// Per-replica log files here instead of prefixed lines in the view.
    pub log_dir: Option<PathBuf>,
    /// Serve Prometheus `/metrics` here.
    pub metrics_addr: Option<SocketAddr>,
    /// The HPA controller's sync period (Kubernetes: 15 s).
    pub hpa_sync_period: Duration,
    /// Give up on one trigger measurement after this long.
    pub measure_timeout: Duration,
    /// Restart backoff of crashing replicas.
    pub backoff: BackoffPolicy,
    /// What a container `command` of `ebb` runs (normally this executable).
    pub self_exe: PathBuf,
    /// Redraw a table in place (a terminal) or print plain lines.
    pub terminal: bool,
    /// ClusterTriggerAuthentications read Secrets from this namespace.
    pub cluster_object_namespace: String,
    /// Task data journals (`<dir>/<namespace>/<scaledjob>/tasks/`): the Jobs that exist, so a
    /// restarted run loses no message. Default `$EBB_STATE_DIR`, else `<temp dir>/ebb-run`.
    pub state_dir: PathBuf,
}

impl Options {
    /// Defaults for `files`: 15 s HPA sync, 5 s measure timeout, plain lines, `ebb` = this executable.
    pub fn new(files: Vec<PathBuf>) -> Options {
        Options {
            files,
            log_dir: None,
            metrics_addr: None,
            hpa_sync_period: Duration::from_secs(15),
            measure_timeout: Duration::from_secs(5),
            backoff: BackoffPolicy::default(),
            self_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ebb")),
            terminal: false,
            cluster_object_namespace: "keda".into(),
            state_dir: std::env::var_os("EBB_STATE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("ebb-run")),
        }
    }
}

/// Why `ebb run` could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No ScaledObject or ScaledJob could start (each reason was reported).
    #[error("nothing to run: no ScaledObject or ScaledJob could start")]
    NothingToRun,
    /// `--log-dir` cannot be created.
    #[error("creating the log directory {0}: {1}")]
    LogDir(PathBuf, #[source] std::io::Error),
    /// `--metrics-addr` cannot be bound.
    #[error("serving /metrics on {0}: {1}")]
    Metrics(SocketAddr, #[source] std::io::Error),
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// ScaledObjects and ScaledJobs that ran.
    pub started: usize,
    /// Problems reported at start (each skipped object or file), in order.
    pub problems: Vec<String>,
    /// Where `/metrics` was served.
    pub metrics_addr: Option<SocketAddr>,
}

/// Runs every valid ScaledObject and ScaledJob of the files until `shutdown` completes, then stops
/// and reaps every process. Bad objects are reported and skipped; the rest run.
pub async fn run(
    options: Options,
    view: Arc<View>,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, RunError> {
    if let Some(dir) = &options.log_dir {
        std::fs::create_dir_all(dir).map_err(|e| RunError::LogDir(dir.clone(), e))?;
    }
    let metrics = Arc::new(Metrics::new(&BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: option_env!("EBB_GIT_COMMIT").unwrap_or("").to_owned(),
        toolchain: "rustc".to_owned(),
    }));
    let metrics_addr = match options.metrics_addr {
        Some(addr) => Some(
            metrics_server::serve(addr, metrics.clone())
                .await
                .map_err(|e| RunError::Metrics(addr, e))?,
        ),
        None => None,
    };
    if let Some(addr) = metrics_addr {
        view.log(format!(
            "serving Prometheus metrics on http://{addr}/metrics"
        ));
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let planned = setup::plan(&options, &view, &metrics);
    for p in &planned.problems {
        view.log(format!("ERROR {p}"));
    }
    if planned.loops.is_empty() {
        return Err(RunError::NothingToRun);
    }
    let started = planned.loops.len();
    let mut tasks = Vec::new();
    for l in planned.loops {
        let stop = stop_rx.clone();
        tasks.push(tokio::spawn(l.run_boxed(stop)));
    }
    let renderer = view.is_terminal().then(|| {
        let view = view.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            use std::io::Write as _;
            let _ = write!(std::io::stdout(), "\x1b[2J\x1b[?25l");
            loop {
                tick.tick().await;
                let (rows, cols) = view::terminal_size();
                let _ = write!(std::io::stdout().lock(), "{}", view.frame(rows, cols));
                let _ = std::io::stdout().flush();
            }
        })
    });
    shutdown.await;
    view.log("stopping: SIGTERM to every process group, SIGKILL after each grace period");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    view.log("all processes stopped and reaped");
    if let Some(r) = renderer {
        r.abort();
        use std::io::Write as _;
        let (rows, cols) = view::terminal_size();
        let _ = write!(
            std::io::stdout().lock(),
            "{}\x1b[?25h",
            view.frame(rows, cols)
        );
        let _ = std::io::stdout().flush();
    }
    Ok(Summary {
        started,
        problems: planned.problems,
        metrics_addr,
    })
}
