//! Label selectors as the HPA sends them (`scaledobject.keda.sh/name=orders`), parsed just enough to
//! find the ScaledObject's name, with Kubernetes' syntax otherwise accepted.

use ebb_api::constants::SCALED_OBJECT_NAME_LABEL;

/// Why a selector was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The selector does not parse.
    #[error("unable to parse requirement: {0}")]
    Invalid(String),
    /// No `scaledobject.keda.sh/name=<so>` requirement (KEDA's message).
    #[error("scaledObject name is not specified")]
    NoScaledObject,
}

/// The ScaledObject named by `scaledobject.keda.sh/name` (`=`, `==` or `in (x)` with one value).
pub fn scaled_object_name(selector: &str) -> Result<String, SelectorError> {
    let mut found = None;
    for requirement in split_requirements(selector)? {
        let r = requirement.trim();
        if r.is_empty() {
            continue;
        }
        let (key, value) = if let Some((k, v)) = r.split_once("!=") {
            (k.trim(), Err(v))
        } else if let Some((k, v)) = r.split_once("==").or_else(|| r.split_once('=')) {
            (k.trim(), Ok(v.trim()))
        } else if let Some((k, rest)) = r.split_once(" in ") {
            let set = set_values(rest)?;
            (
                k.trim(),
                if set.len() == 1 {
                    Ok(set[0])
                } else {
                    Err(rest)
                },
            )
        } else if let Some((k, rest)) = r.split_once(" notin ") {
            set_values(rest)?;
            (k.trim(), Err(rest))
        } else {
            (r.trim_start_matches('!').trim(), Err(r))
        };
        check_key(key)?;
        if key == SCALED_OBJECT_NAME_LABEL
            && let Ok(v) = value
        {
            check_value(v)?;
            found = Some(v.to_owned());
        }
    }
    found.ok_or(SelectorError::NoScaledObject)
}

fn split_requirements(selector: &str) -> Result<Vec<&str>, SelectorError> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(SelectorError::Invalid(selector.to_owned()));
        }
    }
    if depth != 0 {
        return Err(SelectorError::Invalid(selector.to_owned()));
    }
    parts.push(&selector[start..]);
    Ok(parts)
}

fn set_values(rest: &str) -> Result<Vec<&str>, SelectorError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| SelectorError::Invalid(rest.to_owned()))?;
    Ok(inner.split(',').map(str::trim).collect())
}

fn check_key(key: &str) -> Result<(), SelectorError> {
    let ok = !key.is_empty()
        && key.len() <= 316
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(SelectorError::Invalid(format!("invalid label key {key:?}")))
    }
}

fn check_value(value: &str) -> Result<(), SelectorError> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SelectorError::Invalid(format!(
            "invalid label value {value:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_scaled_object_name_in_every_equality_form() {
        for s in [
            "scaledobject.keda.sh/name=orders",
            "scaledobject.keda.sh/name==orders",
            "app=x,scaledobject.keda.sh/name=orders",
            "scaledobject.keda.sh/name in (orders)",
            "tier in (a,b), scaledobject.keda.sh/name = orders",
        ] {
            assert_eq!(scaled_object_name(s).as_deref(), Ok("orders"), "{s}");
        }
    }

    #[test]
    fn a_selector_without_the_name_is_keda_s_error() {
        for s in ["", "app=x", "scaledobject.keda.sh/name!=orders"] {
            assert_eq!(
                scaled_object_name(s),
                Err(SelectorError::NoScaledObject),
                "{s}"
            );
        }
    }

    #[test]
    fn malformed_selectors_are_invalid() {
        for s in [
            "a in (b",
            "scaledobject.keda.sh/name=or ders",
            "=x",
            "a b=c",
        ] {
            assert!(
                matches!(scaled_object_name(s), Err(SelectorError::Invalid(_))),
                "{s}"
            );
        }
    }
}
