//! ScaledObject status writes: JSON merge patches of only the fields that changed, and the
//! Ready/Active conditions of a reconcile that succeeded or failed.

use ebb_api::condition::{
    self, Condition, STATUS_FALSE, STATUS_TRUE, STATUS_UNKNOWN, TYPE_ACTIVE, TYPE_FALLBACK,
    TYPE_READY, message, reason,
};
use ebb_api::event_reason;
use ebb_api::scaled_object::ScaledObject;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::context::Context;

/// Merge-patches `/status` of ScaledObject `namespace/name` with `patch` (`{"status": {...}}`).
pub(crate) async fn patch(
    ctx: &Context,
    namespace: &str,
    name: &str,
    patch: &Value,
) -> Result<(), kube::Error> {
    let api: Api<ScaledObject> = Api::namespaced(ctx.client.clone(), namespace);
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

/// The object's conditions, with the four initial ones added where missing.
pub(crate) fn initialized(so: &ScaledObject) -> Vec<Condition> {
    let mut conditions = so.conditions().to_vec();
    for c in condition::initialized() {
        if condition::find(&conditions, &c.type_).is_none() {
            conditions.push(c);
        }
    }
    conditions
}

fn key(so: &ScaledObject) -> (String, String) {
    (
        so.metadata.namespace.clone().unwrap_or_default(),
        so.metadata.name.clone().unwrap_or_default(),
    )
}

/// Ready=True `ScaledObjectReady` (event when it was not True before); Fallback=False
/// `NoFallbackFound` when there is no valid fallback; plus any other status fields in `extra`.
/// With `loop_owns_ready` (its loop keeps running unchanged) Ready is left alone: the loop sets it
/// at every poll (`TriggerError`, `PartialTriggerError`, or ready), and a reconcile for another
/// reason (an HPA or TriggerAuthentication event) must not flip it back until the next poll.
pub(crate) async fn ready(
    ctx: &Context,
    so: &ScaledObject,
    has_fallback: bool,
    extra: serde_json::Map<String, Value>,
    loop_owns_ready: bool,
) -> Result<(), kube::Error> {
    let mut conditions = initialized(so);
    let was_ready = condition::find(&conditions, TYPE_READY).is_some_and(Condition::is_true);
    // The loop sets Ready at every poll; the cached object may not show its last write yet.
    let keep = loop_owns_ready;
    if !keep {
        condition::set(
            &mut conditions,
            TYPE_READY,
            STATUS_TRUE,
            reason::SCALED_OBJECT_READY,
            message::SCALED_OBJECT_READY,
        );
    }
    if !has_fallback {
        condition::set(
            &mut conditions,
            TYPE_FALLBACK,
            STATUS_FALSE,
            reason::NO_FALLBACK_FOUND,
            "No fallbacks are active on this scaled object",
        );
    }
    let mut fields = extra;
    if conditions != so.conditions() {
        fields.insert(
            "conditions".into(),
            serde_json::to_value(&conditions).unwrap_or(Value::Null),
        );
    }
    if !fields.is_empty() {
        let (ns, name) = key(so);
        patch(ctx, &ns, &name, &json!({"status": fields})).await?;
    }
    if !was_ready && !keep {
        ctx.events.normal(
            &so.object_ref(&()),
            event_reason::SCALED_OBJECT_READY,
            "ScaledObject is ready for scaling",
        );
    }
    Ok(())
}

/// Ready=False `ScaledObjectCheckFailed` with `msg`, Active=Unknown `UnknownState`; the Warning
/// event only when the condition changes (a retried failure is not news).
pub(crate) async fn check_failed(
    ctx: &Context,
    so: &ScaledObject,
    loop_key: &str,
    msg: &str,
) -> Result<(), kube::Error> {
    let mut conditions = initialized(so);
    condition::set(
        &mut conditions,
        TYPE_READY,
        STATUS_FALSE,
        reason::SCALED_OBJECT_CHECK_FAILED,
        msg,
    );
    condition::set(
        &mut conditions,
        TYPE_ACTIVE,
        STATUS_UNKNOWN,
        reason::UNKNOWN_STATE,
        message::CHECK_FAILED,
    );
    // The object here may predate our last status write; the context remembers what we reported,
    // so a retry of the same failure writes nothing.
    let changed = ctx.new_failure(loop_key, msg);
    if changed && conditions != so.conditions() {
        let (ns, name) = key(so);
        patch(
            ctx,
            &ns,
            &name,
            &json!({"status": {"conditions": conditions}}),
        )
        .await?;
    }
    if changed {
        ctx.events.warning(
            &so.object_ref(&()),
            event_reason::SCALED_OBJECT_CHECK_FAILED,
            msg,
        );
    }
    Ok(())
}
