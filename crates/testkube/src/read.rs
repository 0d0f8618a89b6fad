//! GET and LIST: one object, or a filtered, paginated list stamped with the current resourceVersion.

use serde_json::{Value, json};

use crate::meta;
use crate::resource::ResourceInfo;
use crate::route::Target;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::State;

/// An object as served at `version`: objects are stored once and served at every version of their CRD.
pub(crate) fn present(info: &ResourceInfo, version: &str, obj: &Value) -> Value {
    let mut out = obj.clone();
    if out.is_object() {
        out["apiVersion"] = json!(info.api_version(version));
        out["kind"] = json!(info.kind);
    }
    out
}

/// An object as `PartialObjectMetadata` (what `Api::get_metadata` and metadata watchers ask for).
pub(crate) fn as_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

pub(crate) fn get(state: &State, t: &Target) -> Result<Value, ApiError> {
    let name = t.name();
    state
        .get(&t.info.key(), &t.namespace, name)
        .map(|o| present(&t.info, &t.version, o))
        .ok_or_else(|| ApiError::not_found(&t.info, name))
}

/// LIST parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
    pub(crate) limit: Option<usize>,
    pub(crate) continue_token: Option<String>,
    pub(crate) resource_version: Option<String>,
    pub(crate) resource_version_match: Option<String>,
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// `continue` tokens are opaque: the list's resourceVersion and the last key, hex-encoded.
fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid");
    let text = unhex(token).ok_or_else(bad)?;
    let mut parts = text.splitn(3, '\u{0}');
    let rv = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    let ns = parts.next().ok_or_else(bad)?.to_string();
    let name = parts.next().ok_or_else(bad)?.to_string();
    Ok((rv, ns, name))
}

pub(crate) fn list(state: &State, t: &Target, p: &ListParams) -> Result<Value, ApiError> {
    let info = &t.info;
    let mut list_rv = state.rv;
    let mut after: Option<(String, String)> = None;
    if let Some(token) = p.continue_token.as_deref().filter(|c| !c.is_empty()) {
        let (rv, ns, name) = decode_continue(token)?;
        if rv < state.compacted {
            return Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            ));
        }
        list_rv = rv;
        after = Some((ns, name));
    } else if p.resource_version_match.as_deref() == Some("Exact") {
        // Only the current state is kept: an exact older version is served only if nothing changed since.
        let want: u64 = p
            .resource_version
            .as_deref()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        if want < state.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {want} ({})",
                state.compacted
            )));
        }
    }
    let ns = (!t.namespace.is_empty()).then_some(t.namespace.as_str());
    let mut items = Vec::new();
    let mut more = None;
    let matching = state
        .list(&info.key(), ns)
        .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
        .filter(|(_, o)| p.labels.matches(o) && p.fields.matches(o));
    let mut remaining = 0usize;
    for (key, obj) in matching {
        if p.limit.is_some_and(|l| l > 0 && items.len() >= l) {
            if more.is_none() {
                more = Some(key.clone());
            }
            remaining += 1;
            continue;
        }
        items.push(present(info, &t.version, obj));
    }
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if more.is_some()
        && let Some(last) = items.last()
    {
        let token = format!(
            "{list_rv}\u{0}{}\u{0}{}",
            meta::meta_str(last, "namespace"),
            meta::meta_str(last, "name")
        );
        metadata["continue"] = json!(hex(&token));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(json!({
        "kind": info.list_kind,
        "apiVersion": info.api_version(&t.version),
        "metadata": metadata,
        "items": items,
    }))
}

/// A list as `PartialObjectMetadataList`.
pub(crate) fn list_as_metadata(list: &Value) -> Value {
    let items: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(as_metadata)
        .collect();
    json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list["metadata"], "items": items})
}
