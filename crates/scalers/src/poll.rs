//! `Poll`: the per-poll memo that makes identical requests once.
//!
//! The caller creates one `Poll` per polling round and passes it to every `measure` of that round.
//! Requests are keyed by (shared client, request); concurrent identical requests wait for the
//! first one and share its result (errors included), later ones read it from the memo.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::error::MeasureError;

type Slot = Arc<OnceCell<Result<Arc<dyn Any + Send + Sync>, MeasureError>>>;

/// One polling round's memo of request results, and the round's clock.
pub struct Poll {
    slots: Mutex<HashMap<String, Slot>>,
    requests: std::sync::atomic::AtomicUsize,
    now: jiff::Timestamp,
}

impl Default for Poll {
    fn default() -> Self {
        Self::at(jiff::Timestamp::now())
    }
}

impl std::fmt::Debug for Poll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poll")
            .field("requests", &self.requests_made())
            .finish()
    }
}

impl Poll {
    /// A fresh memo for one polling round.
    pub fn new() -> Self {
        Self::default()
    }

    /// A poll whose clock reads `now` (cron windows, Prometheus `time=`); for tests and simulation.
    pub fn at(now: jiff::Timestamp) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            requests: std::sync::atomic::AtomicUsize::new(0),
            now,
        }
    }

    /// The instant this poll measures at (one value for every trigger, so identical queries match).
    pub fn now(&self) -> jiff::Timestamp {
        self.now
    }

    /// How many distinct requests were actually made in this poll.
    pub fn requests_made(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `request` once per `key` in this poll; every caller with the same key gets its result.
    ///
    /// `key` must identify the client (endpoint, credentials) and the request; scalers build it
    /// from the shared client's identity, so two triggers on different credentials never share.
    pub async fn once<T, F>(&self, key: String, request: F) -> Result<T, MeasureError>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, MeasureError>>,
    {
        let key = format!("{}\u{0}{key}", std::any::type_name::<T>());
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.entry(key).or_default().clone()
        };
        let result = slot
            .get_or_init(|| async {
                self.requests
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                request
                    .await
                    .map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
            })
            .await;
        match result {
            Ok(value) => match value.downcast_ref::<T>() {
                Some(v) => Ok(v.clone()),
                // Unreachable: the key includes the type name.
                None => Err(MeasureError::new(
                    crate::error::MeasureReason::Config,
                    "poll memo type mismatch",
                )),
            },
            Err(e) => Err(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn identical_requests_in_one_poll_run_once() {
        let poll = Poll::new();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let request = || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            Ok::<i64, MeasureError>(7)
        };
        let (a, b, c) = tokio::join!(
            poll.once("k".into(), request()),
            poll.once("k".into(), request()),
            poll.once("other".into(), request()),
        );
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (7, 7, 7));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(poll.requests_made(), 2);
    }
}
