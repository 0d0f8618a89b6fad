//! `ebb check`: build every trigger of the given ScaledObjects/ScaledJobs with auth resolved from
//! local files, measure each once, and print a row per trigger.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ebb_api::trigger::ScaleTriggers;
use ebb_manifest::auth::resolve_trigger;
use ebb_manifest::objects::FileObjects;
use ebb_manifest::{KedaObject, load_paths, policy};
use ebb_scalers::{Clients, Poll, Scaler, registry};
use k8s_openapi::api::core::v1::PodSpec;

/// Arguments of `ebb check`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Manifests holding ScaledObjects/ScaledJobs (and optionally their workloads, Secrets,
    /// ConfigMaps and TriggerAuthentications).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    files: Vec<PathBuf>,
    /// More manifests to resolve auth from: Secrets, ConfigMaps, (Cluster)TriggerAuthentications.
    #[arg(long, value_name = "FILE|DIR")]
    secrets: Vec<PathBuf>,
    /// KEY=VALUE lines standing in for the scale target container's env (`<key>FromEnv`).
    #[arg(long, value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Namespace whose Secrets ClusterTriggerAuthentications read (KEDA_CLUSTER_OBJECT_NAMESPACE).
    #[arg(long, default_value = "keda")]
    cluster_object_namespace: String,
    /// Build and validate every trigger without measuring (no network).
    #[arg(long)]
    offline: bool,
    /// Give up on a trigger's measurement after this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

pub(crate) fn run(args: Args) -> ExitCode {
    match check(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ebb check: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// One trigger ready to measure, or the reason it is not.
struct Row {
    object: String,
    index: usize,
    trigger: ScaleTriggers,
    built: Result<Box<dyn Scaler>, String>,
}

fn check(args: Args) -> anyhow::Result<bool> {
    let loaded = load_paths(&args.files);
    let extra = load_paths(&args.secrets);
    if let Some(e) = loaded.errors.iter().chain(&extra.errors).next() {
        bail!("{e}");
    }
    let checked = ebb_manifest::check_documents(&loaded.documents);
    let mut ok = true;
    for c in checked.iter().filter(|c| !c.is_valid()) {
        ok = false;
        let reasons: Vec<String> = c.violations.iter().map(ToString::to_string).collect();
        println!(
            "ERROR {} {} {}: {}",
            c.origin,
            c.kind,
            c.name,
            reasons.join("; ")
        );
    }
    if !ok {
        return Ok(false);
    }
    let objects = FileObjects::from_documents(
        loaded.documents.iter().chain(&extra.documents),
        &args.cluster_object_namespace,
    );
    let env_overlay = read_env_files(&args.env_file)?;
    let clients = Clients::named("ebb-check");
    let mut rows = Vec::new();
    for doc in &loaded.documents {
        match doc.keda() {
            Some(KedaObject::ScaledObject(so)) => {
                let ns = so.metadata.namespace.as_deref().unwrap_or("default");
                let target = &so.spec.scale_target_ref;
                let pod = objects.pod_spec(target.kind(), ns, &target.name);
                let modifiers = so.spec.scaling_modifiers().is_some();
                let ctx = Ctx {
                    namespace: ns,
                    name: so.metadata.name.as_deref().unwrap_or_default(),
                    pod: pod.as_ref(),
                    container: target.env_source_container_name.as_deref(),
                };
                let name = format!(
                    "ScaledObject {ns}/{}",
                    so.metadata.name.as_deref().unwrap_or("")
                );
                rows.extend(build_rows(
                    &name,
                    &so.spec.triggers,
                    modifiers,
                    &ctx,
                    &objects,
                    &env_overlay,
                    &clients,
                ));
            }
            Some(KedaObject::ScaledJob(sj)) => {
                let ns = sj.metadata.namespace.as_deref().unwrap_or("default");
                let pod = sj.spec.job_target_ref.template.spec.clone();
                let ctx = Ctx {
                    namespace: ns,
                    name: sj.metadata.name.as_deref().unwrap_or_default(),
                    pod: pod.as_ref(),
                    container: sj.spec.env_source_container_name.as_deref(),
                };
                let name = format!(
                    "ScaledJob {ns}/{}",
                    sj.metadata.name.as_deref().unwrap_or("")
                );
                rows.extend(build_rows(
                    &name,
                    &sj.spec.triggers,
                    false,
                    &ctx,
                    &objects,
                    &env_overlay,
                    &clients,
                ));
            }
            _ => {}
        }
    }
    if rows.is_empty() {
        bail!("no ScaledObject or ScaledJob in the given files");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let results = runtime.block_on(measure_all(&rows, args.offline, args.timeout));
    print_table(&rows, &results);
    Ok(results.iter().all(|r| r.is_ok()) && rows.iter().all(|r| r.built.is_ok()))
}

struct Ctx<'a> {
    namespace: &'a str,
    name: &'a str,
    pod: Option<&'a PodSpec>,
    container: Option<&'a str>,
}

fn build_rows(
    object: &str,
    triggers: &[ScaleTriggers],
    as_metric_source: bool,
    ctx: &Ctx<'_>,
    objects: &FileObjects,
    env_overlay: &BTreeMap<String, String>,
    clients: &Clients,
) -> Vec<Row> {
    triggers
        .iter()
        .enumerate()
        .map(|(index, trigger)| {
            let built = resolve_trigger(trigger, ctx.namespace, ctx.pod, ctx.container, objects)
                .map_err(|e| format!("{}: {e}", e.reason()))
                .and_then(|mut resolved| {
                    resolved.resolved_env.extend(env_overlay.clone());
                    let params =
                        policy::trigger_params(index, trigger, as_metric_source, Some(&resolved))
                            .with_scaled_object(ctx.name, ctx.namespace);
                    registry::build(&params, clients).map_err(|e| format!("{}: {e}", e.reason()))
                });
            Row {
                object: object.to_owned(),
                index,
                trigger: trigger.clone(),
                built,
            }
        })
        .collect()
}

/// What one measurement gave: values and activity, and how long it took.
type Measured = Result<Option<(ebb_scalers::Measurement, Duration)>, String>;

async fn measure_all(rows: &[Row], offline: bool, timeout: Duration) -> Vec<Measured> {
    let poll = Poll::new();
    let futures = rows.iter().map(|row| {
        let poll = &poll;
        async move {
            let scaler = match &row.built {
                Ok(s) => s,
                Err(e) => return Err(e.clone()),
            };
            if offline {
                return Ok(None);
            }
            let start = Instant::now();
            match tokio::time::timeout(timeout, scaler.measure(poll)).await {
                Ok(Ok(m)) => Ok(Some((m, start.elapsed()))),
                Ok(Err(e)) => Err(format!("{}: {}", e.reason().as_str(), e.full_message())),
                Err(_) => Err(format!("timeout: no answer within {timeout:?}")),
            }
        }
    });
    futures::future::join_all(futures).await
}

fn print_table(rows: &[Row], results: &[Measured]) {
    let mut table = vec![
        [
            "OBJECT",
            "TRIGGER",
            "TYPE",
            "METRIC",
            "VALUE",
            "TARGET",
            "ACTIVATION",
            "ACTIVE",
            "LATENCY",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let mut errors = Vec::new();
    for (row, result) in rows.iter().zip(results) {
        let trigger = match row.trigger.name() {
            "" => format!("#{}", row.index),
            name => format!("#{} {name}", row.index),
        };
        let spec = row
            .built
            .as_ref()
            .ok()
            .and_then(|s| s.metric_specs().into_iter().next());
        let (metric, target, activation) = match &spec {
            Some(s) => (
                s.metric_name.clone(),
                s.target.to_quantity(),
                format_value(s.activation_threshold),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let (value, active, latency) = match result {
            Ok(Some((m, took))) => (
                m.values
                    .first()
                    .map(|v| format_value(v.value))
                    .unwrap_or_else(|| "-".into()),
                m.is_active.to_string(),
                format!("{:.1}ms", took.as_secs_f64() * 1e3),
            ),
            Ok(None) => ("(offline)".into(), "-".into(), "-".into()),
            Err(e) => {
                errors.push(format!(
                    "{} trigger {trigger} ({}): {e}",
                    row.object, row.trigger.type_
                ));
                ("ERROR".into(), "-".into(), "-".into())
            }
        };
        table.push(vec![
            row.object.clone(),
            trigger,
            row.trigger.type_.clone(),
            metric,
            value,
            target,
            activation,
            active,
            latency,
        ]);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in &table {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    for e in errors {
        println!("error: {e}");
    }
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// `KEY=VALUE` lines; blank lines and `#` comments are skipped, `export ` prefixes allowed.
fn read_env_files(paths: &[PathBuf]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for path in paths {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((k, v)) = line.split_once('=') else {
                bail!("{}:{}: expected KEY=VALUE", path.display(), n + 1);
            };
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            env.insert(k.trim().to_owned(), v.to_owned());
        }
    }
    Ok(env)
}
