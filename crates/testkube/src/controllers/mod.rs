//! Helper controllers that play Kubernetes' part in tests: Deployments get ready, Jobs finish, and (later) an
//! HPA scales from external metrics. Each runs in-process against the store (its writes produce watch
//! events but are not counted as API requests) and is started explicitly by the test.

mod deployment;
mod hpa;
mod job;

pub use deployment::DeploymentController;
pub use hpa::{ExternalMetrics, HpaController};
pub use job::{
    JobController, JobOutcome, OUTCOME_ANNOTATION, PENDING_FOR_ANNOTATION, RUN_FOR_ANNOTATION,
};

use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::resource::ResKey;
use crate::route::{Subresource, Target};
use crate::status::ApiError;
use crate::store::State;
use crate::write::{self, WriteOpts};

/// A running helper controller; it also stops when the server is dropped.
#[derive(Debug)]
pub struct ControllerHandle {
    abort: AbortHandle,
}

impl ControllerHandle {
    /// Stop the controller.
    pub fn stop(&self) {
        self.abort.abort();
    }
}

/// The field manager helper controllers write as.
const MANAGER: &str = "kube-controller-manager";

fn key(group: &str, plural: &str) -> ResKey {
    (group.to_string(), plural.to_string())
}

/// Wait for a write or the deadline (at most `idle`, so a missed wake-up only delays).
async fn wait(changed: &mut watch::Receiver<u64>, deadline: Option<Instant>, idle: Duration) {
    let until = deadline.map_or(Instant::now() + idle, |d| d.min(Instant::now() + idle));
    tokio::select! {
        _ = changed.changed() => {}
        _ = tokio::time::sleep_until(until) => {}
    }
}

fn target_for(
    state: &State,
    res: &ResKey,
    obj: &Value,
    sub: Option<Subresource>,
) -> Option<Target> {
    let info = state.registry.get(res)?;
    Some(Target {
        version: info.preferred_version().to_string(),
        info,
        namespace: crate::meta::meta_str(obj, "namespace").to_string(),
        name: Some(crate::meta::meta_str(obj, "name").to_string()),
        sub,
    })
}

/// Write `status` to an object through its status subresource, as a controller would.
fn write_status(
    state: &mut State,
    res: &ResKey,
    obj: &Value,
    status: Value,
) -> Result<(), ApiError> {
    let Some(t) = target_for(state, res, obj, Some(Subresource::Status)) else {
        return Ok(());
    };
    let mut new = obj.clone();
    new["status"] = status;
    let opts = WriteOpts {
        field_manager: MANAGER.into(),
        ..WriteOpts::default()
    };
    write::replace(state, &t, new, &opts, false).map(|_| ())
}

fn earliest(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}
