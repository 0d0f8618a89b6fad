//! PUT (and the common path of PATCH and apply): optimistic concurrency, immutable metadata, status
//! subresource isolation, generation, no-op detection and finalizer-completed deletion.

use serde_json::{Value, json};

use crate::crd;
use crate::create::apply_defaults;
use crate::managed::record_fields;
use crate::meta;
use crate::read::present;
use crate::route::{Subresource, Target};
use crate::status::ApiError;
use crate::store::State;

/// Options every write takes from its query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteOpts {
    pub(crate) dry_run: bool,
    pub(crate) field_manager: String,
    pub(crate) force: bool,
    /// managedFields were already computed (server-side apply).
    pub(crate) applied: bool,
}

/// The object without what never counts as a change to its desired state.
fn desired_part(obj: &Value, drop_status: bool) -> Value {
    let mut v = obj.clone();
    if let Value::Object(root) = &mut v {
        root.remove("metadata");
        root.remove("apiVersion");
        root.remove("kind");
        if drop_status {
            root.remove("status");
        }
    }
    v
}

/// The object without server-maintained bookkeeping, to detect no-op writes.
fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    let m = meta::meta_mut(&mut v);
    m.remove("resourceVersion");
    m.remove("managedFields");
    v
}

/// Copy what clients can't change from the stored object into the new one.
fn keep_server_fields(old: &Value, new: &mut Value) {
    new["apiVersion"] = old["apiVersion"].clone();
    new["kind"] = old["kind"].clone();
    let old_meta = old["metadata"].as_object().cloned().unwrap_or_default();
    let m = meta::meta_mut(new);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match old_meta.get(field) {
            Some(v) => m.insert(field.into(), v.clone()),
            None => m.remove(field),
        };
    }
}

pub(crate) fn replace(
    state: &mut State,
    t: &Target,
    new: Value,
    opts: &WriteOpts,
    require_rv: bool,
) -> Result<Value, ApiError> {
    let info = &t.info;
    let name = t.name();
    let old = state
        .get(&info.key(), &t.namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(info, name))?;
    if !new.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request is not a JSON object",
        ));
    }
    let body_name = meta::meta_str(&new, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let body_ns = meta::meta_str(&new, "namespace");
    if info.namespaced && !body_ns.is_empty() && body_ns != t.namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let new_rv = meta::meta_str(&new, "resourceVersion");
    if new_rv.is_empty() {
        if require_rv {
            let why =
                "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update";
            return Err(ApiError::invalid(info, name, why));
        }
    } else if new_rv != meta::meta_str(&old, "resourceVersion") {
        return Err(ApiError::conflict(info, name));
    }

    let mut result = if t.sub == Some(Subresource::Status) {
        // PUT /status changes only .status; everything else comes from the stored object.
        let mut r = (*old).clone();
        match new.get("status") {
            Some(s) => r["status"] = s.clone(),
            None => {
                if let Value::Object(root) = &mut r {
                    root.remove("status");
                }
            }
        }
        if opts.applied {
            meta::meta_mut(&mut r).insert(
                "managedFields".into(),
                new["metadata"]["managedFields"].clone(),
            );
        }
        r
    } else {
        let mut r = new;
        if info.status {
            // The main resource ignores .status when a status subresource exists.
            match old.get("status") {
                Some(s) => r["status"] = s.clone(),
                None => {
                    if let Value::Object(root) = &mut r {
                        root.remove("status");
                    }
                }
            }
        }
        if !opts.applied {
            let mf = old["metadata"]["managedFields"].clone();
            let m = meta::meta_mut(&mut r);
            if mf.is_null() {
                m.remove("managedFields");
            } else {
                m.insert("managedFields".into(), mf);
            }
        }
        r
    };
    keep_server_fields(&old, &mut result);
    apply_defaults(info, &mut result);

    let old_finalizers = meta::finalizers(&old);
    let new_finalizers = meta::finalizers(&result);
    if meta::is_deleting(&old) && new_finalizers.iter().any(|f| !old_finalizers.contains(f)) {
        let why = "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted";
        return Err(ApiError::invalid(info, name, why));
    }
    if info.tracks_generation
        && desired_part(&old, info.status) != desired_part(&result, info.status)
    {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        meta::meta_mut(&mut result).insert("generation".into(), json!(generation));
    }
    if comparable(&old) == comparable(&result) {
        // The real server skips writes that change nothing: no new resourceVersion, no watch event.
        return Ok(present(info, &t.version, &old));
    }
    if !opts.applied {
        record_fields(&old, &mut result, opts, t.sub, "Update");
    }
    crd::validate_object(state, info, &result)?;
    if opts.dry_run {
        return Ok(present(info, &t.version, &result));
    }
    let is_namespace = info.group.is_empty() && info.plural == "namespaces";
    if meta::is_deleting(&result) && new_finalizers.is_empty() && !is_namespace {
        // The last finalizer is gone: the deletion completes.
        // Like the real store, this is one DELETED event carrying the final state, not an update first.
        let removed = state.remove_as(&info.key(), &t.namespace, name, Some(result));
        if let Some(removed) = &removed {
            crd::after_remove(state, info, removed);
        }
        return Ok(present(
            info,
            &t.version,
            removed.as_deref().unwrap_or(&Value::Null),
        ));
    }
    if old_finalizers != new_finalizers
        || old["metadata"]["ownerReferences"] != result["metadata"]["ownerReferences"]
    {
        state.gc_wanted = true;
    }
    let stored = state.put(info, result);
    crd::after_write(state, info, &stored);
    Ok(present(info, &t.version, &stored))
}
