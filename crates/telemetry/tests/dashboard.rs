//! KEDA's Grafana dashboard works unchanged on Ebb: every PromQL expression in it (panel targets,
//! templating queries) is parsed for the series and labels it reads, and each must be in the
//! exposition of `ebb-telemetry`'s registry with those labels (after one sample of every family).
//!
//! Two label rules from how Prometheus scrapes, not from Ebb: `exported_<l>` is `<l>` as the
//! exporter wrote it (Prometheus renames a scraped label that clashes with a target label, and
//! KEDA's dashboard is written for that), and `job`/`instance` are target labels Prometheus adds.
//! `kube_horizontalpodautoscaler_*` are kube-state-metrics' series about the HPA Ebb creates; for
//! them the test checks the HPA name the dashboard matches (`keda-hpa-<scaledObject>`).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::{dashboard_path, expressions, missing, one_sample_of_each_family, series_uses};

/// Families other exporters provide (kube-state-metrics).
const KUBE_STATE_METRICS: [&str; 2] = [
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
];

#[test]
fn every_series_kedas_dashboard_reads_is_exported_with_its_labels() {
    let text = std::fs::read_to_string(dashboard_path()).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let exprs = expressions(&dashboard);
    // The parser found what is there (so an empty parse cannot pass).
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &exprs {
        for (metric, u) in series_uses(e) {
            families.entry(metric).or_default().extend(u.labels);
        }
    }
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        families,
        BTreeMap::from([
            (
                "keda_scaled_object_errors_total".to_owned(),
                set(&["exported_namespace", "scaledObject"])
            ),
            (
                "keda_scaler_active".to_owned(),
                set(&["exported_namespace", "metric", "scaledObject", "scaler"])
            ),
            (
                "keda_scaler_detail_errors_total".to_owned(),
                set(&["exported_namespace", "job", "scaledObject", "scaler"])
            ),
            (
                "keda_scaler_metrics_value".to_owned(),
                set(&["exported_namespace", "metric", "scaledObject"])
            ),
            (
                "kube_horizontalpodautoscaler_spec_max_replicas".to_owned(),
                set(&["horizontalpodautoscaler", "namespace"])
            ),
            (
                "kube_horizontalpodautoscaler_status_current_replicas".to_owned(),
                set(&["horizontalpodautoscaler", "namespace"])
            ),
        ]),
        "{exprs:#?}"
    );
    let problems = missing(&exprs, &one_sample_of_each_family(), &KUBE_STATE_METRICS);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_dashboards_hpa_panels_match_the_hpa_name_ebb_creates() {
    let text = std::fs::read_to_string(dashboard_path()).unwrap();
    let needle = format!(
        "horizontalpodautoscaler=~\\\"{}$scaledObject\\\"",
        ebb_api::constants::HPA_NAME_PREFIX
    );
    assert_eq!(
        text.matches(&needle).count(),
        5,
        "every kube-state-metrics HPA query matches keda-hpa-<name>"
    );
}

#[test]
fn the_check_fails_when_a_family_or_a_label_goes_missing() {
    let exprs = vec![
        "sum by(scaler) (rate(keda_scaler_detail_errors_total{exported_namespace=~\"$namespace\", scaledObject=~\"$scaledObject\"}[5m]))".to_owned(),
        "label_values(keda_scaler_active{exported_namespace=\"$namespace\"},metric)".to_owned(),
    ];
    let full = one_sample_of_each_family();
    assert_eq!(missing(&exprs, &full, &[]), Vec::<String>::new());
    let without_scaler_label = full.replace("scaler=\"rabbitmqScaler\",", "");
    assert_eq!(
        missing(&exprs[..1], &without_scaler_label, &[]),
        vec![format!(
            "keda_scaler_detail_errors_total: no label scaler (in `{}`)",
            exprs[0]
        )]
    );
    let without_active: String = full
        .lines()
        .filter(|l| !l.starts_with("keda_scaler_active"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        missing(&exprs[1..], &without_active, &[]),
        vec![format!(
            "keda_scaler_active: not exported (in `{}`)",
            exprs[1]
        )]
    );
    let as_gauge = full.replace(
        "# TYPE keda_scaler_detail_errors counter",
        "# TYPE keda_scaler_detail_errors gauge",
    );
    assert_eq!(
        missing(&exprs[..1], &as_gauge, &[]),
        vec!["keda_scaler_detail_errors_total: read with rate() but not a counter".to_owned()]
    );
}
