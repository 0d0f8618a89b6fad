//! `ebb-testkube`: an in-process Kubernetes API server for tests, served over HTTPS on 127.0.0.1 so an
//! unmodified `kube::Client` talks to it. Generic JSON storage for built-in kinds and CRDs, the API
//! server's semantics (optimistic concurrency, generation, status/scale subresources, finalizers, garbage
//! collection, patch flavours, server-side apply), watches with bookmarks and 410 Gone, fault injection,
//! request counters, and helper controllers that play the parts of Kubernetes' own controllers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ebb_testkube::Error> {
//! let kube = ebb_testkube::TestKube::start().await?;
//! let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::default_namespaced(kube.client());
//! # let _ = deployments; Ok(()) }
//! ```
//!
//! # Where it differs from a real API server
//! - No schema validation, pruning or CRD defaulting; built-in defaulting only for the fields operators read
//!   back (workload `spec.replicas`, Job parallelism/completions/backoffLimit, HPA `minReplicas`).
//! - No authentication, authorization or admission webhooks; the namespace lifecycle is enforced.
//! - One global resourceVersion like etcd's revision; lists are served from the current state (a `continue`
//!   token is checked for expiry, but later pages are not a snapshot).
//! - Server-side apply: lists are atomic (no merge by key), ownership is per leaf field, and a field applied
//!   with the same value by two managers is shared; conflicts name the manager and field.
//! - Strategic merge patch knows the common merge keys (containers, volumes, env, ports, conditions...) by
//!   field name rather than by schema; custom resources reject it with 415, as the real server does.
//! - Garbage collection is a sweep after deletions; foreground deletion waits for all dependents (not only
//!   `blockOwnerDeletion` ones). Pods are deleted at once (no kubelet, no grace period).
//! - Field selectors accept any dotted field path (the real server allows only indexed ones per kind).
//! - Built-in kinds are served at one version each; a CRD's objects are stored once and served at every
//!   served version (conversion strategy `None`).

mod apply;
mod crd;
mod create;
mod delete;
mod discovery;
mod faults;
mod gc;
mod handler;
mod managed;
mod meta;
mod patch;
mod read;
mod resource;
mod reviews;
mod route;
mod scale;
mod selector;
mod server;
mod status;
mod store;
mod watch;
mod write;

pub mod controllers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};

pub use faults::{Fault, Faults, RequestCounts, Verb};
pub use reviews::Reviews;

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding 127.0.0.1:0 failed.
    #[error("could not listen on 127.0.0.1")]
    Bind(#[source] std::io::Error),
    /// Generating the CA or server certificate failed.
    #[error("could not generate the test CA")]
    Certificate(#[from] rcgen::Error),
    /// Building the TLS configuration failed.
    #[error("could not configure TLS")]
    Tls(#[from] rustls::Error),
    /// Building the kube client failed.
    #[error("could not build a kube client for the test server")]
    Client(#[from] kube::Error),
    /// A CRD given to the builder could not be registered.
    #[error("could not register CustomResourceDefinition {name}: {reason}")]
    Crd {
        /// The CRD's name.
        name: String,
        /// What the server said.
        reason: String,
    },
}

/// Options for [`TestKube`]; [`TestKube::start`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Builder {
    tls: bool,
    history_limit: usize,
    bookmark_interval: Duration,
    crds: Vec<CustomResourceDefinition>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            tls: true,
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(60),
            crds: Vec::new(),
        }
    }
}

impl Builder {
    /// Serve plain HTTP instead of HTTPS (kube's client accepts both; HTTPS is the default for fidelity).
    pub fn plain_http(mut self) -> Builder {
        self.tls = false;
        self
    }

    /// How many events the watch history keeps (etcd's compaction window); older resourceVersions get 410.
    pub fn history_limit(mut self, events: usize) -> Builder {
        self.history_limit = events;
        self
    }

    /// How often watches that allow bookmarks get one (the real server: about a minute).
    pub fn bookmark_interval(mut self, every: Duration) -> Builder {
        self.bookmark_interval = every;
        self
    }

    /// Register a CRD before the server starts (as if applied and Established).
    pub fn crd(mut self, crd: CustomResourceDefinition) -> Builder {
        self.crds.push(crd);
        self
    }

    /// Register several CRDs, e.g. `ebb_api::crds::all()`.
    pub fn crds(mut self, crds: impl IntoIterator<Item = CustomResourceDefinition>) -> Builder {
        self.crds.extend(crds);
        self
    }

    /// Start the server on 127.0.0.1 with an ephemeral port.
    pub async fn start(self) -> Result<TestKube, Error> {
        // Another test may have installed it already; either way ring is the provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = Arc::new(store::Store::new(self.history_limit));
        store.write(seed_namespaces);
        let kube_shared = Arc::new(handler::Shared {
            store: store.clone(),
            faults: Arc::new(Faults::new()),
            bookmark_interval: self.bookmark_interval,
            reviews: Arc::new(Reviews::default()),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let (tls, scheme) = if self.tls {
            (Some(server::tls()?), "https")
        } else {
            (None, "http")
        };
        let url = format!("{scheme}://{addr}");
        let router = axum::Router::new()
            .route(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                axum::routing::post(reviews::token_review),
            )
            .route(
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                axum::routing::post(reviews::subject_access_review),
            )
            .fallback(handler::handle)
            .with_state(kube_shared.clone());
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let tasks = vec![
            tokio::spawn(server::accept_loop(listener, acceptor, router, shutdown_rx)),
            tokio::spawn(gc::run(store.clone())),
        ];
        let ca_der = tls.as_ref().map(|t| t.ca_der.to_vec());
        let client = kube::Client::try_from(client_config(&url, ca_der.clone()))?;
        let kube = TestKube {
            url,
            ca_pem: tls.as_ref().map(|t| t.ca_pem.clone()),
            ca_der,
            shared: kube_shared,
            tasks: Mutex::new(tasks),
            shutdown,
            client,
        };
        for crd in self.crds {
            kube.install_crd(&crd)?;
        }
        Ok(kube)
    }
}

fn seed_namespaces(state: &mut store::State) {
    let Some(info) = state.registry.get(&(String::new(), "namespaces".into())) else {
        return;
    };
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let t = route::Target {
            info: info.clone(),
            version: "v1".into(),
            namespace: String::new(),
            name: None,
            sub: None,
        };
        let obj =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let _ = create::create(state, &t, obj, &write::WriteOpts::default());
    }
}

/// A running test API server. Dropping it stops the server, its connections and its controllers.
pub struct TestKube {
    url: String,
    ca_pem: Option<String>,
    ca_der: Option<Vec<u8>>,
    shared: Arc<handler::Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    client: kube::Client,
}

fn client_config(url: &str, ca_der: Option<Vec<u8>>) -> kube::Config {
    let mut config = kube::Config::new(url.parse().unwrap_or_default());
    config.root_cert = ca_der.map(|der| vec![der]);
    config
}

impl std::fmt::Debug for TestKube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKube")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestKube {
    /// Start with default options: HTTPS with a fresh CA, 10 000 events of watch history.
    pub async fn start() -> Result<TestKube, Error> {
        Builder::default().start().await
    }

    /// Options for starting.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The server's base URL, e.g. `https://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate (PEM) that signed the server's certificate, for a kubeconfig; `None` over HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A `kube::Config` pointing at the server and trusting its CA; namespace `default`.
    pub fn config(&self) -> kube::Config {
        client_config(&self.url, self.ca_der.clone())
    }

    /// The programmed TokenReview and SubjectAccessReview answers.
    pub fn reviews(&self) -> &Reviews {
        &self.shared.reviews
    }

    /// A client for the server (shares one connection pool; clone freely).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Fault injection and request counts.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Requests so far, by verb and resource.
    pub fn counts(&self) -> RequestCounts {
        self.shared.faults.counts()
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store.read().rv
    }

    /// Forget the whole event history, as an etcd compaction does: watches from older versions get 410.
    pub fn compact(&self) {
        self.shared.store.write(store::State::compact);
    }

    /// Register a CRD directly (no request counted), as `kubectl apply` of it would, and mark it Established.
    pub fn install_crd(&self, crd: &CustomResourceDefinition) -> Result<(), Error> {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let crd_err = |reason: String| Error::Crd {
            name: name.clone(),
            reason,
        };
        let value = serde_json::to_value(crd).map_err(|e| crd_err(e.to_string()))?;
        self.shared.store.write(|state| {
            let info = state
                .registry
                .get(&(
                    "apiextensions.k8s.io".into(),
                    "customresourcedefinitions".into(),
                ))
                .ok_or_else(|| crd_err("apiextensions.k8s.io is not served".into()))?;
            let t = route::Target {
                info,
                version: "v1".into(),
                namespace: String::new(),
                name: Some(name.clone()),
                sub: None,
            };
            let opts = write::WriteOpts {
                field_manager: "testkube".into(),
                ..write::WriteOpts::default()
            };
            match create::create(state, &t, value.clone(), &opts) {
                Ok(_) => Ok(()),
                Err(e) if e.code == 409 => write::replace(state, &t, value, &opts, false)
                    .map(|_| ())
                    .map_err(|e| crd_err(e.message)),
                Err(e) => Err(crd_err(e.message)),
            }
        })
    }

    /// An object as stored (no request counted): `group` "" for core, `namespace` "" for cluster-scoped.
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = self.shared.store.read();
        state
            .get(&(group.to_string(), plural.to_string()), namespace, name)
            .map(|o| (**o).clone())
    }

    /// All objects of a resource (no request counted), in one namespace or, with "", all.
    pub fn objects(&self, group: &str, plural: &str, namespace: &str) -> Vec<Value> {
        let state = self.shared.store.read();
        let ns = (!namespace.is_empty()).then_some(namespace);
        state
            .list(&(group.to_string(), plural.to_string()), ns)
            .map(|(_, o)| (**o).clone())
            .collect()
    }

    pub(crate) fn store(&self) -> Arc<store::Store> {
        self.shared.store.clone()
    }

    /// Run a helper task for as long as the server lives.
    pub(crate) fn spawn(
        &self,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> AbortHandle {
        let handle = tokio::spawn(task);
        let abort = handle.abort_handle();
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
        abort
    }
}

impl Drop for TestKube {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}
