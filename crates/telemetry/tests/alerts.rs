//! deploy/alerts: the plain rules file is the source; the PrometheusRule and the chart's copy are
//! generated from it and must agree; promtool checks the rules and runs their unit tests; every
//! rule reads only series Ebb exports (with the labels it uses) or named other exporters'; every
//! alert has a firing and a quiet test and a section in docs/operations.md.
//!
//! `EBB_UPDATE_ALERTS=1 cargo test -p ebb-telemetry --test alerts` rewrites the generated files.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{missing, one_sample_of_each_family, repo_root};

/// Series the rules read that other exporters provide.
const OTHER_EXPORTERS: [&str; 3] = [
    // kube-state-metrics
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    // kube-apiserver
    "aggregator_unavailable_apiservice",
];

fn alerts_dir() -> PathBuf {
    repo_root().join("deploy/alerts")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_saphyr::from_str(&read(path))
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The PrometheusRule for `rules` (the text of ebb-rules.yaml): its groups under `spec:`.
fn prometheus_rule(rules: &str) -> String {
    let body: String = rules
        .lines()
        .skip_while(|l| l.starts_with('#') || l.trim().is_empty())
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("  {l}\n")
            }
        })
        .collect();
    format!(
        "# Generated from ebb-rules.yaml by crates/telemetry/tests/alerts.rs: edit that file, then run\n\
         # EBB_UPDATE_ALERTS=1 cargo test -p ebb-telemetry --test alerts. The same rules as a\n\
         # PrometheusRule for the Prometheus Operator (its ruleSelector may need a label such as\n\
         # `release: <your prometheus>`: add it with kustomize or the chart's additionalLabels).\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  \
           name: ebb\n  \
           namespace: keda\n  \
           labels:\n    \
             app.kubernetes.io/name: ebb\n    \
             app.kubernetes.io/part-of: ebb\n    \
             app.kubernetes.io/component: alerts\n\
         spec:\n{body}"
    )
}

/// Checks that `path` holds `want`, or writes it under EBB_UPDATE_ALERTS=1.
fn generated(path: &Path, want: &str) {
    if std::env::var_os("EBB_UPDATE_ALERTS").is_some() {
        std::fs::write(path, want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not generated from deploy/alerts/ebb-rules.yaml: run \
         EBB_UPDATE_ALERTS=1 cargo test -p ebb-telemetry --test alerts",
        path.display()
    );
}

#[test]
fn the_prometheus_rule_and_the_charts_copy_are_generated_from_the_rules_file() {
    let rules_path = alerts_dir().join("ebb-rules.yaml");
    let rules = read(&rules_path);
    let rule_path = alerts_dir().join("prometheusrule.yaml");
    generated(&rule_path, &prometheus_rule(&rules));
    generated(&repo_root().join("charts/ebb/files/ebb-rules.yaml"), &rules);
    // And they agree as data, not only as text.
    let plain = yaml(&rules_path);
    let rule = yaml(&rule_path);
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(rule["spec"]["groups"], plain["groups"]);
    assert_eq!(
        plain["groups"][0]["rules"].as_array().map(Vec::len),
        Some(6)
    );
}

fn alert_names() -> Vec<String> {
    let plain = yaml(&alerts_dir().join("ebb-rules.yaml"));
    plain["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .map(|r| r["alert"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test_and_a_section_in_the_docs() {
    let tests = yaml(&alerts_dir().join("tests.yaml"));
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for t in tests["tests"].as_array().unwrap() {
        for a in t["alert_rule_test"].as_array().unwrap() {
            let name = a["alertname"].as_str().unwrap().to_owned();
            if a["exp_alerts"].as_array().is_some_and(|e| e.is_empty()) {
                quiet.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    let docs = read(&repo_root().join("docs/operations.md"));
    for alert in alert_names() {
        assert!(firing.contains(&alert), "{alert}: no test where it fires");
        assert!(
            quiet.contains(&alert),
            "{alert}: no test where it stays quiet"
        );
        assert!(
            docs.contains(&format!("### {alert}")),
            "{alert}: no `### {alert}` section in docs/operations.md"
        );
    }
}

#[test]
fn the_rules_read_only_series_ebb_exports_with_their_labels() {
    let plain = yaml(&alerts_dir().join("ebb-rules.yaml"));
    let exprs: Vec<String> = plain["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["expr"].as_str().unwrap().to_owned())
        .collect();
    let problems = missing(&exprs, &one_sample_of_each_family(), &OTHER_EXPORTERS);
    assert!(problems.is_empty(), "{problems:#?}");
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(alerts_dir())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool could not run ({e}): install it with `scripts/services install` \
                 (Debian's prometheus package ships promtool)"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {}:\n{text}", args.join(" "));
    text
}

#[test]
fn promtool_accepts_the_rules_and_passes_their_unit_tests() {
    let check = promtool(&["check", "rules", "ebb-rules.yaml"]);
    assert!(check.contains("SUCCESS: 6 rules found"), "{check}");
    let test = promtool(&["test", "rules", "tests.yaml"]);
    assert!(test.contains("SUCCESS"), "{test}");
}
