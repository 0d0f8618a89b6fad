//! The `external.metrics.k8s.io/v1beta1` aggregated API server and the keda.sh validating admission
//! webhook, over TLS (HTTP/1.1 and HTTP/2), reading values through a [`MetricsSource`].
//!
//! The operator builds a [`ServingCert`] (from a directory, or from [`certs`]), a [`MetricsSource`] and,
//! in a cluster, [`KubeDelegatedAuth`] and a [`ClusterLookup`], then calls
//! [`MetricsApiServer::builder`]`(…).bind().await?.run(shutdown)`.
//!
//! # High availability
//! Nothing here is leader-only. Every replica serves discovery, values (from its own
//! [`MetricsSource`]), the webhook and its own certificate reloads; only writing the generated
//! certificate Secret and patching caBundles (see [`certs`]) must be done by one writer, and
//! [`certs::ensure`] is idempotent, so replicas that race converge on the Secret that won.
//!
//! # Who may call what
//! `/healthz`, `/readyz`, `/livez`, discovery and OpenAPI answer anyone who completes the TLS
//! handshake (like metrics-server; Kubernetes grants discovery to all). Metric values need an
//! authenticated caller (front-proxy certificate + `X-Remote-User`, or a bearer token via
//! TokenReview) that the [`Authorizer`] (SubjectAccessReview) allows. The webhook paths are called
//! by kube-apiserver without client credentials, as KEDA's webhook is.

mod authn;
mod authz;
mod cache;
pub mod certs;
pub mod discovery;
pub mod external_metrics;
pub mod quantity;
pub mod requestheader;
pub mod selector;
mod server;
mod source;
pub mod status;
pub mod tls;
pub mod webhook;

pub use authn::{AuthError, KubeDelegatedAuth, TokenReviewer, UserInfo};
pub use authz::{Attributes, Authorizer};
pub use requestheader::RequestHeaderConfig;
pub use server::{Builder, MetricsApiServer, RequestObserver, ServerError, ServerHandle};
pub use source::{ExternalMetricValue, InMemoryMetrics, MetricsError, MetricsSource};
pub use tls::ServingCert;
pub use webhook::{ClusterLookup, KubeClusterLookup, LookupError};
