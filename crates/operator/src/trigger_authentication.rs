//! TriggerAuthentication and ClusterTriggerAuthentication controllers: the finalizer and
//! `status.scaledobjects` (the ScaledObjects that refer to each), kept current as ScaledObjects
//! come and go. ScaledObjects re-reconcile on their own when an authentication they use changes.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use ebb_api::constants::FINALIZER;
use ebb_api::event_reason;
use ebb_api::scaled_object::ScaledObject;
use ebb_api::trigger::AuthenticationRefKind;
use ebb_api::trigger_authentication::{ClusterTriggerAuthentication, TriggerAuthentication};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::context::Context;

/// What differs between the two kinds.
pub(crate) trait AuthKind:
    Resource<DynamicType = ()>
    + Clone
    + Debug
    + DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    const REF_KIND: AuthenticationRefKind;
    const ADDED: &'static str;
    const DELETED: &'static str;
    fn scaled_objects_status(&self) -> Option<&str>;
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self>;
}

impl AuthKind for TriggerAuthentication {
    const REF_KIND: AuthenticationRefKind = AuthenticationRefKind::TriggerAuthentication;
    const ADDED: &'static str = event_reason::TRIGGER_AUTHENTICATION_ADDED;
    const DELETED: &'static str = event_reason::TRIGGER_AUTHENTICATION_DELETED;
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self> {
        Api::namespaced(client, namespace.unwrap_or("default"))
    }
    fn scaled_objects_status(&self) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|s| s.scaled_objects.as_deref())
    }
}

impl AuthKind for ClusterTriggerAuthentication {
    const REF_KIND: AuthenticationRefKind = AuthenticationRefKind::ClusterTriggerAuthentication;
    const ADDED: &'static str = event_reason::CLUSTER_TRIGGER_AUTHENTICATION_ADDED;
    const DELETED: &'static str = event_reason::CLUSTER_TRIGGER_AUTHENTICATION_DELETED;
    fn api(client: kube::Client, _namespace: Option<&str>) -> Api<Self> {
        Api::all(client)
    }
    fn scaled_objects_status(&self) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|s| s.scaled_objects.as_deref())
    }
}

/// Whether `so` refers to the authentication `name` of kind `K` (in `namespace` for namespaced).
pub(crate) fn refers_to(
    so: &ScaledObject,
    kind: AuthenticationRefKind,
    namespace: Option<&str>,
    name: &str,
) -> bool {
    namespace.is_none_or(|ns| so.metadata.namespace.as_deref() == Some(ns))
        && so
            .spec
            .triggers
            .iter()
            .filter_map(|t| t.authentication_ref.as_ref())
            .any(|a| a.name == name && a.kind() == kind)
}

/// The ScaledObjects that refer to `auth`.
pub(crate) fn referring<K: AuthKind>(
    store: &Store<ScaledObject>,
    auth: &K,
) -> Vec<ObjectRef<ScaledObject>> {
    let ns = auth.meta().namespace.as_deref();
    let name = auth.name_any();
    store
        .state()
        .iter()
        .filter(|so| refers_to(so, K::REF_KIND, ns, &name))
        .map(|so| ObjectRef::from_obj(so.as_ref()))
        .collect()
}

/// The authentications `so` refers to, as objects of kind `K`.
pub(crate) fn referenced<K: AuthKind>(so: &ScaledObject) -> Vec<ObjectRef<K>> {
    so.spec
        .triggers
        .iter()
        .filter_map(|t| t.authentication_ref.as_ref())
        .filter(|a| a.kind() == K::REF_KIND)
        .map(|a| match K::REF_KIND {
            AuthenticationRefKind::TriggerAuthentication => {
                ObjectRef::new(&a.name).within(so.metadata.namespace.as_deref().unwrap_or_default())
            }
            AuthenticationRefKind::ClusterTriggerAuthentication => ObjectRef::new(&a.name),
        })
        .collect()
}

fn api<K: AuthKind>(ctx: &Context, auth: &K) -> Api<K> {
    K::api(ctx.client.clone(), auth.meta().namespace.as_deref())
}

/// Reconciles one (Cluster)TriggerAuthentication.
pub(crate) async fn reconcile<K: AuthKind>(
    auth: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, kube::Error> {
    let api = api(&ctx, auth.as_ref());
    let name = auth.name_any();
    let has_finalizer = auth.finalizers().iter().any(|f| f == FINALIZER);
    let regarding = auth.object_ref(&());
    if auth.meta().deletion_timestamp.is_some() {
        if has_finalizer {
            let rest: Vec<&String> = auth
                .finalizers()
                .iter()
                .filter(|f| *f != FINALIZER)
                .collect();
            let patch = json!({"metadata": {"finalizers": rest, "resourceVersion": auth.resource_version()}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            ctx.events
                .normal(&regarding, K::DELETED, "TriggerAuthentication was deleted");
        }
        return Ok(Action::await_change());
    }
    if !has_finalizer {
        let mut finalizers = auth.finalizers().to_vec();
        finalizers.push(FINALIZER.to_owned());
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": auth.resource_version()}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        ctx.events
            .normal(&regarding, K::ADDED, "New TriggerAuthentication configured");
    }
    let mut names: Vec<String> = referring(&ctx.scaled_objects, auth.as_ref())
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    names.dedup();
    let want = (!names.is_empty()).then(|| names.join(","));
    if auth.scaled_objects_status() != want.as_deref() {
        let patch = json!({"status": {"scaledobjects": want}});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    // ScaledObjects that stop referring are only seen by their own events; a slow resync covers
    // any that were missed.
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// Retry after a failed write.
pub(crate) fn error_policy<K: AuthKind>(
    _auth: Arc<K>,
    error: &kube::Error,
    _ctx: Arc<Context>,
) -> Action {
    tracing::warn!(%error, "TriggerAuthentication reconcile failed");
    Action::requeue(Duration::from_secs(5))
}
