//! Restart backoff for crashing replicas, after the kubelet's CrashLoopBackOff: the delay doubles
//! with each crash up to a cap, and resets once a process has run long enough to count as healthy.

use std::time::Duration;

/// The shape of the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Delay after the first crash (the kubelet uses 10 s; local mode is quicker to retry).
    pub initial: Duration,
    /// The longest delay (the kubelet caps at 5 min).
    pub max: Duration,
    /// A process that ran this long resets the delay (the kubelet: 10 min).
    pub reset_after: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            reset_after: Duration::from_secs(30),
        }
    }
}

/// One replica's backoff state.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    policy: BackoffPolicy,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(policy: BackoffPolicy) -> Backoff {
        Backoff {
            policy,
            next: policy.initial,
        }
    }

    /// The delay before restarting a process that exited after running for `ran_for`.
    pub(crate) fn after_exit(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.policy.reset_after {
            self.next = self.policy.initial;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.policy.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset_after_a_healthy_run() {
        let mut b = Backoff::new(BackoffPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(30),
        });
        let quick = Duration::from_millis(10);
        let delays: Vec<u64> = (0..5).map(|_| b.after_exit(quick).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        assert_eq!(b.after_exit(Duration::from_secs(31)).as_secs(), 1);
        assert_eq!(b.after_exit(quick).as_secs(), 2);
    }
}
