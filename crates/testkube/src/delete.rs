//! DELETE: preconditions, propagationPolicy, finalizers (deletionTimestamp until they are gone), namespaces
//! that terminate, and DELETE on a collection.

use serde_json::{Value, json};

use crate::crd;
use crate::meta;
use crate::read::{ListParams, present};
use crate::route::Target;
use crate::status::ApiError;
use crate::store::State;

/// The GC finalizer for foreground cascading deletion.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";
/// The GC finalizer for orphaning dependents.
pub(crate) const ORPHAN: &str = "orphan";

/// How dependents are treated when an owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// `DeleteOptions`, from the body and the query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOpts {
    pub(crate) propagation: Option<Propagation>,
    pub(crate) precondition_uid: Option<String>,
    pub(crate) precondition_rv: Option<String>,
    pub(crate) dry_run: bool,
}

impl DeleteOpts {
    /// Read a `DeleteOptions` JSON body (any of its fields may be absent).
    pub(crate) fn from_body(body: &Value) -> DeleteOpts {
        let propagation = match body["propagationPolicy"].as_str() {
            Some(p) => parse_propagation(p),
            None => match body["orphanDependents"].as_bool() {
                Some(true) => Some(Propagation::Orphan),
                Some(false) => Some(Propagation::Background),
                None => None,
            },
        };
        DeleteOpts {
            propagation,
            precondition_uid: body["preconditions"]["uid"].as_str().map(str::to_string),
            precondition_rv: body["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_string),
            dry_run: body["dryRun"].as_array().is_some_and(|d| !d.is_empty()),
        }
    }
}

pub(crate) fn parse_propagation(p: &str) -> Option<Propagation> {
    match p {
        "Foreground" => Some(Propagation::Foreground),
        "Orphan" => Some(Propagation::Orphan),
        "Background" => Some(Propagation::Background),
        _ => None,
    }
}

/// Delete one object. Returns the object as last seen (still present when finalizers hold it).
pub(crate) fn delete(state: &mut State, t: &Target, opts: &DeleteOpts) -> Result<Value, ApiError> {
    let info = &t.info;
    let name = t.name();
    let old = state
        .get(&info.key(), &t.namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(info, name))?;
    if let Some(uid) = &opts.precondition_uid {
        let actual = meta::meta_str(&old, "uid");
        if uid != actual {
            let msg = format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
            );
            return Err(ApiError::new(409, "Conflict", msg));
        }
    }
    if let Some(rv) = &opts.precondition_rv {
        let actual = meta::meta_str(&old, "resourceVersion");
        if rv != actual {
            let msg = format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
            );
            return Err(ApiError::new(409, "Conflict", msg));
        }
    }
    if opts.dry_run {
        return Ok(present(info, &t.version, &old));
    }
    let is_namespace = info.group.is_empty() && info.plural == "namespaces";
    let propagation = opts.propagation.unwrap_or(if info.orphan_by_default {
        Propagation::Orphan
    } else {
        Propagation::Background
    });
    let mut finalizers = meta::finalizers(&old);
    let gc_finalizer = match propagation {
        Propagation::Foreground => Some(FOREGROUND),
        Propagation::Orphan => Some(ORPHAN),
        Propagation::Background => None,
    };
    if let Some(f) = gc_finalizer {
        // Only owners with dependents need the GC's attention; the GC removes the finalizer when done.
        if !finalizers.iter().any(|x| x == f) && has_dependents(state, &old) {
            finalizers.push(f.to_string());
        }
    }
    if meta::is_deleting(&old) && finalizers == meta::finalizers(&old) {
        return Ok(present(info, &t.version, &old));
    }
    if finalizers.is_empty() && !is_namespace {
        let removed = state.remove(&info.key(), &t.namespace, name);
        if let Some(removed) = &removed {
            crd::after_remove(state, info, removed);
        }
        return Ok(present(
            info,
            &t.version,
            removed.as_deref().unwrap_or(&old),
        ));
    }
    let mut updated = (*old).clone();
    meta::set_finalizers(&mut updated, &finalizers);
    let m = meta::meta_mut(&mut updated);
    if !m.contains_key("deletionTimestamp") {
        m.insert("deletionTimestamp".into(), json!(meta::now()));
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    if is_namespace {
        updated["status"]["phase"] = json!("Terminating");
    }
    state.gc_wanted = true;
    let stored = state.put(info, updated);
    Ok(present(info, &t.version, &stored))
}

/// Whether any object names `owner` in its ownerReferences.
pub(crate) fn has_dependents(state: &State, owner: &Value) -> bool {
    let uid = meta::meta_str(owner, "uid");
    state
        .index
        .dependents
        .get(uid)
        .is_some_and(|d| !d.is_empty())
}

/// Whether `obj` has an ownerReference to `uid`.
pub(crate) fn owns(uid: &str, obj: &Value) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid)))
}

/// DELETE on a collection: every object the selectors match, each deleted as above.
pub(crate) fn delete_collection(
    state: &mut State,
    t: &Target,
    list: &ListParams,
    opts: &DeleteOpts,
) -> Result<Value, ApiError> {
    let ns = (!t.namespace.is_empty()).then_some(t.namespace.as_str());
    let names: Vec<(String, String)> = state
        .list(&t.info.key(), ns)
        .filter(|(_, o)| list.labels.matches(o) && list.fields.matches(o))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = Vec::new();
    for (ns, name) in names {
        let one = Target {
            namespace: ns,
            name: Some(name),
            ..t.clone()
        };
        items.push(delete(state, &one, opts)?);
    }
    Ok(json!({
        "kind": t.info.list_kind,
        "apiVersion": t.info.api_version(&t.version),
        "metadata": {"resourceVersion": state.rv.to_string()},
        "items": items,
    }))
}
