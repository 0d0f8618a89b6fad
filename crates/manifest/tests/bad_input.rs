//! Bad input never panics: random bytes, random YAML trees, huge files and huge documents all end
//! in a clear error naming the file and document, or in a clean result.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use ebb_manifest::{LoadError, check_documents, parse_bytes, parse_text};
use proptest::prelude::*;
use serde_json::{Value, json};

#[test]
fn an_empty_file_is_reported_as_holding_no_objects() {
    let loaded = parse_bytes("empty.yaml", b"");
    assert!(loaded.documents.is_empty());
    assert_eq!(
        loaded
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["empty.yaml: no objects found (the file is empty or holds only comments)"]
    );
    let loaded = parse_bytes("comments.yaml", b"# nothing\n---\n# here\n");
    assert!(matches!(
        loaded.errors.as_slice(),
        [LoadError::Empty { .. }]
    ));
}

#[test]
fn binary_garbage_is_reported_as_not_text() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let loaded = parse_bytes("blob.yaml", &garbage);
    assert!(loaded.documents.is_empty());
    let msg = loaded.errors[0].to_string();
    assert!(
        msg.starts_with("blob.yaml: not a text file (invalid UTF-8 at byte "),
        "{msg}"
    );
}

#[test]
fn malformed_yaml_names_file_document_and_line() {
    let text = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\n---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec: [unclosed\n";
    let loaded = parse_text("bad.yaml", text);
    assert_eq!(loaded.documents.len(), 1);
    let msg = loaded.errors[0].to_string();
    assert!(
        msg.starts_with("bad.yaml:doc#2: invalid YAML at line "),
        "{msg}"
    );
}

fn scaled_object(name: &str, triggers: usize) -> Value {
    let triggers: Vec<Value> = (0..triggers)
        .map(|i| {
            json!({"type": "redis", "name": format!("t{i}"),
                   "metadata": {"listName": format!("jobs-{i}"), "addressFromEnv": "REDIS", "listLength": "10"}})
        })
        .collect();
    json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
           "metadata": {"name": name, "namespace": "load"},
           "spec": {"scaleTargetRef": {"name": name}, "triggers": triggers}})
}

#[test]
fn a_document_with_ten_thousand_triggers_is_checked_in_full() {
    let text = serde_json::to_string(&scaled_object("wide", 10_000)).unwrap();
    let loaded = parse_text("wide.json", &text);
    let checked = check_documents(&loaded.documents);
    assert_eq!(checked.len(), 1);
    assert!(
        checked[0].is_valid(),
        "{:?}",
        &checked[0].violations[..3.min(checked[0].violations.len())]
    );
    // One broken trigger deep inside is still found, by index.
    let mut so = scaled_object("wide", 10_000);
    so["spec"]["triggers"][9_876]["metadata"]["listLength"] = json!("many");
    let loaded = parse_text("wide.json", &serde_json::to_string(&so).unwrap());
    let checked = check_documents(&loaded.documents);
    assert_eq!(
        checked[0]
            .violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["spec.triggers[9876].metadata.listLength: \"many\" is not a number"]
    );
}

#[test]
fn a_fifty_megabyte_file_is_read_without_panicking() {
    // One document holding a 50 MB annotation, followed by a valid object.
    let mut text = String::with_capacity(51 << 20);
    text.push_str("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: \"");
    text.extend(std::iter::repeat_n('x', 50 << 20));
    text.push_str("\"\n---\n");
    text.push_str(&serde_json::to_string(&scaled_object("after-big", 1)).unwrap());
    let loaded = parse_text("big.yaml", &text);
    // The big document either parses or is refused by the parser's budget, with its position.
    for e in &loaded.errors {
        assert!(e.to_string().starts_with("big.yaml:doc#1: "), "{e}");
    }
    let checked = check_documents(&loaded.documents);
    assert_eq!(checked.len(), 1);
    assert!(checked[0].is_valid());
}

fn arb_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "apiVersion",
        "kind",
        "metadata",
        "name",
        "namespace",
        "spec",
        "triggers",
        "type",
        "scaleTargetRef",
        "minReplicaCount",
        "maxReplicaCount",
        "idleReplicaCount",
        "fallback",
        "advanced",
        "scalingModifiers",
        "formula",
        "target",
        "jobTargetRef",
        "template",
        "containers",
        "podIdentity",
        "provider",
        "authenticationRef",
        "annotations",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "keda.sh/v1alpha1",
            "ScaledObject",
            "ScaledJob",
            "TriggerAuthentication",
            "ClusterTriggerAuthentication",
            "rabbitmq",
            "cpu",
            "a + b",
            "-1",
            "abc",
            "",
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let loaded = parse_bytes("random.yaml", &bytes);
        let _ = check_documents(&loaded.documents);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        let loaded = parse_text("random.yaml", &text);
        let _ = check_documents(&loaded.documents);
    }

    #[test]
    fn random_yaml_trees_shaped_like_keda_objects_never_panic(
        tree in arb_json(),
        kind in prop::sample::select(vec!["ScaledObject", "ScaledJob", "TriggerAuthentication", "ClusterTriggerAuthentication"]),
    ) {
        let mut doc = tree;
        if let Value::Object(map) = &mut doc {
            map.insert("apiVersion".into(), json!("keda.sh/v1alpha1"));
            map.insert("kind".into(), json!(kind));
        }
        let text = serde_saphyr::to_string(&doc).unwrap_or_default();
        let loaded = parse_text("tree.yaml", &text);
        for c in check_documents(&loaded.documents) {
            // An object that did not fit its schema is never reported valid.
            prop_assert!(c.object.is_some() || !c.violations.is_empty());
        }
    }
}

#[test]
fn deep_nesting_is_refused_or_parsed_without_overflowing_the_stack() {
    for depth in [200, 254, 300, 600, 5_000] {
        let flow = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\ndata: {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let _ = parse_text("deep.yaml", &flow);
        let mut block =
            String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n");
        for level in 0..depth.min(600) {
            block.push_str(&" ".repeat(level + 1));
            block.push_str("k:\n");
        }
        let _ = parse_text("deep.yaml", &block);
    }
}
