//! `TriggerParams`: one trigger's plain inputs and KEDA's per-key lookup order, with typed accessors.
//!
//! A key is read from the sources listed in its order (KEDA's `order=triggerMetadata;resolvedEnv;authParams`):
//! the first value that is non-empty after trimming wins. `ResolvedEnv` means "the env var named by the
//! metadata key `<key>FromEnv`". A key may name alternatives as `"cert;Cert"`; within one source they are
//! tried in order. Every error names the key and never prints a value read with [`TriggerParams::secret`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::ConfigError;
use crate::metric::{self, MetricTargetType};
use crate::secret::SecretString;

/// Where a parameter value may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// `trigger.metadata[key]`.
    TriggerMetadata,
    /// The scale target container's env var named by `trigger.metadata[key + "FromEnv"]`.
    ResolvedEnv,
    /// `(Cluster)TriggerAuthentication` parameter `key`.
    AuthParams,
}

impl Source {
    /// KEDA's spelling, used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::TriggerMetadata => "triggerMetadata",
            Source::ResolvedEnv => "resolvedEnv",
            Source::AuthParams => "authParams",
        }
    }
}

/// Common lookup orders, named by their sources' initials (M = metadata, E = env, A = auth).
pub mod order {
    use super::Source::{self, AuthParams as A, ResolvedEnv as E, TriggerMetadata as M};
    /// Trigger metadata only.
    pub const M_: &[Source] = &[M];
    /// Authentication params only.
    pub const A_: &[Source] = &[A];
    /// Metadata, then auth.
    pub const MA: &[Source] = &[M, A];
    /// Metadata, then env.
    pub const ME: &[Source] = &[M, E];
    /// Auth, then env.
    pub const AE: &[Source] = &[A, E];
    /// Metadata, env, auth.
    pub const MEA: &[Source] = &[M, E, A];
    /// Metadata, auth, env.
    pub const MAE: &[Source] = &[M, A, E];
    /// Auth, metadata, env.
    pub const AME: &[Source] = &[A, M, E];
}

/// Default `KEDA_HTTP_DEFAULT_TIMEOUT` (3000 ms).
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_millis(3000);

/// Everything a scaler is built from: plain maps, resolved by the caller.
#[derive(Clone)]
pub struct TriggerParams {
    /// `trigger.type`, e.g. `rabbitmq`.
    pub trigger_type: String,
    /// Position of the trigger in the ScaledObject (the `s<index>-` of metric names).
    pub index: usize,
    /// `trigger.name`, if given.
    pub name: Option<String>,
    /// `trigger.metadata`.
    pub metadata: BTreeMap<String, String>,
    /// Env of the scale target's container, resolved (`env`, `envFrom`, `$(VAR)` expansion).
    pub resolved_env: BTreeMap<String, String>,
    /// Parameters from the referenced (Cluster)TriggerAuthentication.
    pub auth_params: BTreeMap<String, String>,
    /// `podIdentity.provider` from the TriggerAuthentication, if any (`azure-workload`, `aws`, ...).
    pub pod_identity: Option<String>,
    /// `trigger.metricType` as written (`""`/absent means AverageValue).
    pub metric_type: Option<String>,
    /// True when the ScaledObject uses `scalingModifiers`: some targets become optional.
    pub as_metric_source: bool,
    /// `KEDA_HTTP_DEFAULT_TIMEOUT`.
    pub global_http_timeout: Duration,
    /// Name of the ScaledObject/ScaledJob that owns the trigger (empty when unknown, e.g. offline).
    pub object_name: String,
    /// Namespace of the owning object (empty when unknown).
    pub object_namespace: String,
}

impl fmt::Debug for TriggerParams {
    // Env and auth params hold secrets: show their keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TriggerParams")
            .field("trigger_type", &self.trigger_type)
            .field("index", &self.index)
            .field("name", &self.name)
            .field("metadata_keys", &self.metadata.keys().collect::<Vec<_>>())
            .field(
                "resolved_env_keys",
                &self.resolved_env.keys().collect::<Vec<_>>(),
            )
            .field(
                "auth_params_keys",
                &self.auth_params.keys().collect::<Vec<_>>(),
            )
            .field("pod_identity", &self.pod_identity)
            .field("metric_type", &self.metric_type)
            .field("as_metric_source", &self.as_metric_source)
            .field("global_http_timeout", &self.global_http_timeout)
            .field("object_name", &self.object_name)
            .field("object_namespace", &self.object_namespace)
            .finish()
    }
}

/// A value found for a key, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// The (trimmed) value.
    pub value: &'a str,
    /// Which source it came from.
    pub source: Source,
    /// Which of the key's alternative names matched.
    pub name: &'a str,
}

impl TriggerParams {
    /// Params with only trigger metadata; set the other public fields as needed.
    pub fn new<K, V>(
        trigger_type: impl Into<String>,
        index: usize,
        metadata: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            trigger_type: trigger_type.into(),
            index,
            name: None,
            metadata: collect(metadata),
            resolved_env: BTreeMap::new(),
            auth_params: BTreeMap::new(),
            pod_identity: None,
            metric_type: None,
            as_metric_source: false,
            global_http_timeout: DEFAULT_HTTP_TIMEOUT,
            object_name: String::new(),
            object_namespace: String::new(),
        }
    }

    /// Sets the owning ScaledObject/ScaledJob's name and namespace (KEDA's `ScalerConfig.ScalableObjectName`
    /// and `ScalableObjectNamespace`; external scalers receive them in `ScaledObjectRef`).
    pub fn with_scaled_object(
        mut self,
        name: impl Into<String>,
        namespace: impl Into<String>,
    ) -> Self {
        self.object_name = name.into();
        self.object_namespace = namespace.into();
        self
    }

    /// The owning object's `(name, namespace)`; empty strings when the caller did not set them.
    pub fn scaled_object(&self) -> (&str, &str) {
        (&self.object_name, &self.object_namespace)
    }

    /// Sets the resolved container env.
    pub fn with_resolved_env<K: Into<String>, V: Into<String>>(
        mut self,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.resolved_env = collect(env);
        self
    }

    /// Sets the TriggerAuthentication params.
    pub fn with_auth_params<K: Into<String>, V: Into<String>>(
        mut self,
        auth: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.auth_params = collect(auth);
        self
    }

    /// Sets `trigger.metricType`.
    pub fn with_metric_type(mut self, metric_type: impl Into<String>) -> Self {
        self.metric_type = Some(metric_type.into());
        self
    }

    /// Finds `key` (or one of its `;`-separated alternatives) in `order`.
    pub fn lookup<'a>(&'a self, key: &'a str, order: &[Source]) -> Option<Found<'a>> {
        for &source in order {
            for name in key.split(';') {
                let value = match source {
                    Source::TriggerMetadata => self.metadata.get(name).map(String::as_str),
                    Source::AuthParams => self.auth_params.get(name).map(String::as_str),
                    Source::ResolvedEnv => self
                        .metadata
                        .get(&format!("{name}FromEnv"))
                        .map(|var| var.trim())
                        .filter(|var| !var.is_empty())
                        .and_then(|var| self.resolved_env.get(var))
                        .map(String::as_str),
                };
                if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
                    return Some(Found {
                        value,
                        source,
                        name,
                    });
                }
            }
        }
        None
    }

    /// Whether `key` has a non-empty value in `order`.
    pub fn has(&self, key: &str, order: &[Source]) -> bool {
        self.lookup(key, order).is_some()
    }

    /// The value of a required key, parsed as `T`.
    pub fn required<T: FromParam>(&self, key: &str, order: &[Source]) -> Result<T, ConfigError> {
        self.optional(key, order)?
            .ok_or_else(|| missing(key, order))
    }

    /// The value of an optional key, parsed as `T`; `None` when absent or empty.
    pub fn optional<T: FromParam>(
        &self,
        key: &str,
        order: &[Source],
    ) -> Result<Option<T>, ConfigError> {
        match self.lookup(key, order) {
            None => Ok(None),
            Some(found) => {
                T::from_param(found.value)
                    .map(Some)
                    .ok_or_else(|| ConfigError::WrongType {
                        key: first_name(key).to_owned(),
                        value: found.value.to_owned(),
                        expected: T::EXPECTED,
                    })
            }
        }
    }

    /// The error for a required key that is absent.
    pub fn missing(&self, key: &str, order: &[Source]) -> ConfigError {
        missing(key, order)
    }

    /// The value of an optional key with a default.
    pub fn with_default<T: FromParam>(
        &self,
        key: &str,
        order: &[Source],
        default: T,
    ) -> Result<T, ConfigError> {
        Ok(self.optional(key, order)?.unwrap_or(default))
    }

    /// A secret value (password, token, key); never parsed, never printed.
    pub fn secret(&self, key: &str, order: &[Source]) -> Option<SecretString> {
        self.lookup(key, order)
            .map(|found| SecretString::new(found.value))
    }

    /// A required secret value.
    pub fn required_secret(
        &self,
        key: &str,
        order: &[Source],
    ) -> Result<SecretString, ConfigError> {
        self.secret(key, order).ok_or_else(|| missing(key, order))
    }

    /// One of the `allowed` words (case-sensitive, as KEDA's `enum=`), or `default` when absent.
    pub fn one_of(
        &self,
        key: &str,
        order: &[Source],
        allowed: &[&'static str],
        default: Option<&'static str>,
    ) -> Result<&'static str, ConfigError> {
        match self.lookup(key, order) {
            Some(found) => allowed
                .iter()
                .copied()
                .find(|a| *a == found.value)
                .ok_or_else(|| ConfigError::NotOneOf {
                    key: first_name(key).to_owned(),
                    value: found.value.to_owned(),
                    allowed: allowed.join(", "),
                }),
            None => default.ok_or_else(|| missing(key, order)),
        }
    }

    /// KEDA's metric name for this trigger: `s<index>-<normalized raw>`.
    pub fn metric_name(&self, raw: &str) -> String {
        metric::metric_name(self.index, raw)
    }

    /// The target type for an external metric: `metricType` or AverageValue.
    pub fn external_target_type(&self) -> Result<MetricTargetType, ConfigError> {
        match self.metric_type.as_deref().map(str::trim).unwrap_or("") {
            // KEDA treats an empty metricType as AverageValue.
            "" | "AverageValue" => Ok(MetricTargetType::AverageValue),
            "Value" => Ok(MetricTargetType::Value),
            "Utilization" => Err(ConfigError::invalid(
                "metricType",
                "'Utilization' metric type is unsupported for external metrics, allowed values are 'Value' or 'AverageValue'",
            )),
            other => Err(ConfigError::NotOneOf {
                key: "metricType".into(),
                value: other.to_owned(),
                allowed: "AverageValue, Value".into(),
            }),
        }
    }
}

fn collect<K: Into<String>, V: Into<String>>(
    items: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    items
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

fn first_name(key: &str) -> &str {
    key.split(';').next().unwrap_or(key)
}

fn missing(key: &str, order: &[Source]) -> ConfigError {
    ConfigError::Missing {
        key: first_name(key).to_owned(),
        // Go prints a slice space-separated: [triggerMetadata authParams].
        order: order
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A type a parameter value can be decoded into, with KEDA's conversions.
pub trait FromParam: Sized {
    /// How the type reads in an error: `a number`, `an integer`, `a boolean`, ...
    const EXPECTED: &'static str;
    /// Decodes the (trimmed, non-empty) raw value.
    fn from_param(raw: &str) -> Option<Self>;
}

impl FromParam for String {
    const EXPECTED: &'static str = "a string";
    fn from_param(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
}

/// Go's `strconv.ParseBool`.
impl FromParam for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_param(raw: &str) -> Option<Self> {
        match raw {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            _ => None,
        }
    }
}

// Numbers decode as JSON does in KEDA: "10" is an int, "10.5" into an int fails, "1e3" is a float.
macro_rules! json_number {
    ($($t:ty => $expected:literal),*) => {$(
        impl FromParam for $t {
            const EXPECTED: &'static str = $expected;
            fn from_param(raw: &str) -> Option<Self> {
                serde_json::from_str::<$t>(raw).ok()
            }
        }
    )*};
}
json_number!(i64 => "an integer", i32 => "an integer", u64 => "a non-negative integer",
             u32 => "a non-negative integer", u16 => "a non-negative integer",
             usize => "a non-negative integer", f64 => "a number");

/// Go duration (`30s`, `1m30s`, `250ms`) or integer milliseconds; negative rejected.
impl FromParam for Duration {
    const EXPECTED: &'static str = "a duration (Go syntax like \"30s\" or integer milliseconds)";
    fn from_param(raw: &str) -> Option<Self> {
        if let Ok(ms) = serde_json::from_str::<u64>(raw) {
            return Some(Duration::from_millis(ms));
        }
        parse_go_duration(raw)
    }
}

/// `k=v,k2=v2` (KEDA's map parameters such as `customHeaders`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyValues(pub Vec<(String, String)>);

impl FromParam for KeyValues {
    const EXPECTED: &'static str = "a list of key=value pairs separated by ','";
    fn from_param(raw: &str) -> Option<Self> {
        let mut pairs = Vec::new();
        for item in raw.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (k, v) = item.split_once('=')?;
            let k = k.trim();
            if k.is_empty() {
                return None;
            }
            pairs.push((k.to_owned(), v.trim().to_owned()));
        }
        Some(KeyValues(pairs))
    }
}

/// Go's `time.ParseDuration`, non-negative only.
pub fn parse_go_duration(raw: &str) -> Option<Duration> {
    let s = raw.strip_prefix('+').unwrap_or(raw);
    if s.starts_with('-') {
        return None;
    }
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_nanos += value * scale;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total_nanos.round() as u64))
}

#[cfg(test)]
mod tests;
