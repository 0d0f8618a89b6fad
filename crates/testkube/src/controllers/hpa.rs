//! Plays the HorizontalPodAutoscaler controller for External metrics: every sync period it reads each
//! autoscaling/v2 HPA's metrics through an [`ExternalMetrics`] source (in a full test, Ebb's
//! external.metrics.k8s.io server), decides with `ebb_core::hpa` (the HPA v2 algorithm with behavior), writes
//! the target's replicas as a scale update and reports the HPA's status.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ebb_core::MetricType;
use ebb_core::hpa::{
    Behavior, ExternalMetric, HpaSpec, HpaState, ScalingPolicy, ScalingPolicyType, ScalingRules,
    SelectPolicy,
};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{ControllerHandle, MANAGER, key, target_for, write_status};
use crate::TestKube;
use crate::meta;
use crate::resource::ResourceInfo;
use crate::store::{State, Store};
use crate::write::{self, WriteOpts};

/// Where the HPA reads External metrics: `GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>
/// ?labelSelector=<selector>`, summed. `None` is a failed read.
pub trait ExternalMetrics: Send + Sync + 'static {
    /// The metric's current value.
    fn value<'a>(
        &'a self,
        namespace: &'a str,
        metric: &'a str,
        selector: &'a str,
    ) -> BoxFuture<'a, Option<f64>>;
}

/// The HPA controller stand-in; configure, then [`HpaController::start`].
pub struct HpaController {
    metrics: Arc<dyn ExternalMetrics>,
    sync_period: Duration,
}

impl std::fmt::Debug for HpaController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpaController")
            .field("sync_period", &self.sync_period)
            .finish_non_exhaustive()
    }
}

impl HpaController {
    /// Reads metrics from `metrics`; syncs every 15 s like kube-controller-manager's default.
    pub fn new(metrics: impl ExternalMetrics) -> HpaController {
        HpaController {
            metrics: Arc::new(metrics),
            sync_period: Duration::from_secs(15),
        }
    }

    /// `--horizontal-pod-autoscaler-sync-period`.
    pub fn sync_period(mut self, every: Duration) -> HpaController {
        self.sync_period = every;
        self
    }

    /// Run until stopped or the server is dropped.
    pub fn start(self, kube: &TestKube) -> ControllerHandle {
        let store = kube.store();
        ControllerHandle {
            abort: kube.spawn(run(self, store)),
        }
    }
}

/// A Kubernetes quantity (`500m`, `2`, `1k`, `3Mi`) as a number.
pub(crate) fn quantity(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let suffixes: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    for (suffix, factor) in suffixes {
        if let Some(num) = s.strip_suffix(suffix) {
            return num.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    s.parse().ok()
}

fn rules(v: &Value) -> Option<ScalingRules> {
    if v.is_null() {
        return None;
    }
    let policies = v["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| ScalingPolicy {
            policy_type: if p["type"] == "Percent" {
                ScalingPolicyType::Percent
            } else {
                ScalingPolicyType::Pods
            },
            value: p["value"].as_u64().unwrap_or(0) as u32,
            period_seconds: p["periodSeconds"].as_u64().unwrap_or(15) as u32,
        })
        .collect();
    Some(ScalingRules {
        stabilization_window_seconds: v["stabilizationWindowSeconds"].as_u64().map(|s| s as u32),
        select_policy: match v["selectPolicy"].as_str() {
            Some("Min") => Some(SelectPolicy::Min),
            Some("Disabled") => Some(SelectPolicy::Disabled),
            Some("Max") => Some(SelectPolicy::Max),
            _ => None,
        },
        policies,
    })
}

fn spec_of(hpa: &Value) -> HpaSpec {
    let spec = &hpa["spec"];
    let behavior = &spec["behavior"];
    HpaSpec {
        min_replicas: spec["minReplicas"].as_u64().unwrap_or(1) as u32,
        max_replicas: spec["maxReplicas"].as_u64().unwrap_or(1) as u32,
        behavior: (!behavior.is_null()).then(|| Behavior {
            scale_up: rules(&behavior["scaleUp"]),
            scale_down: rules(&behavior["scaleDown"]),
        }),
    }
}

/// The scale target of an HPA: its resource and the stored object.
fn target(state: &State, hpa: &Value) -> Option<(Arc<ResourceInfo>, Value)> {
    let r = &hpa["spec"]["scaleTargetRef"];
    let api_version = r["apiVersion"].as_str().unwrap_or("apps/v1");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = r["kind"].as_str()?;
    let info = state
        .registry
        .all()
        .find(|i| i.group == group && i.kind == kind && i.scale.is_some())?
        .clone();
    let obj = state.get(
        &info.key(),
        meta::meta_str(hpa, "namespace"),
        r["name"].as_str()?,
    )?;
    Some((info, (**obj).clone()))
}

async fn run(cfg: HpaController, store: Arc<Store>) {
    let mut memory: HashMap<String, HpaState> = HashMap::new();
    loop {
        let hpas: Vec<Value> = store
            .read()
            .list(&key("autoscaling", "horizontalpodautoscalers"), None)
            .map(|(_, o)| (**o).clone())
            .collect();
        for hpa in hpas {
            let ns = meta::meta_str(&hpa, "namespace");
            let mut metrics = Vec::new();
            let mut current_metrics = Vec::new();
            for m in hpa["spec"]["metrics"].as_array().into_iter().flatten() {
                let external = &m["external"];
                if m["type"] != "External" {
                    continue;
                }
                let name = external["metric"]["name"].as_str().unwrap_or("");
                let selector = meta::selector_string(&external["metric"]["selector"]);
                let t = &external["target"];
                let (metric_type, target) = if t["type"] == "Value" {
                    (MetricType::Value, quantity(&t["value"]))
                } else {
                    (MetricType::AverageValue, quantity(&t["averageValue"]))
                };
                let value = cfg.metrics.value(ns, name, &selector).await;
                metrics.push(value.zip(target).map(|(value, target)| ExternalMetric {
                    value,
                    target,
                    metric_type,
                }));
                if let Some(v) = value {
                    current_metrics.push(json!({"type": "External", "external": {
                        "metric": {"name": name}, "current": {"averageValue": format!("{}m", (v * 1000.0).round())}}}));
                }
            }
            let state = memory
                .entry(meta::meta_str(&hpa, "uid").to_string())
                .or_default();
            store.write(|s| sync_one(s, &hpa, state, &metrics, current_metrics));
        }
        tokio::time::sleep(cfg.sync_period).await;
    }
}

fn sync_one(
    s: &mut State,
    hpa: &Value,
    memory: &mut HpaState,
    metrics: &[Option<ExternalMetric>],
    current_metrics: Vec<Value>,
) {
    let Some((info, obj)) = target(s, hpa) else {
        return;
    };
    let Some(paths) = info.scale.clone() else {
        return;
    };
    let current = meta::get_path(&obj, &paths.spec_replicas)
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32;
    let ready = obj["status"]["readyReplicas"]
        .as_u64()
        .or_else(|| meta::get_path(&obj, &paths.status_replicas).and_then(Value::as_u64))
        .unwrap_or(0) as u32;
    let rec = memory.sync(
        &spec_of(hpa),
        current,
        ready,
        metrics,
        jiff::Timestamp::now(),
    );
    let mut status = hpa["status"].clone();
    if rec.desired_replicas != current {
        let mut scaled = obj.clone();
        meta::set_path(
            &mut scaled,
            &paths.spec_replicas,
            json!(rec.desired_replicas),
        );
        if let Some(t) = target_for(s, &info.key(), &obj, None) {
            let opts = WriteOpts {
                field_manager: MANAGER.into(),
                ..WriteOpts::default()
            };
            if write::replace(s, &t, scaled, &opts, false).is_ok() {
                status["lastScaleTime"] = json!(meta::now());
            }
        }
    }
    let valid = metrics.iter().all(Option::is_some);
    let condition = |t: &str, ok: bool, reason: &str| json!({"type": t, "status": if ok { "True" } else { "False" }, "reason": reason});
    status["currentReplicas"] = json!(current);
    status["desiredReplicas"] = json!(rec.desired_replicas);
    status["currentMetrics"] = json!(current_metrics);
    status["conditions"] = json!([
        condition("AbleToScale", true, "ReadyForNewScale"),
        condition(
            "ScalingActive",
            valid,
            if valid {
                "ValidMetricFound"
            } else {
                "FailedGetExternalMetric"
            }
        ),
        condition(
            "ScalingLimited",
            matches!(
                rec.reason,
                "TooManyReplicas" | "TooFewReplicas" | "ScaleUpLimit" | "ScaleDownLimit"
            ),
            rec.reason
        ),
    ]);
    if let Some(generation) = hpa["metadata"]["generation"].as_i64() {
        status["observedGeneration"] = json!(generation);
    }
    if status != hpa["status"] {
        let _ = write_status(
            s,
            &key("autoscaling", "horizontalpodautoscalers"),
            hpa,
            status,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_with_their_suffixes() {
        for (q, want) in [("500m", 0.5), ("2", 2.0), ("1k", 1000.0), ("1Ki", 1024.0)] {
            assert_eq!(quantity(&json!(q)), Some(want), "{q}");
        }
        assert_eq!(quantity(&json!(3)), Some(3.0));
    }
}
