//! What the server knows about each resource: names, scope, versions and subresources, built-in or from a CRD.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// Where a kind with a `/scale` subresource keeps its replica counts (CRD `subresources.scale`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalePaths {
    pub(crate) spec_replicas: String,
    pub(crate) status_replicas: String,
    pub(crate) label_selector: Option<String>,
}

/// One resource type as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceInfo {
    pub(crate) group: String,
    /// Served versions; the first is the preferred one.
    pub(crate) versions: Vec<String>,
    pub(crate) kind: String,
    pub(crate) list_kind: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) short_names: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) namespaced: bool,
    pub(crate) status: bool,
    pub(crate) scale: Option<ScalePaths>,
    /// Defined by a CustomResourceDefinition.
    pub(crate) custom: bool,
    /// `metadata.generation` is maintained (most kinds with a spec).
    pub(crate) tracks_generation: bool,
    /// batch/v1 Jobs orphan their Pods unless a propagationPolicy says otherwise.
    pub(crate) orphan_by_default: bool,
}

/// `(group, plural)`: the storage key of a resource, independent of version.
pub(crate) type ResKey = (String, String);

impl ResourceInfo {
    pub(crate) fn key(&self) -> ResKey {
        (self.group.clone(), self.plural.clone())
    }

    /// `deployments.apps`, or `pods` for the core group, as error messages name resources.
    pub(crate) fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub(crate) fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub(crate) fn preferred_version(&self) -> &str {
        self.versions.first().map(String::as_str).unwrap_or("v1")
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    status: bool,
    scale: bool,
    generation: bool,
    short: &'static [&'static str],
}

const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced: true,
        status: false,
        scale: false,
        generation: false,
        short: &[],
    }
}

const fn with_status(mut x: Builtin) -> Builtin {
    x.status = true;
    x.generation = true;
    x
}

const fn cluster(mut x: Builtin) -> Builtin {
    x.namespaced = false;
    x
}

const fn scaled(mut x: Builtin, short: &'static [&'static str]) -> Builtin {
    x.scale = true;
    x.short = short;
    x
}

/// The built-in kinds an operator like Ebb's touches.
const BUILTINS: &[Builtin] = &[
    cluster(with_status(b("", "v1", "Namespace", "namespaces"))),
    with_status(b("", "v1", "Pod", "pods")),
    b("", "v1", "Secret", "secrets"),
    b("", "v1", "ConfigMap", "configmaps"),
    b("", "v1", "Event", "events"),
    b("", "v1", "ServiceAccount", "serviceaccounts"),
    with_status(b("", "v1", "Service", "services")),
    b("events.k8s.io", "v1", "Event", "events"),
    scaled(
        with_status(b("apps", "v1", "Deployment", "deployments")),
        &["deploy"],
    ),
    scaled(
        with_status(b("apps", "v1", "StatefulSet", "statefulsets")),
        &["sts"],
    ),
    scaled(
        with_status(b("apps", "v1", "ReplicaSet", "replicasets")),
        &["rs"],
    ),
    with_status(b(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    )),
    with_status(b("batch", "v1", "Job", "jobs")),
    b("coordination.k8s.io", "v1", "Lease", "leases"),
    cluster(with_status(b(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
    ))),
    cluster(b(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
    )),
    cluster(b(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
    )),
    cluster(with_status(b(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    ))),
];

fn builtin_info(x: &Builtin) -> ResourceInfo {
    let mut short_names: Vec<String> = x.short.iter().map(|s| s.to_string()).collect();
    match x.plural {
        "horizontalpodautoscalers" => short_names.push("hpa".into()),
        "customresourcedefinitions" => short_names.extend(["crd".into(), "crds".into()]),
        "namespaces" => short_names.push("ns".into()),
        "pods" => short_names.push("po".into()),
        "configmaps" => short_names.push("cm".into()),
        _ => {}
    }
    ResourceInfo {
        group: x.group.into(),
        versions: vec![x.version.into()],
        kind: x.kind.into(),
        list_kind: format!("{}List", x.kind),
        plural: x.plural.into(),
        singular: x.kind.to_lowercase(),
        short_names,
        categories: Vec::new(),
        namespaced: x.namespaced,
        status: x.status,
        scale: x.scale.then(|| ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            // Built-ins derive the selector string from `.spec.selector` (a LabelSelector).
            label_selector: None,
        }),
        custom: false,
        tracks_generation: x.generation,
        orphan_by_default: x.group == "batch" && x.plural == "jobs",
    }
}

/// All resource types currently served, by `(group, plural)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry {
    by_key: BTreeMap<ResKey, Arc<ResourceInfo>>,
}

impl Registry {
    pub(crate) fn with_builtins() -> Registry {
        let mut reg = Registry::default();
        for x in BUILTINS {
            reg.insert(builtin_info(x));
        }
        reg
    }

    pub(crate) fn insert(&mut self, info: ResourceInfo) {
        self.by_key.insert(info.key(), Arc::new(info));
    }

    pub(crate) fn remove(&mut self, key: &ResKey) {
        self.by_key.remove(key);
    }

    pub(crate) fn get(&self, key: &ResKey) -> Option<Arc<ResourceInfo>> {
        self.by_key.get(key).cloned()
    }

    /// The resource served at `group/version` under `plural`, if any.
    pub(crate) fn find(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceInfo>> {
        self.by_key
            .get(&(group.to_string(), plural.to_string()))
            .filter(|info| info.versions.iter().any(|v| v == version))
            .cloned()
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<ResourceInfo>> {
        self.by_key.values()
    }
}

/// The resource a CustomResourceDefinition (as JSON) defines, or why it can't be served.
pub(crate) fn from_crd(crd: &Value) -> Result<ResourceInfo, String> {
    let spec = &crd["spec"];
    let text = |v: &Value, what: &str| -> Result<String, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("spec.{what}: Required value"))
    };
    let names = &spec["names"];
    let group = text(&spec["group"], "group")?;
    let kind = text(&names["kind"], "names.kind")?;
    let plural = text(&names["plural"], "names.plural")?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let served: Vec<&Value> = versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(false))
        .collect();
    if served.is_empty() {
        return Err(
            "spec.versions: Invalid value: must have exactly one version marked as served".into(),
        );
    }
    // Subresources are per version; the storage version's decide (they may not differ in practice).
    let storage = served
        .iter()
        .find(|v| v["storage"].as_bool().unwrap_or(false))
        .copied()
        .unwrap_or(served[0]);
    let subresources = &storage["subresources"];
    let scale = subresources
        .get("scale")
        .filter(|s| s.is_object())
        .map(|s| ScalePaths {
            spec_replicas: s["specReplicasPath"]
                .as_str()
                .unwrap_or(".spec.replicas")
                .to_string(),
            status_replicas: s["statusReplicasPath"]
                .as_str()
                .unwrap_or(".status.replicas")
                .to_string(),
            label_selector: s["labelSelectorPath"].as_str().map(str::to_string),
        });
    Ok(ResourceInfo {
        group,
        versions: served
            .iter()
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect(),
        list_kind: names["listKind"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind}List")),
        singular: names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_lowercase()),
        kind,
        plural,
        short_names: strings(&names["shortNames"]),
        categories: strings(&names["categories"]),
        namespaced: spec["scope"].as_str() != Some("Cluster"),
        status: subresources.get("status").is_some_and(Value::is_object),
        scale,
        custom: true,
        tracks_generation: true,
        orphan_by_default: false,
    })
}
