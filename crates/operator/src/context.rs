//! What every controller and scale loop shares: the client, settings, caches and registries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ebb_api::scaled_job::ScaledJob;
use ebb_api::scaled_object::ScaledObject;
use ebb_scalers::Clients;
use ebb_telemetry::Metrics;
use kube::Client;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::auth::StoreLookup;
use crate::config::OperatorConfig;
use crate::events::Events;
use crate::metrics_store::MetricsStore;
use crate::scale_loop::ScaleLoops;
use crate::target::TargetResolver;

/// Shared state of one operator instance.
pub(crate) struct Context {
    pub(crate) client: Client,
    pub(crate) config: OperatorConfig,
    pub(crate) events: Events,
    pub(crate) metrics: MetricsStore,
    pub(crate) loops: ScaleLoops,
    pub(crate) targets: TargetResolver,
    pub(crate) lookup: StoreLookup,
    pub(crate) clients: Clients,
    pub(crate) scaled_objects: Store<ScaledObject>,
    pub(crate) scaled_jobs: Store<ScaledJob>,
    /// KEDA's Prometheus families, Ebb's, and the decision logs behind `/explain`.
    pub(crate) telemetry: Arc<Metrics>,
    failures: Mutex<HashMap<String, u32>>,
    /// Per object key: the message of the last ScaledObjectCheckFailed event (no repeats).
    last_failure: Mutex<HashMap<String, String>>,
    /// Per object key: the predicate hash of the last successful reconcile.
    reconciled: Mutex<HashMap<String, u64>>,
    /// Objects whose HPA or authentication changed: reconcile them even if unchanged themselves.
    dirty: Mutex<std::collections::HashSet<String>>,
    /// (namespace, `apiVersion.Kind`, target name) → the ScaledObject scaling it.
    claims: Mutex<Claims>,
}

#[derive(Default)]
struct Claims {
    by_target: HashMap<(String, String, String), String>,
    by_object: HashMap<(String, String), (String, String, String)>,
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        client: Client,
        config: OperatorConfig,
        metrics: MetricsStore,
        loops: ScaleLoops,
        lookup: StoreLookup,
        clients: Clients,
        scaled_objects: Store<ScaledObject>,
        scaled_jobs: Store<ScaledJob>,
        telemetry: Arc<Metrics>,
    ) -> Context {
        let events = Events::new(client.clone(), &config.reporter, config.instance.clone());
        Context {
            client,
            config,
            events,
            metrics,
            loops,
            targets: TargetResolver::default(),
            lookup,
            clients,
            scaled_objects,
            scaled_jobs,
            telemetry,
            failures: Mutex::new(HashMap::new()),
            last_failure: Mutex::new(HashMap::new()),
            claims: Mutex::new(Claims::default()),
            reconciled: Mutex::new(HashMap::new()),
            dirty: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The next retry delay for `key` after a failed reconcile: 1 s doubling up to 5 min.
    pub(crate) fn backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = failures.entry(key.to_owned()).or_insert(0);
        let delay = Duration::from_secs(1u64 << (*n).min(8)).min(Duration::from_secs(300));
        *n = n.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub(crate) fn succeeded(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.remove(key);
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Whether `message` is a new failure for `key` (worth an Event); remembers it.
    pub(crate) fn new_failure(&self, key: &str, message: &str) -> bool {
        let mut last = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        last.insert(key.to_owned(), message.to_owned()).as_deref() != Some(message)
    }

    /// Claims the scale target for ScaledObject `namespace/name`; returns the other ScaledObject
    /// that already scales it, if any (KEDA refuses a second ScaledObject on one target).
    pub(crate) fn claim_target(
        &self,
        namespace: &str,
        name: &str,
        kind: &str,
        target: &str,
    ) -> Option<String> {
        let wanted = (namespace.to_owned(), kind.to_owned(), target.to_owned());
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(owner) = claims.by_target.get(&wanted).filter(|o| o.as_str() != name) {
            let still_owner = self
                .scaled_objects
                .get(&ObjectRef::new(owner).within(namespace))
                .is_some_and(|so| {
                    let t = &so.spec.scale_target_ref;
                    so.metadata.deletion_timestamp.is_none()
                        && t.name == target
                        && format!("{}.{}", t.api_version(), t.kind()) == kind
                });
            if still_owner {
                return Some(owner.clone());
            }
        }
        let object = (namespace.to_owned(), name.to_owned());
        if let Some(previous) = claims.by_object.insert(object, wanted.clone())
            && previous != wanted
            && claims.by_target.get(&previous).is_some_and(|o| o == name)
        {
            claims.by_target.remove(&previous);
        }
        claims.by_target.insert(wanted, name.to_owned());
        None
    }

    /// Releases whatever target ScaledObject `namespace/name` claimed.
    pub(crate) fn release_target(&self, namespace: &str, name: &str) {
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(target) = claims
            .by_object
            .remove(&(namespace.to_owned(), name.to_owned()))
            && claims.by_target.get(&target).is_some_and(|o| o == name)
        {
            claims.by_target.remove(&target);
        }
    }

    /// Marks ScaledObjects to reconcile in full on their next trigger.
    pub(crate) fn mark_dirty(&self, refs: &[ObjectRef<ScaledObject>]) {
        let mut dirty = self.dirty.lock().unwrap_or_else(PoisonError::into_inner);
        for r in refs {
            dirty.insert(crate::scale_loop::loop_key(
                "ScaledObject",
                r.namespace.as_deref().unwrap_or_default(),
                &r.name,
            ));
        }
    }

    /// KEDA's watch predicates, applied at the top of reconcile: true when the object's spec,
    /// labels, annotations, finalizers and deletion state are as at its last successful reconcile
    /// and nothing it owns or uses changed (its own status writes land here).
    pub(crate) fn unchanged(&self, key: &str, hash: u64) -> bool {
        let was_dirty = self
            .dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        let reconciled = self
            .reconciled
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        !was_dirty && reconciled.get(key) == Some(&hash)
    }

    /// Records a successful reconcile (`Some(hash)`) or forgets it (`None`).
    pub(crate) fn reconciled(&self, key: &str, hash: Option<u64>) {
        let mut reconciled = self
            .reconciled
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match hash {
            Some(h) => reconciled.insert(key.to_owned(), h),
            None => reconciled.remove(key),
        };
    }
}
