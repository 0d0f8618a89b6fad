//! The `/scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas (built-ins) or of the
//! paths a CRD's `subresources.scale` names.

use serde_json::{Value, json};

use crate::meta;
use crate::patch::{PatchKind, apply_patch};
use crate::read::present;
use crate::resource::ResourceInfo;
use crate::route::Target;
use crate::status::ApiError;
use crate::store::State;
use crate::write::{self, WriteOpts};

/// The Scale object for a stored object.
pub(crate) fn to_scale(info: &ResourceInfo, obj: &Value) -> Value {
    let Some(paths) = &info.scale else {
        return Value::Null;
    };
    let m = &obj["metadata"];
    let mut metadata = json!({});
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if !m[f].is_null() {
            metadata[f] = m[f].clone();
        }
    }
    let spec_replicas = meta::get_path(obj, &paths.spec_replicas)
        .cloned()
        .unwrap_or(json!(0));
    let status_replicas = meta::get_path(obj, &paths.status_replicas)
        .cloned()
        .unwrap_or(json!(0));
    let selector = match &paths.label_selector {
        Some(path) => meta::get_path(obj, path)
            .and_then(Value::as_str)
            .map(str::to_string),
        None => obj["spec"].get("selector").map(meta::selector_string),
    };
    let mut status = json!({"replicas": status_replicas});
    if let Some(s) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(s);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": spec_replicas},
        "status": status,
    })
}

fn live(state: &State, t: &Target) -> Result<Value, ApiError> {
    state
        .get(&t.info.key(), &t.namespace, t.name())
        .map(|o| (**o).clone())
        .ok_or_else(|| ApiError::not_found(&t.info, t.name()))
}

pub(crate) fn get(state: &State, t: &Target) -> Result<Value, ApiError> {
    Ok(to_scale(&t.info, &live(state, t)?))
}

/// PUT /scale: set the replicas, with the Scale's resourceVersion as precondition.
pub(crate) fn update(
    state: &mut State,
    t: &Target,
    scale: &Value,
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    let info = &t.info;
    let Some(paths) = &info.scale else {
        return Err(ApiError::path_not_found());
    };
    let mut obj = live(state, t)?;
    let rv = meta::meta_str(scale, "resourceVersion");
    if !rv.is_empty() && rv != meta::meta_str(&obj, "resourceVersion") {
        return Err(ApiError::conflict(info, t.name()));
    }
    let replicas = scale["spec"]["replicas"].as_i64().unwrap_or(0);
    if replicas < 0 {
        let why =
            format!("spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0");
        return Err(ApiError::invalid(info, t.name(), &why));
    }
    meta::set_path(&mut obj, &paths.spec_replicas, json!(replicas));
    let main = Target {
        sub: None,
        ..t.clone()
    };
    let stored = write::replace(state, &main, present(info, &t.version, &obj), opts, false)?;
    Ok(to_scale(info, &stored))
}

/// PATCH /scale: patch the Scale view, then update.
pub(crate) fn patch(
    state: &mut State,
    t: &Target,
    kind: PatchKind,
    body: &[u8],
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    let current = get(state, t)?;
    // Scale is a built-in type, so strategic merge patch is accepted even for custom resources.
    let patched = apply_patch(kind, &current, body, false)?;
    update(state, t, &patched, opts)
}
