//! The manifest corpus: every example validates, every file in tests/invalid/ fails with exactly
//! the field paths and messages its `# expect:` lines name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ebb_manifest::{KedaObject, check_documents, load_paths, scaler_params};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_manifest_is_valid() {
    let loaded = load_paths(&[repo().join("examples")]);
    assert!(
        loaded.errors.is_empty(),
        "unreadable examples: {:?}",
        loaded.errors
    );
    let checked = check_documents(&loaded.documents);
    assert!(!checked.is_empty());
    let invalid: Vec<String> = checked
        .iter()
        .filter(|c| !c.is_valid())
        .map(|c| format!("{} {}: {:?}", c.origin, c.name, c.violations))
        .collect();
    assert!(
        invalid.is_empty(),
        "invalid examples:\n{}",
        invalid.join("\n")
    );
}

#[test]
fn every_keda_trigger_type_has_an_example_that_uses_it() {
    let dir = repo().join("examples/scalers");
    let mut covered = BTreeSet::new();
    for file in yaml_files(&dir) {
        let ty = file.file_stem().unwrap().to_string_lossy().into_owned();
        let loaded = load_paths(std::slice::from_ref(&file));
        let uses_type =
            check_documents(&loaded.documents)
                .iter()
                .any(|c| match c.object.as_deref() {
                    Some(KedaObject::ScaledObject(so)) => {
                        so.spec.triggers.iter().any(|t| t.type_ == ty)
                    }
                    Some(KedaObject::ScaledJob(sj)) => {
                        sj.spec.triggers.iter().any(|t| t.type_ == ty)
                    }
                    _ => false,
                });
        assert!(
            uses_type,
            "{} does not use trigger type {ty}",
            file.display()
        );
        covered.insert(ty);
    }
    let all: BTreeSet<String> = scaler_params::trigger_types()
        .into_iter()
        .map(String::from)
        .collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "trigger types without an example: {missing:?}"
    );
    // examples/scalers also holds Ebb-only types (`sqlite`); KEDA's are exactly the 78.
    assert_eq!(covered.intersection(&all).count(), 78);
}

#[test]
fn every_invalid_manifest_fails_with_exactly_its_expected_violations() {
    let files = yaml_files(&repo().join("tests/invalid"));
    assert!(files.len() >= 40, "only {} invalid manifests", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected: BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::to_owned)
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            file.display()
        );
        let loaded = load_paths(std::slice::from_ref(file));
        assert!(
            loaded.errors.is_empty(),
            "{}: {:?}",
            file.display(),
            loaded.errors
        );
        let checked = check_documents(&loaded.documents);
        let several = checked.len() > 1;
        let actual: BTreeSet<String> = checked
            .iter()
            .flat_map(|c| {
                let short = c.name.rsplit('/').next().unwrap_or_default().to_owned();
                c.violations.iter().map(move |v| {
                    if several {
                        format!("{short}: {v}")
                    } else {
                        v.to_string()
                    }
                })
            })
            .collect();
        if actual != expected {
            failures.push(format!(
                "{}\n  expected: {expected:#?}\n  actual:   {actual:#?}",
                file.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
