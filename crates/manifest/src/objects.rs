//! Objects read from manifest files, as an [`ObjectLookup`]: Secrets, ConfigMaps,
//! (Cluster)TriggerAuthentications and the workloads ScaledObjects point at.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use ebb_api::trigger_authentication::TriggerAuthenticationSpec;
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;

use crate::auth::ObjectLookup;
use crate::{Document, KedaObject};

/// Kinds whose `spec.template.spec` is a pod template KEDA can read env from.
const WORKLOAD_KINDS: [&str; 5] = [
    "Deployment",
    "StatefulSet",
    "ReplicaSet",
    "DaemonSet",
    "Job",
];

/// Everything auth resolution and local mode need from a set of manifest files.
#[derive(Default)]
pub struct FileObjects {
    secrets: HashMap<(String, String), BTreeMap<String, String>>,
    config_maps: HashMap<(String, String), BTreeMap<String, String>>,
    trigger_authentications: HashMap<(String, String), TriggerAuthenticationSpec>,
    cluster_trigger_authentications: HashMap<String, TriggerAuthenticationSpec>,
    workloads: HashMap<(String, String, String), Value>,
    cluster_object_namespace: String,
}

/// Names only: Secret data must never reach a log through Debug.
impl std::fmt::Debug for FileObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileObjects")
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("config_maps", &self.config_maps.keys().collect::<Vec<_>>())
            .field(
                "trigger_authentications",
                &self.trigger_authentications.len(),
            )
            .field(
                "cluster_trigger_authentications",
                &self.cluster_trigger_authentications.len(),
            )
            .field("workloads", &self.workloads.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn namespace_of(v: &Value) -> String {
    v.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned()
}

fn name_of(v: &Value) -> String {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl FileObjects {
    /// Collects the objects of `documents`. ClusterTriggerAuthentications read their Secrets from
    /// `cluster_object_namespace` (KEDA's default is the operator's namespace, `keda`).
    pub fn from_documents<'a>(
        documents: impl IntoIterator<Item = &'a Document>,
        cluster_object_namespace: &str,
    ) -> Self {
        let mut objects = FileObjects {
            cluster_object_namespace: cluster_object_namespace.to_owned(),
            ..FileObjects::default()
        };
        for doc in documents {
            objects.add(doc);
        }
        objects
    }

    fn add(&mut self, doc: &Document) {
        match doc.keda() {
            Some(KedaObject::TriggerAuthentication(ta)) => {
                let key = (
                    ta.metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".to_owned()),
                    ta.metadata.name.clone().unwrap_or_default(),
                );
                self.trigger_authentications.insert(key, ta.spec.clone());
                return;
            }
            Some(KedaObject::ClusterTriggerAuthentication(cta)) => {
                let name = cta.metadata.name.clone().unwrap_or_default();
                self.cluster_trigger_authentications
                    .insert(name, cta.spec.0.clone());
                return;
            }
            Some(_) => return,
            None => {}
        }
        let value = doc.value();
        let key = (namespace_of(&value), name_of(&value));
        match (doc.api_version(), doc.kind()) {
            ("v1", "Secret") => {
                // `data` is base64; `stringData` wins, as the API server merges it on write.
                let mut data: BTreeMap<String, String> = string_map(value.get("data"))
                    .into_iter()
                    .filter_map(|(k, v)| {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v.trim())
                            .ok()?;
                        Some((k, String::from_utf8(bytes).ok()?))
                    })
                    .collect();
                data.extend(string_map(value.get("stringData")));
                self.secrets.insert(key, data);
            }
            ("v1", "ConfigMap") => {
                self.config_maps.insert(key, string_map(value.get("data")));
            }
            (_, kind) if WORKLOAD_KINDS.contains(&kind) => {
                self.workloads
                    .insert((kind.to_owned(), key.0, key.1), value.into_owned());
            }
            _ => {}
        }
    }

    /// Adds a Secret directly (e.g. from an env file given on the command line).
    pub fn insert_secret(&mut self, namespace: &str, name: &str, data: BTreeMap<String, String>) {
        self.secrets
            .insert((namespace.to_owned(), name.to_owned()), data);
    }

    /// The workload object `kind namespace/name`, as written in the files.
    pub fn workload(&self, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.workloads
            .get(&(kind.to_owned(), namespace.to_owned(), name.to_owned()))
    }

    /// The pod template spec of a workload (`spec.template.spec`), typed.
    pub fn pod_spec(&self, kind: &str, namespace: &str, name: &str) -> Option<PodSpec> {
        let template = self
            .workload(kind, namespace, name)?
            .pointer("/spec/template/spec")?;
        serde_json::from_value(template.clone()).ok()
    }
}

impl ObjectLookup for FileObjects {
    fn secret(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        self.secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn config_map(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        self.config_maps
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn trigger_authentication(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<TriggerAuthenticationSpec> {
        self.trigger_authentications
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn cluster_trigger_authentication(&self, name: &str) -> Option<TriggerAuthenticationSpec> {
        self.cluster_trigger_authentications.get(name).cloned()
    }

    fn cluster_object_namespace(&self) -> &str {
        &self.cluster_object_namespace
    }
}
