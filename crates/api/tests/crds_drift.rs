//! deploy/crds/*.yaml must be exactly what the types generate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns may panic too

mod support;

use std::collections::BTreeSet;

const HINT: &str = "regenerate with `cargo run -p ebb -- crds --out deploy/crds` \
                    (or `EBB_WRITE_CRDS=1 cargo test -p ebb-api --test crds_drift`)";

#[test]
fn committed_crds_equal_what_the_types_generate() {
    let dir = support::workspace_root().join("deploy/crds");
    let write = std::env::var_os("EBB_WRITE_CRDS").is_some();
    let mut expected_files = BTreeSet::new();
    let mut stale = Vec::new();
    for crd in ebb_api::crds::all() {
        let name = ebb_api::crds::file_name(&crd);
        let path = dir.join(&name);
        let generated = ebb_api::crds::to_yaml(&crd).unwrap();
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            stale.push(name.clone());
        }
        expected_files.insert(name);
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yaml"))
                .collect()
        })
        .unwrap_or_default();
    let extra: Vec<_> = present.difference(&expected_files).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "deploy/crds is out of date: differing {stale:?}, not generated {extra:?}; {HINT}"
    );
}

#[test]
fn the_yaml_stream_holds_all_four_crds_in_order() {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&ebb_api::crds::all_to_yaml().unwrap()).unwrap();
    let names: Vec<_> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "scaledobjects.keda.sh",
            "scaledjobs.keda.sh",
            "triggerauthentications.keda.sh",
            "clustertriggerauthentications.keda.sh",
        ]
    );
}

#[test]
fn the_generated_yaml_reads_back_as_the_same_crds() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let parsed: Vec<CustomResourceDefinition> =
        serde_saphyr::from_multiple(&ebb_api::crds::all_to_yaml().unwrap()).unwrap();
    assert_eq!(parsed, ebb_api::crds::all());
}
