//! Plays the Deployment/StatefulSet/ReplicaSet controllers: `spec.replicas` becomes `status.replicas`,
//! then `readyReplicas`/`availableReplicas` after a configurable delay, with `observedGeneration` and the
//! Available condition; optionally creates and deletes Pods with the template's labels.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{ControllerHandle, MANAGER, earliest, key, wait, write_status};
use crate::TestKube;
use crate::create;
use crate::meta;
use crate::resource::ResKey;
use crate::route::Target;
use crate::store::{State, Store};
use crate::write::WriteOpts;

/// The Deployment controller stand-in; configure, then [`DeploymentController::start`].
#[derive(Debug, Clone, Default)]
pub struct DeploymentController {
    ready_after: Duration,
    pods: bool,
}

impl DeploymentController {
    /// Replicas become ready at once, no Pods.
    pub fn new() -> DeploymentController {
        DeploymentController::default()
    }

    /// Replicas become ready this long after `spec.replicas` last changed.
    pub fn ready_after(mut self, delay: Duration) -> DeploymentController {
        self.ready_after = delay;
        self
    }

    /// Also create Pods (Running, owned by the workload, labelled from its template).
    pub fn with_pods(mut self) -> DeploymentController {
        self.pods = true;
        self
    }

    /// Run until stopped or the server is dropped.
    pub fn start(self, kube: &TestKube) -> ControllerHandle {
        let store = kube.store();
        ControllerHandle {
            abort: kube.spawn(run(self, store)),
        }
    }
}

const WORKLOADS: [&str; 3] = ["deployments", "statefulsets", "replicasets"];

async fn run(cfg: DeploymentController, store: Arc<Store>) {
    let mut changed = store.subscribe();
    // uid -> (desired replicas, when that desire was first seen)
    let mut since: HashMap<String, (i64, Instant)> = HashMap::new();
    loop {
        let wake = store.write(|state| sync(&cfg, state, &mut since));
        wait(&mut changed, wake, Duration::from_secs(1)).await;
    }
}

fn sync(
    cfg: &DeploymentController,
    state: &mut State,
    since: &mut HashMap<String, (i64, Instant)>,
) -> Option<Instant> {
    let now = Instant::now();
    let mut wake = None;
    for plural in WORKLOADS {
        let res = key("apps", plural);
        let objects: Vec<Value> = state.list(&res, None).map(|(_, o)| (**o).clone()).collect();
        for obj in objects {
            if meta::is_deleting(&obj) {
                continue;
            }
            let uid = meta::meta_str(&obj, "uid").to_string();
            let desired = obj["spec"]["replicas"].as_i64().unwrap_or(1);
            let entry = since.entry(uid).or_insert((desired, now));
            if entry.0 != desired {
                *entry = (desired, now);
            }
            let ready_at = entry.1 + cfg.ready_after;
            let previously_ready = obj["status"]["readyReplicas"].as_i64().unwrap_or(0);
            let ready = if now >= ready_at {
                desired
            } else {
                wake = earliest(wake, ready_at);
                previously_ready.min(desired)
            };
            let status = status_for(plural, &obj, desired, ready);
            if status != obj["status"] {
                let _ = write_status(state, &res, &obj, status);
            }
            if cfg.pods {
                sync_pods(state, &res, &obj, desired);
            }
        }
    }
    wake
}

/// The status the real controller would report; zero counts are omitted as Go's `omitempty` does.
fn status_for(plural: &str, obj: &Value, desired: i64, ready: i64) -> Value {
    let mut status = json!({});
    if let Some(generation) = obj["metadata"]["generation"].as_i64() {
        status["observedGeneration"] = json!(generation);
    }
    let counts: &[&str] = match plural {
        "deployments" => &["replicas", "updatedReplicas"],
        "statefulsets" => &["replicas", "currentReplicas", "updatedReplicas"],
        _ => &["replicas", "fullyLabeledReplicas"],
    };
    for c in counts {
        if desired > 0 {
            status[*c] = json!(desired);
        }
    }
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
    }
    if plural == "deployments" {
        let available = ready >= desired;
        let old = obj["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let condition = |t: &str, ok: bool, reason: &str, message: &str| {
            let s = if ok { "True" } else { "False" };
            // Keep the transition time while the condition's status is unchanged.
            let prior = old.iter().find(|c| c["type"] == t && c["status"] == s);
            let time =
                prior.map_or_else(|| json!(meta::now()), |c| c["lastTransitionTime"].clone());
            json!({"type": t, "status": s, "reason": reason, "message": message,
                "lastUpdateTime": time, "lastTransitionTime": time})
        };
        status["conditions"] = json!([
            if available {
                condition(
                    "Available",
                    true,
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                )
            } else {
                condition(
                    "Available",
                    false,
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                )
            },
            condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                "ReplicaSet has successfully progressed."
            ),
        ]);
    }
    status
}

fn sync_pods(state: &mut State, res: &ResKey, owner: &Value, desired: i64) {
    let pods_key = key("", "pods");
    let ns = meta::meta_str(owner, "namespace").to_string();
    let owner_uid = meta::meta_str(owner, "uid").to_string();
    let mut owned: Vec<String> = state
        .list(&pods_key, Some(&ns))
        .filter(|(_, p)| crate::delete::owns(&owner_uid, p) && !meta::is_deleting(p))
        .map(|(k, _)| k.1.clone())
        .collect();
    let Some(pod_info) = state.registry.get(&pods_key) else {
        return;
    };
    let kind = state
        .registry
        .get(res)
        .map(|i| i.kind.clone())
        .unwrap_or_default();
    while (owned.len() as i64) < desired {
        let template = &owner["spec"]["template"];
        let name = meta::meta_str(owner, "name");
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "generateName": format!("{name}-"),
                "labels": template["metadata"]["labels"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": owner_uid,
                    "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": template["spec"],
        });
        let t = Target {
            info: pod_info.clone(),
            version: "v1".into(),
            namespace: ns.clone(),
            name: None,
            sub: None,
        };
        let opts = WriteOpts {
            field_manager: MANAGER.into(),
            ..WriteOpts::default()
        };
        let Ok(created) = create::create(state, &t, pod, &opts) else {
            return;
        };
        let pod_name = meta::meta_str(&created, "name").to_string();
        if let Some(stored) = state.get(&pods_key, &ns, &pod_name).cloned() {
            let running =
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
            let _ = write_status(state, &pods_key, &stored, running);
        }
        owned.push(pod_name);
    }
    owned.sort();
    while (owned.len() as i64) > desired {
        if let Some(victim) = owned.pop() {
            state.remove(&pods_key, &ns, &victim);
        }
    }
}
