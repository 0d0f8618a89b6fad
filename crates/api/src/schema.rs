//! Schema pieces the derive cannot express, and the clean-up applied to every generated CRD.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSON, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use schemars::{Schema, SchemaGenerator, json_schema};

/// `scalingModifiers.metricType`: only AverageValue and Value, as KEDA's schema allows.
pub(crate) fn average_value_or_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "HPA target type of the composite metric: AverageValue (default) or Value.",
        "type": "string",
        "enum": ["AverageValue", "Value"],
    })
}

/// Adds the `apiVersion`, `kind` and `metadata` properties every CRD root schema declares.
pub(crate) fn add_type_and_object_meta(root: &mut JSONSchemaProps) {
    let properties = root.properties.get_or_insert_with(BTreeMap::new);
    let string = |description: &str| JSONSchemaProps {
        description: Some(description.to_owned()),
        type_: Some("string".to_owned()),
        ..JSONSchemaProps::default()
    };
    properties.insert(
        "apiVersion".to_owned(),
        string("Versioned schema of this object: keda.sh/v1alpha1."),
    );
    properties.insert(
        "kind".to_owned(),
        string("REST resource this object represents."),
    );
    properties.insert(
        "metadata".to_owned(),
        JSONSchemaProps {
            type_: Some("object".to_owned()),
            ..JSONSchemaProps::default()
        },
    );
}

/// Walks a schema and every schema below it, parents first.
pub(crate) fn visit(props: &mut JSONSchemaProps, f: &mut impl FnMut(&mut JSONSchemaProps)) {
    f(props);
    for child in props.properties.iter_mut().flat_map(|p| p.values_mut()) {
        visit(child, f);
    }
    match &mut props.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => visit(item, f),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(|i| visit(i, f)),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(additional)) = &mut props.additional_properties {
        visit(additional, f);
    }
    for list in [&mut props.all_of, &mut props.any_of, &mut props.one_of] {
        list.iter_mut().flatten().for_each(|s| visit(s, f));
    }
    if let Some(not) = &mut props.not {
        visit(not, f);
    }
}

/// Removes `nullable: true`, as KEDA's schemas have none.
///
/// kube marks every `Option` nullable; without it the API server prunes explicit nulls
/// (and applies defaults to them) exactly as it does for KEDA's own CRDs.
pub(crate) fn strip_nullable(props: &mut JSONSchemaProps) {
    props.nullable = None;
}

/// Relaxes two kinds of `required` that k8s-openapi's v1_33 schemas state and Kubernetes does not.
///
/// * `name` of a LocalObjectReference-like object: Kubernetes' own OpenAPI gives it
///   `default: ""` and so accepts it missing; KEDA's CRD does the same.
/// * `status` of a Job's `podFailurePolicy` condition pattern, optional (default True) since 1.34.
///
/// k8s-openapi's deserializers already fill both with `""` when absent.
pub(crate) fn relax_core_required(props: &mut JSONSchemaProps) {
    let Some(properties) = &mut props.properties else {
        return;
    };
    let mut relaxed = Vec::new();
    if let Some(name) = properties.get_mut("name")
        && description_starts(
            name,
            "Name of the referent. This field is effectively required",
        )
    {
        name.default = Some(JSON(serde_json::Value::String(String::new())));
        relaxed.push("name");
    }
    if let Some(status) = properties.get("status")
        && description_starts(status, "Specifies the required Pod condition status.")
    {
        relaxed.push("status");
    }
    if let Some(required) = &mut props.required {
        required.retain(|r| !relaxed.contains(&r.as_str()));
        if required.is_empty() {
            props.required = None;
        }
    }
}

fn description_starts(props: &JSONSchemaProps, prefix: &str) -> bool {
    props
        .description
        .as_deref()
        .is_some_and(|d| d.starts_with(prefix))
}
