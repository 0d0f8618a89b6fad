//! ScaledJob status writes: merge patches of only what changed.

use ebb_api::condition::{self, Condition};
use ebb_api::scaled_job::ScaledJob;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Map, Value, json};

use crate::context::Context;

/// The object's conditions, with the four initial ones added where missing.
pub(crate) fn initialized(sj: &ScaledJob) -> Vec<Condition> {
    let mut conditions = sj.conditions().to_vec();
    for c in condition::initialized() {
        if condition::find(&conditions, &c.type_).is_none() {
            conditions.push(c);
        }
    }
    conditions
}

/// Merge-patches `/status` with `fields`, plus `conditions` when they differ from the object's;
/// writes nothing when nothing changed.
pub(crate) async fn write(
    ctx: &Context,
    sj: &ScaledJob,
    conditions: &[Condition],
    mut fields: Map<String, Value>,
) -> Result<(), kube::Error> {
    if conditions != sj.conditions() {
        fields.insert(
            "conditions".into(),
            serde_json::to_value(conditions).unwrap_or(Value::Null),
        );
    }
    if fields.is_empty() {
        return Ok(());
    }
    let api: Api<ScaledJob> = Api::namespaced(
        ctx.client.clone(),
        sj.metadata.namespace.as_deref().unwrap_or_default(),
    );
    api.patch_status(
        sj.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": fields})),
    )
    .await?;
    Ok(())
}
