//! managedFields: which field manager owns which fields, in the `FieldsV1` shape the real server writes.
//! Simplified: lists are atomic (owned whole), and a field belongs to whoever last changed it.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::meta;
use crate::route::Subresource;
use crate::write::WriteOpts;

/// A field path: the map keys from the object's root.
pub(crate) type Path = Vec<String>;

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) manager: String,
    pub(crate) operation: String,
    pub(crate) subresource: String,
    pub(crate) api_version: String,
    pub(crate) fields: BTreeSet<Path>,
}

/// Metadata fields that belong to the client (the rest is the server's bookkeeping).
const CLIENT_METADATA: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

/// Leaf paths of a value: every scalar, list or empty map, reached through maps.
pub(crate) fn leaves(v: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    let Some(root) = v.as_object() else {
        return out;
    };
    for (k, child) in root {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                for f in CLIENT_METADATA {
                    if let Some(c) = child.get(*f) {
                        walk(c, vec![k.clone(), f.to_string()], &mut out);
                    }
                }
            }
            _ => walk(child, vec![k.clone()], &mut out),
        }
    }
    out
}

fn walk(v: &Value, path: Path, out: &mut BTreeSet<Path>) {
    match v.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                let mut p = path.clone();
                p.push(k.clone());
                walk(child, p, out);
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

pub(crate) fn get<'a>(v: &'a Value, path: &Path) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// Leaf paths whose values differ between two objects.
pub(crate) fn changed(old: &Value, new: &Value) -> BTreeSet<Path> {
    leaves(old)
        .union(&leaves(new))
        .filter(|p| get(old, p) != get(new, p))
        .cloned()
        .collect()
}

/// Two paths overlap when one is a prefix of the other.
pub(crate) fn overlaps(a: &Path, b: &Path) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

fn to_fields_v1(fields: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut cur = &mut root;
        for k in path {
            let next = cur.entry(format!("f:{k}")).or_insert_with(|| json!({}));
            if !next.is_object() {
                *next = json!({});
            }
            let Value::Object(m) = next else {
                break;
            };
            cur = m;
        }
    }
    Value::Object(root)
}

fn from_fields_v1(v: &Value, path: Path, out: &mut BTreeSet<Path>) {
    let children: Vec<(&String, &Value)> = v
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
        .unwrap_or_default();
    if children.is_empty() {
        if !path.is_empty() {
            out.insert(path);
        }
        return;
    }
    for (k, child) in children {
        let mut p = path.clone();
        p.push(k.trim_start_matches("f:").to_string());
        from_fields_v1(child, p, out);
    }
}

/// The managedFields entries of an object.
pub(crate) fn entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let mut fields = BTreeSet::new();
            from_fields_v1(&e["fieldsV1"], Vec::new(), &mut fields);
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            Entry {
                manager: s("manager"),
                operation: s("operation"),
                subresource: s("subresource"),
                api_version: s("apiVersion"),
                fields,
            }
        })
        .collect()
}

/// Write entries back (empty ones dropped), stamping `time` now.
pub(crate) fn set_entries(obj: &mut Value, list: &[Entry]) {
    let now = meta::now();
    let rendered: Vec<Value> = list
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": now,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    let m = meta::meta_mut(obj);
    if rendered.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert("managedFields".into(), Value::Array(rendered));
    }
}

pub(crate) fn subresource_name(sub: Option<Subresource>) -> &'static str {
    match sub {
        Some(Subresource::Status) => "status",
        Some(Subresource::Scale) => "scale",
        None => "",
    }
}

/// Give the fields a write changed to its manager (taking them from everyone else).
pub(crate) fn record_fields(
    old: &Value,
    new: &mut Value,
    opts: &WriteOpts,
    sub: Option<Subresource>,
    operation: &str,
) {
    let changed = changed(old, new);
    if changed.is_empty() {
        return;
    }
    let mut list = entries(new);
    for e in &mut list {
        e.fields.retain(|f| !changed.iter().any(|c| overlaps(c, f)));
    }
    let subresource = subresource_name(sub);
    let manager = if opts.field_manager.is_empty() {
        "unknown"
    } else {
        opts.field_manager.as_str()
    };
    let api_version = new["apiVersion"].as_str().unwrap_or("").to_string();
    match list
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == operation && e.subresource == subresource)
    {
        Some(e) => e.fields.extend(changed),
        None => list.push(Entry {
            manager: manager.to_string(),
            operation: operation.to_string(),
            subresource: subresource.to_string(),
            api_version,
            fields: changed,
        }),
    }
    set_entries(new, &list);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_v1_round_trips() {
        let obj = json!({"spec": {"replicas": 2, "template": {"a": [1]}}, "metadata": {"labels": {"x": "y"}, "uid": "u"}});
        let l = leaves(&obj);
        assert_eq!(l.len(), 3);
        let mut back = BTreeSet::new();
        from_fields_v1(&to_fields_v1(&l), Vec::new(), &mut back);
        assert_eq!(back, l);
    }
}
