//! Wiring: the caches (reflectors), the ScaledObject and (Cluster)TriggerAuthentication
//! controllers, and shutdown. `ebb operator` and the tests start everything through [`Operator`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use ebb_api::scaled_job::ScaledJob;
use ebb_api::scaled_object::ScaledObject;
use ebb_api::trigger_authentication::{ClusterTriggerAuthentication, TriggerAuthentication};
use ebb_scalers::Clients;
use ebb_telemetry::{BuildInfo, Metrics};
use futures::{StreamExt, future};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::utils::predicates;
use kube::runtime::{WatchStreamExt, watcher};

use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::auth::StoreLookup;
use crate::config::OperatorConfig;
use crate::context::Context;
use crate::metrics_store::MetricsStore;
use crate::scale_loop::ScaleLoops;
use crate::scaled_job::controller as sj_controller;
use crate::scaled_object::controller as so_controller;
use crate::trigger_authentication::{self as ta, AuthKind};

/// The operator: construct, take the handles the metrics API and probes need, then [`Operator::run`].
pub struct Operator {
    client: Client,
    config: OperatorConfig,
    metrics: MetricsStore,
    loops: ScaleLoops,
    clients: Clients,
    telemetry: Arc<Metrics>,
    ready: watch::Sender<bool>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Aborts tasks when dropped, so dropping [`Operator::run`]'s future stops everything it started.
struct AbortOnDrop {
    tasks: Vec<AbortHandle>,
    loops: ScaleLoops,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.loops.stop_all();
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn reflect<K>(api: Api<K>, tasks: &mut Vec<AbortHandle>) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(strip)
        .reflect(writer)
        .for_each(|_| future::ready(()));
    tasks.push(tokio::spawn(stream).abort_handle());
    reader
}

/// Cached Secrets, ConfigMaps and (Cluster)TriggerAuthentications drop `managedFields`: nothing
/// here reads them, and they are often the larger half of an object. (The ScaledObject and
/// ScaledJob caches belong to their controllers, which take no such hook without kube's unstable
/// stream-control feature.)
fn strip<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// ScaledObjects reconcile on spec (generation), labels, annotations, finalizers and deletion,
/// not on their own status writes (KEDA's predicates); see [`Context::unchanged`].
pub(crate) fn so_predicate(so: &ScaledObject) -> u64 {
    let parts = [
        predicates::generation(so),
        predicates::labels(so),
        predicates::annotations(so),
        predicates::finalizers(so),
        Some(u64::from(so.metadata.deletion_timestamp.is_some())),
    ];
    parts
        .iter()
        .fold(0u64, |acc, v| acc.rotate_left(13) ^ v.unwrap_or(0))
}

/// A mapper state: fires only when an object's generation changed since last seen.
fn generation_changed<K: Resource>() -> impl Fn(&K) -> bool + Send + Sync + 'static {
    let seen: Mutex<HashMap<String, i64>> = Mutex::new(HashMap::new());
    move |obj: &K| {
        let uid = obj.meta().uid.clone().unwrap_or_default();
        let generation = obj.meta().generation.unwrap_or(0);
        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.insert(uid, generation) != Some(generation)
    }
}

impl Operator {
    /// An operator using `client` with `config`.
    pub fn new(client: Client, config: OperatorConfig) -> Operator {
        let (ready, _) = watch::channel(false);
        let telemetry = Arc::new(Metrics::new(&BuildInfo {
            version: config.version.clone(),
            git_commit: String::new(),
            toolchain: format!("rustc {}", env!("CARGO_PKG_RUST_VERSION")),
        }));
        Operator {
            client,
            config,
            metrics: MetricsStore::new(),
            loops: ScaleLoops::new(),
            clients: Clients::named("operator"),
            telemetry,
            ready,
        }
    }

    /// Use these shared scaler clients (tests and benchmarks that count connections).
    pub fn with_clients(mut self, clients: Clients) -> Operator {
        self.clients = clients;
        self
    }

    /// The latest metric values; what the external metrics API serves.
    pub fn metrics(&self) -> MetricsStore {
        self.metrics.clone()
    }

    /// Prometheus families and decision logs (`/metrics`, `/explain`).
    pub fn telemetry(&self) -> Arc<Metrics> {
        self.telemetry.clone()
    }

    /// The running scale loops (counts and lateness).
    pub fn loops(&self) -> ScaleLoops {
        self.loops.clone()
    }

    /// Becomes `true` once every cache has synced (`/readyz`).
    pub fn readiness(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Runs until `shutdown` resolves (then finishes in-flight reconciles and stops every loop).
    /// Dropping the future also stops everything it started.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let client = self.client.clone();
        let scope = self.config.watch_namespace.scope().map(str::to_owned);
        let scope = scope.as_deref();
        let mut guard = AbortOnDrop {
            tasks: Vec::new(),
            loops: self.loops.clone(),
        };

        // Secrets for ClusterTriggerAuthentications live in the cluster-object namespace.
        let secret_scope = scope.filter(|ns| *ns == self.config.cluster_object_namespace);
        let secrets = reflect(scoped::<Secret>(&client, secret_scope), &mut guard.tasks);
        let config_maps = reflect(scoped::<ConfigMap>(&client, secret_scope), &mut guard.tasks);
        let tas = reflect(
            scoped::<TriggerAuthentication>(&client, scope),
            &mut guard.tasks,
        );
        let ctas = reflect(
            Api::<ClusterTriggerAuthentication>::all(client.clone()),
            &mut guard.tasks,
        );

        let so_api = scoped::<ScaledObject>(&client, scope);
        let so_controller = Controller::new(so_api, watcher::Config::default())
            .with_config(controller::Config::default().concurrency(self.config.max_reconciles));
        let so_reader = so_controller.store();
        let sj_controller = Controller::new(
            scoped::<ScaledJob>(&client, scope),
            watcher::Config::default(),
        )
        .with_config(controller::Config::default().concurrency(self.config.max_reconciles));
        let sj_reader = sj_controller.store();

        let lookup = StoreLookup {
            secrets: secrets.clone(),
            config_maps: config_maps.clone(),
            trigger_authentications: tas.clone(),
            cluster_trigger_authentications: ctas.clone(),
            cluster_object_namespace: self.config.cluster_object_namespace.clone(),
        };
        let ctx = Arc::new(Context::new(
            client.clone(),
            self.config,
            self.metrics.clone(),
            self.loops.clone(),
            lookup,
            self.clients.clone(),
            so_reader.clone(),
            sj_reader.clone(),
            self.telemetry.clone(),
        ));

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };

        // Ready once every cache has its first list.
        let ready = self.ready.clone();
        let (s1, s2, s3, s4, s5, s6) = (
            secrets.clone(),
            config_maps.clone(),
            tas.clone(),
            ctas.clone(),
            so_reader.clone(),
            sj_reader.clone(),
        );
        guard.tasks.push(
            tokio::spawn(async move {
                let _ = tokio::join!(
                    s1.wait_until_ready(),
                    s2.wait_until_ready(),
                    s3.wait_until_ready(),
                    s4.wait_until_ready(),
                    s5.wait_until_ready(),
                    s6.wait_until_ready()
                );
                ready.send_replace(true);
            })
            .abort_handle(),
        );

        let hpa_cfg =
            watcher::Config::default().labels("app.kubernetes.io/managed-by=keda-operator");
        let (c1, c2, c3) = (ctx.clone(), ctx.clone(), ctx.clone());
        let ta_changed = generation_changed::<TriggerAuthentication>();
        let cta_changed = generation_changed::<ClusterTriggerAuthentication>();
        let so_controller = so_controller
            .watches(scoped::<HorizontalPodAutoscaler>(&client, scope), hpa_cfg, move |h: HorizontalPodAutoscaler| {
                let owner = h.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true) && o.kind == "ScaledObject");
                let refs: Vec<ObjectRef<ScaledObject>> = owner
                    .map(|o| ObjectRef::new(&o.name).within(h.metadata.namespace.as_deref().unwrap_or_default()))
                    .into_iter()
                    .collect();
                c1.mark_dirty(&refs);
                refs
            })
            .watches(scoped::<TriggerAuthentication>(&client, scope), watcher::Config::default(), move |t: TriggerAuthentication| {
                let refs = if ta_changed(&t) { ta::referring(&c2.scaled_objects, &t) } else { Vec::new() };
                c2.mark_dirty(&refs);
                refs
            })
            .watches(Api::<ClusterTriggerAuthentication>::all(client.clone()), watcher::Config::default(), move |t: ClusterTriggerAuthentication| {
                let refs = if cta_changed(&t) { ta::referring(&c3.scaled_objects, &t) } else { Vec::new() };
                c3.mark_dirty(&refs);
                refs
            })
            .graceful_shutdown_on(stopped())
            .run(so_controller::reconcile, so_controller::error_policy, ctx.clone())
            .for_each(|result| {
                if let Err(error) = result {
                    tracing::debug!(error = %so_controller::error_chain(&error), "ScaledObject reconcile error");
                }
                future::ready(())
            });

        let sj_controller = sj_controller
            .graceful_shutdown_on(stopped())
            .run(sj_controller::reconcile, sj_controller::error_policy, ctx.clone())
            .for_each(|result| {
                if let Err(error) = result {
                    tracing::debug!(error = %so_controller::error_chain(&error), "ScaledJob reconcile error");
                }
                future::ready(())
            });

        let ta_controller = auth_controller(
            scoped::<TriggerAuthentication>(&client, scope),
            &client,
            scope,
            ctx.clone(),
            stopped(),
        );
        let cta_controller = auth_controller(
            Api::<ClusterTriggerAuthentication>::all(client.clone()),
            &client,
            scope,
            ctx.clone(),
            stopped(),
        );

        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down");
            stop_tx.send_replace(true);
        };
        tokio::join!(
            so_controller,
            sj_controller,
            ta_controller,
            cta_controller,
            signal
        );
        drop(guard);
    }
}

fn auth_controller<K: AuthKind>(
    api: Api<K>,
    client: &Client,
    scope: Option<&str>,
    ctx: Arc<Context>,
    stopped: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let so_api = scoped::<ScaledObject>(client, scope);
    Controller::new(api, watcher::Config::default())
        .watches(so_api, watcher::Config::default(), |so: ScaledObject| {
            ta::referenced::<K>(&so)
        })
        .graceful_shutdown_on(stopped)
        .run(ta::reconcile::<K>, ta::error_policy::<K>, ctx)
        .for_each(|_| future::ready(()))
}
