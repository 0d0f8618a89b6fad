//! The operator's settings (KEDA's env and flags where they mean something here, keda-compat App. D).

use std::time::Duration;

/// Which namespaces the operator watches (`WATCH_NAMESPACE`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WatchNamespace {
    /// Every namespace (`WATCH_NAMESPACE=""`).
    #[default]
    All,
    /// One namespace.
    One(String),
    /// Several namespaces: watched cluster-wide, filtered here (one watch stream per store).
    Some(Vec<String>),
}

impl WatchNamespace {
    /// Parses KEDA's comma list; empty means all.
    pub fn parse(value: &str) -> WatchNamespace {
        let list: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        match list.len() {
            0 => WatchNamespace::All,
            1 => WatchNamespace::One(list.into_iter().next().unwrap_or_default()),
            _ => WatchNamespace::Some(list),
        }
    }

    /// The single namespace the API requests are scoped to, if any.
    pub fn scope(&self) -> Option<&str> {
        match self {
            WatchNamespace::One(ns) => Some(ns),
            _ => None,
        }
    }

    /// Whether objects in `namespace` are ours.
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            WatchNamespace::All => true,
            WatchNamespace::One(ns) => ns == namespace,
            WatchNamespace::Some(list) => list.iter().any(|ns| ns == namespace),
        }
    }
}

/// Operator settings.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// `WATCH_NAMESPACE`.
    pub watch_namespace: WatchNamespace,
    /// `KEDA_CLUSTER_OBJECT_NAMESPACE`: where ClusterTriggerAuthentication Secrets are read.
    pub cluster_object_namespace: String,
    /// `KEDA_SCALEDOBJECT_CTRL_MAX_RECONCILES`.
    pub max_reconciles: u16,
    /// The Events' reporting controller.
    pub reporter: String,
    /// The Events' reporting instance (pod name).
    pub instance: Option<String>,
    /// Longest a single trigger measurement may take before it counts as failed.
    pub measure_timeout: Duration,
    /// Value of the HPA label `app.kubernetes.io/version`.
    pub version: String,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            watch_namespace: WatchNamespace::All,
            cluster_object_namespace: "keda".into(),
            max_reconciles: 5,
            reporter: "keda-operator".into(),
            instance: None,
            measure_timeout: Duration::from_secs(3),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}
