//! `ebb run`: local mode. Runs the workloads of the given manifests as local processes, scaled by
//! their ScaledObjects and ScaledJobs with the same decisions as a cluster; until `--for` elapses
//! or SIGINT/SIGTERM, then stops and reaps every process.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ebb_local::{Options, View};

/// Arguments of `ebb run`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    ebb run -f examples/quickstart/ --for 150s\n  \
    ebb run -f app.yaml --log-dir logs/ --metrics-addr 127.0.0.1:9464\n\n\
    Each workload's first container `command` + `args` runs locally (the image is ignored); a command\n\
    of `ebb` is this executable. Deployments no ScaledObject scales run at spec.replicas.")]
pub(crate) struct Args {
    /// Manifests: Deployments (or any workload with a pod template), ScaledObjects, ScaledJobs,
    /// TriggerAuthentications, Secrets, ConfigMaps.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR",
        required = true
    )]
    files: Vec<PathBuf>,
    /// Stop after this long (e.g. `150s`, `10m`) and exit 0.
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Write each replica's output to DIR/<replica>.log instead of the screen.
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Serve KEDA's Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// The HPA controller's sync period (Kubernetes' --horizontal-pod-autoscaler-sync-period).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    hpa_sync_period: Duration,
    /// Plain log lines even on a terminal (no table redrawn in place).
    #[arg(long)]
    plain: bool,
    /// Namespace whose Secrets ClusterTriggerAuthentications read (KEDA_CLUSTER_OBJECT_NAMESPACE).
    #[arg(long, default_value = "keda")]
    cluster_object_namespace: String,
}

pub(crate) fn run(args: Args) -> ExitCode {
    match run_local(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ebb run: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_local(args: Args) -> anyhow::Result<()> {
    if args.hpa_sync_period.is_zero() {
        anyhow::bail!("--hpa-sync-period must be more than 0");
    }
    let mut options = Options::new(args.files);
    options.log_dir = args.log_dir;
    options.metrics_addr = args.metrics_addr;
    options.hpa_sync_period = args.hpa_sync_period;
    options.terminal = !args.plain && std::io::stdout().is_terminal();
    options.cluster_object_namespace = args.cluster_object_namespace;
    let view = Arc::new(View::new(options.terminal));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let duration = args.duration;
    let summary = runtime.block_on(async {
        let shutdown = shutdown(duration, view.clone())?;
        ebb_local::run(options, view.clone(), shutdown)
            .await
            .map_err(anyhow::Error::from)
    })?;
    if !summary.problems.is_empty() {
        eprintln!(
            "ebb run: {} object(s) or file(s) were skipped (see the ERROR lines above)",
            summary.problems.len()
        );
    }
    Ok(())
}

/// Completes on SIGINT, SIGTERM or after `duration`.
fn shutdown(
    duration: Option<Duration>,
    view: Arc<View>,
) -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        let elapsed = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupt.recv() => view.log("SIGINT received"),
            _ = terminate.recv() => view.log("SIGTERM received"),
            () = elapsed => view.log(format!("--for {} elapsed", humantime::format_duration(duration.unwrap_or_default()))),
        }
    })
}
