//! Fault injection and request counting: error responses (500, 429 with Retry-After, 503) and latency for
//! matching requests, dropped watch connections, forced 410 on the next watches, and counts by verb and resource.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::status::ApiError;

/// A Kubernetes API verb, as RBAC and audit logs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET with `watch=1`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH (including server-side apply).
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The verb's name: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }

    /// Whether the verb changes state.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection
        )
    }
}

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    Error { code: u16, retry_after: Option<u64> },
    Delay(Duration),
}

/// One fault rule: which requests it matches, what it does, and how many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    verb: Option<Verb>,
    resource: Option<String>,
    name: Option<String>,
    action: Action,
    remaining: Option<u32>,
}

impl Fault {
    /// Answer with `code` and a matching `Status` (e.g. 500 InternalError).
    pub fn error(code: u16) -> Fault {
        Fault {
            verb: None,
            resource: None,
            name: None,
            action: Action::Error {
                code,
                retry_after: None,
            },
            remaining: None,
        }
    }

    /// 429 Too Many Requests with `Retry-After: <secs>`, as API Priority and Fairness answers.
    pub fn too_many_requests(retry_after_secs: u64) -> Fault {
        Fault {
            action: Action::Error {
                code: 429,
                retry_after: Some(retry_after_secs),
            },
            ..Fault::error(429)
        }
    }

    /// 503 Service Unavailable.
    pub fn unavailable() -> Fault {
        Fault::error(503)
    }

    /// Hold matching requests for `latency` before serving them normally.
    pub fn delay(latency: Duration) -> Fault {
        Fault {
            action: Action::Delay(latency),
            ..Fault::error(0)
        }
    }

    /// Only requests with this verb.
    pub fn verb(mut self, verb: Verb) -> Fault {
        self.verb = Some(verb);
        self
    }

    /// Only this resource: the plural, with `/status` or `/scale` for a subresource (`deployments/scale`).
    pub fn resource(mut self, resource: &str) -> Fault {
        self.resource = Some(resource.to_string());
        self
    }

    /// Only the object with this name.
    pub fn name(mut self, name: &str) -> Fault {
        self.name = Some(name.to_string());
        self
    }

    /// Apply to the next `n` matching requests only (default: every one until cleared).
    pub fn times(mut self, n: u32) -> Fault {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, verb: Verb, resource: &str, name: &str) -> bool {
        self.verb.is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
            && self.name.as_deref().is_none_or(|n| n == name)
            && self.remaining.is_none_or(|n| n > 0)
    }
}

fn reason_for(code: u16) -> &'static str {
    match code {
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        500 => "InternalError",
        409 => "Conflict",
        404 => "NotFound",
        403 => "Forbidden",
        _ => "Unknown",
    }
}

/// Request counts by verb and resource (`deployments`, `deployments/scale`, or `discovery`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    counts: BTreeMap<(Verb, String), u64>,
}

impl RequestCounts {
    /// Requests with this verb on this resource.
    pub fn get(&self, verb: Verb, resource: &str) -> u64 {
        self.counts
            .get(&(verb, resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Requests with this verb on any resource.
    pub fn verb(&self, verb: Verb) -> u64 {
        self.counts
            .iter()
            .filter(|((v, _), _)| *v == verb)
            .map(|(_, n)| n)
            .sum()
    }

    /// Create, update, patch, delete and deletecollection requests.
    pub fn writes(&self) -> u64 {
        self.counts
            .iter()
            .filter(|((v, _), _)| v.is_write())
            .map(|(_, n)| n)
            .sum()
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The requests made after `earlier` was taken.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        let counts = self
            .counts
            .iter()
            .map(|(k, n)| {
                (
                    k.clone(),
                    n - earlier.counts.get(k).copied().unwrap_or(0).min(*n),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        RequestCounts { counts }
    }

    /// `(verb, resource, count)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (Verb, &str, u64)> {
        self.counts.iter().map(|((v, r), n)| (*v, r.as_str(), *n))
    }
}

#[derive(Debug, Default)]
struct Inner {
    rules: Vec<Fault>,
    gone_next: u32,
    counts: RequestCounts,
}

/// The fault injector and request counter of one server; reach it with `TestKube::faults()`.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<Inner>,
    dropped: watch::Sender<u64>,
}

impl Faults {
    pub(crate) fn new() -> Faults {
        Faults {
            inner: Mutex::new(Inner::default()),
            dropped: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a rule; rules are checked in the order they were added.
    pub fn inject(&self, fault: Fault) {
        self.lock().rules.push(fault);
    }

    /// Remove all rules.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Abort every open watch connection (clients see the stream fail and re-watch).
    pub fn drop_watches(&self) {
        self.dropped.send_modify(|n| *n += 1);
    }

    /// The next `n` watch requests get `410 Gone` (an ERROR event), as after an etcd compaction.
    pub fn expire_next_watches(&self, n: u32) {
        self.lock().gone_next += n;
    }

    /// Counts of all requests so far.
    pub fn counts(&self) -> RequestCounts {
        self.lock().counts.clone()
    }

    /// Forget the counts.
    pub fn reset_counts(&self) {
        self.lock().counts = RequestCounts::default();
    }

    pub(crate) fn dropped(&self) -> watch::Receiver<u64> {
        self.dropped.subscribe()
    }

    /// Count a request, then decide its fate: a delay, an error, and for watches whether to force 410.
    pub(crate) fn on_request(
        &self,
        verb: Verb,
        resource: &str,
        name: &str,
    ) -> (Duration, Option<ApiError>, bool) {
        let mut inner = self.lock();
        *inner
            .counts
            .counts
            .entry((verb, resource.to_string()))
            .or_default() += 1;
        let mut delay = Duration::ZERO;
        let mut error = None;
        for rule in inner
            .rules
            .iter_mut()
            .filter(|r| r.matches(verb, resource, name))
        {
            match rule.action.clone() {
                Action::Delay(d) => delay += d,
                Action::Error { code, retry_after } => {
                    if error.is_some() {
                        continue;
                    }
                    let mut e =
                        ApiError::new(code, reason_for(code), format!("injected fault: {code}"));
                    e.retry_after = retry_after;
                    error = Some(e);
                }
            }
            if let Some(n) = &mut rule.remaining {
                *n -= 1;
            }
        }
        inner.rules.retain(|r| r.remaining != Some(0));
        let gone = verb == Verb::Watch && error.is_none() && inner.gone_next > 0;
        if gone {
            inner.gone_next -= 1;
        }
        (delay, error, gone)
    }
}
