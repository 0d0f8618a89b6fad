//! Discovery documents: `/api`, `/apis`, `/apis/<group>`, the APIResourceLists of `/api/v1` and
//! `/apis/<group>/<version>`, aggregated discovery (apidiscovery.k8s.io/v2) and `/version`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::resource::{Registry, ResourceInfo};
use crate::status::ApiError;

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const SUB_VERBS: &[&str] = &["get", "patch", "update"];

/// Groups (other than core) and their versions, preferred first, in a stable order.
fn groups(reg: &Registry) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for info in reg.all().filter(|i| !i.group.is_empty()) {
        let versions = out.entry(info.group.clone()).or_default();
        for v in &info.versions {
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
    }
    out
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let list: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": list, "preferredVersion": list.first().cloned().unwrap_or(Value::Null)})
}

pub(crate) fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

pub(crate) fn group_list(reg: &Registry) -> Value {
    let items: Vec<Value> = groups(reg).iter().map(|(g, v)| group_json(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})
}

pub(crate) fn group(reg: &Registry, name: &str) -> Result<Value, ApiError> {
    let all = groups(reg);
    let versions = all.get(name).ok_or_else(ApiError::path_not_found)?;
    let mut g = group_json(name, versions);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Ok(g)
}

fn served_at<'a>(
    reg: &'a Registry,
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'a Arc<ResourceInfo>> {
    reg.all()
        .filter(move |i| i.group == group && i.versions.iter().any(|v| v == version))
}

fn subresources(
    info: &ResourceInfo,
) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    let mut subs = Vec::new();
    if info.status {
        subs.push(("status", "", "", ""));
    }
    if info.scale.is_some() {
        subs.push(("scale", "autoscaling", "v1", "Scale"));
    }
    subs
}

pub(crate) fn resource_list(reg: &Registry, group: &str, version: &str) -> Result<Value, ApiError> {
    let mut resources = Vec::new();
    for info in served_at(reg, group, version) {
        let mut r = json!({
            "name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
            "kind": info.kind, "verbs": VERBS,
        });
        if !info.short_names.is_empty() {
            r["shortNames"] = json!(info.short_names);
        }
        if !info.categories.is_empty() {
            r["categories"] = json!(info.categories);
        }
        resources.push(r);
        for (sub, g, v, kind) in subresources(info) {
            let mut s = json!({"name": format!("{}/{sub}", info.plural), "singularName": "",
                "namespaced": info.namespaced, "kind": if kind.is_empty() { info.kind.as_str() } else { kind },
                "verbs": SUB_VERBS});
            if !g.is_empty() {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let known = group.is_empty() && version == "v1"
        || groups(reg)
            .get(group)
            .is_some_and(|vs| vs.iter().any(|v| v == version));
    if !known {
        return Err(ApiError::path_not_found());
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn discovery_group(reg: &Registry, group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = served_at(reg, group, version)
                .map(|info| {
                    let subs: Vec<Value> = subresources(info)
                        .into_iter()
                        .map(|(sub, g, v, kind)| {
                            let kind = if kind.is_empty() {
                                json!({"group": group, "version": version, "kind": info.kind})
                            } else {
                                json!({"group": g, "version": v, "kind": kind})
                            };
                            json!({"subresource": sub, "responseKind": kind, "verbs": SUB_VERBS})
                        })
                        .collect();
                    json!({
                        "resource": info.plural,
                        "responseKind": {"group": group, "version": version, "kind": info.kind},
                        "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": info.singular,
                        "verbs": VERBS,
                        "shortNames": info.short_names,
                        "categories": info.categories,
                        "subresources": subs,
                    })
                })
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": versions})
}

/// Aggregated discovery (`Accept: ...;as=APIGroupDiscoveryList`) for `/api` (core) or `/apis`.
pub(crate) fn aggregated(reg: &Registry, core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![discovery_group(reg, "", &["v1".to_string()])]
    } else {
        groups(reg)
            .iter()
            .map(|(g, v)| discovery_group(reg, g, v))
            .collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

pub(crate) fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0+ebb-testkube", "gitCommit": "", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "n/a", "compiler": "rustc", "platform": "linux/amd64",
    })
}
