//! KEDA's parameter table for all 78 trigger types, for checking trigger metadata offline.
//!
//! The table is derived from KEDA's scaler schema by `scripts/gen-scaler-params`. It stands in for
//! a trigger type's own parser until Ebb has one; where Ebb does, that parser is the authority.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

use crate::Violation;

/// What kind of value a parameter holds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// Any text.
    Text,
    /// A number (JSON-decoded by KEDA).
    Number,
    /// A boolean in Go's `strconv.ParseBool` spelling.
    Bool,
}

/// One parameter of a trigger type.
#[derive(Clone, Debug, Deserialize)]
pub struct Param {
    /// The metadata / auth parameter name.
    pub name: String,
    /// Value kind.
    pub kind: ValueKind,
    /// Where KEDA reads it: `m` trigger metadata, `e` `<name>FromEnv`, `a` TriggerAuthentication.
    pub sources: String,
    /// KEDA refuses the trigger without it.
    #[serde(default)]
    pub required: bool,
    /// KEDA's default, as text.
    pub default: Option<String>,
    /// The only values KEDA accepts.
    pub allowed: Option<Vec<String>>,
    /// Present ⇒ KEDA rejects the parameter with this message.
    pub deprecated: Option<String>,
}

impl Param {
    fn readable_from_metadata(&self) -> bool {
        self.sources.contains('m')
    }
    fn readable_from_env(&self) -> bool {
        self.sources.contains('e')
    }
    fn readable_from_auth(&self) -> bool {
        self.sources.contains('a')
    }
}

/// The parameters of one trigger type.
#[derive(Clone, Debug, Deserialize)]
pub struct TriggerType {
    /// KEDA's trigger `type` name.
    #[serde(rename = "type")]
    pub name: String,
    /// Its parameters in KEDA's order.
    pub parameters: Vec<Param>,
}

#[derive(Deserialize)]
struct Table {
    scalers: Vec<TriggerType>,
}

static TABLE: LazyLock<HashMap<String, TriggerType>> = LazyLock::new(|| {
    // The file is generated and checked by a test; an unreadable table would fail that test.
    let table: Table =
        serde_json::from_str(include_str!("../data/scaler-params.json")).unwrap_or(Table {
            scalers: Vec::new(),
        });
    table
        .scalers
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect()
});

/// All trigger type names KEDA knows, sorted.
pub fn trigger_types() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLE.keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

/// The parameter table of one trigger type.
pub fn trigger_type(name: &str) -> Option<&'static TriggerType> {
    TABLE.get(name)
}

/// The known type closest to an unknown one, for "did you mean".
pub fn closest_type(unknown: &str) -> Option<&'static str> {
    trigger_types()
        .into_iter()
        .map(|t| (edit_distance(&unknown.to_ascii_lowercase(), t), t))
        .filter(|(d, t)| *d <= 2.max(t.len() / 4))
        .min()
        .map(|(_, t)| t)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Go's `strconv.ParseBool` spellings.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Checks one trigger's metadata against its type's table: required keys (unless a
/// TriggerAuthentication or `<key>FromEnv` can supply them), value kinds, allowed values and
/// deprecated keys. `path` is the trigger's field path, e.g. `spec.triggers[1]`.
pub fn check_metadata(
    ty: &TriggerType,
    metadata: &BTreeMap<String, String>,
    has_authentication_ref: bool,
    path: &str,
    out: &mut Vec<Violation>,
) {
    for param in &ty.parameters {
        let key_path = || format!("{path}.metadata.{}", param.name);
        let value = metadata
            .get(&param.name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        if let (Some(msg), Some(_)) = (&param.deprecated, value) {
            out.push(Violation::new(key_path(), msg.clone()));
            continue;
        }
        let Some(value) = value.filter(|_| param.readable_from_metadata()) else {
            if param.required && !can_come_from_elsewhere(param, metadata, has_authentication_ref) {
                out.push(Violation::new(key_path(), missing_message(param)));
            }
            continue;
        };
        match param.kind {
            ValueKind::Number if !value.parse::<f64>().is_ok_and(f64::is_finite) => {
                out.push(Violation::new(
                    key_path(),
                    format!("{value:?} is not a number"),
                ));
            }
            ValueKind::Bool if parse_go_bool(value).is_none() => {
                out.push(Violation::new(
                    key_path(),
                    format!("{value:?} is not a boolean"),
                ));
            }
            _ => {}
        }
        if let Some(allowed) = param
            .allowed
            .as_ref()
            .filter(|a| !a.iter().any(|a| a == value))
        {
            out.push(Violation::new(
                key_path(),
                format!("{value:?} is not one of [{}]", allowed.join(", ")),
            ));
        }
    }
}

fn can_come_from_elsewhere(
    param: &Param,
    metadata: &BTreeMap<String, String>,
    has_authentication_ref: bool,
) -> bool {
    let from_env = param.readable_from_env()
        && metadata
            .get(&format!("{}FromEnv", param.name))
            .is_some_and(|v| !v.trim().is_empty());
    from_env || (param.readable_from_auth() && has_authentication_ref)
}

fn missing_message(param: &Param) -> String {
    let mut places = Vec::new();
    if param.readable_from_metadata() {
        places.push("metadata".to_owned());
    }
    if param.readable_from_env() {
        places.push(format!("metadata.{}FromEnv", param.name));
    }
    if param.readable_from_auth() {
        places.push("a TriggerAuthentication".to_owned());
    }
    format!(
        "required parameter is missing (set it in {})",
        places.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn check(ty: &str, pairs: &[(&str, &str)], auth: bool) -> Vec<String> {
        let mut out = Vec::new();
        let ty = trigger_type(ty).expect("known type");
        check_metadata(ty, &meta(pairs), auth, "spec.triggers[0]", &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_table_holds_all_78_keda_trigger_types() {
        assert_eq!(trigger_types().len(), 78);
        assert!(trigger_type("rabbitmq").is_some());
    }

    #[test]
    fn a_required_key_may_come_from_env_or_a_trigger_authentication() {
        assert_eq!(
            check("rabbitmq", &[("queueName", "q")], false),
            vec![
                "spec.triggers[0].metadata.host: required parameter is missing (set it in metadata or metadata.hostFromEnv or a TriggerAuthentication)"
            ]
        );
        assert!(
            check(
                "rabbitmq",
                &[("queueName", "q"), ("hostFromEnv", "H")],
                false
            )
            .is_empty()
        );
        assert!(check("rabbitmq", &[("queueName", "q")], true).is_empty());
    }

    #[test]
    fn numbers_booleans_and_enums_are_checked() {
        let errs = check(
            "azure-queue",
            &[
                ("queueName", "q"),
                ("queueLength", "abc"),
                ("queueLengthStrategy", "most"),
            ],
            true,
        );
        assert_eq!(
            errs,
            vec![
                "spec.triggers[0].metadata.queueLength: \"abc\" is not a number",
                "spec.triggers[0].metadata.queueLengthStrategy: \"most\" is not one of [all, visibleonly]",
            ]
        );
        let errs = check(
            "kafka",
            &[
                ("bootstrapServers", "b"),
                ("consumerGroup", "g"),
                ("allowIdleConsumers", "yes"),
            ],
            false,
        );
        assert_eq!(
            errs,
            vec!["spec.triggers[0].metadata.allowIdleConsumers: \"yes\" is not a boolean"]
        );
    }

    #[test]
    fn unknown_types_get_a_suggestion() {
        assert_eq!(closest_type("rabitmq"), Some("rabbitmq"));
        assert_eq!(closest_type("Kafka"), Some("kafka"));
        assert_eq!(closest_type("zzzzzzzz"), None);
    }
}
