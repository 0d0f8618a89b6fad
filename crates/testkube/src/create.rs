//! POST: names (incl. `generateName`), uid, timestamps, generation, defaults, and the namespace lifecycle.

use serde_json::{Value, json};

use crate::crd;
use crate::managed::record_fields;
use crate::meta;
use crate::read::present;
use crate::resource::ResourceInfo;
use crate::route::Target;
use crate::status::ApiError;
use crate::store::State;
use crate::write::WriteOpts;

/// The namespace must exist and not be terminating (the NamespaceLifecycle admission plugin).
pub(crate) fn check_namespace(state: &State, ns: &str) -> Result<(), ApiError> {
    let key = (String::new(), "namespaces".to_string());
    match state.get(&key, "", ns) {
        None => Err(ApiError::namespace_not_found(ns)),
        Some(n) if meta::is_deleting(n) => Err(ApiError::forbidden(format!(
            "unable to create new content in namespace {ns} because it is being terminated"
        ))),
        Some(_) => Ok(()),
    }
}

/// The few API defaults an operator reads back (`spec.replicas` of workloads, Job parallelism...).
pub(crate) fn apply_defaults(info: &ResourceInfo, obj: &mut Value) {
    let default = |obj: &mut Value, path: &str, v: Value| {
        if meta::get_path(obj, path).is_none_or(Value::is_null) {
            meta::set_path(obj, path, v);
        }
    };
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", "deployments" | "statefulsets" | "replicasets") => {
            default(obj, ".spec.replicas", json!(1));
            if info.plural == "deployments" {
                default(obj, ".spec.revisionHistoryLimit", json!(10));
                default(obj, ".spec.progressDeadlineSeconds", json!(600));
            }
        }
        ("batch", "jobs") => {
            if meta::get_path(obj, ".spec.completions").is_none()
                && meta::get_path(obj, ".spec.parallelism").is_none()
            {
                default(obj, ".spec.completions", json!(1));
            }
            default(obj, ".spec.parallelism", json!(1));
            default(obj, ".spec.backoffLimit", json!(6));
            default(obj, ".spec.completionMode", json!("NonIndexed"));
            default(obj, ".spec.suspend", json!(false));
        }
        ("autoscaling", "horizontalpodautoscalers") => default(obj, ".spec.minReplicas", json!(1)),
        _ => {}
    }
}

/// What the server sets on a new object's status (kinds with a status subresource start empty).
fn initial_status(info: &ResourceInfo, obj: &mut Value) {
    if !info.status {
        return;
    }
    let status = match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => json!({"phase": "Active"}),
        ("", "pods") => json!({"phase": "Pending", "qosClass": "BestEffort"}),
        _ => Value::Null,
    };
    if let Value::Object(root) = obj {
        root.remove("status");
        if !status.is_null() {
            root.insert("status".into(), status);
        }
    }
}

pub(crate) fn create(
    state: &mut State,
    t: &Target,
    mut obj: Value,
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    let info = &t.info;
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request is not a JSON object",
        ));
    }
    let body_ns = meta::meta_str(&obj, "namespace").to_string();
    if info.namespaced {
        if !body_ns.is_empty() && body_ns != t.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        check_namespace(state, &t.namespace)?;
    }
    let mut name = meta::meta_str(&obj, "name").to_string();
    if name.is_empty() {
        let prefix = meta::meta_str(&obj, "generateName");
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                info,
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
        name = format!("{prefix}{}", meta::name_suffix());
    }
    if !meta::valid_name(&name) {
        let why = format!(
            "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
        );
        return Err(ApiError::invalid(info, &name, &why));
    }
    if state.get(&info.key(), &t.namespace, &name).is_some() {
        return Err(ApiError::already_exists(info, &name));
    }
    obj["apiVersion"] = json!(info.api_version(&t.version));
    obj["kind"] = json!(info.kind);
    let m = meta::meta_mut(&mut obj);
    m.insert("name".into(), json!(name));
    if info.namespaced {
        m.insert("namespace".into(), json!(t.namespace));
    } else {
        m.remove("namespace");
    }
    m.insert("uid".into(), json!(meta::new_uid()));
    m.insert("creationTimestamp".into(), json!(meta::now()));
    for field in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
        "selfLink",
    ] {
        m.remove(field);
    }
    if info.tracks_generation {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    if info.group.is_empty() && info.plural == "namespaces" {
        obj["spec"] = json!({"finalizers": ["kubernetes"]});
    }
    initial_status(info, &mut obj);
    apply_defaults(info, &mut obj);
    if info.custom || (info.group == "apiextensions.k8s.io") {
        crd::validate_object(state, info, &obj)?;
    }
    if !opts.applied {
        record_fields(&Value::Null, &mut obj, opts, t.sub, "Update");
    }
    if opts.dry_run {
        return Ok(present(info, &t.version, &obj));
    }
    if !obj["metadata"]["ownerReferences"].is_null() {
        // An owner that doesn't exist makes this object garbage; let the GC look.
        state.gc_wanted = true;
    }
    let stored = state.put(info, obj);
    let out = present(info, &t.version, &stored);
    crd::after_write(state, info, &stored);
    Ok(out)
}
