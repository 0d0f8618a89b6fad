//! The scale target: resolving `scaleTargetRef` to a group/version/kind/resource through discovery
//! (any kind with a `/scale` subresource), and reading and writing its replicas through `/scale`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ebb_api::trigger::GroupVersionKindResource;
use k8s_openapi::api::core::v1::PodSpec;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

/// Why the scale target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Discovery does not know the kind.
    #[error("Target resource doesn't exist: unknown kind {0}")]
    UnknownKind(String),
    /// The kind has no `/scale` subresource.
    #[error("Target resource doesn't expose /scale subresource")]
    NotScalable,
    /// The target object does not exist.
    #[error("Target resource doesn't exist")]
    Missing,
    /// Another API error.
    #[error("failed to read or write the scale target")]
    Api(#[source] kube::Error),
}

impl TargetError {
    fn from_api(e: kube::Error) -> TargetError {
        match &e {
            kube::Error::Api(s) if s.code == 404 => TargetError::Missing,
            _ => TargetError::Api(e),
        }
    }
}

/// A resolved scale target of one ScaledObject.
#[derive(Debug, Clone)]
pub struct ScaleTarget {
    api: Api<DynamicObject>,
    /// The target's name.
    pub name: String,
    /// Group, version, kind, resource.
    pub gvkr: GroupVersionKindResource,
}

/// `/scale` as read: desired replicas and the pod selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleReading {
    /// `spec.replicas` (absent counts as 0).
    pub replicas: u32,
}

impl ScaleTarget {
    /// `GET /scale`.
    pub async fn get_scale(&self) -> Result<ScaleReading, TargetError> {
        let scale = self
            .api
            .get_scale(&self.name)
            .await
            .map_err(TargetError::from_api)?;
        let replicas = scale.spec.and_then(|s| s.replicas).unwrap_or(0);
        Ok(ScaleReading {
            replicas: u32::try_from(replicas).unwrap_or(0),
        })
    }

    /// `PATCH /scale` with `spec.replicas`.
    pub async fn set_replicas(&self, replicas: u32) -> Result<(), TargetError> {
        let patch = json!({"spec": {"replicas": replicas}});
        self.api
            .patch_scale(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(TargetError::from_api)?;
        Ok(())
    }

    /// The target's pod template spec (`spec.template.spec`, duck-typed), for env resolution.
    pub async fn pod_spec(&self) -> Result<Option<PodSpec>, TargetError> {
        let obj = self
            .api
            .get(&self.name)
            .await
            .map_err(TargetError::from_api)?;
        let spec = obj
            .data
            .pointer("/spec/template/spec")
            .cloned()
            .and_then(|v| serde_json::from_value::<PodSpec>(v).ok());
        Ok(spec)
    }
}

/// (group, version, kind) → the resource, or why it cannot be scaled.
type Discovered = HashMap<(String, String, String), Result<ApiResource, String>>;

/// Discovery results per group/version/kind, cached for the process (KEDA caches "scalable" per
/// group-resource the same way).
#[derive(Clone, Default)]
pub struct TargetResolver {
    cache: Arc<Mutex<Discovered>>,
}

impl std::fmt::Debug for TargetResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetResolver").finish_non_exhaustive()
    }
}

impl TargetResolver {
    /// Resolves `apiVersion`/`kind`/`name` in `namespace` to a [`ScaleTarget`].
    pub async fn resolve(
        &self,
        client: &Client,
        namespace: &str,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<ScaleTarget, TargetError> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), api_version.to_owned()),
        };
        let key = (group.clone(), version.clone(), kind.to_owned());
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let resource = match cached {
            Some(r) => r,
            None => {
                let gvk = GroupVersionKind::gvk(&group, &version, kind);
                let found = match kube::discovery::pinned_kind(client, &gvk).await {
                    Ok((ar, caps))
                        if caps.subresources.iter().any(|(s, _)| s.plural == "scale") =>
                    {
                        Ok(ar)
                    }
                    Ok(_) => Err("noscale".to_owned()),
                    Err(kube::Error::Api(s)) if s.code == 404 => Err("unknown".to_owned()),
                    Err(kube::Error::Discovery(_)) => Err("unknown".to_owned()),
                    // Transient: do not cache.
                    Err(e) => return Err(TargetError::Api(e)),
                };
                self.cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key, found.clone());
                found
            }
        };
        let ar = match resource {
            Ok(ar) => ar,
            Err(why) if why == "noscale" => return Err(TargetError::NotScalable),
            Err(_) => return Err(TargetError::UnknownKind(format!("{api_version}.{kind}"))),
        };
        Ok(ScaleTarget {
            api: Api::namespaced_with(client.clone(), namespace, &ar),
            name: name.to_owned(),
            gvkr: GroupVersionKindResource {
                group: ar.group.clone(),
                version: ar.version.clone(),
                kind: ar.kind.clone(),
                resource: ar.plural.clone(),
            },
        })
    }
}
