//! Authentication as an aggregated API server does it: a front-proxy client certificate (verified
//! against the requestheader CA during the handshake) with an allowed common name carries the user in
//! `X-Remote-User`/`X-Remote-Group`; otherwise a bearer token is checked with a TokenReview.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};

use crate::cache::TtlCache;
use crate::requestheader::RequestHeaderConfig;
use crate::status::ApiStatus;

/// Who made a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// UID, when the authenticator knows it.
    pub uid: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// A delegated check failed (the API server could not be asked).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Checks bearer tokens (TokenReview in a cluster).
pub trait TokenReviewer: Send + Sync + 'static {
    /// The user the token belongs to, or `None` when it is not valid.
    fn review<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>>;
}

/// What the TLS handshake established about the client.
#[derive(Clone, Debug, Default)]
pub(crate) struct Peer {
    /// Common name of a client certificate verified against the requestheader CA.
    pub(crate) verified_cn: Option<String>,
    /// Whether a verified client certificate was presented.
    pub(crate) verified: bool,
}

/// Authenticates one request; `Err` is the 401 Status to send.
pub(crate) async fn authenticate(
    headers: &HeaderMap,
    peer: &Peer,
    requestheader: Option<&RequestHeaderConfig>,
    tokens: Option<&CachedTokenReviewer>,
) -> Result<UserInfo, ApiStatus> {
    if peer.verified {
        let rh = requestheader.ok_or_else(ApiStatus::unauthorized)?;
        // A verified certificate whose CN is not allowed is not a front proxy: reject, as
        // kube-apiserver's requestheader authenticator does.
        if !rh.allows(peer.verified_cn.as_deref()) {
            return Err(ApiStatus::unauthorized());
        }
        if let Some(user) = from_headers(headers, rh) {
            return Ok(user);
        }
    }
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match (token, tokens) {
        (Some(token), Some(reviewer)) => match reviewer.review(token).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(ApiStatus::unauthorized()),
            Err(error) => {
                tracing::warn!(%error, "TokenReview failed");
                Err(ApiStatus::unauthorized())
            }
        },
        _ => Err(ApiStatus::unauthorized()),
    }
}

fn from_headers(headers: &HeaderMap, rh: &RequestHeaderConfig) -> Option<UserInfo> {
    let name = rh.username_headers.iter().find_map(|h| {
        headers
            .get(h.as_str())
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    })?;
    let groups = rh
        .group_headers
        .iter()
        .flat_map(|h| headers.get_all(h.as_str()))
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in headers {
        for prefix in &rh.extra_headers_prefix {
            let prefix = prefix.to_ascii_lowercase();
            if let (Some(k), Ok(v)) = (key.as_str().strip_prefix(&prefix), value.to_str()) {
                extra.entry(k.to_owned()).or_default().push(v.to_owned());
            }
        }
    }
    Some(UserInfo {
        name: name.to_owned(),
        uid: String::new(),
        groups,
        extra,
    })
}

/// A [`TokenReviewer`] with a short, bounded cache of answers (valid and invalid alike).
pub(crate) struct CachedTokenReviewer {
    inner: Arc<dyn TokenReviewer>,
    cache: TtlCache<String, Option<UserInfo>>,
}

impl CachedTokenReviewer {
    pub(crate) fn new(inner: Arc<dyn TokenReviewer>, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner,
            cache: TtlCache::new(ttl, capacity),
        }
    }

    async fn review(&self, token: &str) -> Result<Option<UserInfo>, AuthError> {
        if let Some(hit) = self.cache.get(token) {
            return Ok(hit);
        }
        let answer = self.inner.review(token).await?;
        self.cache.insert(token.to_owned(), answer.clone());
        Ok(answer)
    }
}

/// TokenReview and SubjectAccessReview through the Kubernetes API.
#[derive(Clone)]
pub struct KubeDelegatedAuth {
    pub(crate) client: kube::Client,
}

impl KubeDelegatedAuth {
    /// Delegates to the API server `client` talks to.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

impl TokenReviewer for KubeDelegatedAuth {
    fn review<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
        Box::pin(async move {
            let api: kube::Api<TokenReview> = kube::Api::all(self.client.clone());
            let review = TokenReview {
                spec: TokenReviewSpec {
                    token: Some(token.to_owned()),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = api
                .create(&Default::default(), &review)
                .await
                .map_err(|e| AuthError(format!("TokenReview: {e}")))?;
            let Some(status) = answer.status.filter(|s| s.authenticated == Some(true)) else {
                return Ok(None);
            };
            let user = status.user.unwrap_or_default();
            Ok(Some(UserInfo {
                name: user.username.unwrap_or_default(),
                uid: user.uid.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default().into_iter().collect(),
            }))
        })
    }
}
