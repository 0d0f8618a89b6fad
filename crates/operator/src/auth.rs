//! Auth resolution over the operator's caches: [`ObjectLookup`] backed by reflector stores of
//! Secrets, ConfigMaps, TriggerAuthentications and ClusterTriggerAuthentications.

use std::collections::BTreeMap;

use ebb_api::trigger_authentication::{
    ClusterTriggerAuthentication, TriggerAuthentication, TriggerAuthenticationSpec,
};
use ebb_manifest::auth::ObjectLookup;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::reflector::{ObjectRef, Store};

/// The four stores auth reads from; cheap to clone.
#[derive(Clone)]
pub struct StoreLookup {
    pub(crate) secrets: Store<Secret>,
    pub(crate) config_maps: Store<ConfigMap>,
    pub(crate) trigger_authentications: Store<TriggerAuthentication>,
    pub(crate) cluster_trigger_authentications: Store<ClusterTriggerAuthentication>,
    pub(crate) cluster_object_namespace: String,
}

impl std::fmt::Debug for StoreLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLookup")
            .field("cluster_object_namespace", &self.cluster_object_namespace)
            .finish_non_exhaustive()
    }
}

impl ObjectLookup for StoreLookup {
    fn secret(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let secret = self.secrets.get(&ObjectRef::new(name).within(namespace))?;
        let mut data: BTreeMap<String, String> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        // A real API server folds stringData into data; a value in data is the current one.
        for (k, v) in secret.string_data.iter().flatten() {
            data.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Some(data)
    }

    fn config_map(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let cm = self
            .config_maps
            .get(&ObjectRef::new(name).within(namespace))?;
        Some(cm.data.clone().unwrap_or_default())
    }

    fn trigger_authentication(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<TriggerAuthenticationSpec> {
        self.trigger_authentications
            .get(&ObjectRef::new(name).within(namespace))
            .map(|ta| ta.spec.clone())
    }

    fn cluster_trigger_authentication(&self, name: &str) -> Option<TriggerAuthenticationSpec> {
        self.cluster_trigger_authentications
            .get(&ObjectRef::new(name))
            .map(|cta| cta.spec.0.clone())
    }

    fn cluster_object_namespace(&self) -> &str {
        &self.cluster_object_namespace
    }
}
