//! Cooldown: when an inactive ScaledObject may drop to zero or idle replicas.

use jiff::{SignedDuration, Timestamp};

/// KEDA's default `cooldownPeriod` in seconds.
pub const DEFAULT_COOLDOWN_PERIOD: u32 = 300;
/// KEDA's default `initialCooldownPeriod` in seconds.
pub const DEFAULT_INITIAL_COOLDOWN_PERIOD: u32 = 0;

/// Whether the scale-in to zero/idle is allowed now (executor `scaleToZeroOrIdle`): with no
/// `lastActiveTime`, once `creation + initialCooldownPeriod` is strictly before now; otherwise once
/// `lastActiveTime + cooldownPeriod` is strictly before now.
pub fn cooldown_elapsed(
    last_active_time: Option<Timestamp>,
    creation_time: Timestamp,
    cooldown_period: u32,
    initial_cooldown_period: u32,
    now: Timestamp,
) -> bool {
    match last_active_time {
        None => plus_seconds(creation_time, initial_cooldown_period) < now,
        Some(last) => plus_seconds(last, cooldown_period) < now,
    }
}

/// When the cooldown that currently applies ends (for "why" strings and simulators).
pub fn cooldown_ends_at(
    last_active_time: Option<Timestamp>,
    creation_time: Timestamp,
    cooldown_period: u32,
    initial_cooldown_period: u32,
) -> Timestamp {
    match last_active_time {
        None => plus_seconds(creation_time, initial_cooldown_period),
        Some(last) => plus_seconds(last, cooldown_period),
    }
}

fn plus_seconds(t: Timestamp, seconds: u32) -> Timestamp {
    // Saturate instead of failing: a timestamp past jiff's range means "never" here.
    t.checked_add(SignedDuration::from_secs(i64::from(seconds)))
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn cooldown_counts_from_last_active_time_strictly() {
        let cases = [
            (Some(at(0)), at(299), false),
            (Some(at(0)), at(300), false),
            (Some(at(0)), at(301), true),
            (None, at(1), true),
            (None, at(0), false),
        ];
        for (last, now, want) in cases {
            assert_eq!(
                cooldown_elapsed(last, at(0), 300, 0, now),
                want,
                "{last:?} {now}"
            );
        }
    }

    #[test]
    fn initial_cooldown_counts_from_creation_when_never_active() {
        assert!(!cooldown_elapsed(None, at(0), 300, 120, at(100)));
        assert!(cooldown_elapsed(None, at(0), 300, 120, at(121)));
        assert_eq!(cooldown_ends_at(None, at(0), 300, 120), at(120));
    }
}
