//! `ebb operator`: run the Kubernetes operator (KEDA's keda-operator), configured by KEDA's env
//! and flags where they mean something here.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use ebb_metrics_api::{
    KubeClusterLookup, KubeDelegatedAuth, MetricsApiServer, ServingCert, certs, requestheader,
};
use ebb_operator::external_metrics::StoreSource;
use ebb_operator::leader::{LeaderElection, Timings};
use ebb_operator::{Operator, OperatorConfig, WatchNamespace};

/// Flags and env of the operator.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Namespaces to watch, comma-separated; empty means all (KEDA requires it set).
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    watch_namespace: String,
    /// Where ClusterTriggerAuthentication Secrets and ConfigMaps are read (default: the pod's namespace).
    #[arg(long, env = "KEDA_CLUSTER_OBJECT_NAMESPACE")]
    cluster_object_namespace: Option<String>,
    /// The operator's own namespace (Lease, default cluster-object namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    pod_namespace: Option<String>,
    /// The pod name: Event reporting instance and leader identity.
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
    /// Concurrent ScaledObject reconciles.
    #[arg(
        long,
        env = "KEDA_SCALEDOBJECT_CTRL_MAX_RECONCILES",
        default_value_t = 5
    )]
    max_reconciles: u16,
    /// Where `/metrics` (Prometheus) and `/explain/<kind>/<namespace>/<name>` are served.
    #[arg(long, default_value = ":8080")]
    metrics_bind_address: String,
    /// Probe address (`/healthz`, `/readyz`).
    #[arg(long, default_value = ":8081")]
    health_probe_bind_address: String,
    /// Run only while holding the Lease.
    #[arg(long)]
    leader_elect: bool,
    /// The Lease name.
    #[arg(long, default_value = "operator.keda.sh")]
    leader_election_id: String,
    /// Lease duration.
    #[arg(long, env = "KEDA_OPERATOR_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,
    /// Renew deadline.
    #[arg(long, env = "KEDA_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s", value_parser = humantime::parse_duration)]
    renew_deadline: Duration,
    /// Retry period.
    #[arg(long, env = "KEDA_OPERATOR_LEADER_ELECTION_RETRY_PERIOD", default_value = "2s", value_parser = humantime::parse_duration)]
    retry_period: Duration,
    /// Where the external metrics API and the admission webhook are served (TLS, HTTP/1.1 and h2).
    #[arg(long, default_value = ":6443")]
    metrics_server_bind_address: String,
    /// Directory with `tls.crt` and `tls.key` (reloaded on change) when certificates are not generated.
    #[arg(long, default_value = "/certs")]
    cert_dir: std::path::PathBuf,
    /// Generate a CA and serving certificate, keep them in the cert Secret, patch the APIService and
    /// webhook caBundle, and rotate before expiry (KEDA's --enable-cert-rotation).
    #[arg(long)]
    enable_cert_rotation: bool,
    /// The Secret generated certificates are kept in.
    #[arg(long, default_value = "kedaorg-certs")]
    cert_secret_name: String,
    /// Client-side requests per second towards the API server (token bucket; 0 or less: unlimited).
    #[arg(long, default_value_t = 20.0)]
    kube_api_qps: f32,
    /// Client-side burst: requests that may go at once before the QPS pacing applies.
    #[arg(long, default_value_t = 30)]
    kube_api_burst: u32,
}

fn bind_address(s: &str) -> anyhow::Result<SocketAddr> {
    let s = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    Ok(s.parse()?)
}

fn own_namespace(args: &Args) -> String {
    args.pod_namespace.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "keda".to_owned())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn operate(args: Args) -> anyhow::Result<()> {
    let client = ebb_operator::rate_limit::client(
        kube::Config::infer().await?,
        args.kube_api_qps,
        args.kube_api_burst,
    )?;
    let namespace = own_namespace(&args);
    let identity = args
        .pod_name
        .clone()
        .unwrap_or_else(|| format!("ebb-{}", std::process::id()));
    let config = OperatorConfig {
        watch_namespace: WatchNamespace::parse(&args.watch_namespace),
        cluster_object_namespace: args
            .cluster_object_namespace
            .clone()
            .unwrap_or_else(|| namespace.clone()),
        max_reconciles: args.max_reconciles,
        instance: args.pod_name.clone(),
        ..OperatorConfig::default()
    };
    let operator = Operator::new(client.clone(), config);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    // Every replica serves the metrics API and the webhook, leader or not.
    let metrics_api = tokio::spawn(
        serve_metrics_api(&args, &namespace, &client, &operator)
            .await?
            .run(stopped()),
    );
    let telemetry = tokio::spawn(ebb_operator::health::serve_telemetry(
        bind_address(&args.metrics_bind_address)?,
        operator.telemetry(),
        stopped(),
    ));
    let probes = tokio::spawn(ebb_operator::health::serve(
        bind_address(&args.health_probe_bind_address)?,
        operator.readiness(),
        stopped(),
    ));
    let signal_tx = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal_tx.send_replace(true);
    });
    if args.leader_elect {
        let timings = Timings {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
        };
        let election = LeaderElection::new(
            client,
            &namespace,
            &args.leader_election_id,
            &identity,
            timings,
        );
        tokio::select! {
            _ = election.acquire() => {}
            _ = stopped() => return Ok(()),
        }
        let lost_tx = stop_tx.clone();
        tokio::spawn(async move {
            election.hold().await;
            // Leadership lost: stop, as controller-runtime does, and let the pod restart.
            lost_tx.send_replace(true);
        });
    }
    operator.run(stopped()).await;
    let _ = probes.await;
    let _ = telemetry.await;
    let _ = metrics_api.await;
    Ok(())
}

/// The external metrics API and admission webhook over TLS: certificates generated (and rotated) or
/// read from `--cert-dir`, front-proxy and delegated authentication, values from the scale loops.
async fn serve_metrics_api(
    args: &Args,
    namespace: &str,
    client: &kube::Client,
    operator: &Operator,
) -> anyhow::Result<MetricsApiServer> {
    let cert = if args.enable_cert_rotation {
        let mut opts = certs::CertOptions::new(namespace);
        opts.secret_name = args.cert_secret_name.clone();
        let bundle = certs::ensure(client.clone(), &opts).await?;
        let cert = ServingCert::from_pem(bundle.tls_crt.as_bytes(), bundle.tls_key.as_bytes())?;
        tokio::spawn(certs::rotate(
            client.clone(),
            opts,
            cert.clone(),
            Duration::from_secs(3600),
        ));
        cert
    } else {
        let cert = ServingCert::from_dir(&args.cert_dir)?;
        tokio::spawn(
            cert.clone()
                .watch_dir(args.cert_dir.clone(), Duration::from_secs(10)),
        );
        cert
    };
    let auth = Arc::new(KubeDelegatedAuth::new(client.clone()));
    let source = Arc::new(StoreSource(operator.metrics()));
    let mut builder = MetricsApiServer::builder(cert, source)
        .listen(bind_address(&args.metrics_server_bind_address)?)
        .token_reviewer(auth.clone())
        .authorizer(auth)
        .webhook(Arc::new(KubeClusterLookup::new(client.clone())))
        .observer(Arc::new(ebb_operator::external_metrics::TelemetryObserver(
            operator.telemetry(),
        )));
    if let Some(config) = requestheader::load(client.clone()).await? {
        builder = builder.requestheader(config);
    }
    let server = builder.bind().await?;
    tokio::spawn(server.handle().watch_requestheader(client.clone()));
    Ok(server)
}

pub(crate) fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(operate(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "operator failed");
            ExitCode::FAILURE
        }
    }
}
