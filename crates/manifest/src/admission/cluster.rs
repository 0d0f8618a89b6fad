//! KEDA's admission checks that need other objects of the namespace: HPAs already on the target
//! (`verifyHpas`) and other ScaledObjects on the same target or HPA (`verifyScaledObjects`).
//! The webhook feeds them the cluster's objects; `ebb validate` the objects in its files.

use ebb_api::constants::{TRANSFER_HPA_OWNERSHIP_ANNOTATION, VALIDATIONS_HPA_OWNERSHIP_ANNOTATION};
use ebb_api::scaled_object::ScaledObject;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use crate::Violation;

/// KEDA's `GVKString()`: `<group>/<version>.<kind>` (`apps/v1.Deployment`, `/v1.Pod` for core).
pub fn gvk_string(api_version: Option<&str>, kind: Option<&str>) -> String {
    let api_version = api_version.filter(|s| !s.is_empty()).unwrap_or("apps/v1");
    let kind = kind.filter(|s| !s.is_empty()).unwrap_or("Deployment");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}.{kind}")
}

/// KEDA's key for a ScaledObject's target: (`group/version.Kind`, name).
pub fn scale_target(so: &ScaledObject) -> (String, &str) {
    let t = &so.spec.scale_target_ref;
    (
        gvk_string(t.api_version.as_deref(), t.kind.as_deref()),
        t.name.as_str(),
    )
}

/// KEDA's `verifyHpas`.
pub fn verify_hpas(so: &ScaledObject, hpas: &[HorizontalPodAutoscaler]) -> Result<(), Violation> {
    let (gvk, target) = scale_target(so);
    let so_name = so.metadata.name.as_deref().unwrap_or_default();
    let annotations = so.metadata.annotations.clone().unwrap_or_default();
    for hpa in hpas {
        let hpa_annotations = hpa.metadata.annotations.clone().unwrap_or_default();
        if hpa_annotations
            .get(VALIDATIONS_HPA_OWNERSHIP_ANNOTATION)
            .is_some_and(|v| v == "false")
        {
            continue;
        }
        let Some(spec) = &hpa.spec else { continue };
        let r = &spec.scale_target_ref;
        let hpa_gvk = gvk_string(r.api_version.as_deref(), Some(&r.kind));
        if hpa_gvk != gvk || r.name != target {
            continue;
        }
        let owned = hpa
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "ScaledObject" && o.name == so_name);
        if owned {
            continue;
        }
        let hpa_name = hpa.metadata.name.as_deref().unwrap_or_default();
        let transfer = annotations
            .get(TRANSFER_HPA_OWNERSHIP_ANNOTATION)
            .is_some_and(|v| v == "true");
        let named = so
            .spec
            .advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
            .and_then(|c| c.name.as_deref())
            == Some(hpa_name);
        if transfer && named {
            continue;
        }
        return Err(Violation::new(
            "spec.scaleTargetRef",
            format!(
                "the workload '{target}' of type '{gvk}' is already managed by the hpa '{hpa_name}'"
            ),
        ));
    }
    Ok(())
}

/// KEDA's `verifyScaledObjects` (the target and HPA-name clashes).
pub fn verify_scaled_objects<'a>(
    so: &ScaledObject,
    others: impl IntoIterator<Item = &'a ScaledObject>,
) -> Result<(), Violation> {
    let (gvk, target) = scale_target(so);
    let hpa_name = so.hpa_name();
    for other in others {
        if other.metadata.name == so.metadata.name {
            continue;
        }
        let other_name = other.metadata.name.as_deref().unwrap_or_default();
        let (other_gvk, other_target) = scale_target(other);
        if other_gvk == gvk && other_target == target {
            return Err(Violation::new(
                "spec.scaleTargetRef",
                format!(
                    "the workload '{other_target}' of type '{gvk}' is already managed by the ScaledObject '{other_name}'"
                ),
            ));
        }
        if other.hpa_name() == hpa_name {
            return Err(Violation::new(
                "spec.advanced.horizontalPodAutoscalerConfig.name",
                format!(
                    "the HPA '{hpa_name}' is already managed by the ScaledObject '{other_name}'"
                ),
            ));
        }
    }
    Ok(())
}
