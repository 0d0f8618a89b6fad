//! Server-side apply (`application/apply-patch+yaml`): field ownership per manager, conflicts unless
//! `force`, removal of fields a manager stopped applying, create-if-missing. Approximations: lists are
//! atomic (no merge by key), and a field applied with the same value by two managers is shared.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::create;
use crate::managed::{self, Entry, Path};
use crate::meta;
use crate::route::Target;
use crate::status::ApiError;
use crate::store::State;
use crate::write::{self, WriteOpts};

/// Merge an applied configuration into an object: maps recursively, everything else replaced.
fn merge_applied(target: &mut Value, applied: &Value) {
    match (target.as_object_mut(), applied.as_object()) {
        (Some(t), Some(a)) => {
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_applied(existing, v)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *target = applied.clone(),
    }
}

fn remove_path(obj: &mut Value, path: &Path) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for k in parents {
        match cur.get_mut(k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

fn render(path: &Path) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// Parse an apply body: YAML (which includes JSON).
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).or_else(|_| {
        let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    })
}

pub(crate) fn apply(
    state: &mut State,
    t: &Target,
    applied: Value,
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    let info = &t.info;
    let name = t.name();
    if opts.field_manager.is_empty() {
        return Err(ApiError::bad_request(
            "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
        ));
    }
    if !applied.is_object() || applied["kind"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the applied configuration",
        ));
    }
    let applied_name = meta::meta_str(&applied, "name");
    if applied_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({applied_name}) does not match the name on the URL ({name})"
        )));
    }
    let mine = managed::leaves(&applied);
    let subresource = managed::subresource_name(t.sub);
    let api_version = info.api_version(&t.version);
    let my_entry = |fields: BTreeSet<Path>| Entry {
        manager: opts.field_manager.clone(),
        operation: "Apply".into(),
        subresource: subresource.into(),
        api_version: api_version.clone(),
        fields,
    };
    let opts = WriteOpts {
        applied: true,
        ..opts.clone()
    };
    let Some(live) = state.get(&info.key(), &t.namespace, name).cloned() else {
        if t.sub.is_some() {
            return Err(ApiError::not_found(info, name));
        }
        let mut obj = applied;
        managed::set_entries(&mut obj, &[my_entry(mine)]);
        return create::create(state, t, obj, &opts);
    };

    let mut list = managed::entries(&live);
    let is_me = |e: &Entry| {
        e.manager == opts.field_manager && e.operation == "Apply" && e.subresource == subresource
    };
    let mut conflicts = Vec::new();
    for path in &mine {
        if managed::get(&live, path) == managed::get(&applied, path) {
            continue;
        }
        for e in list.iter().filter(|e| !is_me(e)) {
            if e.fields.iter().any(|f| managed::overlaps(f, path)) {
                conflicts.push(format!("conflict with {:?}: {}", e.manager, render(path)));
            }
        }
    }
    if !conflicts.is_empty() && !opts.force {
        return Err(ApiError::apply_conflict(info, name, &conflicts.join(", ")));
    }
    // Changed fields move to this manager; fields it stopped applying go away unless someone else owns them.
    let previously: BTreeSet<Path> = list
        .iter()
        .filter(|e| is_me(e))
        .flat_map(|e| e.fields.clone())
        .collect();
    for e in list.iter_mut().filter(|e| !is_me(e)) {
        e.fields.retain(|f| {
            !mine.iter().any(|p| {
                managed::overlaps(f, p) && managed::get(&live, p) != managed::get(&applied, p)
            })
        });
    }
    let others: BTreeSet<Path> = list
        .iter()
        .filter(|e| !is_me(e))
        .flat_map(|e| e.fields.clone())
        .collect();
    let mut merged = (*live).clone();
    for gone in previously.difference(&mine) {
        if !others.iter().any(|o| managed::overlaps(o, gone)) {
            remove_path(&mut merged, gone);
        }
    }
    merge_applied(&mut merged, &applied);
    list.retain(|e| !is_me(e));
    list.push(my_entry(mine));
    managed::set_entries(&mut merged, &list);
    if merged.get("metadata").and_then(Value::as_object).is_none() {
        merged["metadata"] = Value::Object(Map::new());
    }
    write::replace(state, t, merged, &opts, false)
}
