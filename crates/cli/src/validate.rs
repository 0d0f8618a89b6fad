//! `ebb validate`: check manifests with KEDA's admission rules.

use std::process::ExitCode;

/// Arguments of `ebb validate`.
#[derive(clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> ExitCode {
    eprintln!("ebb validate: not built yet");
    ExitCode::FAILURE
}
