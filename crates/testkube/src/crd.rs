//! CustomResourceDefinitions: applying one registers its kind (discovery, storage, subresources) and marks it
//! Established; deleting one removes the kind and all its objects.

use serde_json::{Value, json};

use crate::meta;
use crate::resource::{self, ResourceInfo};
use crate::status::ApiError;
use crate::store::State;

fn is_crd(info: &ResourceInfo) -> bool {
    info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions"
}

/// Checks the server makes before storing a CRD: a servable definition named `<plural>.<group>`.
pub(crate) fn validate_object(
    _state: &State,
    info: &ResourceInfo,
    obj: &Value,
) -> Result<(), ApiError> {
    if !is_crd(info) {
        return Ok(());
    }
    let name = meta::meta_str(obj, "name");
    let def = resource::from_crd(obj).map_err(|why| ApiError::invalid(info, name, &why))?;
    let want = format!("{}.{}", def.plural, def.group);
    if name != want {
        let why = format!(
            "metadata.name: Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"
        );
        return Err(ApiError::invalid(info, name, &why));
    }
    Ok(())
}

/// After a CRD is stored: serve its kind, and set the status conditions the apiextensions controller would
/// (a second write, so watchers see the CRD become Established as they do on a real cluster).
pub(crate) fn after_write(state: &mut State, info: &ResourceInfo, stored: &Value) {
    if !is_crd(info) || meta::is_deleting(stored) {
        return;
    }
    let Ok(def) = resource::from_crd(stored) else {
        return;
    };
    let established = stored["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    });
    let versions = def.versions.clone();
    let key = def.key();
    // A CRD whose storage moved keeps its objects: they are stored once for all versions.
    state.registry.insert(def);
    if established {
        return;
    }
    let now = meta::now();
    let condition = |t: &str, reason: &str, msg: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": msg});
    let mut updated = stored.clone();
    updated["status"] = json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": stored["spec"]["names"],
        "storedVersions": versions.first().map(|v| vec![v.clone()]).unwrap_or_default(),
    });
    let _ = key;
    state.put(info, updated);
}

/// After a CRD is removed: stop serving its kind and delete its objects.
pub(crate) fn after_remove(state: &mut State, info: &ResourceInfo, removed: &Value) {
    if !is_crd(info) {
        return;
    }
    if let Ok(def) = resource::from_crd(removed) {
        let key = def.key();
        state.remove_all(&key);
        state.registry.remove(&key);
    }
}
