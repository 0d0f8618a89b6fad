//! The workloads ScaledObjects point at, read from the same files: any object with a pod template
//! (Deployment, StatefulSet, ReplicaSet, or a custom kind with `spec.template.spec`), turned into
//! the process to run for each replica.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ebb_manifest::Document;
use ebb_manifest::auth::{AuthError, ObjectLookup, container_env, expand};
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;

use crate::process::ProcessTemplate;

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Why a workload cannot run locally.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// No such object in the files.
    #[error("{kind} {namespace}/{name} (the scale target) is not in the given files")]
    NotFound {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The object has no pod template.
    #[error("{0} has no spec.template.spec: ebb run needs a pod template to know what to start")]
    NoTemplate(String),
    /// The pod template does not parse.
    #[error("{0}: spec.template.spec is not a valid pod spec: {1}")]
    BadTemplate(String, String),
    /// No containers.
    #[error("{0} has no containers")]
    NoContainers(String),
    /// The first container has no command.
    #[error(
        "{object}: container {container:?} has no command: ebb run ignores images, so give the first container a `command` (and `args`) to run locally"
    )]
    NoCommand {
        /// The workload.
        object: String,
        /// The container.
        container: String,
    },
    /// Its env names a Secret/ConfigMap key that is not in the files.
    #[error("{0}: env: {1}")]
    Env(String, #[source] AuthError),
}

/// A workload found in the files.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `Deployment default/worker`.
    pub display: String,
    /// `metadata.name`, the prefix of replica names.
    pub name: String,
    /// `spec.replicas` (default 1), where local mode starts, like a Deployment.
    pub replicas: u32,
    /// The pod template.
    pub pod: PodSpec,
}

/// Finds `kind namespace/name` among the documents.
pub fn find_workload(
    documents: &[Document],
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Workload, WorkloadError> {
    let display = format!("{kind} {namespace}/{name}");
    let value = documents
        .iter()
        .filter(|d| d.kind() == kind && d.keda().is_none())
        .map(|d| d.value().into_owned())
        .find(|v| {
            v.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
                && v.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    == namespace
        })
        .ok_or_else(|| WorkloadError::NotFound {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })?;
    let template = value
        .pointer("/spec/template/spec")
        .ok_or_else(|| WorkloadError::NoTemplate(display.clone()))?;
    let pod: PodSpec = serde_json::from_value(template.clone())
        .map_err(|e| WorkloadError::BadTemplate(display.clone(), e.to_string()))?;
    let replicas = value
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .map_or(1, |r| u32::try_from(r).unwrap_or(u32::MAX));
    Ok(Workload {
        display,
        name: name.to_owned(),
        replicas,
        pod,
    })
}

/// The process for a pod spec's first container: `command` + `args` (a `command` of `ebb` is this
/// executable, so examples need nothing but cargo), `workingDir`, and env resolved from the files.
pub fn process_template(
    display: &str,
    pod: &PodSpec,
    namespace: &str,
    lookup: &dyn ObjectLookup,
    self_exe: &Path,
) -> Result<ProcessTemplate, WorkloadError> {
    let container = pod
        .containers
        .first()
        .ok_or_else(|| WorkloadError::NoContainers(display.to_owned()))?;
    let env = container_env(container, namespace, lookup)
        .map_err(|e| WorkloadError::Env(display.to_owned(), e))?;
    // `$(VAR)` in command and args expands against the container env, as the kubelet does.
    let mut words = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .map(|w| expand(w, &env));
    let no_command = || WorkloadError::NoCommand {
        object: display.to_owned(),
        container: container.name.clone(),
    };
    if container.command.as_ref().is_none_or(Vec::is_empty) {
        return Err(no_command());
    }
    let program = words.next().ok_or_else(no_command)?;
    let program = if program == "ebb" {
        self_exe.to_path_buf()
    } else {
        PathBuf::from(program)
    };
    let grace = pod
        .termination_grace_period_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_GRACE, Duration::from_secs);
    Ok(ProcessTemplate {
        program,
        args: words.collect(),
        working_dir: container.working_dir.as_ref().map(PathBuf::from),
        env,
        grace,
    })
}
