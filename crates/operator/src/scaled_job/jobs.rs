//! The Jobs of a ScaledJob, without I/O: the Job KEDA would create from the template, the
//! running/pending counts (keda-compat §3.4), and which finished Jobs the history limits or a
//! rollout remove.

use std::collections::{BTreeMap, HashMap};

use ebb_api::constants::{
    JOB_EXCLUDED_LABELS_ANNOTATION, SCALED_JOB_GENERATION_ANNOTATION, SCALED_JOB_NAME_LABEL,
};
use ebb_api::scaled_job::ScaledJob;
use ebb_core::scaled_job::JobCounts;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// `app.kubernetes.io/managed-by` of everything the operator creates.
pub const MANAGED_BY: &str = "keda-operator";

/// The Job to create for `sj` (KEDA's `generateJob`): `generateName: <sj>-`, KEDA's labels plus the
/// ScaledJob's (minus `scaledjob.keda.sh/job-excluded-labels`), the generation annotation plus the
/// ScaledJob's annotations, the template's spec with `restartPolicy: OnFailure` when unset, and a
/// controller reference to the ScaledJob.
pub fn desired(sj: &ScaledJob, version: &str) -> Job {
    let name = sj.metadata.name.clone().unwrap_or_default();
    let sj_annotations = sj.metadata.annotations.clone().unwrap_or_default();
    let excluded: Vec<&str> = sj_annotations
        .get(JOB_EXCLUDED_LABELS_ANNOTATION)
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let mut labels: BTreeMap<String, String> = sj
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !excluded.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in [
        ("app.kubernetes.io/name", name.as_str()),
        ("app.kubernetes.io/version", version),
        ("app.kubernetes.io/part-of", name.as_str()),
        ("app.kubernetes.io/managed-by", MANAGED_BY),
        (SCALED_JOB_NAME_LABEL, name.as_str()),
    ] {
        labels.insert(k.to_owned(), v.to_owned());
    }
    let mut annotations = sj_annotations;
    annotations.insert(
        SCALED_JOB_GENERATION_ANNOTATION.to_owned(),
        sj.metadata.generation.unwrap_or(0).to_string(),
    );
    let mut spec = sj.spec.job_target_ref.clone();
    let template_meta = spec
        .template
        .metadata
        .get_or_insert_with(ObjectMeta::default);
    template_meta
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(SCALED_JOB_NAME_LABEL.to_owned(), name.clone());
    if let Some(pod) = spec.template.spec.as_mut()
        && pod.restart_policy.as_deref().unwrap_or_default().is_empty()
    {
        pod.restart_policy = Some("OnFailure".to_owned());
    }
    Job {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: sj.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: ebb_api::constants::API_VERSION.to_owned(),
                kind: "ScaledJob".to_owned(),
                name,
                uid: sj.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// Whether a Job has a `Complete` or `Failed` condition with status True.
pub fn finished(job: &Job) -> Option<Finished> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(Finished::Succeeded),
            "Failed" => Some(Finished::Failed),
            _ => None,
        })
}

/// How a finished Job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// `Complete=True`.
    Succeeded,
    /// `Failed=True`.
    Failed,
}

/// Running and pending Jobs (keda-compat §3.4). A running Job is pending when none of its Pods
/// (label `job-name`) has every `pending_conditions` condition True, or — without such
/// conditions — when none of its Pods is `Running` or `Succeeded`.
pub fn counts(jobs: &[Job], pods: &[Pod], pending_conditions: &[String]) -> JobCounts {
    let mut by_job: HashMap<&str, Vec<&Pod>> = HashMap::new();
    for pod in pods {
        if let Some(job) = pod.metadata.labels.as_ref().and_then(|l| l.get("job-name")) {
            by_job.entry(job.as_str()).or_default().push(pod);
        }
    }
    let mut counts = JobCounts::default();
    for job in jobs.iter().filter(|j| finished(j).is_none()) {
        counts.running += 1;
        let name = job.metadata.name.as_deref().unwrap_or_default();
        let pods = by_job.get(name).map(Vec::as_slice).unwrap_or_default();
        let started = |pod: &&Pod| {
            let status = pod.status.as_ref();
            if pending_conditions.is_empty() {
                matches!(
                    status.and_then(|s| s.phase.as_deref()),
                    Some("Running" | "Succeeded")
                )
            } else {
                let conditions = status.and_then(|s| s.conditions.as_ref());
                pending_conditions.iter().all(|wanted| {
                    conditions
                        .into_iter()
                        .flatten()
                        .any(|c| &c.type_ == wanted && c.status == "True")
                })
            }
        };
        if !pods.iter().any(started) {
            counts.pending += 1;
        }
    }
    counts
}

/// Finished Jobs beyond the history limits, oldest first (by completion time, else creation).
pub fn beyond_history(jobs: &[Job], successful_limit: usize, failed_limit: usize) -> Vec<String> {
    let mut succeeded: Vec<&Job> = Vec::new();
    let mut failed: Vec<&Job> = Vec::new();
    for job in jobs {
        if job.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match finished(job) {
            Some(Finished::Succeeded) => succeeded.push(job),
            Some(Finished::Failed) => failed.push(job),
            None => {}
        }
    }
    let mut victims = Vec::new();
    for (mut list, limit) in [(succeeded, successful_limit), (failed, failed_limit)] {
        list.sort_by_key(|j| {
            let status = j.status.as_ref();
            let finished_at = status
                .and_then(|s| s.completion_time.as_ref())
                .or_else(|| status.and_then(|s| s.start_time.as_ref()))
                .or(j.metadata.creation_timestamp.as_ref())
                .map(|t| t.0);
            (finished_at, j.metadata.name.clone())
        });
        let excess = list.len().saturating_sub(limit);
        victims.extend(
            list.iter()
                .take(excess)
                .filter_map(|j| j.metadata.name.clone()),
        );
    }
    victims
}

/// Jobs a non-gradual rollout deletes: those not made from `generation` (annotation missing or
/// different), unless already being deleted.
pub fn from_other_generations(jobs: &[Job], generation: i64) -> Vec<String> {
    let current = generation.to_string();
    jobs.iter()
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .filter(|j| {
            j.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SCALED_JOB_GENERATION_ANNOTATION))
                != Some(&current)
        })
        .filter_map(|j| j.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, status: serde_json::Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": name, "annotations": {SCALED_JOB_GENERATION_ANNOTATION: "2"}}, "status": status})).unwrap()
    }

    fn pod(job: &str, phase: &str, conditions: &[&str]) -> Pod {
        let conditions: Vec<_> = conditions
            .iter()
            .map(|c| json!({"type": c, "status": "True"}))
            .collect();
        serde_json::from_value(
            json!({"metadata": {"name": format!("{job}-x"), "labels": {"job-name": job}},
            "status": {"phase": phase, "conditions": conditions}}),
        )
        .unwrap()
    }

    fn done(t: &str, at: &str) -> serde_json::Value {
        json!({"completionTime": at, "conditions": [{"type": t, "status": "True"}]})
    }

    #[test]
    fn desired_job_has_keda_labels_annotations_owner_and_restart_policy() {
        let sj: ScaledJob = serde_json::from_value(json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob",
            "metadata": {"name": "worker", "namespace": "apps", "uid": "u1", "generation": 3,
                "labels": {"team": "a", "secret-ish": "x"},
                "annotations": {JOB_EXCLUDED_LABELS_ANNOTATION: "secret-ish", "note": "n"}},
            "spec": {"jobTargetRef": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
                "triggers": [{"type": "cron", "metadata": {}}]}
        }))
        .unwrap();
        let job = serde_json::to_value(desired(&sj, "2.18.0")).unwrap();
        assert_eq!(job["metadata"]["generateName"], "worker-");
        assert_eq!(job["metadata"]["namespace"], "apps");
        assert_eq!(
            job["metadata"]["labels"],
            json!({"team": "a", "app.kubernetes.io/name": "worker", "app.kubernetes.io/version": "2.18.0",
                "app.kubernetes.io/part-of": "worker", "app.kubernetes.io/managed-by": "keda-operator",
                "scaledjob.keda.sh/name": "worker"})
        );
        assert_eq!(
            job["metadata"]["annotations"]["scaledjob.keda.sh/generation"],
            "3"
        );
        assert_eq!(job["metadata"]["annotations"]["note"], "n");
        assert_eq!(
            job["metadata"]["ownerReferences"],
            json!([{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob", "name": "worker", "uid": "u1",
                "controller": true, "blockOwnerDeletion": true}])
        );
        assert_eq!(
            job["spec"]["template"]["spec"]["restartPolicy"],
            "OnFailure"
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["scaledjob.keda.sh/name"],
            "worker"
        );
    }

    #[test]
    fn counts_running_and_pending_by_phase_or_conditions() {
        let jobs = vec![
            job("a", json!({})),
            job("b", json!({})),
            job("c", json!({})),
            job("d", done("Complete", "2026-01-01T00:00:00Z")),
            job("e", done("Failed", "2026-01-01T00:00:00Z")),
        ];
        let pods = vec![
            pod("a", "Running", &["PodScheduled", "Ready"]),
            pod("b", "Pending", &["PodScheduled"]),
        ];
        assert_eq!(
            counts(&jobs, &pods, &[]),
            JobCounts {
                running: 3,
                pending: 2
            }
        );
        let wanted = vec!["PodScheduled".to_owned()];
        assert_eq!(
            counts(&jobs, &pods, &wanted),
            JobCounts {
                running: 3,
                pending: 1
            }
        );
    }

    #[test]
    fn history_keeps_the_newest_of_each_kind() {
        let jobs = vec![
            job("s3", done("Complete", "2026-01-01T00:03:00Z")),
            job("s1", done("Complete", "2026-01-01T00:01:00Z")),
            job("s2", done("Complete", "2026-01-01T00:02:00Z")),
            job("f1", done("Failed", "2026-01-01T00:01:00Z")),
            job("f2", done("Failed", "2026-01-01T00:02:00Z")),
            job("running", json!({})),
        ];
        assert_eq!(beyond_history(&jobs, 1, 1), vec!["s1", "s2", "f1"]);
        assert_eq!(beyond_history(&jobs, 0, 5), vec!["s1", "s2", "s3"]);
        assert!(beyond_history(&jobs, 3, 2).is_empty());
    }

    #[test]
    fn rollout_picks_jobs_of_other_generations() {
        let mut old = job("old", json!({}));
        old.metadata.annotations = None;
        let jobs = vec![job("current", json!({})), old];
        assert_eq!(from_other_generations(&jobs, 2), vec!["old"]);
        assert_eq!(from_other_generations(&jobs, 3), vec!["current", "old"]);
    }
}
