//! `ebb validate`: check manifests with KEDA's admission rules, kubectl-style input.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ebb_manifest::{Checked, LoadError, admission, load_paths};
use serde::Serialize;

/// Arguments of `ebb validate`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Files or directories (walked recursively for .yaml, .yml, .json); `-` reads stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-")]
    files: Vec<PathBuf>,
    /// The same as -f, for convenience.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

/// Exit codes: 0 all valid, 1 some object invalid, 2 some input unreadable.
const EXIT_INVALID: u8 = 1;
const EXIT_UNREADABLE: u8 = 2;

pub(crate) fn run(args: Args) -> ExitCode {
    let mut paths = args.files;
    paths.extend(args.paths);
    if paths.is_empty() {
        eprintln!("ebb validate: name at least one file, directory or - (stdin)");
        return ExitCode::from(EXIT_UNREADABLE);
    }
    let loaded = load_paths(&paths);
    let checked = ebb_manifest::check_documents(&loaded.documents);
    let skipped: Vec<Skipped> = loaded
        .documents
        .iter()
        .filter(|d| !admission::is_keda(d))
        .map(|d| Skipped {
            origin: d.origin.to_string(),
            kind: d.kind().to_owned(),
            name: d.display_name(),
        })
        .collect();
    let result = match args.output {
        Output::Text => print_text(&checked, &skipped, &loaded.errors),
        Output::Json => print_json(&checked, &skipped, &loaded.errors),
    };
    if let Err(e) = result {
        // A closed pipe (`| head`) is not an error worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("ebb validate: {e}");
        }
    }
    if !loaded.errors.is_empty() {
        ExitCode::from(EXIT_UNREADABLE)
    } else if checked.iter().any(|c| !c.is_valid()) {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(Serialize)]
struct Skipped {
    origin: String,
    kind: String,
    name: String,
}

fn print_text(
    checked: &[Checked],
    skipped: &[Skipped],
    errors: &[LoadError],
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for c in checked {
        if c.is_valid() {
            writeln!(out, "OK {} {}", c.kind, c.name)?;
        } else {
            let reasons: Vec<String> = c.violations.iter().map(ToString::to_string).collect();
            writeln!(
                out,
                "ERROR {} {} {}: {}",
                c.origin,
                c.kind,
                c.name,
                reasons.join("; ")
            )?;
        }
    }
    for e in errors {
        writeln!(out, "ERROR {e}")?;
    }
    out.flush()?;
    let mut err = std::io::stderr().lock();
    for s in skipped {
        writeln!(
            err,
            "note: {} {} {} skipped (not a keda.sh object)",
            s.origin, s.kind, s.name
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    objects: Vec<JsonObject<'a>>,
    skipped: &'a [Skipped],
    errors: Vec<String>,
}

#[derive(Serialize)]
struct JsonObject<'a> {
    origin: String,
    kind: &'a str,
    name: &'a str,
    valid: bool,
    violations: &'a [ebb_manifest::Violation],
}

fn print_json(
    checked: &[Checked],
    skipped: &[Skipped],
    errors: &[LoadError],
) -> std::io::Result<()> {
    let report = JsonReport {
        objects: checked
            .iter()
            .map(|c| JsonObject {
                origin: c.origin.to_string(),
                kind: &c.kind,
                name: &c.name,
                valid: c.is_valid(),
                violations: &c.violations,
            })
            .collect(),
        skipped,
        errors: errors.iter().map(ToString::to_string).collect(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report)?;
    writeln!(out)
}
