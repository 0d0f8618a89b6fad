//! From manifest files to running loops: load, admit (KEDA's rules), resolve workloads, env and
//! auth, build triggers and policies. Every problem names its object and skips only that object.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ebb_api::scaled_job::ScaledJob;
use ebb_api::scaled_object::ScaledObject;
use ebb_manifest::objects::FileObjects;
use ebb_manifest::policy::{Resolution, hpa_spec, scaled_job_policy, scaled_object_policy_with};
use ebb_manifest::{Document, KedaObject, check_documents, load_paths};
use ebb_scalers::Clients;
use ebb_telemetry::{Metrics, ObjectType, ResourceType};
use jiff::Timestamp;

use crate::Options;
use crate::process::Output;
use crate::scaled_job_loop::ScaledJobLoop;
use crate::scaled_object_loop::ScaledObjectLoop;
use crate::supervisor::{Ctx, JobSet, ReplicaSet};
use crate::triggers::{Scope, build_all};
use crate::view::View;
use crate::workload::{find_workload, process_template};

/// A loop ready to run.
#[derive(Debug)]
pub(crate) enum Loop {
    /// A ScaledObject and the replicas its workload starts with.
    Object(Box<ScaledObjectLoop>, u32),
    /// A ScaledJob.
    Job(Box<ScaledJobLoop>),
    /// A workload no ScaledObject scales: it runs at `spec.replicas`, as in a cluster.
    Static(String, ReplicaSet, u32),
}

impl Loop {
    pub(crate) async fn run_boxed(self, stop: tokio::sync::watch::Receiver<bool>) {
        match self {
            Loop::Object(so, initial) => so.run(initial, stop).await,
            Loop::Job(sj) => sj.run(stop).await,
            Loop::Static(display, set, replicas) => run_static(display, set, replicas, stop).await,
        }
    }
}

/// The loops to run and what was skipped.
#[derive(Debug)]
pub(crate) struct Planned {
    pub(crate) loops: Vec<Loop>,
    pub(crate) problems: Vec<String>,
}

pub(crate) fn plan(options: &Options, view: &Arc<View>, metrics: &Arc<Metrics>) -> Planned {
    let loaded = load_paths(&options.files);
    let mut problems: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    let checked = check_documents(&loaded.documents);
    let mut valid = Vec::new();
    for c in checked {
        if !c.is_valid() {
            let reasons: Vec<String> = c.violations.iter().map(ToString::to_string).collect();
            problems.push(format!(
                "{} {} {}: {} (skipped; everything else runs)",
                c.origin,
                c.kind,
                c.name,
                reasons.join("; ")
            ));
            continue;
        }
        if let Some(o) = c.object {
            valid.push(Arc::unwrap_or_clone(o));
        }
    }
    let objects = FileObjects::from_documents(&loaded.documents, &options.cluster_object_namespace);
    let ctx = Arc::new(Ctx {
        output: match &options.log_dir {
            Some(dir) => Output::Files(dir.clone()),
            None => Output::View(view.clone()),
        },
        view: view.clone(),
        backoff: options.backoff,
    });
    let clients = Clients::named("ebb-run");
    let created = Timestamp::now();
    let mut targets = BTreeSet::new();
    let mut loops = Vec::new();
    for object in &valid {
        let result = match object {
            KedaObject::ScaledObject(so) => {
                let ns = namespace(so.metadata.namespace.as_deref());
                metrics.register_resource(ResourceType::ScaledObject, ns);
                let target = &so.spec.scale_target_ref;
                let key = (target.kind().to_owned(), ns.to_owned(), target.name.clone());
                if !targets.insert(key) {
                    Err(format!(
                        "ScaledObject {ns}/{}: {} {ns}/{} is already scaled by another ScaledObject (skipped)",
                        so.metadata.name.as_deref().unwrap_or(""),
                        target.kind(),
                        target.name
                    ))
                } else {
                    scaled_object(
                        so,
                        &loaded.documents,
                        &objects,
                        options,
                        &ctx,
                        &clients,
                        metrics,
                        created,
                    )
                }
            }
            KedaObject::ScaledJob(sj) => scaled_job(sj, &objects, options, &ctx, &clients, metrics),
            KedaObject::TriggerAuthentication(ta) => {
                metrics.register_resource(
                    ResourceType::TriggerAuthentication,
                    namespace(ta.metadata.namespace.as_deref()),
                );
                continue;
            }
            KedaObject::ClusterTriggerAuthentication(_) => {
                metrics.register_resource(ResourceType::ClusterTriggerAuthentication, "");
                continue;
            }
        };
        match result {
            Ok(l) => loops.push(l),
            Err(p) => problems.push(p),
        }
    }
    for doc in &loaded.documents {
        if doc.keda().is_some() || !WORKLOAD_KINDS.contains(&doc.kind()) {
            continue;
        }
        let value = doc.value();
        let ns = namespace(
            value
                .pointer("/metadata/namespace")
                .and_then(|v| v.as_str()),
        );
        let Some(name) = value.pointer("/metadata/name").and_then(|v| v.as_str()) else {
            continue;
        };
        if targets.contains(&(doc.kind().to_owned(), ns.to_owned(), name.to_owned())) {
            continue;
        }
        let planned = find_workload(&loaded.documents, doc.kind(), ns, name)
            .map_err(|e| e.to_string())
            .and_then(|w| {
                let t = process_template(&w.display, &w.pod, ns, &objects, &options.self_exe)
                    .map_err(|e| e.to_string())?;
                Ok((
                    w.display.clone(),
                    ReplicaSet::new(&w.name, t, ctx.clone()),
                    w.replicas,
                ))
            });
        match planned {
            Ok((display, set, replicas)) => loops.push(Loop::Static(display, set, replicas)),
            Err(e) => problems.push(format!("{e} (skipped; everything else runs)")),
        }
    }
    Planned { loops, problems }
}

/// Workload kinds that run at `spec.replicas` when no ScaledObject scales them.
const WORKLOAD_KINDS: [&str; 3] = ["Deployment", "StatefulSet", "ReplicaSet"];

async fn run_static(
    display: String,
    mut set: ReplicaSet,
    replicas: u32,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let view = set.view();
    set.scale(replicas);
    view.log(format!(
        "{display}: not scaled by any ScaledObject: runs {replicas} replica(s) (spec.replicas)"
    ));
    let mut refresh = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = refresh.tick() => {}
            _ = stop.changed() => break,
        }
        show_static(&display, &mut set, &view);
    }
    set.shutdown().await;
    show_static(&display, &mut set, &view);
}

fn show_static(display: &str, set: &mut ReplicaSet, view: &View) {
    let restarts = set.restarts();
    view.set_row(
        display,
        crate::view::Row {
            object: display.to_owned(),
            triggers: "-".into(),
            desired: set.desired(),
            running: set.running(),
            notes: if restarts > 0 {
                format!("{restarts} restarts")
            } else {
                String::new()
            },
            last: String::new(),
            why: "not scaled: runs at spec.replicas".into(),
        },
    );
}

fn namespace(ns: Option<&str>) -> &str {
    ns.filter(|n| !n.is_empty()).unwrap_or("default")
}

fn seconds(v: i32) -> Duration {
    Duration::from_secs(u64::try_from(v).unwrap_or(0).max(1))
}

#[allow(clippy::too_many_arguments)]
fn scaled_object(
    so: &ScaledObject,
    documents: &[Document],
    objects: &FileObjects,
    options: &Options,
    ctx: &Arc<Ctx>,
    clients: &Clients,
    metrics: &Arc<Metrics>,
    created: Timestamp,
) -> Result<Loop, String> {
    let ns = namespace(so.metadata.namespace.as_deref());
    let name = so.metadata.name.clone().unwrap_or_default();
    let display = format!("ScaledObject {ns}/{name}");
    let fail = |e: String| {
        metrics.record_object_error(ObjectType::ScaledObject, ns, &name);
        format!("{display}: {e} (skipped; everything else runs)")
    };
    let target = &so.spec.scale_target_ref;
    let workload = find_workload(documents, target.kind(), ns, &target.name)
        .map_err(|e| fail(e.to_string()))?;
    let template = process_template(
        &workload.display,
        &workload.pod,
        ns,
        objects,
        &options.self_exe,
    )
    .map_err(|e| fail(e.to_string()))?;
    let scope = Scope {
        object_type: ObjectType::ScaledObject,
        namespace: ns,
        name: &name,
        pod: Some(&workload.pod),
        env_source_container: target.env_source_container_name.as_deref(),
        as_metric_source: so.spec.scaling_modifiers().is_some(),
    };
    let (triggers, resolved) =
        build_all(&so.spec.triggers, &scope, objects, clients, metrics).map_err(fail)?;
    let policy = scaled_object_policy_with(so, Resolution::Resolved(&resolved))
        .map_err(|e| fail(e.to_string()))?;
    let hpa = hpa_spec(so).map_err(|e| fail(e.to_string()))?;
    Ok(Loop::Object(
        Box::new(ScaledObjectLoop {
            display,
            namespace: ns.to_owned(),
            name: name.clone(),
            policy,
            hpa_spec: hpa,
            polling_interval: seconds(so.spec.polling_interval()),
            hpa_sync_period: options.hpa_sync_period,
            measure_timeout: options.measure_timeout,
            triggers,
            replicas: ReplicaSet::new(&workload.name, template, ctx.clone()),
            view: ctx.view.clone(),
            metrics: metrics.clone(),
            created,
        }),
        workload.replicas,
    ))
}

fn scaled_job(
    sj: &ScaledJob,
    objects: &FileObjects,
    options: &Options,
    ctx: &Arc<Ctx>,
    clients: &Clients,
    metrics: &Arc<Metrics>,
) -> Result<Loop, String> {
    let ns = namespace(sj.metadata.namespace.as_deref());
    let name = sj.metadata.name.clone().unwrap_or_default();
    let display = format!("ScaledJob {ns}/{name}");
    metrics.register_resource(ResourceType::ScaledJob, ns);
    let fail = |e: String| {
        metrics.record_object_error(ObjectType::ScaledJob, ns, &name);
        format!("{display}: {e} (skipped; everything else runs)")
    };
    let pod = sj
        .spec
        .job_target_ref
        .template
        .spec
        .clone()
        .ok_or_else(|| fail("spec.jobTargetRef.template.spec is missing".into()))?;
    let template = process_template(&display, &pod, ns, objects, &options.self_exe)
        .map_err(|e| fail(e.to_string()))?;
    let scope = Scope {
        object_type: ObjectType::ScaledJob,
        namespace: ns,
        name: &name,
        pod: Some(&pod),
        env_source_container: sj.spec.env_source_container_name.as_deref(),
        as_metric_source: false,
    };
    let (triggers, resolved) =
        build_all(&sj.spec.triggers, &scope, objects, clients, metrics).map_err(fail)?;
    let policy = scaled_job_policy(sj).map_err(|e| fail(e.to_string()))?;
    let state = crate::task_data::state_dir(&options.state_dir, ns, &name);
    let tasks = crate::task_data::plan(sj, &resolved, &display, ns, &template, ctx, clients, state)
        .map_err(fail)?;
    let limit = |v: i32| usize::try_from(v).unwrap_or(0);
    Ok(Loop::Job(Box::new(ScaledJobLoop {
        display,
        namespace: ns.to_owned(),
        name: name.clone(),
        policy,
        polling_interval: seconds(sj.spec.polling_interval()),
        measure_timeout: options.measure_timeout,
        successful_history: limit(sj.spec.successful_jobs_history_limit()),
        failed_history: limit(sj.spec.failed_jobs_history_limit()),
        triggers,
        jobs: JobSet::new(&name, template, ctx.clone()),
        log_dir: options.log_dir.clone(),
        view: ctx.view.clone(),
        metrics: metrics.clone(),
        tasks,
    })))
}
