//! KEDA's admission checks for the four keda.sh kinds, plus Ebb's structural ones.
//!
//! One implementation for `ebb validate` (files) and the admission webhook (cluster): both turn a
//! document into a typed object and a list of [`Violation`]s.

pub mod cluster;
mod scaled_job;
mod scaled_object;
mod trigger_authentication;
mod triggers;

use std::collections::HashMap;
use std::sync::Arc;

use ebb_api::constants::API_VERSION;

use crate::{Document, Origin, Violation};

/// The group all four kinds belong to.
const GROUP: &str = "keda.sh";
pub use crate::object::{KINDS, KedaObject};

/// The outcome for one keda.sh document.
#[derive(Clone, Debug)]
pub struct Checked {
    /// Where the document came from.
    pub origin: Origin,
    /// Its kind.
    pub kind: String,
    /// `namespace/name` (`default` standing in for no namespace), or `name` for cluster-scoped kinds.
    pub name: String,
    /// The typed object, when the document matched the schema.
    pub object: Option<Arc<KedaObject>>,
    /// Everything wrong with it; empty means valid.
    pub violations: Vec<Violation>,
}

impl Checked {
    /// No rule is broken.
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Whether a document is one of the four keda.sh kinds (any version of the group).
pub fn is_keda(doc: &Document) -> bool {
    doc.api_version().split('/').next() == Some(GROUP) && KINDS.contains(&doc.kind())
}

/// Checks one keda.sh document on its own. `None` when the document is not a keda.sh kind.
pub fn check_document(doc: &Document) -> Option<Checked> {
    if !is_keda(doc) {
        return None;
    }
    let kind = doc.kind().to_owned();
    let name = object_name(doc);
    let mut violations = Vec::new();
    if doc.api_version() != API_VERSION {
        violations.push(Violation::new(
            "apiVersion",
            format!("{} is not served; use {API_VERSION}", doc.api_version()),
        ));
        return Some(Checked {
            origin: doc.origin.clone(),
            kind,
            name,
            object: None,
            violations,
        });
    }
    let object = match doc.keda_shared() {
        Some(obj) => Some(obj.clone()), // an Arc: shared, not copied
        None => match crate::object::from_value(&kind, &doc.value()) {
            Ok(obj) => Some(Arc::new(obj)),
            Err(v) => {
                violations.push(v);
                None
            }
        },
    };
    match object.as_deref() {
        Some(KedaObject::ScaledObject(so)) => scaled_object::check(so, &mut violations),
        Some(KedaObject::ScaledJob(sj)) => scaled_job::check(sj, &mut violations),
        Some(KedaObject::TriggerAuthentication(ta)) => trigger_authentication::check(
            &ta.spec,
            trigger_authentication::Scope::Namespaced,
            &mut violations,
        ),
        Some(KedaObject::ClusterTriggerAuthentication(cta)) => trigger_authentication::check(
            &cta.spec,
            trigger_authentication::Scope::Cluster,
            &mut violations,
        ),
        None => {}
    }
    Some(Checked {
        origin: doc.origin.clone(),
        kind,
        name,
        object,
        violations,
    })
}

/// Checks every keda.sh document, then the rules that span objects (two ScaledObjects on one
/// workload or one HPA), in input order: the later object of a conflicting pair is the one refused,
/// as the webhook refuses the second object created.
pub fn check_documents<'a>(docs: impl IntoIterator<Item = &'a Document>) -> Vec<Checked> {
    let mut checked: Vec<Checked> = docs.into_iter().filter_map(check_document).collect();
    // The ScaledObjects admitted so far (indexes into `checked`), by what may clash (target, HPA
    // name), so each object is compared only with the one it clashes with: linear in objects.
    let mut by_target: HashMap<(String, String, String), usize> = HashMap::new();
    let mut by_hpa: HashMap<(String, String), usize> = HashMap::new();
    for i in 0..checked.len() {
        let (earlier, rest) = checked.split_at_mut(i);
        let Some(c) = rest.first_mut() else { break };
        let Some(KedaObject::ScaledObject(so)) = c.object.as_deref() else {
            continue;
        };
        let ns = so
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let (gvk, target) = cluster::scale_target(so);
        let target_key = (ns.clone(), gvk, target.to_owned());
        let hpa_key = (ns, so.hpa_name());
        let rivals = [by_target.get(&target_key), by_hpa.get(&hpa_key)]
            .into_iter()
            .flatten()
            .filter_map(|&j| match earlier[j].object.as_deref() {
                Some(KedaObject::ScaledObject(other)) => Some(&**other),
                _ => None,
            });
        match cluster::verify_scaled_objects(so, rivals) {
            Err(v) => c.violations.push(v),
            Ok(()) => {
                by_target.insert(target_key, i);
                by_hpa.insert(hpa_key, i);
            }
        }
    }
    checked
}

fn object_name(doc: &Document) -> String {
    let name = doc.display_name();
    // Namespaced kinds without a namespace land in `default`, as kubectl would put them.
    if doc.kind() == "ClusterTriggerAuthentication" || name.contains('/') {
        name
    } else {
        format!("default/{name}")
    }
}
