//! The four keda.sh CustomResourceDefinitions, generated from the types, and their YAML form.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::schema;
use crate::{ClusterTriggerAuthentication, ScaledJob, ScaledObject, TriggerAuthentication};

/// Serialising a CRD to YAML failed.
#[derive(Debug, thiserror::Error)]
#[error("could not write CustomResourceDefinition {name} as YAML")]
pub struct CrdYamlError {
    name: String,
    #[source]
    source: serde_saphyr::SerializeError,
}

/// ScaledObject, ScaledJob, TriggerAuthentication, ClusterTriggerAuthentication, in that order.
pub fn all() -> Vec<CustomResourceDefinition> {
    [
        ScaledObject::crd(),
        ScaledJob::crd(),
        TriggerAuthentication::crd(),
        ClusterTriggerAuthentication::crd(),
    ]
    .into_iter()
    .map(tidy)
    .collect()
}

/// File name KEDA uses for a CRD: `<group>_<plural>.yaml`, e.g. `keda.sh_scaledobjects.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// One CRD as a YAML document starting with `---`.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, CrdYamlError> {
    let body = serde_saphyr::to_string(crd).map_err(|source| CrdYamlError {
        name: crd.metadata.name.clone().unwrap_or_default(),
        source,
    })?;
    Ok(format!("---\n{body}"))
}

/// All four CRDs as one multi-document YAML stream.
pub fn all_to_yaml() -> Result<String, CrdYamlError> {
    all().iter().map(to_yaml).collect()
}

fn tidy(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    // The API server would default listKind to the same value; KEDA's files state it.
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for version in &mut crd.spec.versions {
        if let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            schema::add_type_and_object_meta(root);
            schema::visit(root, &mut |props| {
                schema::strip_nullable(props);
                schema::relax_core_required(props);
            });
        }
    }
    crd
}
