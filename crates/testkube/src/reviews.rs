//! TokenReview (`authentication.k8s.io/v1`) and SubjectAccessReview (`authorization.k8s.io/v1`)
//! `create`, answered from what the test programs: known tokens and allowed requests.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::handler::Shared;

/// (user, verb, group, resource, namespace)
type Request = (String, String, String, String, String);

/// The answers the review endpoints give; everything not programmed is unauthenticated or denied.
#[derive(Debug, Default)]
pub struct Reviews {
    tokens: Mutex<HashMap<String, Value>>,
    allowed: Mutex<HashSet<Request>>,
}

impl Reviews {
    /// TokenReviews of `token` authenticate `username` with `groups`.
    pub fn add_token(&self, token: &str, username: &str, groups: &[&str]) {
        let user =
            json!({"username": username, "uid": format!("uid-{username}"), "groups": groups});
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_owned(), user);
    }

    /// SubjectAccessReviews for `user` doing `verb` on `group`/`resource` in `namespace` are allowed.
    pub fn allow(&self, user: &str, verb: &str, group: &str, resource: &str, namespace: &str) {
        self.allowed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key(user, verb, group, resource, namespace));
    }
}

fn key(user: &str, verb: &str, group: &str, resource: &str, ns: &str) -> Request {
    (
        user.into(),
        verb.into(),
        group.into(),
        resource.into(),
        ns.into(),
    )
}

fn created(mut review: Value, status: Value) -> Response {
    review["status"] = status;
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        review.to_string(),
    )
        .into_response()
}

fn parse(body: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new((StatusCode::BAD_REQUEST, e.to_string()).into_response()))
}

pub(crate) async fn token_review(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let review = match parse(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    let user = shared
        .reviews
        .tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(token)
        .cloned();
    let status = match user {
        Some(user) => json!({"authenticated": true, "user": user}),
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    created(review, status)
}

pub(crate) async fn subject_access_review(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Response {
    let review = match parse(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let s = |p: &str| {
        review
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let k = key(
        &s("/spec/user"),
        &s("/spec/resourceAttributes/verb"),
        &s("/spec/resourceAttributes/group"),
        &s("/spec/resourceAttributes/resource"),
        &s("/spec/resourceAttributes/namespace"),
    );
    let allowed = shared
        .reviews
        .allowed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&k);
    created(review, json!({"allowed": allowed}))
}
