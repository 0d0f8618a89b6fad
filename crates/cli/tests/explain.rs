//! `ebb explain` end to end against `ebb run` (a SQLite trigger that reads 37, target 5, max 4):
//! the records say why it scaled 0→1 and 1→4, as a table and as JSON; and `--log-format json`
//! makes `ebb run` print JSON lines with object and trigger fields.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const EBB: &str = env!("CARGO_BIN_EXE_ebb");

fn manifest(dir: &Path) -> String {
    let db = dir.join("queue.db");
    std::fs::write(&db, b"").unwrap();
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: default}}
spec:
  replicas: 0
  template:
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: worker
        command: ["sleep", "1000"]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: worker, namespace: default}}
spec:
  scaleTargetRef: {{name: worker}}
  pollingInterval: 1
  maxReplicaCount: 4
  triggers:
  - type: sqlite
    metadata: {{path: "{}", query: "SELECT 37", targetQueryValue: "5"}}
"#,
        db.display()
    )
}

/// `ebb run` with `extra` flags; its stdout lines arrive on the receiver.
fn start(dir: &Path, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    std::fs::write(dir.join("app.yaml"), manifest(dir)).unwrap();
    let mut child = Command::new(EBB)
        .args(extra)
        .args(["run", "--plain", "--hpa-sync-period", "2s", "--for", "12s"])
        .args(["--metrics-addr", "127.0.0.1:0", "-f"])
        .arg(dir.join("app.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn explain(server: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(EBB)
        .args(["explain", "scaledobject/default/worker", "--server", server])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_shows_why_local_mode_scaled_as_a_table_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let (child, lines) = start(dir.path(), &[]);
    let mut addr = None;
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(10)) {
        if let Some(rest) = line.split("serving Prometheus metrics on ").nth(1) {
            addr = Some(rest.trim_end_matches("/metrics").to_owned());
            break;
        }
    }
    let server = addr.expect("ebb run announces its metrics address");
    // Wait for the poll (0→1), the HPA's sync (1→4) and a poll after it to be recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    let records = loop {
        let (code, out, err) = explain(&server, &["-o", "json"]);
        assert_eq!(code, Some(0), "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        let records = v["records"].as_array().unwrap().clone();
        let after_hpa = records
            .iter()
            .skip_while(|r| r["outcome"] != "hpa_scaled")
            .any(|r| r["outcome"] == "active");
        if after_hpa || Instant::now() > deadline {
            assert_eq!(v["kind"], "ScaledObject");
            assert_eq!(v["capacity"], 50);
            break records;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let first = &records[0];
    assert_eq!(first["outcome"], "activated");
    assert_eq!(first["summary"], "scaled 0→1");
    assert_eq!(
        first["reason"],
        "scaled 0→1: trigger s0-sqlite active, 37 > 0"
    );
    assert_eq!(first["currentReplicas"], 0);
    assert_eq!(first["scaleTo"], 1);
    assert_eq!(first["triggers"][0]["metricName"], "s0-sqlite");
    assert_eq!(first["triggers"][0]["value"], 37.0);
    assert_eq!(first["triggers"][0]["target"], 5.0);
    assert_eq!(first["triggers"][0]["active"], true);
    // No trigger metadata (the path or the query) is copied into a record.
    let all = serde_json::to_string(&records).unwrap();
    assert!(
        !all.contains("SELECT") && !all.contains("queue.db"),
        "{all}"
    );
    let hpa = records
        .iter()
        .find(|r| r["outcome"] == "hpa_scaled")
        .expect("the HPA's sync is recorded");
    assert_eq!(hpa["summary"], "hpa scaled 1→4");
    assert_eq!(
        hpa["reason"],
        "hpa scaled 1→4: metrics s0-sqlite 37/5 want 8, set 4 (TooManyReplicas)"
    );
    assert_eq!(hpa["hpa"]["wanted"], 8);
    assert_eq!(hpa["hpa"]["maxReplicas"], 4);
    assert_eq!(hpa["hpa"]["metrics"][0]["value"], 37.0);
    let active = records.iter().rfind(|r| r["outcome"] == "active").unwrap();
    assert_eq!(
        active["reason"],
        "active (trigger s0-sqlite active, 37 > 0); HPA owns 4 replicas"
    );

    let (code, table, err) = explain(&server, &[]);
    assert_eq!(code, Some(0), "{err}");
    let mut rows = table.lines();
    assert!(
        rows.next()
            .unwrap()
            .starts_with("ScaledObject default/worker: "),
        "{table}"
    );
    let header: Vec<&str> = rows.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["TIME", "OUTCOME", "TRIGGERS", "REASON"]);
    let row = rows.next().unwrap();
    assert!(
        row.contains("  scaled 0→1  ")
            && row.contains("  s0-sqlite=37/5 active  ")
            && row.ends_with("  scaled 0→1: trigger s0-sqlite active, 37 > 0"),
        "{table}"
    );
    let (code, last, _) = explain(&server, &["--last", "1", "-o", "json"]);
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["records"].as_array().map(Vec::len), Some(1));

    let out = Command::new(EBB)
        .args(["explain", "so/default/nope", "--server", &server])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ebb explain: no decisions recorded for ScaledObject default/nope; known: scaledobject/default/worker\n"
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn explain_says_where_it_looked_when_nothing_serves() {
    let out = Command::new(EBB)
        .args([
            "explain",
            "scaledobject/default/worker",
            "--server",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "ebb explain: cannot reach http://127.0.0.1:9: is `ebb run --metrics-addr` or the operator serving there? (--server)"
        ),
        "{err}"
    );
}

#[test]
fn run_with_json_logs_prints_json_lines_with_object_and_trigger_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines) = start(dir.path(), &["--log-format", "json"]);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        let done = v["outcome"] == "hpa_scaled";
        seen.push(v);
        if done {
            break;
        }
    }
    // SIGTERM: ebb run stops and reaps its workers (SIGKILL would orphan them).
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let decision = seen
        .iter()
        .find(|v| v["target"] == "ebb::decision" && v["outcome"] == "activated")
        .unwrap_or_else(|| panic!("no activation line in {seen:#?}"));
    assert_eq!(decision["level"], "INFO");
    assert_eq!(decision["kind"], "ScaledObject");
    assert_eq!(decision["namespace"], "default");
    assert_eq!(decision["name"], "worker");
    assert_eq!(
        decision["message"],
        "scaled 0→1: trigger s0-sqlite active, 37 > 0"
    );
    assert_eq!(decision["trigger"], "s0-sqlite");
    assert_eq!(decision["value"], 37.0);
    assert_eq!(decision["triggers"], "s0-sqlite=37/5 active");
    assert_eq!(decision["scale_to"], 1);
    // Lines about an object carry it as fields, with the message after the prefix.
    assert!(
        seen.iter().any(|v| v["namespace"] == "default"
            && v["name"] == "worker"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("KEDAScaleTargetActivated: "))),
        "{seen:#?}"
    );
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let out = Command::new(EBB)
        .args(["run", "-f", "x.yaml"])
        .env("EBB_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("unknown log format \"yaml\": use text or json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
