//! One local process standing in for one pod's first container: started in its own process group
//! (so a stop reaches its children too), stopped with SIGTERM, then SIGKILL after the grace period.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::view::View;

/// What to run for each replica: the container's `command` + `args`, `workingDir` and env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTemplate {
    /// The program (`command[0]`; `ebb` resolved to this executable).
    pub program: PathBuf,
    /// The rest of `command`, then `args`.
    pub args: Vec<String>,
    /// `workingDir`.
    pub working_dir: Option<PathBuf>,
    /// The container env (`env`, `envFrom`), over the environment of `ebb run`.
    pub env: BTreeMap<String, String>,
    /// `terminationGracePeriodSeconds` (default 30 s).
    pub grace: Duration,
}

impl ProcessTemplate {
    /// `program arg…` for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Where a replica's stdout and stderr go.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// Line by line to the view, prefixed with the replica name.
    View(Arc<View>),
    /// Appended to `<dir>/<replica>.log`.
    Files(PathBuf),
}

/// A started process.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    pgid: Option<Pid>,
}

/// Starts `template` as replica `name`.
pub(crate) fn start(
    template: &ProcessTemplate,
    name: &str,
    output: &Output,
) -> io::Result<Running> {
    start_with_env(template, name, output, &BTreeMap::new())
}

/// Starts `template` as replica `name` with `extra` env on top of the container's (a task's
/// `KEDA_TASK_*` variables).
pub(crate) fn start_with_env(
    template: &ProcessTemplate,
    name: &str,
    output: &Output,
    extra: &BTreeMap<String, String>,
) -> io::Result<Running> {
    let mut cmd = Command::new(&template.program);
    cmd.args(&template.args)
        .envs(&template.env)
        .envs(extra)
        // A pod's hostname is its name; workers can tell replicas apart.
        .env("HOSTNAME", name)
        .env("EBB_REPLICA", name)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &template.working_dir {
        cmd.current_dir(dir);
    }
    match output {
        Output::Files(dir) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{name}.log")))?;
            cmd.stdout(Stdio::from(file.try_clone()?))
                .stderr(Stdio::from(file));
        }
        Output::View(_) => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    let mut child = cmd.spawn()?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    if let Output::View(view) = output {
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(out, name.to_owned(), view.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(err, name.to_owned(), view.clone()));
        }
    }
    Ok(Running { child, pgid })
}

async fn forward(pipe: impl AsyncRead + Unpin, name: String, view: Arc<View>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        view.output(&name, &line);
    }
}

impl Running {
    /// The process group id (= the leader's pid).
    pub(crate) fn pgid(&self) -> Option<i32> {
        self.pgid.map(Pid::as_raw_nonzero).map(i32::from)
    }

    /// Waits for the process to exit on its own; then kills what is left of its group.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.kill_group(Signal::KILL);
        status
    }

    /// SIGTERM to the group, SIGKILL once `grace` has passed, and reap.
    pub(crate) async fn stop(mut self, grace: Duration) -> io::Result<ExitStatus> {
        self.kill_group(Signal::TERM);
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                self.kill_group(Signal::KILL);
                self.child.wait().await
            }
        };
        // The leader is gone; grandchildren that ignored SIGTERM go now.
        self.kill_group(Signal::KILL);
        status
    }

    fn kill_group(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            // ESRCH (nothing left in the group) is the normal case after the leader exits.
            let _ = kill_process_group(pgid, signal);
        }
    }
}

/// `exit 3`, `signal 9 (SIGKILL)`.
pub(crate) fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => {
            let name = match sig {
                2 => " (SIGINT)",
                9 => " (SIGKILL)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("signal {sig}{name}")
        }
        _ => "unknown exit".to_owned(),
    }
}
