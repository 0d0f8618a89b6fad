//! `valueLocation` for `format: yaml` and `format: xml`: KEDA's dot-separated path
//! (`pkg/util.GetValueByPath`) over the parsed document.
//!
//! Each segment names a map key, or an index into a list (`components.0.tasks`). The walk stops at
//! the first scalar: a path that continues past a number still finds that number (as KEDA's does);
//! a path that ends on a map or list is an error. Numbers are taken as they are; strings must parse
//! as a Kubernetes quantity (`"64"`, `"1k"`, `"250m"`); anything else is an error.
//!
//! YAML: the document must be a map (KEDA decodes into `map[string]any`).
//! XML: the root element is the first segment; an element holding only text is that text; repeated
//! child elements of one name form a list; attributes are not addressable. (KEDA's own XML decoding
//! fails for every document — Go's `encoding/xml` cannot decode into a map — so Ebb follows KEDA's
//! documented intent: `<foo><bar>42</bar></foo>` with `foo.bar` is 42.)

use serde_json::{Map, Value};

/// The number at `path` in a YAML document.
pub(crate) fn yaml_value(body: &str, path: &str) -> Result<f64, String> {
    let doc: Value =
        serde_saphyr::from_str(body).map_err(|e| format!("the response is not YAML: {e}"))?;
    value_at(&doc, path)
}

/// The number at `path` in an XML document.
pub(crate) fn xml_value(body: &str, path: &str) -> Result<f64, String> {
    value_at(&xml_to_value(body)?, path)
}

fn value_at(doc: &Value, path: &str) -> Result<f64, String> {
    if !doc.is_object() {
        return Err("the response is not a map at its top level".into());
    }
    let found = walk(doc, path)?;
    match found {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("{n} at {path:?} is not a number")),
        Value::String(s) => super::parse_quantity(s).ok_or_else(|| {
            format!("valueLocation {path:?} points to {s:?}, which is not a number or quantity")
        }),
        other => Err(format!(
            "valueLocation {path:?} points to {}, not a number",
            kind(other)
        )),
    }
}

fn walk<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, String> {
    let mut current = doc;
    for key in path.split('.') {
        let next = match current {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            // Never reached: the walk only descends into maps and lists.
            _ => None,
        };
        let Some(next) = next else {
            return Err(format!("key {key:?} not found in path {path:?}"));
        };
        match next {
            Value::Object(_) | Value::Array(_) => current = next,
            // KEDA returns the first scalar it reaches, whatever remains of the path.
            scalar => return Ok(scalar),
        }
    }
    Err(format!("path {path:?} does not lead to a value"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// `{"root": …}` for an XML document (see the module docs).
fn xml_to_value(xml: &str) -> Result<Value, String> {
    use quick_xml::events::Event;
    let bad = |e: &dyn std::fmt::Display| format!("the response is not XML: {e}");
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                stack.push(Open {
                    name,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                let value = Value::String(String::new());
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, value)),
                    None => root = Some((name, value)),
                }
            }
            Event::Text(t) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(open) = stack.last_mut() {
                    let name = r.into_inner().into_owned();
                    open.text.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(_) => {
                let Some(Open {
                    name,
                    children,
                    text,
                }) = stack.pop()
                else {
                    return Err(bad(&"unbalanced end tag"));
                };
                let value = element_value(children, text);
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, value)),
                    None => root = Some((name, value)),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let (name, value) = root.ok_or_else(|| bad(&"no root element"))?;
    let mut top = Map::new();
    top.insert(name, value);
    Ok(Value::Object(top))
}

/// An element being read: its name, its child elements in order, and its text.
struct Open {
    name: String,
    children: Vec<(String, Value)>,
    text: String,
}

fn element_value(children: Vec<(String, Value)>, text: String) -> Value {
    if children.is_empty() {
        return Value::String(text.trim().to_owned());
    }
    let mut map = Map::new();
    for (name, value) in children {
        match map.get_mut(&name) {
            None => {
                map.insert(name, value);
            }
            // Element values are strings or maps: a list here is one made of repeated names.
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The documents of KEDA's own table test, in YAML, and the same data as XML.
    const YAML: &str =
        "{components: [{id: 82328e93e, tasks: 32, str: '64', k: 1k, wrong: NaN}], count: 2.43}";
    const XML: &str = "<stats><components><id>82328e93e</id><tasks>32</tasks><str>64</str>\
        <k>1k</k><wrong>NaN</wrong></components><components><tasks>5</tasks></components>\
        <count>2.43</count><worker><tasks>12</tasks></worker></stats>";

    #[test]
    fn yaml_paths_read_as_keda_reads_them() {
        for (path, want) in [
            ("count", Some(2.43)),
            ("components.0.str", Some(64.0)),
            ("components.0.tasks", Some(32.0)),
            ("components.0.k", Some(1000.0)),
            // The walk stops at the first scalar.
            ("count.more", Some(2.43)),
            ("components.0.wrong", None),
            ("components.0.id", None),
            ("components.1.tasks", None),
            ("components", None),
            ("nothing", None),
        ] {
            assert_eq!(yaml_value(YAML, path).ok(), want, "{path}");
        }
        assert!(
            yaml_value("- 1\n- 2\n", "0").is_err(),
            "top level must be a map"
        );
        assert!(yaml_value("a: [1, 2", "a.0").is_err());
    }

    #[test]
    fn xml_paths_start_at_the_root_element() {
        for (path, want) in [
            ("stats.count", Some(2.43)),
            ("stats.worker.tasks", Some(12.0)),
            ("stats.components.0.tasks", Some(32.0)),
            ("stats.components.1.tasks", Some(5.0)),
            ("stats.components.0.str", Some(64.0)),
            ("stats.components.0.k", Some(1000.0)),
            ("stats.components.0.wrong", None),
            ("stats.components", None),
            ("count", None),
        ] {
            assert_eq!(xml_value(XML, path).ok(), want, "{path}");
        }
        assert_eq!(
            xml_value("<a><b>&#x31;&amp;</b><c><![CDATA[7]]></c></a>", "a.c").ok(),
            Some(7.0)
        );
        assert!(xml_value("<a><b>1</a>", "a.b").is_err());
        assert!(xml_value("not xml at all", "a").is_err());
    }
}
