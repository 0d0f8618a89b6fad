//! `ebb simulate`: run a ScaledObject or ScaledJob over a metric trace or a load model, print the
//! summary, write an SVG chart (and optionally the per-second CSV).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use ebb_core::TriggerKind;
use ebb_manifest::policy::{
    Resolution, hpa_spec, scaled_job_policy, scaled_object_policy, trigger_specs,
};
use ebb_manifest::{KedaObject, check_documents, load_paths};
use ebb_simulate::{
    Arrivals, Inputs, LoadModel, ScaledJobModel, ScaledObjectModel, Settings, Simulation, Trace,
    chart, simulate_scaled_job, simulate_scaled_object,
};

/// Arguments of `ebb simulate`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    ebb simulate -f scaledobject.yaml --trace trace.csv --out chart.svg --csv out.csv\n  \
    ebb simulate -f so.yaml --arrivals rate.csv --per-replica-rate 50 --startup-delay 10s --out chart.svg")]
pub(crate) struct Args {
    /// The ScaledObject or ScaledJob (checked with KEDA's admission rules first).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
    /// Which object, when the file holds several (`name` or `namespace/name`).
    #[arg(long)]
    name: Option<String>,
    /// Metric values over time: `time_s,<trigger name or metric name>…` (step-wise; an empty cell
    /// is a scaler failure).
    #[arg(long, value_name = "CSV")]
    trace: Option<PathBuf>,
    /// Load model: events arriving per second over time, `time_s,events_per_s` (step-wise).
    #[arg(long, value_name = "CSV")]
    arrivals: Option<PathBuf>,
    /// Load model: events each ready replica consumes per second (ScaledJobs: ignored, each Job
    /// takes one message).
    #[arg(long, value_name = "N")]
    per_replica_rate: Option<f64>,
    /// Load model: the trigger whose metric is the queue (default: the first that is not cpu/memory).
    #[arg(long, value_name = "NAME")]
    trigger: Option<String>,
    /// Load model: messages already waiting at t=0.
    #[arg(long, value_name = "N", default_value_t = 0.0)]
    initial_backlog: f64,
    /// Time from creating a pod to it being ready, e.g. `10s`.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = seconds)]
    startup_delay: u32,
    /// Time to simulate, e.g. `20m` (default: until the workload settles after the last input row).
    #[arg(long, value_name = "DURATION", value_parser = seconds)]
    duration: Option<u32>,
    /// The HPA controller's sync period.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = seconds)]
    hpa_sync_period: u32,
    /// Replicas at t=0 (default: idleReplicaCount, else minReplicaCount, else 0).
    #[arg(long, value_name = "N")]
    initial_replicas: Option<u32>,
    /// ScaledJobs: how long one Job works on its message.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = seconds)]
    job_duration: u32,
    /// Where to write the SVG chart.
    #[arg(long, value_name = "SVG")]
    out: Option<PathBuf>,
    /// Where to write the per-second series as CSV.
    #[arg(long, value_name = "CSV")]
    csv: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> ExitCode {
    match simulate(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ebb simulate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn simulate(args: &Args) -> anyhow::Result<()> {
    if args.trace.is_none() && args.arrivals.is_none() {
        bail!("give --trace CSV or --arrivals CSV with --per-replica-rate");
    }
    let object = load_object(&args.file, args.name.as_deref())?;
    let settings = Settings {
        duration: args.duration,
        hpa_sync_period: args.hpa_sync_period,
        startup_delay: args.startup_delay,
        initial_replicas: args.initial_replicas,
        job_duration: args.job_duration,
    };
    let sim = match &object {
        KedaObject::ScaledObject(so) => {
            let policy = scaled_object_policy(so).context("ScaledObject")?;
            let model = ScaledObjectModel {
                title: format!("ScaledObject {}", title(&so.metadata)),
                hpa: hpa_spec(so).context("ScaledObject")?,
                polling_interval: so.spec.polling_interval().unsigned_abs(),
                policy,
            };
            if args.arrivals.is_some() && args.per_replica_rate.is_none() {
                bail!(
                    "--arrivals needs --per-replica-rate: events each ready replica consumes per second"
                );
            }
            let inputs = inputs(args, &model.policy.triggers)?;
            simulate_scaled_object(&model, &inputs, &settings)?
        }
        KedaObject::ScaledJob(sj) => {
            let model = ScaledJobModel {
                title: format!("ScaledJob {}", title(&sj.metadata)),
                policy: scaled_job_policy(sj).context("ScaledJob")?,
                triggers: trigger_specs(&sj.spec.triggers, false, Resolution::Offline)
                    .context("ScaledJob")?,
                polling_interval: sj.spec.polling_interval().unsigned_abs(),
            };
            let inputs = inputs(args, &model.triggers)?;
            simulate_scaled_job(&model, &inputs, &settings)?
        }
        _ => bail!(
            "{}: expected a ScaledObject or a ScaledJob",
            args.file.display()
        ),
    };
    write_outputs(args, &sim)?;
    println!("{}", sim.title);
    println!("{}", sim.summary);
    if let Some(out) = &args.out {
        println!("chart: {}", out.display());
    }
    if let Some(csv) = &args.csv {
        println!("series: {}", csv.display());
    }
    Ok(())
}

/// The one ScaledObject or ScaledJob in the file, after admission.
fn load_object(file: &Path, name: Option<&str>) -> anyhow::Result<KedaObject> {
    let loaded = load_paths(&[file.to_path_buf()]);
    if let Some(e) = loaded.errors.first() {
        bail!("{e}");
    }
    let checked: Vec<_> = check_documents(&loaded.documents)
        .into_iter()
        .filter(|c| matches!(c.kind.as_str(), "ScaledObject" | "ScaledJob"))
        .filter(|c| name.is_none_or(|n| c.name == n || c.name.rsplit('/').next() == Some(n)))
        .collect();
    let c = match checked.as_slice() {
        [one] => one,
        [] => bail!(
            "{}: no ScaledObject or ScaledJob{}",
            file.display(),
            name.map(|n| format!(" named {n:?}")).unwrap_or_default()
        ),
        many => bail!(
            "{}: {} objects; choose one with --name ({})",
            file.display(),
            many.len(),
            many.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if !c.is_valid() {
        let reasons: Vec<String> = c.violations.iter().map(ToString::to_string).collect();
        bail!(
            "{} {} {} is invalid: {}",
            c.origin,
            c.kind,
            c.name,
            reasons.join("; ")
        );
    }
    c.object
        .as_deref()
        .cloned()
        .with_context(|| format!("{} {} {} could not be read", c.origin, c.kind, c.name))
}

fn inputs(args: &Args, triggers: &[ebb_core::TriggerSpec]) -> anyhow::Result<Inputs> {
    let trace = match &args.trace {
        Some(path) => {
            let text = read(path)?;
            Some(Trace::parse(&text, triggers).with_context(|| path.display().to_string())?)
        }
        None => None,
    };
    let load = match &args.arrivals {
        Some(path) => {
            let text = read(path)?;
            let arrivals = Arrivals::parse(&text).with_context(|| path.display().to_string())?;
            let names: Vec<String> = triggers
                .iter()
                .filter(|t| t.kind == TriggerKind::External)
                .map(|t| {
                    if t.name.is_empty() {
                        t.metric_name.clone()
                    } else {
                        t.name.clone()
                    }
                })
                .collect();
            let trigger = match &args.trigger {
                Some(n) => triggers
                    .iter()
                    .position(|t| {
                        (t.name == *n || t.metric_name == *n) && t.kind == TriggerKind::External
                    })
                    .with_context(|| {
                        format!(
                            "--trigger {n:?}: no such trigger; known: {}",
                            names.join(", ")
                        )
                    })?,
                None => triggers
                    .iter()
                    .position(|t| t.kind == TriggerKind::External)
                    .context("the load model needs a trigger that is not cpu or memory")?,
            };
            Some(LoadModel {
                arrivals,
                // ScaledJobs ignore it: each Job takes one message.
                per_replica_rate: args.per_replica_rate.unwrap_or(1.0),
                trigger,
                initial_backlog: args.initial_backlog,
            })
        }
        None => None,
    };
    Ok(Inputs { trace, load })
}

fn write_outputs(args: &Args, sim: &Simulation) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        let svg = chart::svg(sim)?;
        std::fs::write(out, svg).with_context(|| format!("writing {}", out.display()))?;
    }
    if let Some(csv) = &args.csv {
        std::fs::write(csv, sim.to_csv()).with_context(|| format!("writing {}", csv.display()))?;
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn title(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// `10s`, `2m`, `1h30m` or plain seconds, as whole seconds.
fn seconds(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if let Ok(s) = text.parse::<u32>() {
        return Ok(s);
    }
    let d: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration like 10s, 2m or 1h30m: {e}"))?;
    if d.is_negative() || d.subsec_nanos() != 0 {
        return Err(format!(
            "{text:?} must be a whole number of seconds, 0 or more"
        ));
    }
    u32::try_from(d.as_secs()).map_err(|_| format!("{text:?} is too long"))
}
