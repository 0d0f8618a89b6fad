//! PATCH: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch (built-in kinds
//! only, as on a real server; lists merged by their Kubernetes merge keys), then the common update path.

use serde_json::{Map, Value};

use crate::apply;
use crate::read::present;
use crate::route::{Subresource, Target};
use crate::scale;
use crate::status::ApiError;
use crate::store::State;
use crate::write::{self, WriteOpts};

/// The patch formats, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchKind {
    pub(crate) fn from_content_type(ct: &str) -> Result<PatchKind, ApiError> {
        let mime = ct.split(';').next().unwrap_or("").trim();
        match mime {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchKind::Apply),
            _ => Err(ApiError::unsupported_media_type(ct)),
        }
    }
}

/// Candidate merge keys for a list field (`patchMergeKey` in the Kubernetes API types).
fn merge_keys(field: &str) -> &'static [&'static str] {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => &["name"],
        "volumeMounts" => &["mountPath"],
        "ports" => &["containerPort", "port"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "hostAliases" => &["ip"],
        _ => &[],
    }
}

/// Fields whose primitive lists merge as sets (`patchStrategy: merge` on a list of strings).
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

fn merge_list(target: &mut Value, patch: &[Value], field: &str) {
    let keys = merge_keys(field);
    let mut out: Vec<Value> = target.as_array().cloned().unwrap_or_default();
    if is_set_list(field) {
        for v in patch {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        *target = Value::Array(out);
        return;
    }
    if keys.is_empty() || !patch.iter().all(Value::is_object) {
        *target = Value::Array(patch.to_vec());
        return;
    }
    for el in patch {
        let Some(key) = keys.iter().find(|k| el.get(**k).is_some()) else {
            out.push(el.clone());
            continue;
        };
        let pos = out.iter().position(|o| o.get(*key) == el.get(*key));
        if el["$patch"] == "delete" {
            if let Some(i) = pos {
                out.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => strategic(&mut out[i], el, ""),
            None => {
                let mut fresh = Value::Null;
                strategic(&mut fresh, el, "");
                out.push(fresh);
            }
        }
    }
    *target = Value::Array(out);
}

/// Apply a strategic merge patch to `target` (a value of the field named `field`).
pub(crate) fn strategic(target: &mut Value, patch: &Value, field: &str) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = p.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let _ = field;
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(list_field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(drop)) = (target[list_field].as_array_mut(), v.as_array()) {
                list.retain(|x| !drop.contains(x));
            }
            continue;
        }
        let Some(t) = target.as_object_mut() else {
            return;
        };
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(_) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                if v["$patch"] == "delete" {
                    t.remove(k);
                } else {
                    strategic(slot, v, k);
                }
            }
            Value::Array(items) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                merge_list(slot, items, k);
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Apply a (non-apply) patch document to an object.
pub(crate) fn apply_patch(
    kind: PatchKind,
    base: &Value,
    body: &[u8],
    custom: bool,
) -> Result<Value, ApiError> {
    let mut doc = base.clone();
    match kind {
        PatchKind::Merge | PatchKind::Apply => {
            let p: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            json_patch::merge(&mut doc, &p);
        }
        PatchKind::Json => {
            let ops: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            json_patch::patch(&mut doc, &ops.0)
                .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?;
        }
        PatchKind::Strategic => {
            if custom {
                // The real server has no schema with merge keys for custom resources and refuses.
                return Err(ApiError::unsupported_media_type(
                    "application/strategic-merge-patch+json",
                ));
            }
            let p: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            strategic(&mut doc, &p, "");
        }
    }
    Ok(doc)
}

pub(crate) fn patch(
    state: &mut State,
    t: &Target,
    kind: PatchKind,
    body: &[u8],
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    if t.sub == Some(Subresource::Scale) {
        return scale::patch(state, t, kind, body, opts);
    }
    if kind == PatchKind::Apply {
        return apply::apply(state, t, apply::parse_body(body)?, opts);
    }
    let info = &t.info;
    let name = t.name();
    let live = state
        .get(&info.key(), &t.namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(info, name))?;
    let new = apply_patch(kind, &present(info, &t.version, &live), body, info.custom)?;
    write::replace(state, t, new, opts, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]},
            "metadata": {"finalizers": ["x"]}});
        let p = json!({"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]},
            "metadata": {"finalizers": ["y"]}});
        strategic(&mut pod, &p, "");
        assert_eq!(pod["spec"]["containers"][0]["image"], "a:1");
        assert_eq!(pod["spec"]["containers"][1]["image"], "b:2");
        assert_eq!(pod["spec"]["containers"][2]["name"], "c");
        assert_eq!(pod["metadata"]["finalizers"], json!(["x", "y"]));
        strategic(
            &mut pod,
            &json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
            "",
        );
        assert_eq!(pod["spec"]["containers"].as_array().map(Vec::len), Some(2));
    }
}
