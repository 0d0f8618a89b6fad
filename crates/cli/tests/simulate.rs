//! `ebb simulate` end to end: the built binary on examples/simulate reproduces the committed charts
//! and the summaries the README quotes, and bad input gets a clear error.

// Integration tests are tests: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/simulate")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ebb-simulate-cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebb"))
        .current_dir(examples())
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ebb failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A small well-formedness check: every tag closes in order, attributes are quoted, text has no
/// raw `<` or stray `&`, and the root is `<svg>`.
fn assert_well_formed_svg(svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg.trim();
    assert!(rest.starts_with("<svg"), "root must be <svg>");
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert!(
            !stack.is_empty() || text.trim().is_empty(),
            "text outside the root: {text:?}"
        );
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "stray & in {text:?}"
            );
        }
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            let name = tag.split_whitespace().next().unwrap_or_default();
            stack.push(name.to_owned());
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    assert!(rest.trim().is_empty(), "trailing text: {rest:?}");
}

#[test]
fn spike_example_prints_its_summary_and_reproduces_the_committed_chart() {
    let svg = scratch("spike.svg");
    let out = ebb(&[
        "simulate",
        "-f",
        "spike-scaledobject.yaml",
        "--arrivals",
        "spike-arrivals.csv",
        "--per-replica-rate",
        "500",
        "--startup-delay",
        "10s",
        "--out",
        svg.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    for line in [
        "ScaledObject events/ingest",
        "peak backlog: 7,220,833 at t=145s",
        "drained: backlog back to 0 at t=222s (77s after the peak)",
        "max replicas: 200 (first at t=135s); max ready: 200",
        "scale events: 10",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert_well_formed_svg(&chart);
    for series in [
        "ScaledObject events/ingest",
        "backlog (left axis)",
        "desired replicas",
        "ready replicas",
        "replicas needed to keep up",
        "arrivals (up to 83,333/s)",
        "0→1→5",
        "→200",
        "time (s)",
        "backlog (messages)",
    ] {
        assert!(chart.contains(series), "chart lacks {series:?}");
    }
    assert!(
        chart.matches("<polyline").count() >= 4,
        "metric, needed, desired and ready lines"
    );
    let committed = std::fs::read_to_string(examples().join("spike.svg")).unwrap();
    assert!(
        committed == chart,
        "examples/simulate/spike.svg is stale: rerun the README command"
    );
}

#[test]
fn every_readme_example_reproduces_its_committed_outputs() {
    let runs: &[(&[&str], &str, &str)] = &[
        (
            &["-f", "trace-scaledobject.yaml", "--trace", "trace.csv"],
            "trace.svg",
            "peak orders: 190 at t=150s",
        ),
        (
            &[
                "-f",
                "load-scaledobject.yaml",
                "--arrivals",
                "load-arrivals.csv",
                "--per-replica-rate",
                "50",
                "--startup-delay",
                "10s",
            ],
            "load.svg",
            "peak backlog: 11,000 at t=490s",
        ),
        (
            &[
                "-f",
                "job-scaledjob.yaml",
                "--arrivals",
                "job-arrivals.csv",
                "--startup-delay",
                "5s",
                "--job-duration",
                "45s",
            ],
            "job.svg",
            "jobs created: 212 in 15 polls",
        ),
    ];
    for (args, svg_name, expected) in runs {
        let svg = scratch(svg_name);
        let mut all = vec!["simulate"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", svg.to_str().unwrap()]);
        let text = stdout(&ebb(&all));
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        let chart = std::fs::read_to_string(&svg).unwrap();
        assert_well_formed_svg(&chart);
        let committed = std::fs::read_to_string(examples().join(svg_name)).unwrap();
        assert!(
            committed == chart,
            "examples/simulate/{svg_name} is stale: rerun the README command"
        );
    }
}

#[test]
fn the_csv_series_has_one_row_per_second() {
    let csv = scratch("trace-series.csv");
    let out = ebb(&[
        "simulate",
        "-f",
        "trace-scaledobject.yaml",
        "--trace",
        "trace.csv",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    stdout(&out);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "time_s,orders,backlog,arrivals_per_s,needed_replicas,desired_replicas,ready_replicas,active,events"
        )
    );
    assert_eq!(lines.next(), Some("0,0,,0,,0,0,false,"));
    assert!(text.contains("\n60,12,,0,,1,1,true,keda:0->1\n"), "{text}");
    assert_eq!(
        text,
        std::fs::read_to_string(examples().join("trace-series.csv")).unwrap()
    );
}

fn failure(args: &[&str]) -> String {
    let out = ebb(args);
    assert!(
        !out.status.success(),
        "expected failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn bad_trace_csv_names_file_line_and_column() {
    let trace = scratch("bad-trace.csv");
    std::fs::write(&trace, "time_s,orders\n0,3\n30,-2\n").unwrap();
    let err = failure(&[
        "simulate",
        "-f",
        "trace-scaledobject.yaml",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(
        err.contains("bad-trace.csv: line 3, column 2: metric value \"-2\" of trigger orders (s0-rabbitmq-orders) is negative"),
        "{err}"
    );
    std::fs::write(&trace, "time_s,queue\n0,3\n").unwrap();
    let err = failure(&[
        "simulate",
        "-f",
        "trace-scaledobject.yaml",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(
        err.contains(
            "line 1, column 2: unknown trigger \"queue\"; known: orders (s0-rabbitmq-orders)"
        ),
        "{err}"
    );
}

#[test]
fn an_invalid_scaled_object_is_refused_by_admission_first() {
    let so = scratch("invalid.yaml");
    std::fs::write(
        &so,
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: w}\nspec:\n  scaleTargetRef: {name: w}\n  minReplicaCount: 5\n  maxReplicaCount: 2\n  triggers:\n  - type: redis\n    metadata: {address: \"r:6379\", listName: jobs}\n",
    )
    .unwrap();
    let err = failure(&[
        "simulate",
        "-f",
        so.to_str().unwrap(),
        "--trace",
        "trace.csv",
    ]);
    assert!(
        err.contains("ScaledObject default/w is invalid: spec.minReplicaCount"),
        "{err}"
    );
    let err = failure(&["simulate", "-f", "trace-scaledobject.yaml"]);
    assert!(err.contains("give --trace CSV or --arrivals CSV"), "{err}");
}
