//! The test world: ebb-testkube with the keda.sh CRDs, a Deployment controller, a metrics HTTP
//! server whose value the test sets, and the operator running against it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use ebb_operator::{MetricsStore, Operator, OperatorConfig};
use ebb_testkube::TestKube;
use ebb_testkube::controllers::DeploymentController;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub(crate) struct World {
    pub(crate) kube: TestKube,
    pub(crate) server: MetricServer,
    pub(crate) operator: Option<Running>,
}

pub(crate) struct Running {
    pub(crate) task: JoinHandle<()>,
    pub(crate) metrics: MetricsStore,
    pub(crate) loops: ebb_operator::ScaleLoops,
    pub(crate) telemetry: std::sync::Arc<ebb_telemetry::Metrics>,
}

impl World {
    pub(crate) async fn start() -> World {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kube = TestKube::builder()
            .crds(ebb_api::crds::all())
            .start()
            .await
            .unwrap();
        DeploymentController::new().start(&kube);
        let server = MetricServer::start().await;
        let mut world = World {
            kube,
            server,
            operator: None,
        };
        world.start_operator();
        world
    }

    pub(crate) fn start_operator(&mut self) {
        let config = OperatorConfig {
            cluster_object_namespace: "default".into(),
            version: "2.18.0".into(),
            ..OperatorConfig::default()
        };
        let operator = Operator::new(self.kube.client(), config);
        let metrics = operator.metrics();
        let loops = operator.loops();
        let telemetry = operator.telemetry();
        let task = tokio::spawn(operator.run(futures::future::pending()));
        self.operator = Some(Running {
            task,
            metrics,
            loops,
            telemetry,
        });
    }

    /// Drops the operator as a crash would.
    pub(crate) async fn stop_operator(&mut self) {
        if let Some(r) = self.operator.take() {
            r.task.abort();
            let _ = r.task.await;
        }
    }

    pub(crate) fn metrics(&self) -> &MetricsStore {
        &self.operator.as_ref().unwrap().metrics
    }

    pub(crate) fn client(&self) -> kube::Client {
        self.kube.client()
    }

    pub(crate) async fn create(&self, value: Value) {
        let api_version = value["apiVersion"].as_str().unwrap();
        let kind = value["kind"].as_str().unwrap();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let plural = match kind {
            "Deployment" => "deployments",
            "ScaledObject" => "scaledobjects",
            "ScaledJob" => "scaledjobs",
            "TriggerAuthentication" => "triggerauthentications",
            "Secret" => "secrets",
            "Namespace" => "namespaces",
            "HorizontalPodAutoscaler" => "horizontalpodautoscalers",
            other => panic!("plural of {other}"),
        };
        let ar =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let obj: DynamicObject = serde_json::from_value(value.clone()).unwrap();
        let api: Api<DynamicObject> = match value["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(self.client(), ns, &ar),
            None => Api::all_with(self.client(), &ar),
        };
        api.create(&PostParams::default(), &obj).await.unwrap();
    }

    pub(crate) async fn deployment(&self, ns: &str, name: &str, replicas: i32) {
        self.create(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": "busybox", "env": [{"name": "RABBIT_URL", "value": "amqp://guest:guest@127.0.0.1:1/"}]}]}
                }
            }
        }))
        .await;
    }

    pub(crate) fn so_api(&self, ns: &str) -> Api<ebb_api::scaled_object::ScaledObject> {
        Api::namespaced(self.client(), ns)
    }

    pub(crate) async fn patch_so(&self, ns: &str, name: &str, patch: Value) {
        self.so_api(ns)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    pub(crate) fn so(&self, ns: &str, name: &str) -> Option<Value> {
        self.kube.object("keda.sh", "scaledobjects", ns, name)
    }

    pub(crate) fn hpa(&self, ns: &str, name: &str) -> Option<Value> {
        self.kube
            .object("autoscaling", "horizontalpodautoscalers", ns, name)
    }

    pub(crate) fn replicas(&self, ns: &str, name: &str) -> i64 {
        self.kube
            .object("apps", "deployments", ns, name)
            .and_then(|d| d["spec"]["replicas"].as_i64())
            .unwrap_or(-1)
    }

    pub(crate) fn condition(
        &self,
        ns: &str,
        name: &str,
        type_: &str,
    ) -> Option<(String, String, String)> {
        let so = self.so(ns, name)?;
        so["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == type_)
            .map(|c| {
                (
                    c["status"].as_str().unwrap_or_default().to_owned(),
                    c["reason"].as_str().unwrap_or_default().to_owned(),
                    c["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
    }

    pub(crate) fn sj(&self, ns: &str, name: &str) -> Option<Value> {
        self.kube.object("keda.sh", "scaledjobs", ns, name)
    }

    /// A condition of ScaledJob `ns/name`: (status, reason, message).
    pub(crate) fn sj_condition(
        &self,
        ns: &str,
        name: &str,
        type_: &str,
    ) -> Option<(String, String, String)> {
        let sj = self.sj(ns, name)?;
        sj["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == type_)
            .map(|c| {
                (
                    c["status"].as_str().unwrap_or_default().to_owned(),
                    c["reason"].as_str().unwrap_or_default().to_owned(),
                    c["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
    }

    /// The Jobs of ScaledJob `name` (by label), oldest first.
    pub(crate) fn jobs(&self, ns: &str, name: &str) -> Vec<Value> {
        let mut jobs = self.kube.objects("batch", "jobs", ns);
        jobs.retain(|j| j["metadata"]["labels"]["scaledjob.keda.sh/name"] == name);
        jobs.sort_by_key(|j| {
            j["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
        });
        jobs
    }

    /// How often an Event with `reason` regarding `name` happened (events.k8s.io series count:
    /// the recorder folds repeats of one reason into one Event).
    pub(crate) fn event_count(&self, ns: &str, name: &str, reason: &str) -> u64 {
        self.kube
            .objects("events.k8s.io", "events", ns)
            .iter()
            .filter(|e| e["regarding"]["name"] == name && e["reason"] == reason)
            .map(|e| e["series"]["count"].as_u64().unwrap_or(1))
            .sum()
    }

    /// Waits until an Event with each of `reasons` regarding `name` exists (Events are published
    /// in the background, after the change they report).
    pub(crate) async fn wait_events(&self, ns: &str, name: &str, reasons: &[&str]) {
        for reason in reasons {
            eventually(reason, Duration::from_secs(10), || {
                self.event_reasons(ns, name)
                    .iter()
                    .any(|r| r == reason)
                    .then_some(())
            })
            .await;
        }
    }

    /// Event reasons regarding `name`, in creation order.
    pub(crate) fn event_reasons(&self, ns: &str, name: &str) -> Vec<String> {
        let mut events = self.kube.objects("events.k8s.io", "events", ns);
        events.retain(|e| e["regarding"]["name"] == name);
        events.sort_by_key(|e| {
            e["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
        });
        events
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Waits until `check` returns `Some`, failing with `what` after `timeout`.
pub(crate) async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[allow(dead_code)]
pub(crate) async fn within<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("timed out")
}

/// A tiny HTTP endpoint for `metrics-api` triggers: `GET /<name>` returns `{"value": v}` for the
/// value set with [`MetricServer::set`], or an error status; with a bearer token set, other
/// tokens get 401.
#[derive(Clone)]
pub(crate) struct MetricServer {
    pub(crate) addr: SocketAddr,
    state: Arc<Mutex<ServerState>>,
}

#[derive(Default)]
struct ServerState {
    values: std::collections::HashMap<String, f64>,
    failing: bool,
    token: Option<String>,
}

impl MetricServer {
    pub(crate) async fn start() -> MetricServer {
        let state = Arc::new(Mutex::new(ServerState::default()));
        let app = axum::Router::new()
            .route("/{name}", get(serve))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MetricServer { addr, state }
    }

    pub(crate) fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    pub(crate) fn set(&self, name: &str, value: f64) {
        self.state
            .lock()
            .unwrap()
            .values
            .insert(name.to_owned(), value);
    }

    pub(crate) fn fail(&self, failing: bool) {
        self.state.lock().unwrap().failing = failing;
    }

    pub(crate) fn require_token(&self, token: &str) {
        self.state.lock().unwrap().token = Some(token.to_owned());
    }
}

async fn serve(
    State(state): State<Arc<Mutex<ServerState>>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, StatusCode> {
    let s = state.lock().unwrap();
    if s.failing {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    if let Some(token) = &s.token {
        let got = headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if got != format!("Bearer {token}") {
            return Err(StatusCode::UNAUTHORIZED);
        }
    }
    Ok(axum::Json(
        json!({"value": s.values.get(&name).copied().unwrap_or(0.0)}),
    ))
}

/// A ScaledObject on Deployment `target` with one metrics-api trigger reading `/<metric>`.
pub(crate) fn metrics_api_so(
    world: &World,
    ns: &str,
    name: &str,
    target: &str,
    metric: &str,
    extra: Value,
) -> Value {
    let mut so = json!({
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "scaleTargetRef": {"name": target},
            "pollingInterval": 1,
            "cooldownPeriod": 2,
            "minReplicaCount": 0,
            "maxReplicaCount": 10,
            "triggers": [{"type": "metrics-api", "metadata": {
                "url": world.server.url(metric), "valueLocation": "value", "targetValue": "5"
            }}]
        }
    });
    merge(&mut so["spec"], extra);
    so
}

pub(crate) fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}
