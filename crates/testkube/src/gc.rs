//! The garbage collector: deletes dependents whose owners are gone (background), processes the `orphan`
//! and `foregroundDeletion` finalizers, and empties terminating namespaces. Runs asynchronously after
//! deletions, as kube-controller-manager's does.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use crate::delete::{self, DeleteOpts, FOREGROUND, ORPHAN, Propagation};
use crate::meta;
use crate::resource::ResKey;
use crate::route::Target;
use crate::store::{Place, State, Store};

/// Loop forever: each wake-up sweeps until nothing more changes.
pub(crate) async fn run(store: Arc<Store>) {
    loop {
        store.gc.notified().await;
        // Bounded, so a bug can't spin: a cascade deeper than this finishes on the next wake-up.
        for _ in 0..64 {
            if !store.write(sweep) {
                break;
            }
        }
    }
}

enum Action {
    Delete(ResKey, String, String),
    DropOwnerRefs(ResKey, String, String, Vec<String>),
    DropFinalizer(ResKey, String, String, &'static str),
    RemoveNamespace(String),
}

fn target(state: &State, res: &ResKey, ns: &str, name: &str) -> Option<Target> {
    let info = state.registry.get(res)?;
    Some(Target {
        version: info.preferred_version().to_string(),
        info,
        namespace: ns.to_string(),
        name: Some(name.to_string()),
        sub: None,
    })
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_string))
        .collect()
}

/// What to do, looking only at what the index says may need it: objects whose owners changed or
/// went, and objects being deleted.
fn plan(state: &State, check_owners: &BTreeSet<Place>) -> Vec<Action> {
    let index = &state.index;
    let mut actions = Vec::new();
    let dependents_of = |uid: &str| -> Vec<(ResKey, String, String, bool)> {
        index
            .dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|(r, (ns, n))| {
                let o = state.get(r, ns, n)?;
                Some((r.clone(), ns.clone(), n.clone(), meta::is_deleting(o)))
            })
            .collect()
    };
    for (res, (ns, name)) in check_owners {
        let Some(obj) = state.get(res, ns, name) else {
            continue;
        };
        let owners = owner_uids(obj);
        let dangling: Vec<String> = owners
            .iter()
            .filter(|u| !index.by_uid.contains_key(u.as_str()))
            .cloned()
            .collect();
        if dangling.is_empty() {
            continue;
        }
        if dangling.len() == owners.len() {
            if !meta::is_deleting(obj) {
                actions.push(Action::Delete(res.clone(), ns.clone(), name.clone()));
            }
        } else {
            actions.push(Action::DropOwnerRefs(
                res.clone(),
                ns.clone(),
                name.clone(),
                dangling,
            ));
        }
    }
    for (res, (ns, name)) in &index.deleting {
        let Some(obj) = state.get(res, ns, name) else {
            continue;
        };
        let uid = meta::meta_str(obj, "uid");
        let finalizers = meta::finalizers(obj);
        if finalizers.iter().any(|f| f == ORPHAN) {
            for (r, dns, dn, _) in dependents_of(uid) {
                actions.push(Action::DropOwnerRefs(r, dns, dn, vec![uid.to_string()]));
            }
            actions.push(Action::DropFinalizer(
                res.clone(),
                ns.clone(),
                name.clone(),
                ORPHAN,
            ));
        }
        if finalizers.iter().any(|f| f == FOREGROUND) {
            let deps = dependents_of(uid);
            if deps.is_empty() {
                actions.push(Action::DropFinalizer(
                    res.clone(),
                    ns.clone(),
                    name.clone(),
                    FOREGROUND,
                ));
            }
            for (r, dns, dn, deleting) in deps {
                if !deleting {
                    actions.push(Action::Delete(r, dns, dn));
                }
            }
        }
        if res.0.is_empty() && res.1 == "namespaces" {
            let content: Vec<(ResKey, String, String, bool)> = state
                .all_objects()
                .filter(|(r, (ons, _), _)| ons == name && !(r.0.is_empty() && r.1 == "namespaces"))
                .map(|(r, (ons, n), o)| (r.clone(), ons.clone(), n.clone(), meta::is_deleting(o)))
                .collect();
            if content.is_empty() {
                actions.push(Action::RemoveNamespace(name.clone()));
            }
            for (r, ons, n, deleting) in content {
                if !deleting {
                    actions.push(Action::Delete(r, ons, n));
                }
            }
        }
    }
    actions
}

/// Store a changed object, completing its deletion if it was the last finalizer.
fn store_update(state: &mut State, res: &ResKey, obj: Value) {
    let Some(info) = state.registry.get(res) else {
        return;
    };
    let (ns, name) = (
        meta::meta_str(&obj, "namespace").to_string(),
        meta::meta_str(&obj, "name").to_string(),
    );
    if meta::is_deleting(&obj) && meta::finalizers(&obj).is_empty() {
        state.remove_as(res, &ns, &name, Some(obj));
    } else {
        state.put(&info, obj);
    }
}

/// One pass; true when something changed (so a cascade continues).
pub(crate) fn sweep(state: &mut State) -> bool {
    let check_owners = std::mem::take(&mut state.index.check_owners);
    let actions = plan(state, &check_owners);
    let changed = !actions.is_empty();
    for action in actions {
        match action {
            Action::Delete(res, ns, name) => {
                if let Some(t) = target(state, &res, &ns, &name) {
                    let opts = DeleteOpts {
                        propagation: Some(Propagation::Background),
                        ..DeleteOpts::default()
                    };
                    let _ = delete::delete(state, &t, &opts);
                }
            }
            Action::DropOwnerRefs(res, ns, name, uids) => {
                let Some(obj) = state.get(&res, &ns, &name) else {
                    continue;
                };
                let mut obj = (**obj).clone();
                if let Some(refs) = obj["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| {
                        !r["uid"]
                            .as_str()
                            .is_some_and(|u| uids.iter().any(|x| x == u))
                    });
                    if refs.is_empty()
                        && let Some(m) = obj["metadata"].as_object_mut()
                    {
                        m.remove("ownerReferences");
                    }
                }
                store_update(state, &res, obj);
            }
            Action::DropFinalizer(res, ns, name, finalizer) => {
                let Some(obj) = state.get(&res, &ns, &name) else {
                    continue;
                };
                let mut obj = (**obj).clone();
                let left: Vec<String> = meta::finalizers(&obj)
                    .into_iter()
                    .filter(|f| f != finalizer)
                    .collect();
                meta::set_finalizers(&mut obj, &left);
                store_update(state, &res, obj);
            }
            Action::RemoveNamespace(name) => {
                state.remove(&(String::new(), "namespaces".into()), "", &name);
            }
        }
    }
    state.gc_wanted = false;
    changed
}
