//! The four keda.sh kinds as one typed value, and decoding a document into it.

use ebb_api::constants::API_VERSION;
use ebb_api::scaled_job::ScaledJob;
use ebb_api::scaled_object::ScaledObject;
use ebb_api::trigger_authentication::{ClusterTriggerAuthentication, TriggerAuthentication};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Violation;

/// The keda.sh kinds Ebb reads.
pub const KINDS: [&str; 4] = [
    "ScaledObject",
    "ScaledJob",
    "TriggerAuthentication",
    "ClusterTriggerAuthentication",
];

/// A keda.sh object that deserialised into its type.
#[derive(Clone, Debug)]
pub enum KedaObject {
    /// A ScaledObject.
    ScaledObject(Box<ScaledObject>),
    /// A ScaledJob.
    ScaledJob(Box<ScaledJob>),
    /// A TriggerAuthentication.
    TriggerAuthentication(Box<TriggerAuthentication>),
    /// A ClusterTriggerAuthentication.
    ClusterTriggerAuthentication(Box<ClusterTriggerAuthentication>),
}

impl KedaObject {
    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            KedaObject::ScaledObject(o) => &o.metadata,
            KedaObject::ScaledJob(o) => &o.metadata,
            KedaObject::TriggerAuthentication(o) => &o.metadata,
            KedaObject::ClusterTriggerAuthentication(o) => &o.metadata,
        }
    }

    /// The object as JSON, for callers that want the generic shape.
    pub fn to_value(&self) -> Value {
        let v = match self {
            KedaObject::ScaledObject(o) => serde_json::to_value(o),
            KedaObject::ScaledJob(o) => serde_json::to_value(o),
            KedaObject::TriggerAuthentication(o) => serde_json::to_value(o),
            KedaObject::ClusterTriggerAuthentication(o) => serde_json::to_value(o),
        };
        // Serialising these derive-only types cannot fail; Null is never reached in practice.
        v.unwrap_or(Value::Null)
    }
}

/// Whether `api_version`/`kind` name one of the four kinds at the served version.
pub(crate) fn is_served_keda(api_version: &str, kind: &str) -> bool {
    api_version == API_VERSION && KINDS.contains(&kind)
}

/// Decodes a JSON value of a served keda.sh kind, with the field path of the first error.
pub(crate) fn from_value(kind: &str, value: &Value) -> Result<KedaObject, Violation> {
    Ok(match kind {
        "ScaledObject" => KedaObject::ScaledObject(Box::new(typed(value)?)),
        "ScaledJob" => KedaObject::ScaledJob(Box::new(typed(value)?)),
        "TriggerAuthentication" => KedaObject::TriggerAuthentication(Box::new(typed(value)?)),
        _ => KedaObject::ClusterTriggerAuthentication(Box::new(typed(value)?)),
    })
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, Violation> {
    // Decode plainly first; only a failure pays for tracking the field path.
    if let Ok(v) = serde::Deserialize::deserialize(value) {
        return Ok(v);
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Violation::new(path, e.into_inner().to_string())
    })
}
