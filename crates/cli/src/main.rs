//! `ebb`: event-driven autoscaling, a drop-in replacement for KEDA. Each subcommand is a module.

mod crds;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Event-driven autoscaling for Kubernetes, compatible with KEDA's keda.sh/v1alpha1 API.
#[derive(Parser)]
#[command(name = "ebb", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the four keda.sh CustomResourceDefinitions as YAML.
    Crds(crds::Args),
    /// Validate ScaledObject, ScaledJob and (Cluster)TriggerAuthentication manifests.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds(args) => crds::run(args),
        Command::Validate(args) => validate::run(args),
    }
}
