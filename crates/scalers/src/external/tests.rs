//! `external` and `external-push` against an external scaler written here: a tonic server on
//! 127.0.0.1 implementing KEDA's `externalscaler.ExternalScaler` from the same proto.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot};
use tonic::{Request, Response, Status};

use super::proto::external_scaler_server::{
    ExternalScaler as ExternalScalerService, ExternalScalerServer,
};
use super::proto::{
    self, GetMetricSpecResponse, GetMetricsRequest, GetMetricsResponse, IsActiveResponse,
};
use super::*;
use crate::error::MeasureReason;
use crate::external_push::ExternalPushScaler;
use crate::testutil;

type StreamTx = mpsc::Sender<Result<IsActiveResponse, Status>>;

#[derive(Default)]
struct Fake {
    active: AtomicBool,
    specs: Mutex<Vec<proto::MetricSpec>>,
    value: Mutex<(i64, f64)>,
    seen_refs: Mutex<Vec<proto::ScaledObjectRef>>,
    seen_metric_names: Mutex<Vec<String>>,
    stream: Mutex<Option<StreamTx>>,
    opened: Notify,
}

#[derive(Clone)]
struct Service(Arc<Fake>);

#[tonic::async_trait]
impl ExternalScalerService for Service {
    async fn is_active(
        &self,
        r: Request<proto::ScaledObjectRef>,
    ) -> Result<Response<IsActiveResponse>, Status> {
        self.0.seen_refs.lock().unwrap().push(r.into_inner());
        Ok(Response::new(IsActiveResponse {
            result: self.0.active.load(Ordering::SeqCst),
        }))
    }

    type StreamIsActiveStream =
        Pin<Box<dyn futures::Stream<Item = Result<IsActiveResponse, Status>> + Send>>;

    async fn stream_is_active(
        &self,
        r: Request<proto::ScaledObjectRef>,
    ) -> Result<Response<Self::StreamIsActiveStream>, Status> {
        self.0.seen_refs.lock().unwrap().push(r.into_inner());
        let (tx, rx) = mpsc::channel(4);
        *self.0.stream.lock().unwrap() = Some(tx);
        self.0.opened.notify_one();
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn get_metric_spec(
        &self,
        r: Request<proto::ScaledObjectRef>,
    ) -> Result<Response<GetMetricSpecResponse>, Status> {
        self.0.seen_refs.lock().unwrap().push(r.into_inner());
        Ok(Response::new(GetMetricSpecResponse {
            metric_specs: self.0.specs.lock().unwrap().clone(),
        }))
    }

    async fn get_metrics(
        &self,
        r: Request<GetMetricsRequest>,
    ) -> Result<Response<GetMetricsResponse>, Status> {
        let r = r.into_inner();
        if let Some(object) = &r.scaled_object_ref {
            self.0.seen_refs.lock().unwrap().push(object.clone());
        }
        self.0
            .seen_metric_names
            .lock()
            .unwrap()
            .push(r.metric_name.clone());
        let (int, float) = *self.0.value.lock().unwrap();
        Ok(Response::new(GetMetricsResponse {
            metric_values: vec![proto::MetricValue {
                metric_name: r.metric_name,
                metric_value: int,
                metric_value_float: float,
            }],
        }))
    }
}

/// Serves `fake` on `addr` (`127.0.0.1:0` for a fresh port); returns the address and a stop switch.
async fn serve(
    fake: Arc<Fake>,
    addr: &str,
) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(ExternalScalerServer::new(Service(fake)))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
    });
    (addr, stop, task)
}

fn fake(specs: Vec<proto::MetricSpec>, value: (i64, f64), active: bool) -> Arc<Fake> {
    let f = Fake::default();
    *f.specs.lock().unwrap() = specs;
    *f.value.lock().unwrap() = value;
    f.active.store(active, Ordering::SeqCst);
    Arc::new(f)
}

fn spec(name: &str, size: i64, float: f64) -> proto::MetricSpec {
    proto::MetricSpec {
        metric_name: name.into(),
        target_size: size,
        target_size_float: float,
    }
}

fn params(kind: &str, addr: &str) -> TriggerParams {
    TriggerParams::new(
        kind,
        2,
        [
            ("scalerAddress", addr),
            ("queue", "jobs"),
            ("passwordFromEnv", "PW"),
            ("emptyFromEnv", "NOPE"),
        ],
    )
    .with_resolved_env([("PW", "resolved")])
}

#[test]
fn tls_options_and_address_rules() {
    let c = Config::from_params(&params(KIND, "scaler:6000")).unwrap();
    assert_eq!(c.key.tls, None);
    assert_eq!(
        c.scaled_object
            .scaler_metadata
            .get("passwordFromEnv")
            .map(String::as_str),
        Some("resolved")
    );
    assert!(!c.scaled_object.scaler_metadata.contains_key("emptyFromEnv"));
    let mut p = params(KIND, "scaler:6000");
    p.metadata.insert("enableTLS".into(), "true".into());
    p.metadata.insert("unsafeSsl".into(), "true".into());
    let c = Config::from_params(&p).unwrap();
    assert_eq!(c.key.tls.as_ref().map(|t| t.insecure), Some(true));
    for (addr, key) in [
        ("http://scaler:6000", "scalerAddress"),
        ("scaler", "scalerAddress"),
    ] {
        assert_eq!(
            Config::from_params(&params(KIND, addr)).unwrap_err().key(),
            Some(key)
        );
    }
    let p = params(KIND, "scaler:6000").with_auth_params([("tlsClientCert", "x")]);
    assert_eq!(
        Config::from_params(&p).unwrap_err().key(),
        Some("tlsClientKey")
    );
    let p = params(KIND, "scaler:6000").with_auth_params([("caCert", "not pem")]);
    assert!(Config::from_params(&p).is_err());
    // Channels are pooled by (address, TLS).
    let clients = Clients::new();
    let a = ExternalScaler::new(&params(KIND, "scaler:6000"), &clients, KIND).unwrap();
    let b = ExternalScaler::new(&params(KIND, "scaler:6000"), &clients, KIND).unwrap();
    assert!(Arc::ptr_eq(&a.client, &b.client));
}

#[tokio::test]
async fn pull_reads_specs_values_and_activity() {
    testutil::init();
    let f = fake(vec![spec("queue-depth", 0, 2.5)], (7, 0.0), true);
    let (addr, _stop, _task) = serve(f.clone(), "127.0.0.1:0").await;
    // The owning object's name and namespace come with the trigger's params.
    let scaler = ExternalScaler::new(
        &params(KIND, &addr).with_scaled_object("orders", "shop"),
        &Clients::new(),
        KIND,
    )
    .unwrap();
    assert!(
        scaler.metric_specs().is_empty(),
        "specs come from the scaler"
    );
    let m = scaler.measure(&Poll::new()).await.unwrap();
    assert_eq!(
        m.values,
        vec![crate::metric::MetricValue {
            metric_name: "s2-queue-depth".into(),
            value: 7.0
        }]
    );
    assert!(m.is_active);
    let specs = scaler.metric_specs();
    assert_eq!(specs[0].metric_name, "s2-queue-depth");
    assert_eq!(specs[0].target, TargetValue::Float(2.5));
    // GetMetrics gets the name without `s<i>-`; the ref carries name, namespace and metadata.
    assert_eq!(
        f.seen_metric_names.lock().unwrap().clone(),
        vec!["queue-depth".to_owned()]
    );
    // GetMetricSpec, GetMetrics and IsActive: every call carries the object's name and namespace.
    let refs = f.seen_refs.lock().unwrap().clone();
    assert_eq!(refs.len(), 3);
    for seen in &refs {
        assert_eq!(
            (seen.name.as_str(), seen.namespace.as_str()),
            ("orders", "shop")
        );
    }
    let seen = refs[0].clone();
    assert_eq!(
        seen.scaler_metadata.get("queue").map(String::as_str),
        Some("jobs")
    );
    assert_eq!(
        seen.scaler_metadata
            .get("passwordFromEnv")
            .map(String::as_str),
        Some("resolved")
    );

    // Float values win when > 0; activity follows IsActive, not a threshold.
    *f.value.lock().unwrap() = (7, 3.25);
    f.active.store(false, Ordering::SeqCst);
    let m = scaler.measure(&Poll::new()).await.unwrap();
    assert_eq!((m.values[0].value, m.is_active), (3.25, false));
}

#[tokio::test]
async fn integer_targets_empty_specs_and_dead_addresses() {
    testutil::init();
    let f = fake(vec![spec("lag", 10, 0.0)], (1, 0.0), false);
    let (addr, _stop, _task) = serve(f.clone(), "127.0.0.1:0").await;
    let s = ExternalScaler::new(&params(KIND, &addr), &Clients::new(), KIND).unwrap();
    assert_eq!(
        s.refresh_specs().await.unwrap()[0].target,
        TargetValue::Int(10)
    );

    let empty = fake(vec![], (0, 0.0), false);
    let (addr, _stop2, _task2) = serve(empty, "127.0.0.1:0").await;
    let s = ExternalScaler::new(&params(KIND, &addr), &Clients::new(), KIND).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(err.reason(), MeasureReason::BadResponse);
    assert!(err.to_string().contains("got empty metric spec"), "{err}");

    let s = ExternalScaler::new(&params(KIND, "127.0.0.1:9"), &Clients::new(), KIND).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
}

async fn push_true(f: &Fake) {
    let tx = f.stream.lock().unwrap().clone().expect("stream open");
    tx.send(Ok(IsActiveResponse { result: false }))
        .await
        .unwrap();
    tx.send(Ok(IsActiveResponse { result: true }))
        .await
        .unwrap();
}

#[tokio::test]
async fn push_activation_arrives_within_100ms_and_survives_a_server_restart() {
    testutil::init();
    let f = fake(vec![spec("lag", 10, 0.0)], (0, 0.0), false);
    let (addr, stop, task) = serve(f.clone(), "127.0.0.1:0").await;
    let scaler = ExternalPushScaler::new(
        &params(crate::external_push::KIND, &addr).with_scaled_object("crawler", "web"),
        &Clients::new(),
    )
    .unwrap();
    let mut activations = scaler.activations();
    tokio::time::timeout(Duration::from_secs(5), f.opened.notified())
        .await
        .expect("stream opened");
    let opened_for = f.seen_refs.lock().unwrap()[0].clone();
    assert_eq!(
        (opened_for.name.as_str(), opened_for.namespace.as_str()),
        ("crawler", "web"),
        "StreamIsActive carries the owning object"
    );

    let sent = Instant::now();
    push_true(&f).await;
    tokio::time::timeout(Duration::from_secs(1), activations.recv())
        .await
        .unwrap()
        .unwrap();
    let latency = sent.elapsed();
    assert!(
        latency < Duration::from_millis(100),
        "activation took {latency:?}"
    );

    // Restart: end the stream, stop the server, start a new one on the same port.
    f.stream.lock().unwrap().take();
    let _ = stop.send(());
    task.await.unwrap();
    let f2 = fake(vec![spec("lag", 10, 0.0)], (0, 0.0), false);
    let (addr2, _stop2, _task2) = serve(f2.clone(), &addr).await;
    assert_eq!(addr2, addr);
    // The first reconnect is 2 s after the stream ended.
    tokio::time::timeout(Duration::from_secs(10), f2.opened.notified())
        .await
        .expect("stream reopened");
    push_true(&f2).await;
    tokio::time::timeout(Duration::from_secs(1), activations.recv())
        .await
        .unwrap()
        .unwrap();
    // Only `true` messages signal.
    assert!(activations.try_recv().is_err());
}

/// A CA-signed server certificate for `localhost` and a client certificate from the same CA.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf("localhost"),
        client: leaf("ebb-client"),
    }
}

#[tokio::test]
async fn tls_with_a_ca_a_client_certificate_or_unsafe_ssl() {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    testutil::init();
    let pki = pki();
    let f = fake(vec![spec("lag", 10, 0.0)], (4, 0.0), true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&pki.server.0, &pki.server.1))
        .client_ca_root(Certificate::from_pem(&pki.ca))
        .client_auth_optional(false);
    tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(ExternalScalerServer::new(Service(f)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let addr = format!("localhost:{port}");
    let with = |auth: Vec<(&str, &str)>, meta: &[(&str, &str)]| {
        let mut p = params(KIND, &addr).with_auth_params(auth);
        for (k, v) in meta {
            p.metadata.insert((*k).into(), (*v).into());
        }
        ExternalScaler::new(&p, &Clients::new(), KIND).unwrap()
    };
    let client = vec![
        ("caCert", pki.ca.as_str()),
        ("tlsClientCert", pki.client.0.as_str()),
        ("tlsClientKey", pki.client.1.as_str()),
    ];
    let m = with(client.clone(), &[])
        .measure(&Poll::new())
        .await
        .unwrap();
    assert_eq!((m.values[0].value, m.is_active), (4.0, true));
    // unsafeSsl skips server verification (the client certificate is still required here).
    let insecure = vec![
        ("tlsClientCert", pki.client.0.as_str()),
        ("tlsClientKey", pki.client.1.as_str()),
    ];
    let m = with(insecure, &[("unsafeSsl", "true")])
        .measure(&Poll::new())
        .await
        .unwrap();
    assert_eq!(m.values[0].value, 4.0);
    // Without the CA the server certificate is not trusted; without a client cert the server refuses.
    let err = with(vec![], &[("enableTLS", "true")])
        .measure(&Poll::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
    let err = with(vec![("caCert", pki.ca.as_str())], &[])
        .measure(&Poll::new())
        .await
        .unwrap_err();
    assert_ne!(
        err.reason(),
        MeasureReason::Config,
        "{}",
        err.full_message()
    );
}
