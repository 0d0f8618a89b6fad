//! The object store: objects as JSON by resource, namespace and name, one global resourceVersion
//! (like etcd's revision), and the bounded event history that watches read from.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::meta;
use crate::resource::{Registry, ResKey, ResourceInfo};

/// `(namespace, name)`; the namespace is "" for cluster-scoped objects.
pub(crate) type ObjKey = (String, String);

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the history.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) rv: u64,
    pub(crate) res: ResKey,
    pub(crate) namespace: String,
    pub(crate) kind: EventType,
    pub(crate) object: Arc<Value>,
    /// The object before a MODIFIED change, so selector watches can turn it into ADDED/DELETED.
    pub(crate) previous: Option<Arc<Value>>,
}

/// Everything behind the one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) registry: Registry,
    objects: BTreeMap<ResKey, BTreeMap<ObjKey, Arc<Value>>>,
    /// The latest resourceVersion handed out.
    pub(crate) rv: u64,
    history: VecDeque<Event>,
    history_limit: usize,
    /// Events at or below this resourceVersion may be missing: older watches get 410 Gone.
    pub(crate) compacted: u64,
    /// Set by writes that the garbage collector should look at (deletions, finalizer changes).
    pub(crate) gc_wanted: bool,
    /// Indexes the garbage collector works from, so a sweep costs what changed, not the store size.
    pub(crate) index: GcIndex,
}

/// Where an object lives: resource and `(namespace, name)`.
pub(crate) type Place = (ResKey, ObjKey);

/// The garbage collector's view of ownership, kept up to date by every write.
#[derive(Debug, Default)]
pub(crate) struct GcIndex {
    /// uid → the object carrying it.
    pub(crate) by_uid: HashMap<String, Place>,
    /// owner uid → objects naming it in their ownerReferences.
    pub(crate) dependents: HashMap<String, BTreeSet<Place>>,
    /// Objects with a deletionTimestamp (their finalizers may be the collector's to process).
    pub(crate) deleting: BTreeSet<Place>,
    /// Objects whose owners must be checked (new or changed ownerReferences, or an owner went).
    pub(crate) check_owners: BTreeSet<Place>,
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_string))
        .collect()
}

impl GcIndex {
    fn stored(&mut self, place: &Place, obj: &Value, previous: Option<&Value>) {
        let uid = meta::meta_str(obj, "uid");
        if !uid.is_empty() {
            self.by_uid.insert(uid.to_string(), place.clone());
        }
        let owners = owner_uids(obj);
        let before = previous.map(owner_uids).unwrap_or_default();
        if owners != before {
            for o in &before {
                if let Some(set) = self.dependents.get_mut(o) {
                    set.remove(place);
                    if set.is_empty() {
                        self.dependents.remove(o);
                    }
                }
            }
            for o in &owners {
                self.dependents
                    .entry(o.clone())
                    .or_default()
                    .insert(place.clone());
            }
            if !owners.is_empty() {
                self.check_owners.insert(place.clone());
            }
        }
        if meta::is_deleting(obj) {
            self.deleting.insert(place.clone());
        } else {
            self.deleting.remove(place);
        }
    }

    fn removed(&mut self, place: &Place, obj: &Value) {
        let uid = meta::meta_str(obj, "uid");
        if self.by_uid.get(uid) == Some(place) {
            self.by_uid.remove(uid);
        }
        for o in owner_uids(obj) {
            if let Some(set) = self.dependents.get_mut(&o) {
                set.remove(place);
                if set.is_empty() {
                    self.dependents.remove(&o);
                }
            }
        }
        self.deleting.remove(place);
        self.check_owners.remove(place);
        if let Some(deps) = self.dependents.get(uid) {
            self.check_owners.extend(deps.iter().cloned());
        }
    }
}

impl State {
    pub(crate) fn new(history_limit: usize) -> State {
        State {
            registry: Registry::with_builtins(),
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 1,
            gc_wanted: false,
            index: GcIndex::default(),
        }
    }

    pub(crate) fn get(&self, res: &ResKey, ns: &str, name: &str) -> Option<&Arc<Value>> {
        self.objects
            .get(res)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a resource in key order, in one namespace or all.
    pub(crate) fn list<'a>(
        &'a self,
        res: &ResKey,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Arc<Value>)> + 'a {
        self.objects
            .get(res)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(move |((o_ns, _), _)| ns.is_none_or(|ns| ns == o_ns))
    }

    /// Every stored object of every resource.
    pub(crate) fn all_objects(&self) -> impl Iterator<Item = (&ResKey, &ObjKey, &Arc<Value>)> {
        self.objects
            .iter()
            .flat_map(|(res, m)| m.iter().map(move |(k, v)| (res, k, v)))
    }

    fn record(&mut self, event: Event) {
        self.history.push_back(event);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    /// Store `obj` (ADDED if new, MODIFIED otherwise) under a fresh resourceVersion.
    pub(crate) fn put(&mut self, info: &ResourceInfo, mut obj: Value) -> Arc<Value> {
        self.rv += 1;
        let rv = self.rv;
        meta::meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(rv.to_string()));
        let key = (
            meta::meta_str(&obj, "namespace").to_string(),
            meta::meta_str(&obj, "name").to_string(),
        );
        let obj = Arc::new(obj);
        let previous = self
            .objects
            .entry(info.key())
            .or_default()
            .insert(key.clone(), obj.clone());
        self.index
            .stored(&(info.key(), key.clone()), &obj, previous.as_deref());
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(Event {
            rv,
            res: info.key(),
            namespace: key.0,
            kind,
            object: obj.clone(),
            previous,
        });
        obj
    }

    /// Remove an object; its DELETED event carries a fresh resourceVersion, as the real server's does.
    pub(crate) fn remove(&mut self, res: &ResKey, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.remove_as(res, ns, name, None)
    }

    /// Remove an object whose last state is `last` (an update that removed the final finalizer).
    pub(crate) fn remove_as(
        &mut self,
        res: &ResKey,
        ns: &str,
        name: &str,
        last: Option<Value>,
    ) -> Option<Arc<Value>> {
        let old = self
            .objects
            .get_mut(res)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.index
            .removed(&(res.clone(), (ns.to_string(), name.to_string())), &old);
        self.rv += 1;
        let mut last = last.unwrap_or_else(|| (*old).clone());
        meta::meta_mut(&mut last)
            .insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        let last = Arc::new(last);
        self.record(Event {
            rv: self.rv,
            res: res.clone(),
            namespace: ns.to_string(),
            kind: EventType::Deleted,
            object: last.clone(),
            previous: Some(old),
        });
        self.gc_wanted = true;
        Some(last)
    }

    /// Drop a whole resource's objects (its CRD was deleted), with DELETED events.
    pub(crate) fn remove_all(&mut self, res: &ResKey) {
        let keys: Vec<ObjKey> = self.list(res, None).map(|(k, _)| k.clone()).collect();
        for (ns, name) in keys {
            self.remove(res, &ns, &name);
        }
    }

    /// Events after `rv`, or `Err(compacted)` when some of them are no longer kept.
    pub(crate) fn events_after(&self, rv: u64) -> Result<impl Iterator<Item = &Event>, u64> {
        if rv < self.compacted {
            return Err(self.compacted);
        }
        let start = self.history.partition_point(|e| e.rv <= rv);
        Ok(self.history.range(start..))
    }

    /// Forget all history up to now, as etcd compaction does.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }
}

/// The shared store: the state, a channel that ticks with each new resourceVersion, and the GC's doorbell.
#[derive(Debug)]
pub(crate) struct Store {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    pub(crate) gc: Notify,
}

impl Store {
    pub(crate) fn new(history_limit: usize) -> Store {
        Store {
            state: Mutex::new(State::new(history_limit)),
            changed: watch::Sender::new(1),
            gc: Notify::new(),
        }
    }

    /// Read access (a poisoned lock is still usable: every write leaves the state consistent).
    pub(crate) fn read(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run a write under the lock, then wake watches and, if needed, the garbage collector.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let (out, rv, gc) = {
            let mut state = self.read();
            let out = f(&mut state);
            let gc = std::mem::take(&mut state.gc_wanted);
            (out, state.rv, gc)
        };
        self.changed.send_if_modified(|cur| {
            let moved = *cur != rv;
            *cur = rv;
            moved
        });
        if gc {
            self.gc.notify_one();
        }
        out
    }

    /// A receiver that changes whenever a write commits.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
