//! The operator against ebb-testkube (plain HTTP, same process) with N ScaledObjects (default
//! 1,000; `EBB_BENCH_OBJECTS`), each with its own Deployment and one metrics-api trigger against
//! one local HTTP server. Prints resident memory, CPU per poll cycle, scale-loop lateness and API
//! requests per second by verb at steady state.
//!
//! `cargo bench -p ebb-operator --bench scale` (`EBB_BENCH_OBJECTS=10000`, `EBB_BENCH_SECONDS=30`,
//! `EBB_BENCH_POLLING=10`).

use std::time::{Duration, Instant};

use ebb_operator::{Operator, OperatorConfig};
use ebb_testkube::TestKube;
use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn proc_status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of this process, in seconds.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

async fn create_all(client: &kube::Client, objects: Vec<(ApiResource, serde_json::Value)>) {
    futures::stream::iter(objects)
        .for_each_concurrent(32, |(ar, v)| {
            let client = client.clone();
            async move {
                let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
                let obj: DynamicObject =
                    serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
                if let Err(e) = api.create(&PostParams::default(), &obj).await {
                    panic!("create: {e}");
                }
            }
        })
        .await;
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(bench());
}

async fn bench() {
    let n = env_num("EBB_BENCH_OBJECTS", 1000) as usize;
    let seconds = env_num("EBB_BENCH_SECONDS", 30);
    let polling = env_num("EBB_BENCH_POLLING", 10);
    let kube = TestKube::builder()
        .plain_http()
        .crds(ebb_api::crds::all())
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let client = kube.client();

    let app = axum::Router::new().route(
        "/value",
        axum::routing::get(|| async { axum::Json(json!({"value": 0})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/value",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let deploy = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apps", "v1", "Deployment"),
        "deployments",
    );
    let so = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("keda.sh", "v1alpha1", "ScaledObject"),
        "scaledobjects",
    );
    let t0 = Instant::now();
    let mut objects = Vec::new();
    for i in 0..n {
        objects.push((deploy.clone(), json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("app-{i}"), "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
        })));
        objects.push((so.clone(), json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": format!("so-{i}"), "namespace": "default"},
            "spec": {"scaleTargetRef": {"name": format!("app-{i}")}, "pollingInterval": polling, "minReplicaCount": 1, "maxReplicaCount": 10,
                     "triggers": [{"type": "metrics-api", "metadata": {"url": url, "valueLocation": "value", "targetValue": "5"}}]}
        })));
    }
    create_all(&client, objects).await;
    println!(
        "created {n} Deployments and {n} ScaledObjects in {:.1?}",
        t0.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = proc_status("VmRSS:");

    let operator = Operator::new(
        client.clone(),
        OperatorConfig {
            cluster_object_namespace: "default".into(),
            ..OperatorConfig::default()
        },
    );
    let loops = operator.loops();
    let t1 = Instant::now();
    let task = tokio::spawn(operator.run(futures::future::pending()));
    while loops.len() < n {
        if t1.elapsed() > Duration::from_secs(600) {
            panic!("only {} of {n} loops after 600 s", loops.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("all {n} reconciled and looping after {:.1?}", t1.elapsed());
    // Let the first checks' status writes land.
    tokio::time::sleep(Duration::from_secs(polling + 3)).await;

    loops.lateness().reset();
    let counts0 = kube.counts();
    let cpu0 = cpu_seconds();
    let t2 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = t2.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let delta = kube.counts().since(&counts0);
    let rss_after = proc_status("VmRSS:");
    let cycles = elapsed / polling as f64;

    println!(
        "--- steady state: {n} ScaledObjects, pollingInterval {polling}s, {seconds}s window ---"
    );
    println!(
        "VmRSS whole process: {:.1} MiB (API server + objects before operator start: {:.1} MiB; operator share: {:.1} MiB)",
        rss_after as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0
    );
    println!(
        "CPU: {:.3} s per poll cycle of all {n} objects ({:.1} ms per 1,000 object-checks; includes the in-process API server and metric server)",
        cpu / cycles,
        cpu / cycles / n as f64 * 1000.0 * 1000.0
    );
    let l = loops.lateness();
    println!(
        "scale-loop lateness: p50 {:?}, p99 {:?} over {} checks",
        l.quantile(0.5),
        l.quantile(0.99),
        l.count()
    );
    let mut by_verb: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (verb, _resource, c) in delta.iter() {
        *by_verb.entry(verb.as_str()).or_default() += c;
    }
    for (verb, c) in &by_verb {
        println!("API {verb}: {:.2}/s", *c as f64 / elapsed);
    }
    for (verb, resource, c) in delta.iter().filter(|(_, _, c)| *c > 0) {
        println!("    {} {resource}: {c}", verb.as_str());
    }
    println!("API writes: {:.3}/s", delta.writes() as f64 / elapsed);
    task.abort();
}
