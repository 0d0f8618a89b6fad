//! Plays the Job controller: a Job starts (`startTime`, `active`) with one Pod (labels `job-name`,
//! `batch.kubernetes.io/job-name`, `controller-uid` and the template's, owned by the Job) that is
//! `Pending` for a configured time, then `Running`; after the run time the Job completes (`Complete`
//! and `SuccessCriteriaMet` conditions, `completionTime`, `succeeded`; Pod `Succeeded`) or fails
//! (`Failed`, `BackoffLimitExceeded`; Pod `Failed`). Annotations on a Job override its timings and
//! outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{ControllerHandle, earliest, key, wait, write_status};
use crate::TestKube;
use crate::meta;
use crate::store::{State, Store};

/// Annotation: `succeed` or `fail`, overriding the controller's outcome for one Job.
pub const OUTCOME_ANNOTATION: &str = "testkube.ebb.dev/outcome";
/// Annotation: run time in milliseconds, overriding the controller's for one Job.
pub const RUN_FOR_ANNOTATION: &str = "testkube.ebb.dev/run-for-ms";
/// Annotation: how long the Job's Pod stays `Pending`, in milliseconds, overriding the controller's.
pub const PENDING_FOR_ANNOTATION: &str = "testkube.ebb.dev/pending-for-ms";

/// How Jobs end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobOutcome {
    /// Complete successfully.
    #[default]
    Succeed,
    /// Fail with BackoffLimitExceeded.
    Fail,
}

/// The Job controller stand-in; configure, then [`JobController::start`].
#[derive(Debug, Clone, Default)]
pub struct JobController {
    run_for: Duration,
    pending_for: Duration,
    outcome: JobOutcome,
}

impl JobController {
    /// Jobs succeed as soon as they start.
    pub fn new() -> JobController {
        JobController::default()
    }

    /// How long a Job runs before it ends.
    pub fn run_for(mut self, d: Duration) -> JobController {
        self.run_for = d;
        self
    }

    /// How long a Job's Pod stays `Pending` before it runs (the run time counts from then).
    pub fn pending_for(mut self, d: Duration) -> JobController {
        self.pending_for = d;
        self
    }

    /// How Jobs end.
    pub fn outcome(mut self, outcome: JobOutcome) -> JobController {
        self.outcome = outcome;
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

async fn run(cfg: JobController, store: Arc<Store>) {
    let mut changed = store.subscribe();
    let mut started: HashMap<String, Instant> = HashMap::new();
    loop {
        let wake = store.write(|state| sync(&cfg, state, &mut started));
        wait(&mut changed, wake, Duration::from_secs(1)).await;
    }
}

fn finished(job: &Value) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
    })
}

fn sync(
    cfg: &JobController,
    state: &mut State,
    started: &mut HashMap<String, Instant>,
) -> Option<Instant> {
    let res = key("batch", "jobs");
    let now = Instant::now();
    let mut wake = None;
    let jobs: Vec<Value> = state.list(&res, None).map(|(_, o)| (**o).clone()).collect();
    for job in jobs {
        if meta::is_deleting(&job) || finished(&job) || job["spec"]["suspend"] == true {
            continue;
        }
        let annotations = &job["metadata"]["annotations"];
        let outcome = match annotations[OUTCOME_ANNOTATION].as_str() {
            Some("fail") => JobOutcome::Fail,
            Some("succeed") => JobOutcome::Succeed,
            _ => cfg.outcome,
        };
        let millis = |key: &str, default: Duration| {
            annotations[key]
                .as_str()
                .and_then(|ms| ms.parse().ok())
                .map_or(default, Duration::from_millis)
        };
        let pending_for = millis(PENDING_FOR_ANNOTATION, cfg.pending_for);
        let run_for = pending_for + millis(RUN_FOR_ANNOTATION, cfg.run_for);
        let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
        let parallelism = job["spec"]["parallelism"]
            .as_i64()
            .unwrap_or(1)
            .min(completions.max(1));
        let uid = meta::meta_str(&job, "uid").to_string();
        let since = *started.entry(uid).or_insert(now);
        let mut status = job["status"].clone();
        if status["startTime"].is_null() {
            status = json!({"startTime": meta::now(), "active": parallelism, "ready": 0});
        }
        let phase = if now >= since + run_for {
            match outcome {
                JobOutcome::Succeed => "Succeeded",
                JobOutcome::Fail => "Failed",
            }
        } else if now >= since + pending_for {
            status["ready"] = json!(parallelism);
            "Running"
        } else {
            wake = earliest(wake, since + pending_for);
            "Pending"
        };
        sync_pod(state, &job, phase);
        if now >= since + run_for {
            let time = meta::now();
            let condition = |t: &str, reason: &str, message: &str| {
                json!({"type": t, "status": "True", "reason": reason, "message": message,
                    "lastProbeTime": time, "lastTransitionTime": time})
            };
            if let Some(m) = status.as_object_mut() {
                m.remove("active");
                m.insert("ready".into(), json!(0));
            }
            match outcome {
                JobOutcome::Succeed => {
                    status["succeeded"] = json!(completions);
                    status["completionTime"] = json!(time);
                    status["conditions"] = json!([
                        condition(
                            "SuccessCriteriaMet",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods"
                        ),
                        condition(
                            "Complete",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods"
                        ),
                    ]);
                }
                JobOutcome::Fail => {
                    status["failed"] = json!(job["spec"]["backoffLimit"].as_i64().unwrap_or(6) + 1);
                    status["conditions"] = json!([
                        condition(
                            "FailureTarget",
                            "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit"
                        ),
                        condition(
                            "Failed",
                            "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit"
                        ),
                    ]);
                }
            }
        } else {
            wake = earliest(wake, since + run_for);
        }
        if status != job["status"] {
            let _ = write_status(state, &res, &job, status);
        }
    }
    wake
}

/// Keeps the Job's one Pod in `phase`, creating it first.
fn sync_pod(state: &mut State, job: &Value, phase: &str) {
    let pods_key = key("", "pods");
    let ns = meta::meta_str(job, "namespace").to_string();
    let job_name = meta::meta_str(job, "name").to_string();
    let job_uid = meta::meta_str(job, "uid").to_string();
    let existing = state
        .index
        .dependents
        .get(&job_uid)
        .into_iter()
        .flatten()
        .find(|(res, _)| *res == pods_key)
        .and_then(|(res, (ns, name))| state.get(res, ns, name))
        .map(|p| (**p).clone());
    let pod = match existing {
        Some(pod) => pod,
        None => {
            let Some(pod_info) = state.registry.get(&pods_key) else {
                return;
            };
            let template = &job["spec"]["template"];
            let mut labels = template["metadata"]["labels"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            labels.insert("job-name".into(), json!(job_name));
            labels.insert("batch.kubernetes.io/job-name".into(), json!(job_name));
            labels.insert("controller-uid".into(), json!(job_uid));
            labels.insert("batch.kubernetes.io/controller-uid".into(), json!(job_uid));
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "generateName": format!("{job_name}-"),
                    "labels": labels,
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job_name,
                        "uid": job_uid, "controller": true, "blockOwnerDeletion": true}],
                },
                "spec": template["spec"],
            });
            let t = crate::route::Target {
                info: pod_info.clone(),
                version: "v1".into(),
                namespace: ns.clone(),
                name: None,
                sub: None,
            };
            let opts = crate::write::WriteOpts {
                field_manager: super::MANAGER.into(),
                ..crate::write::WriteOpts::default()
            };
            let Ok(created) = crate::create::create(state, &t, pod, &opts) else {
                return;
            };
            created
        }
    };
    if pod["status"]["phase"] == phase {
        return;
    }
    let ready = if phase == "Running" { "True" } else { "False" };
    let scheduled = json!({"type": "PodScheduled", "status": "True"});
    let status = match phase {
        "Pending" => json!({"phase": phase, "conditions": [scheduled]}),
        _ => json!({"phase": phase, "conditions": [scheduled,
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": ready},
            {"type": "Ready", "status": ready}]}),
    };
    let _ = write_status(state, &pods_key, &pod, status);
}
