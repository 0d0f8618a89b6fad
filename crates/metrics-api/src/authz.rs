//! Authorization through SubjectAccessReview (verb `get`, group `external.metrics.k8s.io`, resource =
//! the metric name, in the request's namespace), with a short bounded cache.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};

use crate::authn::{AuthError, KubeDelegatedAuth, UserInfo};
use crate::cache::TtlCache;
use crate::external_metrics::GROUP;
use crate::status::ApiStatus;

/// What is being asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// Who asks.
    pub user: UserInfo,
    /// Always `get` here.
    pub verb: String,
    /// API group.
    pub group: String,
    /// Resource: the metric name.
    pub resource: String,
    /// Namespace.
    pub namespace: String,
}

/// Decides whether a user may do something (SubjectAccessReview in a cluster).
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok(true)` when allowed.
    fn authorize<'a>(
        &'a self,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<bool, AuthError>>;
}

impl Authorizer for KubeDelegatedAuth {
    fn authorize<'a>(&'a self, a: &'a Attributes) -> BoxFuture<'a, Result<bool, AuthError>> {
        Box::pin(async move {
            let api: kube::Api<SubjectAccessReview> = kube::Api::all(self.client.clone());
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(a.user.name.clone()),
                    uid: Some(a.user.uid.clone()).filter(|u| !u.is_empty()),
                    groups: Some(a.user.groups.clone()),
                    extra: Some(a.user.extra.clone().into_iter().collect()),
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(a.verb.clone()),
                        group: Some(a.group.clone()),
                        resource: Some(a.resource.clone()),
                        namespace: Some(a.namespace.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = api
                .create(&Default::default(), &review)
                .await
                .map_err(|e| AuthError(format!("SubjectAccessReview: {e}")))?;
            Ok(answer.status.is_some_and(|s| s.allowed))
        })
    }
}

/// An [`Authorizer`] with a short, bounded cache (allowed and denied answers alike).
pub(crate) struct CachedAuthorizer {
    inner: Arc<dyn Authorizer>,
    cache: TtlCache<Attributes, bool>,
}

impl CachedAuthorizer {
    pub(crate) fn new(inner: Arc<dyn Authorizer>, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner,
            cache: TtlCache::new(ttl, capacity),
        }
    }

    /// Allows or returns the 403 (or 500 when the API server could not be asked) Status.
    pub(crate) async fn check(&self, a: Attributes) -> Result<(), ApiStatus> {
        let allowed = match self.cache.get(&a) {
            Some(hit) => hit,
            None => {
                let allowed = self
                    .inner
                    .authorize(&a)
                    .await
                    .map_err(|e| ApiStatus::internal(e.to_string()))?;
                self.cache.insert(a.clone(), allowed);
                allowed
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiStatus::forbidden(forbidden_message(&a)))
        }
    }
}

/// kube-apiserver's wording for a denied request.
pub(crate) fn forbidden_message(a: &Attributes) -> String {
    format!(
        "{}.{} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" in the namespace \"{}\"",
        a.resource, a.group, a.user.name, a.verb, a.resource, a.group, a.namespace
    )
}

/// The attributes of a metric read.
pub(crate) fn metric_read(user: UserInfo, namespace: &str, metric: &str) -> Attributes {
    Attributes {
        user,
        verb: "get".into(),
        group: GROUP.into(),
        resource: metric.into(),
        namespace: namespace.into(),
    }
}
