//! Helpers shared by the integration tests: workspace paths and YAML loading.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// KEDA's CRD files: `$EBB_SHARED/keda/crd`, else `<workspace>/../shared/keda/crd`.
///
/// Panics (fails the test) when the directory is missing: these checks must not pass silently.
pub(crate) fn keda_crd_dir() -> PathBuf {
    let shared = std::env::var_os("EBB_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    let dir = shared.join("keda/crd");
    assert!(
        dir.is_dir(),
        "KEDA's CRD files are not at {}: set EBB_SHARED to the shared/ directory \
         (the one holding keda/crd/keda.sh_scaledobjects.yaml)",
        dir.display()
    );
    dir
}

/// Reads a YAML file into a JSON value.
pub(crate) fn read_yaml(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A fixture under tests/fixtures.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
