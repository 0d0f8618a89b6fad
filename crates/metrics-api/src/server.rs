//! The HTTPS server: accept loop (TLS with ALPN, then hyper-util auto for HTTP/1.1 and HTTP/2), the
//! axum routes, and the handle the operator uses to swap certificates and requestheader settings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::authn::{CachedTokenReviewer, Peer, TokenReviewer, authenticate};
use crate::authz::{Authorizer, CachedAuthorizer, metric_read};
use crate::discovery;
use crate::external_metrics;
use crate::requestheader::RequestHeaderConfig;
use crate::source::MetricsSource;
use crate::status::ApiStatus;
use crate::tls::{self, ServingCert, TlsError};
use crate::webhook::{self, ClusterLookup};

/// How long delegated authentication and authorization answers are reused.
const AUTH_CACHE_TTL: Duration = Duration::from_secs(10);
/// At most this many cached answers of each kind.
const AUTH_CACHE_CAPACITY: usize = 10_000;
/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Told about every request the server answered (the operator turns it into
/// `ebb_metrics_api_request_duration_seconds`).
pub trait RequestObserver: Send + Sync {
    /// `request`: `external_metrics`, `admission`, `discovery` or `health`; `code`: the HTTP status.
    fn observe(&self, request: &'static str, code: u16, seconds: f64);
}

/// Everything the server needs; build with [`MetricsApiServer::builder`].
pub struct Builder {
    observer: Option<Arc<dyn RequestObserver>>,
    addr: SocketAddr,
    cert: Arc<ServingCert>,
    source: Arc<dyn MetricsSource>,
    requestheader: Option<RequestHeaderConfig>,
    tokens: Option<Arc<dyn TokenReviewer>>,
    authorizer: Option<Arc<dyn Authorizer>>,
    lookup: Option<Arc<dyn ClusterLookup>>,
}

impl Builder {
    /// Listen on `addr` (KEDA's metrics server: `:6443`; webhooks: `:9443`). Default `127.0.0.1:0`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Trust front-proxy client certificates as configured (see [`crate::requestheader`]).
    pub fn requestheader(mut self, config: RequestHeaderConfig) -> Self {
        self.requestheader = Some(config);
        self
    }

    /// Accept bearer tokens, checked by `reviewer` (cached 10 s).
    pub fn token_reviewer(mut self, reviewer: Arc<dyn TokenReviewer>) -> Self {
        self.tokens = Some(reviewer);
        self
    }

    /// Authorize metric reads with `authorizer` (cached 10 s). Without one, every authenticated
    /// caller may read every metric.
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Serve the validating webhooks, with cluster lookups through `lookup`.
    pub fn webhook(mut self, lookup: Arc<dyn ClusterLookup>) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// Report every request's kind, status and duration to `observer`.
    pub fn observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Binds the listener; serve with [`MetricsApiServer::run`].
    pub async fn bind(self) -> Result<MetricsApiServer, ServerError> {
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: self.addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: self.addr,
            source,
        })?;
        let tls_config = tls::server_config(self.cert.clone(), self.requestheader.as_ref())?;
        let shared = Arc::new(Shared {
            cert: self.cert,
            tls: ArcSwap::from_pointee(tls_config),
            requestheader: ArcSwapOption::from(self.requestheader.map(Arc::new)),
            source: self.source,
            tokens: self
                .tokens
                .map(|t| CachedTokenReviewer::new(t, AUTH_CACHE_TTL, AUTH_CACHE_CAPACITY)),
            authorizer: self
                .authorizer
                .map(|a| CachedAuthorizer::new(a, AUTH_CACHE_TTL, AUTH_CACHE_CAPACITY)),
            lookup: self.lookup,
            observer: self.observer,
        });
        Ok(MetricsApiServer {
            listener,
            local_addr,
            handle: ServerHandle { shared },
        })
    }
}

struct Shared {
    cert: Arc<ServingCert>,
    tls: ArcSwap<rustls::ServerConfig>,
    requestheader: ArcSwapOption<RequestHeaderConfig>,
    source: Arc<dyn MetricsSource>,
    tokens: Option<CachedTokenReviewer>,
    authorizer: Option<CachedAuthorizer>,
    lookup: Option<Arc<dyn ClusterLookup>>,
    observer: Option<Arc<dyn RequestObserver>>,
}

/// Changes a running server's certificates and front-proxy trust; cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// The serving certificate (swap it with [`ServingCert::set_pem`] or [`ServingCert::watch_dir`]).
    pub fn serving_cert(&self) -> Arc<ServingCert> {
        self.shared.cert.clone()
    }

    /// Replaces the front-proxy configuration (new CA, names, headers); open connections keep the
    /// client certificate they were verified with.
    pub fn set_requestheader(&self, config: RequestHeaderConfig) -> Result<(), TlsError> {
        let tls = tls::server_config(self.shared.cert.clone(), Some(&config))?;
        self.shared.tls.store(Arc::new(tls));
        self.shared.requestheader.store(Some(Arc::new(config)));
        Ok(())
    }

    /// Keeps the front-proxy configuration in step with ConfigMap
    /// `kube-system/extension-apiserver-authentication`; runs until dropped.
    pub async fn watch_requestheader(self, client: kube::Client) {
        let handle = self.clone();
        let apply =
            Arc::new(
                move |config: RequestHeaderConfig| match handle.set_requestheader(config) {
                    Ok(()) => tracing::info!("front-proxy configuration reloaded"),
                    Err(error) => tracing::warn!(%error, "front-proxy configuration rejected"),
                },
            );
        crate::requestheader::watch(client, apply).await;
    }
}

/// The `external.metrics.k8s.io` server and validating webhook, bound and ready to run.
pub struct MetricsApiServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    handle: ServerHandle,
}

impl MetricsApiServer {
    /// Starts configuring a server that serves `cert` and reads values from `source`.
    pub fn builder(cert: Arc<ServingCert>, source: Arc<dyn MetricsSource>) -> Builder {
        Builder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            cert,
            source,
            requestheader: None,
            tokens: None,
            authorizer: None,
            lookup: None,
            observer: None,
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle for reloading certificates and front-proxy trust.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Serves until `shutdown` completes; then stops accepting and lets open connections finish
    /// their requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let shared = self.handle.shared;
        let router = router(shared.clone());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, remote) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(shared.tls.load_full());
            tokio::spawn(serve_connection(
                acceptor,
                tcp,
                remote,
                router.clone(),
                stop_rx.clone(),
            ));
        }
        let _ = stop_tx.send(true);
    }
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    router: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%remote, %error, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let peer = {
        let (_, conn) = tls.get_ref();
        match conn.peer_certificates().and_then(|c| c.first()) {
            Some(leaf) => Peer {
                verified_cn: tls::common_name(leaf),
                verified: true,
            },
            None => Peer::default(),
        }
    };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(peer.clone());
        router.clone().oneshot(req.map(Body::new))
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%remote, %error, "connection ended with an error");
            }
        }
        _ = async { let _ = stop.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(ok))
        .route("/readyz", get(ok))
        .route("/livez", get(ok))
        .route("/apis", get(|| json(discovery::api_group_list())))
        .route(
            "/apis/external.metrics.k8s.io",
            get(|| json(discovery::api_group())),
        )
        .route(
            "/apis/external.metrics.k8s.io/v1beta1",
            get(|| json(discovery::api_resource_list())),
        )
        .route("/openapi/v2", get(|| json(discovery::openapi_v2())))
        .route("/openapi/v3", get(|| json(discovery::openapi_v3_root())))
        .route(
            "/openapi/v3/apis/external.metrics.k8s.io/v1beta1",
            get(|| json(discovery::openapi_v3_group_version())),
        )
        .route(
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{metric}",
            get(metric),
        );
    if shared.lookup.is_some() {
        router = router.route("/{path}", post(admission));
    }
    let observer = shared.observer.clone();
    let router = router
        .fallback(|| async {
            ApiStatus::not_found("the server could not find the requested resource")
        })
        .with_state(shared);
    match observer {
        Some(observer) => router.layer(axum::middleware::from_fn(
            move |request: Request<Body>, next: axum::middleware::Next| {
                let observer = observer.clone();
                async move {
                    let kind = request_kind(request.method(), request.uri().path());
                    let start = std::time::Instant::now();
                    let response = next.run(request).await;
                    observer.observe(
                        kind,
                        response.status().as_u16(),
                        start.elapsed().as_secs_f64(),
                    );
                    response
                }
            },
        )),
        None => router,
    }
}

fn request_kind(method: &axum::http::Method, path: &str) -> &'static str {
    if path.starts_with("/apis/external.metrics.k8s.io/v1beta1/namespaces/") {
        "external_metrics"
    } else if method == axum::http::Method::POST {
        "admission"
    } else if matches!(path, "/healthz" | "/readyz" | "/livez") {
        "health"
    } else {
        "discovery"
    }
}

async fn ok() -> &'static str {
    "ok"
}

async fn json(value: Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn metric(
    State(shared): State<Arc<Shared>>,
    Path((namespace, metric)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
) -> Result<Response, ApiStatus> {
    let peer = peer.map(|p| p.0).unwrap_or_default();
    let requestheader = shared.requestheader.load();
    let user = authenticate(
        &headers,
        &peer,
        requestheader.as_deref(),
        shared.tokens.as_ref(),
    )
    .await?;
    if let Some(authorizer) = &shared.authorizer {
        authorizer
            .check(metric_read(user, &namespace, &metric))
            .await?;
    }
    let selector = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "labelSelector")
            .map(|(_, v)| v.into_owned())
    });
    let body = external_metrics::get(
        shared.source.as_ref(),
        &namespace,
        &metric,
        selector.as_deref(),
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn admission(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(lookup) = shared.lookup.as_deref() else {
        return ApiStatus::not_found("no webhook here").into_response();
    };
    let Some(kind) = webhook::kind_for_path(&path) else {
        return ApiStatus::not_found("the server could not find the requested resource")
            .into_response();
    };
    match webhook::review(lookup, kind, &body).await {
        Ok(review) => json(review).await,
        Err(status) => status.into_response(),
    }
}
