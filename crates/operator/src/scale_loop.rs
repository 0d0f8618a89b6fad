//! Scale loops: one tokio task per object, checking at its pollingInterval (first check at once; the
//! period does not stretch with the check's duration), recording how late each check started.
//!
//! The registry knows nothing about ScaledObjects: a loop is a key, the fingerprint of what it was
//! started from, and a check to run. The ScaledJob controller will start its loops the same way.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// `lower("<Kind>.<ns>.<name>")`, KEDA's loop key.
pub fn loop_key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}.{namespace}.{name}").to_lowercase()
}

/// What [`ScaleLoops::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopChange {
    /// No loop existed; one was started.
    Started,
    /// A loop with another fingerprint was replaced.
    Restarted,
    /// The loop runs with this fingerprint already.
    Unchanged,
}

struct Running {
    fingerprint: u64,
    abort: AbortHandle,
}

/// The running loops; cheap to clone. Dropping the last clone does not stop them: call
/// [`ScaleLoops::stop_all`] (the operator does on shutdown).
#[derive(Clone, Default)]
pub struct ScaleLoops {
    running: Arc<Mutex<HashMap<String, Running>>>,
    lateness: Lateness,
}

impl std::fmt::Debug for ScaleLoops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScaleLoops")
            .field("running", &self.len())
            .finish()
    }
}

impl ScaleLoops {
    /// No loops.
    pub fn new() -> ScaleLoops {
        ScaleLoops::default()
    }

    /// Starts the loop for `key` unless one with `fingerprint` runs already; a loop with another
    /// fingerprint is stopped first. `check` runs at once, then every `period`, told how late it
    /// started.
    pub fn ensure<F, Fut>(
        &self,
        key: &str,
        fingerprint: u64,
        period: Duration,
        check: F,
    ) -> LoopChange
    where
        F: FnMut(Duration) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let change = match running.get(key) {
            Some(r) if r.fingerprint == fingerprint && !r.abort.is_finished() => {
                return LoopChange::Unchanged;
            }
            Some(r) => {
                r.abort.abort();
                LoopChange::Restarted
            }
            None => LoopChange::Started,
        };
        let task = tokio::spawn(run_every(period, self.lateness.clone(), check));
        running.insert(
            key.to_owned(),
            Running {
                fingerprint,
                abort: task.abort_handle(),
            },
        );
        change
    }

    /// Stops the loop for `key`; whether one was running.
    pub fn stop(&self, key: &str) -> bool {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match running.remove(key) {
            Some(r) => {
                r.abort.abort();
                true
            }
            None => false,
        }
    }

    /// Whether a loop runs for `key` with `fingerprint` (and so would be kept by [`ScaleLoops::ensure`]).
    pub fn runs_with(&self, key: &str, fingerprint: u64) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running
            .get(key)
            .is_some_and(|r| r.fingerprint == fingerprint && !r.abort.is_finished())
    }

    /// Whether a loop runs for `key`.
    pub fn is_running(&self, key: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.get(key).is_some_and(|r| !r.abort.is_finished())
    }

    /// Stops every loop.
    pub fn stop_all(&self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, r) in running.drain() {
            r.abort.abort();
        }
    }

    /// How many loops run.
    pub fn len(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no loop runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lateness of checks so far (KEDA's `keda_internal_scale_loop_latency_seconds`).
    pub fn lateness(&self) -> &Lateness {
        &self.lateness
    }
}

async fn run_every<F, Fut>(period: Duration, lateness: Lateness, mut check: F)
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    let period = period.max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval_at(Instant::now(), period);
    // A check that overruns its period skips ticks rather than bursting to catch up.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let scheduled = ticks.tick().await;
        let late = Instant::now().saturating_duration_since(scheduled);
        lateness.record(late);
        check(late).await;
    }
}

/// A histogram of how late checks started, in microseconds (log-spaced buckets).
#[derive(Clone, Default)]
pub struct Lateness {
    buckets: Arc<Mutex<Vec<u64>>>,
}

impl std::fmt::Debug for Lateness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lateness")
            .field("count", &self.count())
            .finish()
    }
}

// Bucket i holds lateness in [edge(i-1), edge(i)) µs; edges grow by ~12 % (8 per doubling).
fn bucket_of(micros: u64) -> usize {
    if micros == 0 {
        return 0;
    }
    let log2 = 63 - micros.leading_zeros() as usize;
    let frac = ((micros << 3) >> log2) as usize & 7;
    1 + log2 * 8 + frac
}

fn bucket_upper(bucket: usize) -> u64 {
    if bucket == 0 {
        return 0;
    }
    let log2 = (bucket - 1) / 8;
    let frac = ((bucket - 1) % 8) as u64;
    ((8 + frac + 1) << log2) >> 3
}

impl Lateness {
    /// Records one check.
    pub fn record(&self, late: Duration) {
        let b = bucket_of(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() <= b {
            buckets.resize(b + 1, 0);
        }
        buckets[b] += 1;
    }

    /// Checks recorded.
    pub fn count(&self) -> u64 {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .sum()
    }

    /// The `q` quantile (0..=1), as a bucket's upper edge (≤ 12.5 % high).
    pub fn quantile(&self, q: f64) -> Duration {
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let total: u64 = buckets.iter().sum();
        let wanted = ((total as f64) * q.clamp(0.0, 1.0)).ceil() as u64;
        let mut seen = 0;
        for (i, n) in buckets.iter().enumerate() {
            seen += n;
            if seen >= wanted.max(1) {
                return Duration::from_micros(bucket_upper(i));
            }
        }
        Duration::ZERO
    }

    /// Forgets what was recorded.
    pub fn reset(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_quantiles_land_within_a_bucket() {
        let l = Lateness::default();
        for us in 1..=1000u64 {
            l.record(Duration::from_micros(us));
        }
        let p50 = l.quantile(0.5).as_micros() as f64;
        let p99 = l.quantile(0.99).as_micros() as f64;
        assert!((500.0..=570.0).contains(&p50), "{p50}");
        assert!((990.0..=1130.0).contains(&p99), "{p99}");
    }

    #[tokio::test(start_paused = true)]
    async fn first_check_is_immediate_and_the_period_ignores_check_duration() {
        let loops = ScaleLoops::new();
        let times = Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let seen = times.clone();
        loops.ensure("k", 1, Duration::from_secs(10), move |_| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(Instant::now() - t0);
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        });
        tokio::time::sleep(Duration::from_secs(25)).await;
        let times = times.lock().unwrap().clone();
        assert_eq!(
            times,
            vec![
                Duration::ZERO,
                Duration::from_secs(10),
                Duration::from_secs(20)
            ]
        );
        assert_eq!(
            loops.ensure("k", 1, Duration::from_secs(10), |_| async {}),
            LoopChange::Unchanged
        );
        assert!(loops.stop("k"));
    }
}
