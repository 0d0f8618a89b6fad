//! Watches: newline-delimited JSON events from a resourceVersion, with selectors, bookmarks,
//! `sendInitialEvents`, `timeoutSeconds`, and 410 Gone (an ERROR event) for a compacted resourceVersion.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::read::{as_metadata, present};
use crate::route::Target;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{EventType, State, Store};

/// Watch query parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchParams {
    pub(crate) resource_version: Option<String>,
    pub(crate) allow_bookmarks: bool,
    pub(crate) send_initial_events: Option<bool>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
    pub(crate) metadata_only: bool,
}

/// What a watch needs besides its parameters.
#[derive(Debug, Clone)]
pub(crate) struct WatchContext {
    pub(crate) store: Arc<Store>,
    pub(crate) bookmark_interval: Duration,
    /// Ticks when the test drops all watch connections.
    pub(crate) dropped: watch::Receiver<u64>,
    /// Answer with 410 at once (fault injection).
    pub(crate) force_gone: bool,
}

type Chunk = Result<Bytes, std::io::Error>;

fn line(kind: &str, object: Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn gone_line(rv: u64, compacted: u64) -> Bytes {
    let err = ApiError::expired(format!("too old resource version: {rv} ({compacted})"));
    line("ERROR", err.to_status())
}

struct Filter {
    t: Target,
    p: WatchParams,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.p.labels.matches(obj) && self.p.fields.matches(obj)
    }

    fn render(&self, obj: &Value) -> Value {
        let obj = present(&self.t.info, &self.t.version, obj);
        if self.p.metadata_only {
            as_metadata(&obj)
        } else {
            obj
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (kind, api_version) = if self.p.metadata_only {
            (
                "PartialObjectMetadata".to_string(),
                "meta.k8s.io/v1".to_string(),
            )
        } else {
            (
                self.t.info.kind.clone(),
                self.t.info.api_version(&self.t.version),
            )
        };
        line(
            "BOOKMARK",
            json!({"kind": kind, "apiVersion": api_version, "metadata": metadata}),
        )
    }

    /// Current objects as ADDED events, and the resourceVersion they are as of.
    fn snapshot(&self, state: &State) -> (Vec<Bytes>, u64) {
        let ns = (!self.t.namespace.is_empty()).then_some(self.t.namespace.as_str());
        let lines = state
            .list(&self.t.info.key(), ns)
            .filter(|(_, o)| self.matches(o))
            .map(|(_, o)| line("ADDED", self.render(o)))
            .collect();
        (lines, state.rv)
    }

    /// Events after `last`, translated through the selectors, or Err(compacted) for 410.
    fn changes(&self, state: &State, last: u64) -> Result<(Vec<Bytes>, u64), u64> {
        let key = self.t.info.key();
        let mut out = Vec::new();
        for e in state.events_after(last)? {
            if e.res != key || (!self.t.namespace.is_empty() && e.namespace != self.t.namespace) {
                continue;
            }
            let now = self.matches(&e.object);
            let before = e.previous.as_ref().is_some_and(|p| self.matches(p));
            // An object moving into or out of the selection is ADDED or DELETED for this watch.
            let kind = match e.kind {
                EventType::Added if now => EventType::Added,
                EventType::Modified if now && before => EventType::Modified,
                EventType::Modified if now => EventType::Added,
                EventType::Modified if before => EventType::Deleted,
                EventType::Deleted if now => EventType::Deleted,
                _ => continue,
            };
            out.push(line(kind.as_str(), self.render(&e.object)));
        }
        Ok((out, state.rv))
    }
}

/// Start a watch; the body streams until timeout, disconnect, a drop, or 410.
pub(crate) fn start(ctx: WatchContext, t: Target, p: WatchParams) -> Result<Body, ApiError> {
    let start_rv = match p.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let (tx, rx) = mpsc::channel::<Chunk>(256);
    tokio::spawn(run(ctx, Filter { t, p }, start_rv, tx));
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    Ok(Body::from_stream(stream))
}

async fn send_all(tx: &mpsc::Sender<Chunk>, lines: Vec<Bytes>) -> bool {
    for l in lines {
        if tx.send(Ok(l)).await.is_err() {
            return false;
        }
    }
    true
}

async fn run(mut ctx: WatchContext, f: Filter, start_rv: Option<u64>, tx: mpsc::Sender<Chunk>) {
    let mut changed = ctx.store.subscribe();
    ctx.dropped.borrow_and_update();
    if ctx.force_gone {
        let rv = start_rv.unwrap_or(0);
        let current = ctx.store.read().rv;
        let _ = tx.send(Ok(gone_line(rv, current))).await;
        return;
    }
    // No resourceVersion means "the current state, then changes" unless sendInitialEvents=false says otherwise.
    let initial = matches!(
        (start_rv, f.p.send_initial_events),
        (_, Some(true)) | (None, None)
    );
    let start = {
        let state = ctx.store.read();
        match start_rv {
            Some(rv) if rv < state.compacted => Err(gone_line(rv, state.compacted)),
            _ if initial => Ok(f.snapshot(&state)),
            _ => Ok((Vec::new(), start_rv.unwrap_or(state.rv))),
        }
    };
    let (first, mut last) = match start {
        Ok(s) => s,
        Err(gone) => {
            let _ = tx.send(Ok(gone)).await;
            return;
        }
    };
    if !send_all(&tx, first).await {
        return;
    }
    if f.p.send_initial_events == Some(true)
        && f.p.allow_bookmarks
        && tx.send(Ok(f.bookmark(last, true))).await.is_err()
    {
        return;
    }
    let deadline = f.p.timeout.map(|d| Instant::now() + d);
    let mut next_bookmark = Instant::now() + ctx.bookmark_interval;
    loop {
        let batch = {
            let state = ctx.store.read();
            f.changes(&state, last)
        };
        match batch {
            Err(compacted) => {
                let _ = tx.send(Ok(gone_line(last, compacted))).await;
                return;
            }
            Ok((lines, rv)) => {
                if !send_all(&tx, lines).await {
                    return;
                }
                last = rv;
            }
        }
        tokio::select! {
            res = changed.changed() => if res.is_err() { return },
            _ = tokio::time::sleep_until(next_bookmark) => {
                next_bookmark = Instant::now() + ctx.bookmark_interval;
                if f.p.allow_bookmarks && tx.send(Ok(f.bookmark(last, false))).await.is_err() {
                    return;
                }
            }
            _ = sleep_until_opt(deadline) => return,
            _ = ctx.dropped.changed() => {
                let _ = tx.send(Err(std::io::Error::other("watch dropped by fault injection"))).await;
                return;
            }
            _ = tx.closed() => return,
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
