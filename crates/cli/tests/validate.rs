//! `ebb validate` end to end: output lines, exit codes, stdin, JSON output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use std::io::Write;
use std::process::{Command, Stdio};

const VALID: &str = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: ok, namespace: shop}\nspec:\n  scaleTargetRef: {name: w}\n  triggers:\n  - type: redis\n    metadata: {listName: jobs, addressFromEnv: R}\n";

fn ebb(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn valid_input_from_stdin_prints_ok_and_exits_0() {
    let text = format!(
        "{VALID}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w, namespace: shop}}\n"
    );
    let (code, out, err) = ebb(&["validate", "-f", "-"], &text);
    assert_eq!(code, Some(0));
    assert_eq!(out, "OK ScaledObject shop/ok\n");
    assert_eq!(
        err,
        "note: -:doc#2 Deployment shop/w skipped (not a keda.sh object)\n"
    );
}

#[test]
fn an_invalid_object_exits_1_naming_file_document_and_field() {
    let bad = VALID
        .replace("listName: jobs", "listName: jobs, listLength: abc")
        .replace("name: ok", "name: bad")
        .replace("name: w}", "name: w2}");
    let (code, out, _) = ebb(&["validate", "-"], &format!("{VALID}---\n{bad}"));
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        "OK ScaledObject shop/ok\nERROR -:doc#2 ScaledObject shop/bad: spec.triggers[0].metadata.listLength: \"abc\" is not a number\n"
    );
}

#[test]
fn unreadable_input_exits_2() {
    let (code, out, _) = ebb(&["validate", "/nonexistent/ebb.yaml"], "");
    assert_eq!(code, Some(2));
    assert!(
        out.starts_with("ERROR /nonexistent/ebb.yaml: cannot read: "),
        "{out}"
    );
    let (code, out, _) = ebb(&["validate", "-"], "kind: [\n");
    assert_eq!(code, Some(2));
    assert!(
        out.starts_with("ERROR -:doc#1: invalid YAML at line "),
        "{out}"
    );
}

#[test]
fn json_output_lists_objects_with_violations() {
    let bad = VALID.replace("minReplicaCount", "x").replace(
        "  scaleTargetRef",
        "  minReplicaCount: 7\n  maxReplicaCount: 3\n  scaleTargetRef",
    );
    let (code, out, _) = ebb(&["validate", "-o", "json", "-"], &bad);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["objects"][0]["valid"], false);
    assert_eq!(
        v["objects"][0]["violations"][0]["path"],
        "spec.minReplicaCount"
    );
    assert_eq!(
        v["objects"][0]["violations"][0]["message"],
        "MinReplicaCount=7 must be less than MaxReplicaCount=3"
    );
}

#[test]
fn every_example_in_the_repository_validates() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let (code, out, _) = ebb(&["validate", examples], "");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.lines().all(|l| l.starts_with("OK ")), "{out}");
    assert!(out.lines().count() >= 78);
}

/// deploy/operator.yaml must only pass flags `ebb operator` accepts.
#[test]
fn the_deployment_passes_only_flags_the_operator_accepts() {
    let (code, help, _) = ebb(&["operator", "--help"], "");
    assert_eq!(code, Some(0));
    let deploy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/operator.yaml"
    ))
    .unwrap();
    let flags: Vec<&str> = deploy
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- --"))
        .map(|f| f.split('=').next().unwrap_or(f))
        .collect();
    assert!(flags.len() >= 5, "{flags:?}");
    for flag in flags {
        assert!(
            help.contains(&format!("--{flag}")),
            "ebb operator does not accept --{flag}:\n{help}"
        );
    }
}
