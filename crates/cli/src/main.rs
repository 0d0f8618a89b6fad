//! `ebb`: event-driven autoscaling, a drop-in replacement for KEDA. Each subcommand is a module.

mod check;
mod crds;
mod demo;
mod explain;
mod operator;
mod run;
mod simulate;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Event-driven autoscaling for Kubernetes, compatible with KEDA's keda.sh/v1alpha1 API.
#[derive(Parser)]
#[command(name = "ebb", version, about)]
struct Cli {
    /// Log lines as `text` or `json` (one JSON object per line, with object and trigger fields).
    /// Default: `json` for `ebb operator`, `text` otherwise.
    #[arg(long, global = true, value_name = "FORMAT", env = "EBB_LOG_FORMAT")]
    log_format: Option<ebb_telemetry::logging::LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build every trigger with auth from local files, measure once, print a row per trigger.
    Check(check::Args),
    /// Print the four keda.sh CustomResourceDefinitions as YAML.
    Crds(crds::Args),
    /// A demo producer and worker for the quickstart and tests (SQLite, Redis or RabbitMQ).
    #[command(hide = true)]
    Demo(demo::Args),
    /// Why an object scaled (or did not): its last decisions, from `ebb run` or the operator.
    Explain(explain::Args),
    /// Local mode: run the manifests' workloads as local processes, scaled like a cluster would.
    Run(run::Args),
    /// Run the Kubernetes operator (ScaledObjects, TriggerAuthentications, HPAs, scale loops).
    Operator(operator::Args),
    /// Simulate a ScaledObject or ScaledJob over a metric trace or a load model; chart and summary.
    Simulate(simulate::Args),
    /// Validate ScaledObject, ScaledJob and (Cluster)TriggerAuthentication manifests.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    // One TLS stack, chosen once: rustls with ring (see ARCHITECTURE.md). Already set is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let log_format = cli.log_format.unwrap_or(match cli.command {
        Command::Operator(_) => ebb_telemetry::logging::LogFormat::Json,
        _ => ebb_telemetry::logging::LogFormat::Text,
    });
    if let Err(e) = ebb_telemetry::logging::init(log_format) {
        eprintln!("ebb: {e}");
    }
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Crds(args) => crds::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Run(args) => run::run(args),
        Command::Operator(args) => operator::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Validate(args) => validate::run(args),
    }
}
