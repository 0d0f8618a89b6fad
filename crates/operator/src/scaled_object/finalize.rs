//! Deleting a ScaledObject (keda-compat §2.1 step 1): stop the loop, restore the original replica
//! count when asked, drop the finalizer, emit `ScaledObjectDeleted`.

use ebb_api::constants::FINALIZER;
use ebb_api::event_reason;
use ebb_api::scaled_object::ScaledObject;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::context::Context;
use crate::scaled_object::controller::Error;
use crate::scaled_object::hpa;

/// Cleans up after a ScaledObject marked for deletion.
pub(crate) async fn finalize(ctx: &Context, so: &ScaledObject, key: &str) -> Result<(), Error> {
    let ns = so.metadata.namespace.clone().unwrap_or_default();
    let name = so.metadata.name.clone().unwrap_or_default();
    let regarding = so.object_ref(&());
    crate::object_loop::stop(
        ctx,
        key,
        &regarding,
        ebb_telemetry::ObjectType::ScaledObject,
        &ns,
        &name,
        &so.spec.triggers,
        &crate::telemetry::so_metric_names(so),
    );
    ctx.metrics.remove(&ns, &name);
    let status = so.status.clone().unwrap_or_default();
    if so.spec.restore_to_original_replica_count()
        && let (Some(original), Some(gvkr)) =
            (status.original_replica_count, &status.scale_target_gvkr)
    {
        // The HPA would scale the target straight back; it goes first (GC would take it later).
        let hpa_name = status.hpa_name.clone().unwrap_or_else(|| so.hpa_name());
        hpa::delete(&ctx.client, &ns, &hpa_name).await?;
        let api_version = if gvkr.group.is_empty() {
            gvkr.version.clone()
        } else {
            format!("{}/{}", gvkr.group, gvkr.version)
        };
        let t = &so.spec.scale_target_ref;
        match ctx
            .targets
            .resolve(&ctx.client, &ns, &api_version, &gvkr.kind, &t.name)
            .await
        {
            Ok(target) => match target
                .set_replicas(u32::try_from(original).unwrap_or(0))
                .await
            {
                Ok(()) => {}
                // A target that is gone has nothing to restore.
                Err(crate::target::TargetError::Missing) => {}
                Err(e) => return Err(e.into()),
            },
            Err(
                crate::target::TargetError::Missing | crate::target::TargetError::UnknownKind(_),
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    remove_finalizer(ctx, so).await?;
    ctx.events.warning(
        &regarding,
        event_reason::SCALED_OBJECT_DELETED,
        "ScaledObject was deleted",
    );
    tracing::info!(namespace = %ns, name = %name, "ScaledObject finalized");
    Ok(())
}

async fn remove_finalizer(ctx: &Context, so: &ScaledObject) -> Result<(), kube::Error> {
    let finalizers: Vec<&String> = so
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != FINALIZER)
        .collect();
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": so.metadata.resource_version}});
    let api: Api<ScaledObject> = Api::namespaced(
        ctx.client.clone(),
        so.metadata.namespace.as_deref().unwrap_or_default(),
    );
    api.patch(
        so.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
