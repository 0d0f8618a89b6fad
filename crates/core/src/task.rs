//! Task data bookkeeping (an Ebb extension): the Job name a message's Jobs get, how a payload is
//! handed over, and what follows a failed attempt. Pure: the operator and local mode do the I/O.
//!
//! A Job's name derives from its message's id, deterministically, so a taker that crashed between
//! creating the Job and acknowledging the message finds `AlreadyExists` on its retry and just
//! acknowledges: no message is lost and none runs twice.

use sha2::{Digest, Sha256};

/// Payloads up to this many bytes (valid UTF-8 without NUL) go in the env var `KEDA_TASK_DATA`.
///
/// 32 KiB keeps a Job's pod spec far below the API server's object size limit and every shell's
/// `ARG_MAX`, whatever else the container's env holds.
pub const MAX_ENV_BYTES: usize = 32 * 1024;

/// Payloads above this are refused (dead-lettered as "too large"): the data would not fit in one
/// Secret, Kubernetes' 1 MiB limit.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Job names are DNS labels (the `job-name` label of the Job's pods must fit): 63 characters.
pub const MAX_NAME_LEN: usize = 63;

/// Characters of the task hash in a Job name (base32, 5 bits each: 100 bits).
const HASH_CHARS: usize = 20;

/// How a payload reaches the Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the env var `KEDA_TASK_DATA`.
    Env,
    /// In a file (a mounted Secret; local mode: a file in the run's state dir) named by
    /// `KEDA_TASK_DATA_FILE`: larger than [`MAX_ENV_BYTES`], or not text an env var can hold.
    File,
    /// Larger than [`MAX_PAYLOAD_BYTES`]: dead-lettered with the reason [`TOO_LARGE`].
    TooLarge,
}

/// The dead-letter reason for a payload above [`MAX_PAYLOAD_BYTES`].
pub const TOO_LARGE: &str = "too large";

/// How `payload` is handed to its Job.
pub fn delivery(payload: &[u8]) -> Delivery {
    if payload.len() > MAX_PAYLOAD_BYTES {
        Delivery::TooLarge
    } else if payload.len() <= MAX_ENV_BYTES
        && !payload.contains(&0)
        && std::str::from_utf8(payload).is_ok()
    {
        Delivery::Env
    } else {
        Delivery::File
    }
}

/// A DNS-label-safe digest of the task's identity: `namespace`, ScaledJob and message id, so two
/// ScaledJobs reading the same queue never share a name. 20 lowercase base32 characters.
pub fn task_hash(namespace: &str, scaled_job: &str, task_id: &str) -> String {
    let mut h = Sha256::new();
    // Length-prefixed, so ("a/b", "c") and ("a", "b/c") differ.
    for part in [namespace, scaled_job, task_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    base32(&h.finalize()).chars().take(HASH_CHARS).collect()
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    out
}

/// The name of the Job running `attempt` (1-based) of a task: `<scaledjob>-<hash>` for the first
/// attempt, `<scaledjob>-<hash>-<attempt>` for retries; the ScaledJob's name is shortened (never
/// the hash) to fit [`MAX_NAME_LEN`]. The same inputs always give the same name.
pub fn job_name(namespace: &str, scaled_job: &str, task_id: &str, attempt: u32) -> String {
    let hash = task_hash(namespace, scaled_job, task_id);
    let suffix = if attempt <= 1 {
        format!("-{hash}")
    } else {
        format!("-{hash}-{attempt}")
    };
    let room = MAX_NAME_LEN.saturating_sub(suffix.len());
    let mut prefix: String = scaled_job
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .take(room)
        .collect();
    // A label ends and starts with an alphanumeric; the hash supplies the end.
    while prefix.ends_with('-') {
        prefix.pop();
    }
    let prefix = prefix.trim_start_matches('-');
    if prefix.is_empty() {
        // Cannot start with '-': the hash alone (with its attempt) is the name.
        return suffix.trim_start_matches('-').to_owned();
    }
    format!("{prefix}{suffix}")
}

/// What to do with a task once an attempt's Job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Run it again as this attempt (a new Job, [`job_name`] with this number).
    Retry {
        /// The next attempt, 2 or more.
        attempt: u32,
    },
    /// Give up: dead-letter the payload with this reason (or drop it, counted and logged, when the
    /// ScaledJob names no dead-letter target).
    DeadLetter {
        /// `failed <n> times; last: <how>`.
        reason: String,
    },
}

/// The decision after `failed_attempts` failed Jobs for one message (the last one ending `how`),
/// given `max_attempts` (≥ 1; 0 counts as 1).
pub fn after_failure(failed_attempts: u32, max_attempts: u32, how: &str) -> AfterFailure {
    if failed_attempts < max_attempts.max(1) {
        AfterFailure::Retry {
            attempt: failed_attempts + 1,
        }
    } else {
        AfterFailure::DeadLetter {
            reason: format!(
                "failed {failed_attempts} time{}; last: {how}",
                if failed_attempts == 1 { "" } else { "s" }
            ),
        }
    }
}

/// How a task's Job that already exists (after a crash, or a broker's redelivery) ended, for
/// [`resume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptState {
    /// Neither Complete nor Failed yet.
    Running,
    /// Complete.
    Succeeded,
    /// Failed.
    Failed,
}

/// What a taker does with a message whose attempts' Jobs it found (`attempts[i]` is attempt
/// `i + 1`; missing attempts are `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// No Job exists: create attempt 1, then acknowledge.
    Create,
    /// A Job exists (running, done, or retried): acknowledge only — this message is handled.
    AlreadyExists,
    /// The last attempt failed and the ScaledJob has attempts left: create this attempt, then
    /// acknowledge (the crash came between the failure and the retry).
    Retry {
        /// The attempt to create.
        attempt: u32,
    },
    /// Every attempt failed: dead-letter, then acknowledge.
    DeadLetter {
        /// The reason, as [`after_failure`] words it.
        reason: String,
    },
}

/// Decides what a taker does with a message given its existing Jobs (see [`Resume`]).
pub fn resume(attempts: &[Option<AttemptState>], max_attempts: u32) -> Resume {
    let Some(last) = attempts.iter().rposition(Option::is_some) else {
        return Resume::Create;
    };
    match attempts[last] {
        Some(AttemptState::Failed) => {
            let failed = u32::try_from(last + 1).unwrap_or(u32::MAX);
            match after_failure(failed, max_attempts, "Job failed") {
                AfterFailure::Retry { attempt } => Resume::Retry { attempt },
                AfterFailure::DeadLetter { reason } => Resume::DeadLetter { reason },
            }
        }
        _ => Resume::AlreadyExists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_pick_env_file_or_too_large_by_size_and_content() {
        for (payload, expected) in [
            (vec![], Delivery::Env),
            (b"{\"image\":\"a.png\"}".to_vec(), Delivery::Env),
            (vec![b'x'; MAX_ENV_BYTES], Delivery::Env),
            (vec![b'x'; MAX_ENV_BYTES + 1], Delivery::File),
            (vec![0xff, 0xfe], Delivery::File),
            (b"a\0b".to_vec(), Delivery::File),
            (vec![b'x'; MAX_PAYLOAD_BYTES], Delivery::File),
            (vec![b'x'; MAX_PAYLOAD_BYTES + 1], Delivery::TooLarge),
        ] {
            assert_eq!(delivery(&payload), expected, "{} bytes", payload.len());
        }
    }

    #[test]
    fn job_names_are_deterministic_dns_labels_per_task_and_attempt() {
        let a1 = job_name("default", "image-processing", "msg-1", 1);
        assert_eq!(a1, job_name("default", "image-processing", "msg-1", 1));
        assert_eq!(a1.len(), "image-processing-".len() + 20);
        assert!(a1.starts_with("image-processing-"));
        assert_eq!(job_name("default", "image-processing", "msg-1", 0), a1);
        let a2 = job_name("default", "image-processing", "msg-1", 2);
        assert_eq!(a2, format!("{a1}-2"));
        assert_ne!(job_name("default", "image-processing", "msg-2", 1), a1);
        assert_ne!(job_name("other", "image-processing", "msg-1", 1), a1);
        assert_ne!(job_name("default", "image-processin", "gmsg-1", 1), a1);
    }

    #[test]
    fn long_or_odd_scaled_job_names_are_shortened_never_the_hash() {
        let long = "a".repeat(80);
        let name = job_name("ns", &long, "id", 12);
        assert_eq!(name.len(), MAX_NAME_LEN);
        assert!(name.ends_with("-12"));
        let hash = task_hash("ns", &long, "id");
        assert!(name.contains(&hash));
        for n in [
            job_name("ns", "my.job", "x", 1),
            job_name("ns", &format!("{}-b", "a".repeat(41)), "x", 1),
            job_name("ns", "---", "x", 1),
        ] {
            assert!(n.len() <= MAX_NAME_LEN, "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
            assert!(
                !n.starts_with('-') && !n.ends_with('-') && !n.contains("--"),
                "{n}"
            );
        }
        assert_eq!(job_name("ns", "---", "x", 1), task_hash("ns", "---", "x"));
    }

    #[test]
    fn failures_retry_until_max_attempts_then_dead_letter() {
        assert_eq!(
            after_failure(1, 3, "exit 1"),
            AfterFailure::Retry { attempt: 2 }
        );
        assert_eq!(
            after_failure(2, 3, "exit 1"),
            AfterFailure::Retry { attempt: 3 }
        );
        assert_eq!(
            after_failure(3, 3, "exit 2"),
            AfterFailure::DeadLetter {
                reason: "failed 3 times; last: exit 2".into()
            }
        );
        assert_eq!(
            after_failure(1, 1, "signal 9 (SIGKILL)"),
            AfterFailure::DeadLetter {
                reason: "failed 1 time; last: signal 9 (SIGKILL)".into()
            }
        );
        assert_eq!(
            after_failure(1, 0, "exit 1"),
            AfterFailure::DeadLetter {
                reason: "failed 1 time; last: exit 1".into()
            }
        );
    }

    #[test]
    fn a_redelivered_message_resumes_from_its_existing_jobs() {
        use AttemptState::{Failed, Running, Succeeded};
        for (attempts, expected) in [
            (vec![], Resume::Create),
            (vec![None], Resume::Create),
            (vec![Some(Running)], Resume::AlreadyExists),
            (vec![Some(Succeeded)], Resume::AlreadyExists),
            (vec![Some(Failed)], Resume::Retry { attempt: 2 }),
            (vec![Some(Failed), Some(Running)], Resume::AlreadyExists),
            (vec![None, Some(Failed)], Resume::Retry { attempt: 3 }),
            (
                vec![Some(Failed), Some(Failed), Some(Failed)],
                Resume::DeadLetter {
                    reason: "failed 3 times; last: Job failed".into(),
                },
            ),
        ] {
            assert_eq!(resume(&attempts, 3), expected, "{attempts:?}");
        }
    }
}
