//! Config errors (permanent: fix the manifest) and measure errors (transient: feed fallback).

use std::fmt;
use std::sync::Arc;

use crate::secret::SecretString;

/// A trigger's parameters are wrong. Permanent until the manifest or the TriggerAuthentication changes.
///
/// Every variant names the key; none carries a secret value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A required key is absent (or empty after trimming) in every source tried.
    #[error("missing required parameter {key:?} in [{order}]")]
    Missing { key: String, order: String },
    /// The value does not parse as the key's type.
    #[error("{key}: {value:?} is not {expected}")]
    WrongType {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// The value is not one of the allowed words.
    #[error("{key}: {value:?} is not one of [{allowed}]")]
    NotOneOf {
        key: String,
        value: String,
        allowed: String,
    },
    /// Two keys that cannot be given together were both given.
    #[error("{key} and {other} are mutually exclusive")]
    Exclusive { key: String, other: String },
    /// Any other rule about one key (range, format, dependency on another key).
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    /// `type:` names no scaler Ebb knows.
    #[error("unknown trigger type {0:?}")]
    UnknownTriggerType(String),
}

impl ConfigError {
    /// Short, stable reason for Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ConfigError::Missing { .. } => "missing_parameter",
            ConfigError::WrongType { .. } | ConfigError::NotOneOf { .. } => "invalid_parameter",
            ConfigError::Exclusive { .. } => "conflicting_parameters",
            ConfigError::Invalid { .. } => "invalid_parameter",
            ConfigError::UnknownTriggerType(_) => "unknown_trigger_type",
        }
    }

    /// The key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Missing { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::NotOneOf { key, .. }
            | ConfigError::Exclusive { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::UnknownTriggerType(_) => None,
        }
    }

    /// `Invalid` for `key` with a message.
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// `Exclusive` for two keys.
    pub fn exclusive(key: &str, other: &str) -> Self {
        ConfigError::Exclusive {
            key: key.to_owned(),
            other: other.to_owned(),
        }
    }
}

/// Why a measurement failed; the stable `reason()` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeasureReason {
    /// Connection refused, DNS failure, connection reset.
    Unreachable,
    /// No answer within the timeout.
    Timeout,
    /// The server rejected the credentials.
    Unauthorized,
    /// The queue/stream/key/consumer/series does not exist.
    NotFound,
    /// The server answered with something the scaler cannot use.
    BadResponse,
    /// A configuration problem that only shows at measure time (e.g. a bad client certificate).
    Config,
}

impl MeasureReason {
    /// `unreachable`, `timeout`, `unauthorized`, `not_found`, `bad_response` or `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasureReason::Unreachable => "unreachable",
            MeasureReason::Timeout => "timeout",
            MeasureReason::Unauthorized => "unauthorized",
            MeasureReason::NotFound => "not_found",
            MeasureReason::BadResponse => "bad_response",
            MeasureReason::Config => "config",
        }
    }
}

impl fmt::Display for MeasureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A measurement failed. Transient: the operator counts it towards fallback and retries next poll.
///
/// Clone so one failed request can answer every trigger that shared it in a poll.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{context}")]
pub struct MeasureError {
    reason: MeasureReason,
    context: String,
    #[source]
    source: Option<Arc<Cause>>,
}

/// The underlying client error, flattened to text with every known secret scrubbed.
///
/// Client libraries sometimes echo URLs or DSNs (with passwords) in their messages; keeping the
/// original error object would keep that text reachable through `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Cause(String);

impl MeasureError {
    /// An error with no underlying cause.
    pub fn new(reason: MeasureReason, context: impl Into<String>) -> Self {
        Self {
            reason,
            context: context.into(),
            source: None,
        }
    }

    /// An error caused by a client error; `secrets` are scrubbed from the cause's text.
    pub fn caused_by(
        reason: MeasureReason,
        context: impl Into<String>,
        cause: &(dyn std::error::Error + 'static),
        secrets: &[&SecretString],
    ) -> Self {
        let mut text = cause.to_string();
        let mut next = cause.source();
        while let Some(inner) = next {
            let inner_text = inner.to_string();
            if !text.contains(&inner_text) {
                text.push_str(": ");
                text.push_str(&inner_text);
            }
            next = inner.source();
        }
        Self {
            reason,
            context: context.into(),
            source: Some(Arc::new(Cause(scrub(text, secrets)))),
        }
    }

    /// The stable reason label.
    pub fn reason(&self) -> MeasureReason {
        self.reason
    }

    /// The full message with its cause, for logs and Events.
    pub fn full_message(&self) -> String {
        match &self.source {
            Some(cause) => format!("{}: {}", self.context, cause),
            None => self.context.clone(),
        }
    }
}

/// Replaces every non-trivial secret (and its URL-encoded form) in `text`.
pub(crate) fn scrub(mut text: String, secrets: &[&SecretString]) -> String {
    for secret in secrets {
        let raw = secret.expose();
        // One- or two-character "secrets" would turn every message into asterisks.
        if raw.len() < 3 {
            continue;
        }
        let encoded =
            percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for needle in [raw.to_owned(), encoded] {
            if text.contains(&needle) {
                text = text.replace(&needle, "[REDACTED]");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_error_scrubs_secrets_from_its_cause() {
        let secret = SecretString::new("canary-5ecret-9f3a");
        let cause = std::io::Error::other("auth failed for amqp://u:canary-5ecret-9f3a@h/");
        let err = MeasureError::caused_by(
            MeasureReason::Unauthorized,
            "rabbitmq: connecting",
            &cause,
            &[&secret],
        );
        assert!(!err.full_message().contains("canary"));
        assert!(!format!("{err:?}").contains("canary"));
        assert_eq!(err.reason().as_str(), "unauthorized");
    }

    #[test]
    fn config_errors_name_their_key() {
        let e = ConfigError::WrongType {
            key: "queueLength".into(),
            value: "abc".into(),
            expected: "a number",
        };
        assert_eq!(e.to_string(), r#"queueLength: "abc" is not a number"#);
        assert_eq!(e.key(), Some("queueLength"));
    }
}
