//! The Prometheus families: KEDA's (keda-compat §6.1; `pkg/metricscollector/prommetrics.go`,
//! namespace `keda`) with KEDA's names, types and labels exactly, and Ebb's own under `ebb_`.

use std::fmt;
use std::sync::atomic::AtomicU64;

use ebb_core::trace::{DecisionRecord, DecisionSource, Outcome};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::explain::DecisionStore;

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Buckets of `ebb_metrics_api_request_duration_seconds`, in seconds.
pub const METRICS_API_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// `type` label of the per-scaler families: which kind of object the trigger belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectType {
    /// A ScaledObject.
    ScaledObject,
    /// A ScaledJob (its name goes in the `scaledObject` label, as KEDA does).
    ScaledJob,
}

impl ObjectType {
    /// The label value: `scaledobject` or `scaledjob` (also the `/explain/<kind>/…` path segment).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::ScaledObject => "scaledobject",
            ObjectType::ScaledJob => "scaledjob",
        }
    }

    /// The API kind: `ScaledObject` or `ScaledJob`.
    pub fn kind(self) -> &'static str {
        match self {
            ObjectType::ScaledObject => "ScaledObject",
            ObjectType::ScaledJob => "ScaledJob",
        }
    }

    /// Parses `scaledobject`, `scaledobjects`, `so`, `ScaledObject` (and the ScaledJob forms).
    pub fn parse(text: &str) -> Option<ObjectType> {
        match text.to_ascii_lowercase().as_str() {
            "scaledobject" | "scaledobjects" | "so" => Some(ObjectType::ScaledObject),
            "scaledjob" | "scaledjobs" | "sj" => Some(ObjectType::ScaledJob),
            _ => None,
        }
    }
}

/// Identifies one metric of one trigger: KEDA's label set L.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalerKey {
    /// Object namespace.
    pub namespace: String,
    /// ScaledObject or ScaledJob name.
    pub object: String,
    /// Object kind.
    pub object_type: ObjectType,
    /// The metric name, e.g. `s0-sqlite`.
    pub metric: String,
    /// The scaler, e.g. `sqliteScaler` (KEDA: the Go type name).
    pub scaler: String,
    /// Trigger index.
    pub trigger_index: usize,
}

impl ScalerKey {
    fn labels(&self) -> Labels {
        vec![
            ("namespace", self.namespace.clone()),
            ("metric", self.metric.clone()),
            ("scaledObject", self.object.clone()),
            ("scaler", self.scaler.clone()),
            ("triggerIndex", self.trigger_index.to_string()),
            ("type", self.object_type.as_str().to_owned()),
        ]
    }
}

/// `keda_resource_registered_total{type=…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// `scaled_object`.
    ScaledObject,
    /// `scaled_job`.
    ScaledJob,
    /// `trigger_authentication`.
    TriggerAuthentication,
    /// `cluster_trigger_authentication`.
    ClusterTriggerAuthentication,
}

impl ResourceType {
    fn as_str(self) -> &'static str {
        match self {
            ResourceType::ScaledObject => "scaled_object",
            ResourceType::ScaledJob => "scaled_job",
            ResourceType::TriggerAuthentication => "trigger_authentication",
            ResourceType::ClusterTriggerAuthentication => "cluster_trigger_authentication",
        }
    }
}

/// Version facts for `keda_build_info`.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Ebb's version.
    pub version: String,
    /// The commit it was built from ("" when unknown).
    pub git_commit: String,
    /// The compiler (KEDA: `goversion`), e.g. `rustc 1.95`.
    pub toolchain: String,
}

/// Every family (KEDA's under `keda_`, Ebb's under `ebb_`) and the decision trace served beside
/// them (`/explain`).
pub struct Metrics {
    registry: Registry,
    scaler_metrics_value: Family<Labels, FloatGauge>,
    scaler_metrics_latency_seconds: Family<Labels, FloatGauge>,
    scaler_active: Family<Labels, Gauge>,
    scaler_detail_errors: Family<Labels, Counter>,
    scaled_object_errors: Family<Labels, Counter>,
    scaled_job_errors: Family<Labels, Counter>,
    scaled_object_paused: Family<Labels, Gauge>,
    trigger_registered_total: Family<Labels, Gauge>,
    resource_registered_total: Family<Labels, Gauge>,
    internal_scale_loop_latency_seconds: Family<Labels, FloatGauge>,
    build_info: Family<Labels, Gauge>,
    webhook_validations: Family<Labels, Counter>,
    webhook_validation_errors: Family<Labels, Counter>,
    scaling_decisions: Family<Labels, Counter>,
    fallback_active: Family<Labels, Gauge>,
    metrics_api_request_duration: HistogramFamily,
    decisions: DecisionStore,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn metrics_api_histogram() -> Histogram {
    Histogram::new(METRICS_API_BUCKETS)
}

impl Metrics {
    /// All families, empty but for `keda_build_info`; decision logs of the default length (50).
    pub fn new(build: &BuildInfo) -> Metrics {
        Metrics::with_decision_log(build, ebb_core::trace::DEFAULT_DECISION_LOG_CAPACITY)
    }

    /// Like `new`, keeping the last `capacity` decisions per object.
    pub fn with_decision_log(build: &BuildInfo, capacity: usize) -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            scaler_metrics_value: Family::default(),
            scaler_metrics_latency_seconds: Family::default(),
            scaler_active: Family::default(),
            scaler_detail_errors: Family::default(),
            scaled_object_errors: Family::default(),
            scaled_job_errors: Family::default(),
            scaled_object_paused: Family::default(),
            trigger_registered_total: Family::default(),
            resource_registered_total: Family::default(),
            internal_scale_loop_latency_seconds: Family::default(),
            build_info: Family::default(),
            webhook_validations: Family::default(),
            webhook_validation_errors: Family::default(),
            scaling_decisions: Family::default(),
            fallback_active: Family::default(),
            metrics_api_request_duration: Family::new_with_constructor(metrics_api_histogram),
            decisions: DecisionStore::new(capacity),
        };
        // Counters get `_total` appended by the encoder; gauges keep their names as written.
        let keda = m.registry.sub_registry_with_prefix("keda");
        keda.register(
            "build_info",
            "Info metric, with static information about KEDA build like: version, git commit and Golang runtime info.",
            m.build_info.clone(),
        );
        keda.register(
            "scaler_metrics_value",
            "The current value for each scaler's metric that would be used by the HPA in computing the target average.",
            m.scaler_metrics_value.clone(),
        );
        keda.register(
            "scaler_metrics_latency_seconds",
            "The latency of retrieving current metric from each scaler, in seconds.",
            m.scaler_metrics_latency_seconds.clone(),
        );
        keda.register(
            "scaler_active",
            "Indicates whether a scaler is active (1), or not (0).",
            m.scaler_active.clone(),
        );
        keda.register(
            "scaler_detail_errors",
            "The total number of errors encountered for each scaler.",
            m.scaler_detail_errors.clone(),
        );
        keda.register(
            "scaled_object_errors",
            "The number of errors that have occurred for each ScaledObject.",
            m.scaled_object_errors.clone(),
        );
        keda.register(
            "scaled_job_errors",
            "Number of scaled job errors.",
            m.scaled_job_errors.clone(),
        );
        keda.register(
            "scaled_object_paused",
            "Indicates whether a ScaledObject is paused.",
            m.scaled_object_paused.clone(),
        );
        keda.register(
            "trigger_registered_total",
            "Total number of triggers per trigger type registered.",
            m.trigger_registered_total.clone(),
        );
        keda.register(
            "resource_registered_total",
            "Total number of KEDA custom resources per namespace for each custom resource type (CRD) registered.",
            m.resource_registered_total.clone(),
        );
        keda.register(
            "internal_scale_loop_latency_seconds",
            "Total deviation (in seconds) between the expected execution time and the actual execution time for the scaling loop.",
            m.internal_scale_loop_latency_seconds.clone(),
        );
        keda.register(
            "webhook_scaled_object_validations",
            "Total number of scaled object validations.",
            m.webhook_validations.clone(),
        );
        keda.register(
            "webhook_scaled_object_validation_errors",
            "Total number of scaled object validating errors.",
            m.webhook_validation_errors.clone(),
        );
        let ebb = m.registry.sub_registry_with_prefix("ebb");
        ebb.register(
            "scaling_decisions",
            "Scaling decisions by outcome (activated, deactivated, active, cooling_down, hpa_scaled, …); see `ebb explain` for the reasons.",
            m.scaling_decisions.clone(),
        );
        ebb.register(
            "scaled_object_fallback_active",
            "Whether any trigger of a ScaledObject is served by its fallback metric (1) or not (0).",
            m.fallback_active.clone(),
        );
        ebb.register(
            "metrics_api_request_duration_seconds",
            "Latency of external metrics API (and webhook) requests, by request kind and HTTP status code.",
            m.metrics_api_request_duration.clone(),
        );
        m.build_info
            .get_or_create(&vec![
                ("version", build.version.clone()),
                ("git_commit", build.git_commit.clone()),
                ("goversion", build.toolchain.clone()),
                ("goos", std::env::consts::OS.to_owned()),
                ("goarch", std::env::consts::ARCH.to_owned()),
            ])
            .set(1);
        m
    }

    /// A successful measurement: `keda_scaler_metrics_value`, `_latency_seconds`, `keda_scaler_active`.
    pub fn record_measurement(&self, key: &ScalerKey, value: f64, active: bool, latency: f64) {
        let labels = key.labels();
        self.scaler_metrics_value.get_or_create(&labels).set(value);
        self.scaler_metrics_latency_seconds
            .get_or_create(&labels)
            .set(latency);
        self.scaler_active
            .get_or_create(&labels)
            .set(i64::from(active));
    }

    /// A failed measurement: `keda_scaler_detail_errors_total` and the object's error counter.
    pub fn record_scaler_error(&self, key: &ScalerKey) {
        let labels = key.labels();
        self.scaler_detail_errors.get_or_create(&labels).inc();
        self.scaler_active.get_or_create(&labels).set(0);
        self.record_object_error(key.object_type, &key.namespace, &key.object);
    }

    /// Drops every per-scaler series of `key` (KEDA deletes them with the object).
    pub fn remove_scaler(&self, key: &ScalerKey) {
        let labels = key.labels();
        self.scaler_metrics_value.remove(&labels);
        self.scaler_metrics_latency_seconds.remove(&labels);
        self.scaler_active.remove(&labels);
        self.scaler_detail_errors.remove(&labels);
    }

    /// `keda_scaled_object_errors_total` / `keda_scaled_job_errors_total`.
    pub fn record_object_error(&self, object_type: ObjectType, namespace: &str, name: &str) {
        match object_type {
            ObjectType::ScaledObject => self
                .scaled_object_errors
                .get_or_create(&object_labels(namespace, name))
                .inc(),
            ObjectType::ScaledJob => self
                .scaled_job_errors
                .get_or_create(&vec![
                    ("namespace", namespace.to_owned()),
                    ("scaledJob", name.to_owned()),
                ])
                .inc(),
        };
    }

    /// `keda_scaled_object_paused`.
    pub fn set_paused(&self, namespace: &str, name: &str, paused: bool) {
        self.scaled_object_paused
            .get_or_create(&object_labels(namespace, name))
            .set(i64::from(paused));
    }

    /// `keda_trigger_registered_total{type}` += 1.
    pub fn register_trigger(&self, trigger_type: &str) {
        self.trigger_registered_total
            .get_or_create(&vec![("type", trigger_type.to_owned())])
            .inc();
    }

    /// `keda_trigger_registered_total{type}` -= 1 (a trigger went with its object).
    pub fn unregister_trigger(&self, trigger_type: &str) {
        self.trigger_registered_total
            .get_or_create(&vec![("type", trigger_type.to_owned())])
            .dec();
    }

    /// `keda_resource_registered_total{type,namespace}` -= 1.
    pub fn unregister_resource(&self, resource: ResourceType, namespace: &str) {
        self.resource_registered_total
            .get_or_create(&vec![
                ("type", resource.as_str().to_owned()),
                ("namespace", namespace.to_owned()),
            ])
            .dec();
    }

    /// `keda_resource_registered_total{type,namespace}` += 1.
    pub fn register_resource(&self, resource: ResourceType, namespace: &str) {
        self.resource_registered_total
            .get_or_create(&vec![
                ("type", resource.as_str().to_owned()),
                ("namespace", namespace.to_owned()),
            ])
            .inc();
    }

    /// `keda_internal_scale_loop_latency_seconds`: how late this loop iteration ran.
    pub fn record_loop_latency(
        &self,
        object_type: ObjectType,
        namespace: &str,
        name: &str,
        seconds: f64,
    ) {
        self.internal_scale_loop_latency_seconds
            .get_or_create(&vec![
                ("namespace", namespace.to_owned()),
                ("type", object_type.as_str().to_owned()),
                ("resource", name.to_owned()),
            ])
            .set(seconds);
    }

    /// `keda_webhook_scaled_object_validations_total{namespace,action}` (`action`: `create`,
    /// `update`), and when `error_reason` is set (KEDA's reasons, e.g. `incorrect-replicas`),
    /// `keda_webhook_scaled_object_validation_errors_total{namespace,action,reason}`.
    pub fn record_webhook_validation(
        &self,
        namespace: &str,
        action: &str,
        error_reason: Option<&str>,
    ) {
        self.webhook_validations
            .get_or_create(&vec![
                ("namespace", namespace.to_owned()),
                ("action", action.to_owned()),
            ])
            .inc();
        if let Some(reason) = error_reason {
            self.webhook_validation_errors
                .get_or_create(&vec![
                    ("namespace", namespace.to_owned()),
                    ("action", action.to_owned()),
                    ("reason", reason.to_owned()),
                ])
                .inc();
        }
    }

    /// `ebb_metrics_api_request_duration_seconds{request,code}`: one request to the external
    /// metrics API server. `request` is a small fixed set: `metric_value`, `discovery`, `openapi`,
    /// `webhook`, `health`, `other`.
    pub fn record_metrics_api_request(&self, request: &str, code: u16, seconds: f64) {
        self.metrics_api_request_duration
            .get_or_create(&vec![
                ("request", request.to_owned()),
                ("code", code.to_string()),
            ])
            .observe(seconds);
    }

    /// One decision: `ebb_scaling_decisions_total{namespace,scaledObject,type,outcome}` += 1,
    /// `ebb_scaled_object_fallback_active` from a ScaledObject poll, and the record kept for
    /// `/explain`. Returns the previous outcome when the outcome changed (worth an Event).
    pub fn record_decision(
        &self,
        object_type: ObjectType,
        namespace: &str,
        name: &str,
        record: DecisionRecord,
    ) -> Option<Outcome> {
        self.scaling_decisions
            .get_or_create(&vec![
                ("namespace", namespace.to_owned()),
                ("scaledObject", name.to_owned()),
                ("type", object_type.as_str().to_owned()),
                ("outcome", record.outcome.as_str().to_owned()),
            ])
            .inc();
        if object_type == ObjectType::ScaledObject && record.source == DecisionSource::Poll {
            let active = record.fallback.as_ref().is_some_and(|f| f.active);
            self.fallback_active
                .get_or_create(&object_labels(namespace, name))
                .set(i64::from(active));
        }
        self.decisions.record(object_type, namespace, name, record)
    }

    /// The decision logs (for `/explain`).
    pub fn decisions(&self) -> &DecisionStore {
        &self.decisions
    }

    /// Forgets a deleted object: its decision log and its per-object series (per-scaler series go
    /// with `remove_scaler`).
    pub fn remove_object(&self, object_type: ObjectType, namespace: &str, name: &str) {
        self.decisions.remove(object_type, namespace, name);
        let labels = object_labels(namespace, name);
        match object_type {
            ObjectType::ScaledObject => {
                self.scaled_object_paused.remove(&labels);
                self.fallback_active.remove(&labels);
                self.scaled_object_errors.remove(&labels);
            }
            ObjectType::ScaledJob => {
                self.scaled_job_errors.remove(&vec![
                    ("namespace", namespace.to_owned()),
                    ("scaledJob", name.to_owned()),
                ]);
            }
        }
        self.internal_scale_loop_latency_seconds.remove(&vec![
            ("namespace", namespace.to_owned()),
            ("type", object_type.as_str().to_owned()),
            ("resource", name.to_owned()),
        ]);
    }

    /// The text exposition of every family (OpenMetrics, ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

fn object_labels(namespace: &str, name: &str) -> Labels {
    vec![
        ("namespace", namespace.to_owned()),
        ("scaledObject", name.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn metrics() -> Metrics {
        Metrics::new(&BuildInfo {
            version: "0.1.0".into(),
            git_commit: String::new(),
            toolchain: "rustc".into(),
        })
    }

    #[test]
    fn families_carry_kedas_names_and_labels() {
        let m = metrics();
        let key = ScalerKey {
            namespace: "default".into(),
            object: "worker".into(),
            object_type: ObjectType::ScaledObject,
            metric: "s0-sqlite".into(),
            scaler: "sqliteScaler".into(),
            trigger_index: 0,
        };
        m.record_measurement(&key, 12.5, true, 0.002);
        m.record_scaler_error(&key);
        m.set_paused("default", "worker", false);
        m.register_trigger("sqlite");
        m.register_resource(ResourceType::ScaledObject, "default");
        m.record_loop_latency(ObjectType::ScaledObject, "default", "worker", 0.01);
        m.record_webhook_validation("default", "create", Some("incorrect-replicas"));
        let text = m.encode();
        let labels = r#"{namespace="default",metric="s0-sqlite",scaledObject="worker",scaler="sqliteScaler",triggerIndex="0",type="scaledobject"}"#;
        for line in [
            format!("keda_scaler_metrics_value{labels} 12.5"),
            format!("keda_scaler_metrics_latency_seconds{labels} 0.002"),
            format!("keda_scaler_active{labels} 0"),
            format!("keda_scaler_detail_errors_total{labels} 1"),
            r#"keda_scaled_object_errors_total{namespace="default",scaledObject="worker"} 1"#.into(),
            r#"keda_scaled_object_paused{namespace="default",scaledObject="worker"} 0"#.into(),
            r#"keda_trigger_registered_total{type="sqlite"} 1"#.into(),
            r#"keda_resource_registered_total{type="scaled_object",namespace="default"} 1"#.into(),
            r#"keda_internal_scale_loop_latency_seconds{namespace="default",type="scaledobject",resource="worker"} 0.01"#.into(),
            r#"keda_webhook_scaled_object_validations_total{namespace="default",action="create"} 1"#.into(),
            r#"keda_webhook_scaled_object_validation_errors_total{namespace="default",action="create",reason="incorrect-replicas"} 1"#.into(),
        ] {
            assert!(text.contains(&line), "missing {line}\n{text}");
        }
        assert!(text.contains("keda_build_info{version=\"0.1.0\""), "{text}");
        m.remove_scaler(&key);
        m.remove_object(ObjectType::ScaledObject, "default", "worker");
        let text = m.encode();
        assert!(!text.contains("scaledObject=\"worker\""), "{text}");
    }

    #[test]
    fn ebbs_own_families_count_decisions_and_time_metrics_api_requests() {
        let m = metrics();
        m.record_metrics_api_request("metric_value", 200, 0.003);
        m.record_metrics_api_request("metric_value", 200, 0.2);
        let text = m.encode();
        for line in [
            r#"ebb_metrics_api_request_duration_seconds_count{request="metric_value",code="200"} 2"#,
            r#"ebb_metrics_api_request_duration_seconds_bucket{le="0.005",request="metric_value",code="200"} 1"#,
            r#"ebb_metrics_api_request_duration_seconds_bucket{le="0.25",request="metric_value",code="200"} 2"#,
            "# TYPE ebb_metrics_api_request_duration_seconds histogram",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }
}
