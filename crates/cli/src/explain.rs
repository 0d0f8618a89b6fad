//! `ebb explain`: why an object scaled, or did not — its last decisions (time, outcome, trigger
//! values, reason) as a table or JSON, fetched from `/explain/<kind>/<namespace>/<name>` of
//! `ebb run --metrics-addr` or the operator.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use ebb_core::trace::{DecisionRecord, number};
use ebb_scalers::http::{HttpSettings, client_for};
use ebb_telemetry::explain::ExplainError;
use ebb_telemetry::{Explanation, ObjectType, explain_path};

/// Where `ebb explain` asks unless told: local mode's conventional `--metrics-addr`.
const DEFAULT_SERVER: &str = "http://127.0.0.1:9464";

/// Arguments of `ebb explain`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    ebb run -f app.yaml --metrics-addr 127.0.0.1:9464   # then, in another terminal:\n  \
    ebb explain scaledobject/default/worker\n  \
    ebb explain so/shop/orders --server http://localhost:8080 -o json   # the operator, port-forwarded\n\n\
    Records are kept in memory, the last 50 per object; identical consecutive decisions are one\n\
    record with a count.")]
pub(crate) struct Args {
    /// The object: `scaledobject/<namespace>/<name>` or `scaledjob/<namespace>/<name>` (also `so/…`,
    /// `sj/…`; `<kind>/<name>` means namespace `default`).
    #[arg(value_name = "KIND/NAMESPACE/NAME")]
    object: String,
    /// Where Ebb serves `/explain`: `ebb run --metrics-addr`, or the operator's metrics port.
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER)]
    server: String,
    /// `table` or `json` (the server's JSON, as is).
    #[arg(short, long, value_enum, default_value = "table")]
    output: Output,
    /// Only the last N records.
    #[arg(long, value_name = "N")]
    last: Option<usize>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Output {
    Table,
    Json,
}

pub(crate) fn run(args: Args) -> ExitCode {
    match explain(args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ebb explain: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `scaledobject/ns/name` → (type, namespace, name).
fn parse_object(text: &str) -> anyhow::Result<(ObjectType, String, String)> {
    let parts: Vec<&str> = text.split('/').collect();
    let (kind, namespace, name) = match parts.as_slice() {
        [kind, name] => (*kind, "default", *name),
        [kind, namespace, name] => (*kind, *namespace, *name),
        _ => bail!("expected scaledobject/<namespace>/<name>, got {text:?}"),
    };
    let Some(t) = ObjectType::parse(kind) else {
        bail!("unknown kind {kind:?} in {text:?}: use scaledobject or scaledjob");
    };
    if namespace.is_empty() || name.is_empty() {
        bail!("expected scaledobject/<namespace>/<name>, got {text:?}");
    }
    Ok((t, namespace.to_owned(), name.to_owned()))
}

fn explain(args: Args) -> anyhow::Result<String> {
    let (t, namespace, name) = parse_object(&args.object)?;
    let url = format!(
        "{}{}",
        args.server.trim_end_matches('/'),
        explain_path(t, &namespace, &name)
    );
    let (status, body) = fetch(&url).with_context(|| {
        format!(
            "cannot reach {}: is `ebb run --metrics-addr` or the operator serving there? (--server)",
            args.server
        )
    })?;
    if status != 200 {
        let message = serde_json::from_str::<ExplainError>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("HTTP {status} from {url}: {}", body.trim()));
        bail!("{message}");
    }
    let mut explanation: Explanation = serde_json::from_str(&body)
        .with_context(|| format!("{url} did not answer with decision records"))?;
    if let Some(n) = args.last {
        let skip = explanation.records.len().saturating_sub(n);
        explanation.records.drain(..skip);
    }
    Ok(match args.output {
        Output::Json => serde_json::to_string_pretty(&explanation)? + "\n",
        Output::Table => table(&explanation),
    })
}

fn fetch(url: &str) -> anyhow::Result<(u16, String)> {
    let client = client_for(&HttpSettings::with_timeout(Duration::from_secs(10)))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let response = client.get(url).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    })
}

/// The records as a table: TIME, OUTCOME, TRIGGERS, REASON (the long column last).
fn table(e: &Explanation) -> String {
    let mut out = format!(
        "{} {}/{}: {} decision record(s), oldest first (times UTC)\n",
        e.kind,
        e.namespace,
        e.name,
        e.records.len()
    );
    let mut rows = vec![["TIME", "OUTCOME", "TRIGGERS", "REASON"].map(String::from)];
    rows.extend(e.records.iter().map(row));
    let widths: Vec<usize> = (0..3)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn row(r: &DecisionRecord) -> [String; 4] {
    let time = r.time.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let outcome = match (r.count, r.since) {
        (n, Some(since)) if n > 1 => {
            format!("{} (×{n} since {})", r.summary, since.strftime("%H:%M:%S"))
        }
        _ => r.summary.clone(),
    };
    let triggers = match &r.hpa {
        Some(hpa) => hpa
            .metrics
            .iter()
            .map(|m| match (m.value, m.target) {
                (Some(v), Some(t)) => format!("{}={}/{}", m.metric_name, number(v), number(t)),
                _ => format!("{}=?", m.metric_name),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => r
            .triggers
            .iter()
            .map(|t| t.cell())
            .collect::<Vec<_>>()
            .join(" "),
    };
    [time, outcome, triggers, r.reason.clone()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_parse_with_short_kinds_and_a_default_namespace() {
        let p = |s: &str| parse_object(s).map_err(|e| e.to_string());
        assert_eq!(
            p("scaledobject/shop/worker"),
            Ok((ObjectType::ScaledObject, "shop".into(), "worker".into()))
        );
        assert_eq!(
            p("sj/jobs"),
            Ok((ObjectType::ScaledJob, "default".into(), "jobs".into()))
        );
        assert_eq!(
            p("deployment/a/b"),
            Err(
                "unknown kind \"deployment\" in \"deployment/a/b\": use scaledobject or scaledjob"
                    .into()
            )
        );
        assert_eq!(
            p("worker"),
            Err("expected scaledobject/<namespace>/<name>, got \"worker\"".into())
        );
    }

    #[test]
    fn the_default_server_is_local_modes_conventional_port() {
        assert_eq!(
            DEFAULT_SERVER,
            format!("http://127.0.0.1:{}", ebb_local::DEFAULT_METRICS_PORT)
        );
    }
}
