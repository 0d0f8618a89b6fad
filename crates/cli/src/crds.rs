//! `ebb crds`: print the four keda.sh CustomResourceDefinitions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `ebb crds`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Write one file per CRD (`keda.sh_<plural>.yaml`) into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> ExitCode {
    match write(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ebb crds: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn write(args: &Args) -> anyhow::Result<()> {
    let Some(dir) = &args.out else {
        print!("{}", ebb_api::crds::all_to_yaml()?);
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for crd in ebb_api::crds::all() {
        let path = dir.join(ebb_api::crds::file_name(&crd));
        std::fs::write(&path, ebb_api::crds::to_yaml(&crd)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
