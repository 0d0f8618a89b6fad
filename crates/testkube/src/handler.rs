//! The one HTTP handler: parse the path and query, count the request, apply injected faults, then
//! dispatch to discovery, read, write, patch, delete or watch.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::delete::{self, DeleteOpts};
use crate::discovery;
use crate::faults::{Faults, Verb};
use crate::patch::{self, PatchKind};
use crate::read::{self, ListParams};
use crate::route::{self, Route, Subresource, Target};
use crate::scale;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::Store;
use crate::watch::{self, WatchContext, WatchParams};
use crate::write::{self, WriteOpts};

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) bookmark_interval: Duration,
    pub(crate) reviews: Arc<crate::reviews::Reviews>,
}

const MAX_BODY: usize = 64 << 20;

struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True"))
    }

    fn list_params(&self) -> Result<ListParams, ApiError> {
        Ok(ListParams {
            labels: LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(self.get("fieldSelector").unwrap_or(""))?,
            limit: self.get("limit").and_then(|l| l.parse().ok()),
            continue_token: self.get("continue").map(str::to_string),
            resource_version: self.get("resourceVersion").map(str::to_string),
            resource_version_match: self.get("resourceVersionMatch").map(str::to_string),
        })
    }

    fn write_opts(&self, user_agent: &str) -> WriteOpts {
        // Without fieldManager the real server names the manager after the User-Agent's product.
        let manager = self
            .get("fieldManager")
            .map(str::to_string)
            .unwrap_or_else(|| user_agent.split('/').next().unwrap_or("").to_string());
        WriteOpts {
            dry_run: self.get("dryRun").is_some_and(|d| !d.is_empty()),
            field_manager: manager,
            force: self.flag("force"),
            applied: false,
        }
    }
}

fn json_response(code: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_response(e: &ApiError) -> Response {
    let mut resp = json_response(e.code, &e.to_status());
    if let Some(secs) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn verb_of(method: &Method, t: &Target, watch: bool) -> Verb {
    match (method.as_str(), t.name.is_some()) {
        ("GET", true) => Verb::Get,
        ("GET", false) if watch => Verb::Watch,
        ("GET", false) => Verb::List,
        ("POST", _) => Verb::Create,
        ("PUT", _) => Verb::Update,
        ("PATCH", _) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        _ => Verb::Get,
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let query = Query(
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
    );
    let route = route::parse(parts.uri.path(), &shared.store.read().registry);
    let watching = query.flag("watch");
    let (verb, label, name) = match &route {
        Ok(Route::Resource(t)) => (
            verb_of(&parts.method, t, watching),
            t.resource_label(),
            t.name().to_string(),
        ),
        _ => (Verb::Get, "discovery".to_string(), String::new()),
    };
    let (delay, fault, force_gone) = shared.faults.on_request(verb, &label, &name);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(e) = fault {
        return error_response(&e);
    }
    let header_str = |h: header::HeaderName| {
        parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let accept = header_str(header::ACCEPT).to_string();
    let content_type = header_str(header::CONTENT_TYPE).to_string();
    let user_agent = header_str(header::USER_AGENT).to_string();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::bad_request(e.to_string())),
    };
    let result = match route {
        Err(e) => Err(e),
        Ok(Route::Resource(t)) => {
            let ctx = Ctx {
                shared: &shared,
                query: &query,
                accept: &accept,
                content_type: &content_type,
                user_agent: &user_agent,
                force_gone,
            };
            return resource(&ctx, &parts.method, t, &body);
        }
        Ok(other) if parts.method == Method::GET => discovery_route(&shared, other, &accept),
        Ok(_) => Err(ApiError::method_not_allowed()),
    };
    match result {
        Ok(v) => json_response(200, &v),
        Err(e) => error_response(&e),
    }
}

fn discovery_route(shared: &Shared, route: Route, accept: &str) -> Result<Value, ApiError> {
    let state = shared.store.read();
    let aggregated = accept.contains("as=APIGroupDiscoveryList");
    match route {
        Route::CoreVersions if aggregated => Ok(discovery::aggregated(&state.registry, true)),
        Route::CoreVersions => Ok(discovery::core_versions()),
        Route::Groups if aggregated => Ok(discovery::aggregated(&state.registry, false)),
        Route::Groups => Ok(discovery::group_list(&state.registry)),
        Route::Group(g) => discovery::group(&state.registry, &g),
        Route::Resources { group, version } => {
            discovery::resource_list(&state.registry, &group, &version)
        }
        Route::Version => Ok(discovery::version()),
        Route::Health => Ok(Value::String("ok".into())),
        Route::Resource(_) => Err(ApiError::path_not_found()),
    }
}

/// A resource request's answer: a JSON document, or a watch stream.
enum Reply {
    Json(u16, Value),
    Stream(Body),
}

struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    query: &'a Query,
    accept: &'a str,
    content_type: &'a str,
    user_agent: &'a str,
    force_gone: bool,
}

fn resource(ctx: &Ctx<'_>, method: &Method, t: Target, body: &[u8]) -> Response {
    let metadata_only = ctx.accept.contains("as=PartialObjectMetadata");
    let store = &ctx.shared.store;
    let q = ctx.query;
    let result: Result<Reply, ApiError> = (|| match (method.as_str(), t.name.is_some()) {
        ("GET", false) if q.flag("watch") => {
            let lp = q.list_params()?;
            let params = WatchParams {
                resource_version: q.get("resourceVersion").map(str::to_string),
                allow_bookmarks: q.flag("allowWatchBookmarks"),
                send_initial_events: q.get("sendInitialEvents").map(|v| v == "true" || v == "1"),
                timeout: q
                    .get("timeoutSeconds")
                    .and_then(|s| s.parse().ok())
                    .map(Duration::from_secs),
                labels: lp.labels,
                fields: lp.fields,
                metadata_only,
            };
            let wctx = WatchContext {
                store: store.clone(),
                bookmark_interval: ctx.shared.bookmark_interval,
                dropped: ctx.shared.faults.dropped(),
                force_gone: ctx.force_gone,
            };
            Ok(Reply::Stream(watch::start(wctx, t.clone(), params)?))
        }
        ("GET", false) => {
            let list = read::list(&store.read(), &t, &q.list_params()?)?;
            Ok(Reply::Json(
                200,
                if metadata_only {
                    read::list_as_metadata(&list)
                } else {
                    list
                },
            ))
        }
        ("GET", true) => {
            let state = store.read();
            let obj = match t.sub {
                Some(Subresource::Scale) => scale::get(&state, &t)?,
                _ => read::get(&state, &t)?,
            };
            Ok(Reply::Json(
                200,
                if metadata_only {
                    read::as_metadata(&obj)
                } else {
                    obj
                },
            ))
        }
        ("POST", false) => {
            let obj = parse_json(body)?;
            let opts = q.write_opts(ctx.user_agent);
            Ok(Reply::Json(
                201,
                store.write(|s| crate::create::create(s, &t, obj, &opts))?,
            ))
        }
        ("PUT", true) => {
            let obj = parse_json(body)?;
            let opts = q.write_opts(ctx.user_agent);
            let out = store.write(|s| match t.sub {
                Some(Subresource::Scale) => scale::update(s, &t, &obj, &opts),
                _ => write::replace(s, &t, obj, &opts, t.info.custom),
            })?;
            Ok(Reply::Json(200, out))
        }
        ("PATCH", true) => {
            let kind = PatchKind::from_content_type(ctx.content_type)?;
            let opts = q.write_opts(ctx.user_agent);
            Ok(Reply::Json(
                200,
                store.write(|s| patch::patch(s, &t, kind, body, &opts))?,
            ))
        }
        ("DELETE", named) => {
            let parsed = if body.is_empty() {
                Value::Null
            } else {
                parse_json(body)?
            };
            let mut opts = DeleteOpts::from_body(&parsed);
            if let Some(p) = q
                .get("propagationPolicy")
                .and_then(delete::parse_propagation)
            {
                opts.propagation = Some(p);
            }
            opts.dry_run |= q.get("dryRun").is_some_and(|d| !d.is_empty());
            if named {
                Ok(Reply::Json(
                    200,
                    store.write(|s| delete::delete(s, &t, &opts))?,
                ))
            } else {
                let lp = q.list_params()?;
                Ok(Reply::Json(
                    200,
                    store.write(|s| delete::delete_collection(s, &t, &lp, &opts))?,
                ))
            }
        }
        _ => Err(ApiError::method_not_allowed()),
    })();
    match result {
        Ok(Reply::Json(code, v)) => json_response(code, &v),
        Ok(Reply::Stream(body)) => {
            let mut resp = Response::new(body);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => error_response(&e),
    }
}
