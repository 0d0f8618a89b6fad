//! `ebb crds`: print the four keda.sh CustomResourceDefinitions.

use std::process::ExitCode;

/// Arguments of `ebb crds`.
#[derive(clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> ExitCode {
    eprintln!("ebb crds: not built yet");
    ExitCode::FAILURE
}
