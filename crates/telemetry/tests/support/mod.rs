//! Shared by the tests: workspace paths, a small PromQL reader (the series and labels an
//! expression reads) and the registry with one sample of every family.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ebb_core::scaled_object::{Observed, TriggerObservation, decide};
use ebb_core::trace::DecisionRecord;
use ebb_core::{ScaledObjectPolicy, TriggerResult, TriggerSpec};
use ebb_telemetry::{BuildInfo, Metrics, ObjectType, ResourceType, ScalerKey};

/// Labels Prometheus adds to every scraped series.
pub(crate) const TARGET_LABELS: [&str; 2] = ["job", "instance"];

/// The workspace root.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// KEDA's dashboard: `$EBB_SHARED/keda/grafana/keda-dashboard.json`, else `<workspace>/../shared/…`.
/// Panics (fails the test) when missing: this check must not pass silently.
pub(crate) fn dashboard_path() -> PathBuf {
    let shared = std::env::var_os("EBB_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"));
    let path = shared.join("keda/grafana/keda-dashboard.json");
    assert!(
        path.is_file(),
        "KEDA's dashboard is not at {}: set EBB_SHARED to the shared/ directory",
        path.display()
    );
    path
}

/// Every PromQL expression of the dashboard: `targets[].expr` and templating queries.
pub(crate) fn expressions(dashboard: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, in_templating: bool, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                        ("query", serde_json::Value::String(s))
                            if in_templating && s.contains('(') =>
                        {
                            out.push(s.clone())
                        }
                        _ => walk(v, in_templating || k == "templating", out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(item, in_templating, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, false, &mut out);
    out
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Ident(String),
    Str(String),
    Open(char),
    Close(char),
    Comma,
    Other,
}

pub(crate) fn tokens(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(ch) = chars.get(i) {
                    s.push(*ch);
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Str(s));
        } else if c == '[' {
            // A range or subquery: `[5m]`.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == '(' || c == '{' {
            out.push(Token::Open(c));
            i += 1;
        } else if c == ')' || c == '}' {
            out.push(Token::Close(c));
            i += 1;
        } else if c == ',' {
            out.push(Token::Comma);
            i += 1;
        } else {
            out.push(Token::Other);
            i += 1;
        }
    }
    out
}

pub(crate) const KEYWORDS: [&str; 22] = [
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
];

/// One series an expression reads: its name, the labels it selects or groups by, and whether it
/// is read through `rate`/`increase` (so must be a counter).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SeriesUse {
    pub(crate) labels: BTreeSet<String>,
    pub(crate) counter: bool,
}

/// The series of one expression (also Grafana's `label_values(selector, label)`).
pub(crate) fn series_uses(expr: &str) -> BTreeMap<String, SeriesUse> {
    let toks = tokens(expr);
    let mut uses: BTreeMap<String, SeriesUse> = BTreeMap::new();
    let mut grouping = BTreeSet::new();
    // Enclosing function names, one per open parenthesis.
    let mut calls: Vec<String> = Vec::new();
    let mut last_metric: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Ident(id) if matches!(id.as_str(), "by" | "without") => {
                // `by (a, b)`: grouping labels.
                i += 2;
                while let Some(Token::Ident(l)) = toks.get(i) {
                    grouping.insert(l.clone());
                    i += if toks.get(i + 1) == Some(&Token::Comma) {
                        2
                    } else {
                        1
                    };
                }
                i += 1;
                continue;
            }
            Token::Ident(id) if toks.get(i + 1) == Some(&Token::Open('(')) => {
                calls.push(id.clone());
                i += 2;
                continue;
            }
            Token::Ident(id) if KEYWORDS.contains(&id.as_str()) => {}
            Token::Ident(id)
                if calls.last().is_some_and(|c| c == "label_values")
                    && i > 0
                    && toks[i - 1] == Token::Comma =>
            {
                // label_values(selector, label)
                if let Some(m) = &last_metric {
                    uses.entry(m.clone()).or_default().labels.insert(id.clone());
                }
            }
            Token::Ident(id) => {
                let counter = calls
                    .iter()
                    .any(|c| matches!(c.as_str(), "rate" | "irate" | "increase"));
                let entry = uses.entry(id.clone()).or_default();
                entry.counter |= counter;
                last_metric = Some(id.clone());
                if toks.get(i + 1) == Some(&Token::Open('{')) {
                    i += 2;
                    while i < toks.len() && toks[i] != Token::Close('}') {
                        if let (Token::Ident(l), Some(Token::Other)) = (&toks[i], toks.get(i + 1)) {
                            entry.labels.insert(l.clone());
                        }
                        i += 1;
                    }
                }
            }
            Token::Close(')') => {
                calls.pop();
            }
            _ => {}
        }
        i += 1;
    }
    for u in uses.values_mut() {
        u.labels.extend(grouping.iter().cloned());
    }
    uses
}

/// A scraped label name as the exporter wrote it.
pub(crate) fn exporter_label(label: &str) -> &str {
    label.strip_prefix("exported_").unwrap_or(label)
}

/// Sample names → label names, and family name → type, from a text exposition.
pub(crate) struct Exposition {
    pub(crate) samples: BTreeMap<String, BTreeSet<String>>,
    pub(crate) types: BTreeMap<String, String>,
}

pub(crate) fn parse_exposition(text: &str) -> Exposition {
    let mut samples: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(t)) = (parts.next(), parts.next()) {
                types.insert(name.to_owned(), t.to_owned());
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, labels) = match line.split_once('{') {
            Some((name, rest)) => (name, rest.split_once('}').map_or("", |(l, _)| l)),
            None => (line.split_whitespace().next().unwrap_or(""), ""),
        };
        let entry = samples.entry(name.to_owned()).or_default();
        // Label values are quoted and may hold commas: take the names before each `="`.
        for part in labels.split("\",") {
            if let Some((label, _)) = part.split_once("=\"") {
                entry.insert(label.trim_start_matches(',').to_owned());
            }
        }
    }
    Exposition { samples, types }
}

/// What the dashboard reads that the exposition lacks; empty when the dashboard works.
pub(crate) fn missing(exprs: &[String], exposition: &str, others: &[&str]) -> Vec<String> {
    let exp = parse_exposition(exposition);
    let mut problems = Vec::new();
    for expr in exprs {
        for (metric, u) in series_uses(expr) {
            if others.contains(&metric.as_str()) {
                continue;
            }
            let Some(have) = exp.samples.get(&metric) else {
                problems.push(format!("{metric}: not exported (in `{expr}`)"));
                continue;
            };
            for label in &u.labels {
                if TARGET_LABELS.contains(&label.as_str()) {
                    continue;
                }
                let label = exporter_label(label);
                if !have.contains(label) {
                    problems.push(format!("{metric}: no label {label} (in `{expr}`)"));
                }
            }
            if u.counter {
                // A counter's `_total`, or a histogram's `_count`/`_sum`/`_bucket`.
                let counter = metric
                    .strip_suffix("_total")
                    .is_some_and(|f| exp.types.get(f).is_some_and(|t| t == "counter"));
                let histogram = ["_count", "_sum", "_bucket"].iter().any(|s| {
                    metric
                        .strip_suffix(s)
                        .is_some_and(|f| exp.types.get(f).is_some_and(|t| t == "histogram"))
                });
                if !counter && !histogram {
                    problems.push(format!("{metric}: read with rate() but not a counter"));
                }
            }
        }
    }
    problems
}

/// Every family of the registry with one sample.
pub(crate) fn one_sample_of_each_family() -> String {
    let m = Metrics::new(&BuildInfo {
        version: "0.1.0".into(),
        git_commit: "abc".into(),
        toolchain: "rustc".into(),
    });
    let key = ScalerKey {
        namespace: "shop".into(),
        object: "worker".into(),
        object_type: ObjectType::ScaledObject,
        metric: "s0-rabbitmq-orders".into(),
        scaler: "rabbitmqScaler".into(),
        trigger_index: 0,
    };
    m.record_measurement(&key, 37.0, true, 0.01);
    m.record_scaler_error(&key);
    m.record_object_error(ObjectType::ScaledJob, "shop", "jobs");
    m.set_paused("shop", "worker", false);
    m.register_trigger("rabbitmq");
    m.register_resource(ResourceType::ScaledObject, "shop");
    m.record_loop_latency(ObjectType::ScaledObject, "shop", "worker", 0.002);
    m.record_webhook_validation("shop", "create", Some("incorrect-replicas"));
    m.record_metrics_api_request("metric_value", 200, 0.004);
    let policy = ScaledObjectPolicy {
        triggers: vec![TriggerSpec {
            metric_name: "s0-rabbitmq-orders".into(),
            target: 5.0,
            ..TriggerSpec::default()
        }],
        ..ScaledObjectPolicy::default()
    };
    let now = jiff::Timestamp::from_second(1_767_225_600).unwrap();
    let observed = Observed {
        current_replicas: Some(0),
        ready_replicas: Some(0),
        triggers: vec![TriggerObservation::new(TriggerResult::value(37.0))],
        last_active_time: None,
        creation_time: now,
    };
    let d = decide(&policy, &observed, now);
    m.record_decision(
        ObjectType::ScaledObject,
        "shop",
        "worker",
        DecisionRecord::scaled_object(&policy, Some(0), &d, now),
    );
    m.encode()
}
