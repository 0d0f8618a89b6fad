//! API errors as the real server reports them: a `metav1.Status` object with code, reason and details.

use serde_json::{Value, json};

use crate::resource::ResourceInfo;

/// A request that failed, rendered as a Kubernetes `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
    /// Seconds for a `Retry-After` header (429/503 from fault injection).
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    fn with_details(mut self, info: &ResourceInfo, name: &str) -> ApiError {
        self.details = Some(json!({"name": name, "group": info.group, "kind": info.plural}));
        self
    }

    /// `deployments.apps "web" not found`
    pub(crate) fn not_found(info: &ResourceInfo, name: &str) -> ApiError {
        let msg = format!("{} \"{name}\" not found", info.qualified());
        ApiError::new(404, "NotFound", msg).with_details(info, name)
    }

    pub(crate) fn namespace_not_found(ns: &str) -> ApiError {
        let mut e = ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"));
        e.details = Some(json!({"name": ns, "kind": "namespaces"}));
        e
    }

    pub(crate) fn already_exists(info: &ResourceInfo, name: &str) -> ApiError {
        let msg = format!("{} \"{name}\" already exists", info.qualified());
        ApiError::new(409, "AlreadyExists", msg).with_details(info, name)
    }

    /// Optimistic concurrency failure: the caller's resourceVersion is stale.
    pub(crate) fn conflict(info: &ResourceInfo, name: &str) -> ApiError {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            info.qualified()
        );
        ApiError::new(409, "Conflict", msg).with_details(info, name)
    }

    pub(crate) fn apply_conflict(info: &ResourceInfo, name: &str, fields: &str) -> ApiError {
        let msg = format!("Apply failed with conflicts: {fields}");
        ApiError::new(409, "Conflict", msg).with_details(info, name)
    }

    pub(crate) fn invalid(info: &ResourceInfo, name: &str, why: &str) -> ApiError {
        let msg = format!("{} \"{name}\" is invalid: {why}", info.kind);
        ApiError::new(422, "Invalid", msg).with_details(info, name)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> ApiError {
        let msg = format!(
            "the body of the request was in an unknown format ({content_type}) - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        );
        ApiError::new(415, "UnsupportedMediaType", msg)
    }

    /// `too old resource version` — what a watch or list with a compacted resourceVersion gets.
    pub(crate) fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    pub(crate) fn path_not_found() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// The `Status` object for the response body or a watch ERROR event.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        if let Some(secs) = self.retry_after {
            let details = status["details"]
                .as_object_mut()
                .map(|d| d.clone())
                .unwrap_or_default();
            let mut details = Value::Object(details);
            details["retryAfterSeconds"] = json!(secs);
            status["details"] = details;
        }
        status
    }
}
