//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`, `gt`, `lt`) and field selectors.

use serde_json::Value;

use crate::meta;
use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector {
    reqs: Vec<(String, Op)>,
}

/// Split on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn set_values(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn parse_requirement(req: &str) -> Option<(String, Op)> {
    if let Some(key) = req.strip_prefix('!') {
        return Some((key.trim().to_string(), Op::DoesNotExist));
    }
    for (token, is_in) in [(" notin ", false), (" in ", true)] {
        if let Some(i) = req.find(token) {
            let key = req[..i].trim().to_string();
            let values = set_values(&req[i + token.len()..])?;
            return Some((
                key,
                if is_in {
                    Op::In(values)
                } else {
                    Op::NotIn(values)
                },
            ));
        }
    }
    let binary = |sep: &str| {
        req.split_once(sep)
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
    };
    if let Some((k, v)) = binary("!=") {
        return Some((k, Op::NotEq(v)));
    }
    if let Some((k, v)) = binary("==").or_else(|| binary("=")) {
        return Some((k, Op::Eq(v)));
    }
    if let Some((k, v)) = binary(">") {
        return Some((k, Op::Gt(v.parse().ok()?)));
    }
    if let Some((k, v)) = binary("<") {
        return Some((k, Op::Lt(v.parse().ok()?)));
    }
    let key = req.trim();
    (!key.contains(char::is_whitespace)).then(|| (key.to_string(), Op::Exists))
}

impl LabelSelector {
    pub(crate) fn parse(s: &str) -> Result<LabelSelector, ApiError> {
        let reqs = split_top(s)
            .into_iter()
            .map(|r| {
                parse_requirement(r)
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("unable to parse requirement: {r:?}"))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(LabelSelector { reqs })
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        let labels = meta::labels(obj);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|(key, op)| {
            let v = get(key);
            match op {
                Op::Eq(want) => v == Some(want.as_str()),
                Op::NotEq(want) => v != Some(want.as_str()),
                Op::In(set) => v.is_some_and(|v| set.iter().any(|s| s == v)),
                Op::NotIn(set) => !v.is_some_and(|v| set.iter().any(|s| s == v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                Op::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }
}

/// A field selector: `metadata.name=x,metadata.namespace!=y`, or another dotted field path.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub(crate) fn parse(s: &str) -> Result<FieldSelector, ApiError> {
        let reqs = split_top(s)
            .into_iter()
            .map(|r| {
                let (field, eq, value) = if let Some((f, v)) = r.split_once("!=") {
                    (f, false, v)
                } else if let Some((f, v)) = r.split_once("==").or_else(|| r.split_once('=')) {
                    (f, true, v)
                } else {
                    return Err(ApiError::bad_request(format!(
                        "invalid field selector: {r:?}"
                    )));
                };
                Ok((field.trim().to_string(), eq, value.trim().to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(FieldSelector { reqs })
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(field, eq, want)| {
            let got = match meta::get_path(obj, field) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (got == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn label_selector_operators_match_like_kubernetes() {
        let o = obj(json!({"app": "web", "tier": "front", "n": "5"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("tier in (front,back)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier in (back)", false),
            ("n>4", true),
            ("n<4", false),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).map(|s| s.matches(&o)),
                Ok(want),
                "{sel}"
            );
        }
    }

    #[test]
    fn field_selector_matches_name_and_namespace() {
        let o = obj(json!({}));
        let sel = FieldSelector::parse("metadata.name=a,metadata.namespace!=other")
            .map(|s| s.matches(&o));
        assert_eq!(sel, Ok(true));
        assert_eq!(
            FieldSelector::parse("metadata.name=b").map(|s| s.matches(&o)),
            Ok(false)
        );
    }
}
