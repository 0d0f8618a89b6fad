//! KEDA's operator metrics (keda-compat §6.1; `pkg/metricscollector/prommetrics.go`, namespace
//! `keda`) as Prometheus families: the one module that names them, for local mode and the operator.
//!
//! Label names are KEDA's exactly (`scaledObject`, `triggerIndex`, …), so dashboards and alerts
//! written for KEDA read Ebb unchanged.

use std::fmt;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// `type` label of the per-scaler families: which kind of object the trigger belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// A ScaledObject.
    ScaledObject,
    /// A ScaledJob (its name goes in the `scaledObject` label, as KEDA does).
    ScaledJob,
}

impl ObjectType {
    fn as_str(self) -> &'static str {
        match self {
            ObjectType::ScaledObject => "scaledobject",
            ObjectType::ScaledJob => "scaledjob",
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

/// Every family, registered under the `keda` prefix.
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
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// All families, empty but for `keda_build_info`.
    pub fn new(build: &BuildInfo) -> Metrics {
        let mut registry = Registry::with_prefix("keda");
        let m = Metrics {
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
            registry: Registry::default(),
        };
        // Counters get `_total` appended by the encoder; gauges keep their names as written.
        registry.register(
            "build_info",
            "Info metric, with static information about KEDA build like: version, git commit and Golang runtime info.",
            m.build_info.clone(),
        );
        registry.register(
            "scaler_metrics_value",
            "The current value for each scaler's metric that would be used by the HPA in computing the target average.",
            m.scaler_metrics_value.clone(),
        );
        registry.register(
            "scaler_metrics_latency_seconds",
            "The latency of retrieving current metric from each scaler, in seconds.",
            m.scaler_metrics_latency_seconds.clone(),
        );
        registry.register(
            "scaler_active",
            "Indicates whether a scaler is active (1), or not (0).",
            m.scaler_active.clone(),
        );
        registry.register(
            "scaler_detail_errors",
            "The total number of errors encountered for each scaler.",
            m.scaler_detail_errors.clone(),
        );
        registry.register(
            "scaled_object_errors",
            "The number of errors that have occurred for each ScaledObject.",
            m.scaled_object_errors.clone(),
        );
        registry.register(
            "scaled_job_errors",
            "Number of scaled job errors.",
            m.scaled_job_errors.clone(),
        );
        registry.register(
            "scaled_object_paused",
            "Indicates whether a ScaledObject is paused.",
            m.scaled_object_paused.clone(),
        );
        registry.register(
            "trigger_registered_total",
            "Total number of triggers per trigger type registered.",
            m.trigger_registered_total.clone(),
        );
        registry.register(
            "resource_registered_total",
            "Total number of KEDA custom resources per namespace for each custom resource type (CRD) registered.",
            m.resource_registered_total.clone(),
        );
        registry.register(
            "internal_scale_loop_latency_seconds",
            "Total deviation (in seconds) between the expected execution time and the actual execution time for the scaling loop.",
            m.internal_scale_loop_latency_seconds.clone(),
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
        Metrics { registry, ..m }
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

    /// `keda_scaled_object_errors_total` / `keda_scaled_job_errors_total`.
    pub fn record_object_error(&self, object_type: ObjectType, namespace: &str, name: &str) {
        match object_type {
            ObjectType::ScaledObject => self
                .scaled_object_errors
                .get_or_create(&vec![
                    ("namespace", namespace.to_owned()),
                    ("scaledObject", name.to_owned()),
                ])
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
            .get_or_create(&vec![
                ("namespace", namespace.to_owned()),
                ("scaledObject", name.to_owned()),
            ])
            .set(i64::from(paused));
    }

    /// `keda_trigger_registered_total{type}` += 1.
    pub fn register_trigger(&self, trigger_type: &str) {
        self.trigger_registered_total
            .get_or_create(&vec![("type", trigger_type.to_owned())])
            .inc();
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

    /// The Prometheus text exposition of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_carry_kedas_names_and_labels() {
        let m = Metrics::new(&BuildInfo {
            version: "0.1.0".into(),
            git_commit: String::new(),
            toolchain: "rustc".into(),
        });
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
        ] {
            assert!(text.contains(&line), "missing {line}\n{text}");
        }
        assert!(text.contains("keda_build_info{version=\"0.1.0\""), "{text}");
    }
}
