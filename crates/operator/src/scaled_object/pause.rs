//! Pausing (keda-compat §2.6): `paused` or `paused-replicas` stop the loop, delete the HPA and pin
//! the replicas; `paused-scale-in/out` only mark the object paused (the loop and HPA block that
//! direction); removing the annotations unpauses.

use ebb_api::condition::{self, STATUS_FALSE, STATUS_TRUE, TYPE_PAUSED, message, reason};
use ebb_api::event_reason;
use ebb_api::scaled_object::ScaledObject;
use ebb_core::PauseSettings;
use kube::Resource;
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::scaled_object::controller::Error;
use crate::scaled_object::{hpa, status};

/// Whether reconcile goes on after pause handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PauseOutcome {
    /// Paused outright: no HPA, no loop; reconcile stops here.
    Paused,
    /// Not paused (or only one direction): reconcile continues.
    Continue,
}

/// Applies the pause annotations.
pub(crate) async fn handle(
    ctx: &Context,
    so: &ScaledObject,
    key: &str,
    pause: &PauseSettings,
) -> Result<PauseOutcome, Error> {
    let ns = so.metadata.namespace.clone().unwrap_or_default();
    let name = so.metadata.name.clone().unwrap_or_default();
    let regarding = so.object_ref(&());
    let mut conditions = status::initialized(so);
    let was_paused =
        condition::find(&conditions, TYPE_PAUSED).is_some_and(condition::Condition::is_true);
    let mut fields = Map::new();
    if pause.any() {
        condition::set(
            &mut conditions,
            TYPE_PAUSED,
            STATUS_TRUE,
            reason::SCALED_OBJECT_PAUSED,
            message::SCALED_OBJECT_PAUSED,
        );
    } else if was_paused {
        condition::set(
            &mut conditions,
            TYPE_PAUSED,
            STATUS_FALSE,
            reason::SCALED_OBJECT_UNPAUSED,
            message::SCALED_OBJECT_UNPAUSED,
        );
    }
    let paused_count = so.status.as_ref().and_then(|s| s.paused_replica_count);
    if pause.is_paused() {
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
        let hpa_name = so
            .status
            .as_ref()
            .and_then(|s| s.hpa_name.clone())
            .unwrap_or_else(|| so.hpa_name());
        hpa::delete(&ctx.client, &ns, &hpa_name).await?;
        if let Some(replicas) = pause.paused_replicas {
            let t = &so.spec.scale_target_ref;
            let target = ctx
                .targets
                .resolve(&ctx.client, &ns, t.api_version(), t.kind(), &t.name)
                .await?;
            if target.get_scale().await?.replicas != replicas {
                target.set_replicas(replicas).await?;
            }
            if paused_count != i32::try_from(replicas).ok() {
                fields.insert("pausedReplicaCount".into(), json!(replicas));
            }
        } else if paused_count.is_some() {
            fields.insert("pausedReplicaCount".into(), Value::Null);
        }
    } else if paused_count.is_some() {
        fields.insert("pausedReplicaCount".into(), Value::Null);
    }
    // Only a pause or an unpause writes conditions here: an object that never paused gets its
    // initial conditions with Ready (a stale cached object must not reset them).
    if (pause.any() || was_paused) && conditions != so.conditions() {
        fields.insert(
            "conditions".into(),
            serde_json::to_value(&conditions).unwrap_or(Value::Null),
        );
    }
    if !fields.is_empty() {
        status::patch(ctx, &ns, &name, &json!({"status": fields})).await?;
    }
    ctx.telemetry.set_paused(&ns, &name, pause.any());
    if pause.any() && !was_paused {
        ctx.events.normal(
            &regarding,
            event_reason::SCALED_OBJECT_PAUSED,
            message::SCALED_OBJECT_PAUSED,
        );
    } else if !pause.any() && was_paused {
        ctx.events.normal(
            &regarding,
            event_reason::SCALED_OBJECT_UNPAUSED,
            message::SCALED_OBJECT_UNPAUSED,
        );
    }
    Ok(if pause.is_paused() {
        PauseOutcome::Paused
    } else {
        PauseOutcome::Continue
    })
}
