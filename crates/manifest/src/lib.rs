//! Manifests from files: kubectl-style loading and KEDA's admission checks, one implementation for
//! `ebb validate`, `ebb run`, `ebb check` and the admission webhook.

pub mod admission;
pub mod auth;
pub mod load;
pub mod object;
pub mod objects;
pub mod policy;
pub mod scaler_params;
pub mod task_data;

use std::fmt;

pub use admission::{Checked, check_document, check_documents};
pub use load::{Document, LoadError, Loaded, Origin, load_paths, parse_bytes, parse_text};
pub use object::KedaObject;

/// One broken rule: the field path it concerns and what is wrong, in KEDA's words where KEDA has them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Field path, e.g. `spec.triggers[1].metadata.queueLength`; empty for whole-object rules.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Violation {
    /// A violation at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}
