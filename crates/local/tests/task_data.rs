//! Task data in local mode against a real Redis (`scripts/services start`): each Job process gets
//! its own message; none lost, none twice; a failing message is retried, then dead-lettered; a run
//! stopped with Jobs in flight hands them to the next run; large payloads come as a file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ebb_local::{Options, Summary, View};

fn redis_url() -> String {
    if let Ok(v) = std::env::var("EBB_REDIS_URL") {
        return v;
    }
    std::fs::read_to_string("/tmp/ebb-services/env.sh")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("export EBB_REDIS_URL="))
        .map(|v| v.trim_matches('\'').trim_matches('"').to_owned())
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is not reachable: run `scripts/services start`")
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// `host:port` of the Redis URL.
fn address() -> String {
    redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned()
}

/// A ScaledJob on Redis list `list` with task data; `script` runs under `sh -c` with `$OUT`.
fn manifest(list: &str, script: &str, out: &Path, annotations: &str) -> String {
    format!(
        r#"apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: tasks
  namespace: default
  annotations:
    taskdata.ebb.dev/trigger: jobs
{annotations}
spec:
  pollingInterval: 1
  maxReplicaCount: 100
  # Messages leave the list as their Jobs start: KEDA's advice for such consumers is `accurate`.
  scalingStrategy: {{strategy: accurate}}
  successfulJobsHistoryLimit: 5
  failedJobsHistoryLimit: 5
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        terminationGracePeriodSeconds: 1
        containers:
        - name: worker
          command: ["sh", "-c", {script:?}]
          env:
          - {{name: OUT, value: {out:?}}}
  triggers:
  - type: redis
    name: jobs
    metadata: {{address: "{addr}", listName: "{list}", listLength: "1"}}
"#,
        addr = address(),
        out = out.display().to_string(),
    )
}

/// Runs `ebb_local::run` on `file` with `state` until `done` says so (or `limit` passes).
async fn run_until(
    file: &Path,
    state: &Path,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> Summary {
    let mut options = Options::new(vec![file.to_path_buf()]);
    options.state_dir = state.to_path_buf();
    options.backoff.initial = Duration::from_millis(100);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = ebb_local::run(options, Arc::new(View::quiet()), async {
        let _ = stop_rx.await;
    });
    let watcher = async {
        let deadline = Instant::now() + limit;
        while !done() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stop_tx.send(());
    };
    let (summary, ()) = tokio::join!(run, watcher);
    let summary = summary.unwrap();
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    summary
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `line -> how many times`.
fn counted(lines: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in lines {
        *out.entry(l.clone()).or_insert(0) += 1;
    }
    out
}

async fn push(conn: &mut redis::aio::MultiplexedConnection, list: &str, payloads: &[String]) {
    let _: i64 = redis::cmd("RPUSH")
        .arg(list)
        .arg(payloads)
        .query_async(conn)
        .await
        .unwrap();
}

async fn llen(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("LLEN").arg(key).query_async(conn).await.unwrap()
}

fn journal(state: &Path) -> PathBuf {
    state.join("default/tasks/tasks")
}

fn journal_entries(state: &Path) -> usize {
    std::fs::read_dir(journal(state)).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_of_200_messages_runs_as_one_job_with_its_own_payload() {
    let mut conn = redis().await;
    let dir = tempfile::tempdir().unwrap();
    let (list, out) = (unique("ebb-local-task"), dir.path().join("out"));
    let payloads: Vec<String> = (0..200)
        .map(|i| format!("{{\"image\":\"img-{i:03}.png\"}}"))
        .collect();
    push(&mut conn, &list, &payloads).await;
    let file = dir.path().join("app.yaml");
    let script =
        r#"printf '%s|%s|%s\n' "$KEDA_TASK_DATA" "$KEDA_TASK_ID" "$KEDA_TASK_SOURCE" >> "$OUT""#;
    std::fs::write(&file, manifest(&list, script, &out, "")).unwrap();
    let state = dir.path().join("state");
    run_until(&file, &state, Duration::from_secs(60), || {
        lines(&out).len() >= 200 && journal_entries(&state) == 0
    })
    .await;

    let got = lines(&out);
    assert_eq!(got.len(), 200, "{got:?}");
    let per_payload = counted(
        &got.iter()
            .map(|l| l.split('|').next().unwrap().to_owned())
            .collect::<Vec<_>>(),
    );
    assert_eq!(per_payload.len(), 200);
    assert!(per_payload.values().all(|n| *n == 1));
    assert_eq!(per_payload.keys().cloned().collect::<Vec<_>>(), {
        let mut p = payloads.clone();
        p.sort();
        p
    });
    for l in &got {
        let parts: Vec<&str> = l.split('|').collect();
        assert_eq!(parts.len(), 3, "{l}");
        assert!(parts[1].starts_with("sha256:"), "{l}");
        assert_eq!(parts[2], format!("redis/0/{list}"));
    }
    assert_eq!(llen(&mut conn, &list).await, 0);
    assert_eq!(llen(&mut conn, &format!("{list}:ebb-processing")).await, 0);
    assert_eq!(journal_entries(&state), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_is_retried_then_dead_lettered_with_the_reason() {
    let mut conn = redis().await;
    let dir = tempfile::tempdir().unwrap();
    let (list, out) = (unique("ebb-local-task"), dir.path().join("out"));
    let dead = format!("{list}-dead");
    push(
        &mut conn,
        &list,
        &["ok-1".into(), "poison".into(), "ok-2".into()],
    )
    .await;
    let file = dir.path().join("app.yaml");
    let script = r#"echo "$KEDA_TASK_DATA" >> "$OUT"; [ "$KEDA_TASK_DATA" != poison ]"#;
    let annotations = format!(
        "    taskdata.ebb.dev/dead-letter: {dead}\n    taskdata.ebb.dev/max-attempts: \"2\""
    );
    std::fs::write(&file, manifest(&list, script, &out, &annotations)).unwrap();
    let state = dir.path().join("state");
    let mut dead_conn = redis().await;
    let dead_key = dead.clone();
    run_until(&file, &state, Duration::from_secs(30), || {
        lines(&out).len() >= 4 && journal_entries(&state) == 0
    })
    .await;
    let got = counted(&lines(&out));
    assert_eq!(
        got,
        BTreeMap::from([("ok-1".into(), 1), ("ok-2".into(), 1), ("poison".into(), 2)])
    );
    let in_dead: Vec<String> = redis::cmd("LRANGE")
        .arg(&dead_key)
        .arg(0)
        .arg(-1)
        .query_async(&mut dead_conn)
        .await
        .unwrap();
    assert_eq!(in_dead, vec!["poison".to_owned()]);
    let reasons: BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{dead}:ebb-failure-reason"))
        .query_async(&mut dead_conn)
        .await
        .unwrap();
    assert_eq!(
        reasons.values().collect::<Vec<_>>(),
        vec!["failed 2 times; last: exit 1"]
    );
    assert_eq!(llen(&mut conn, &list).await, 0);
    assert_eq!(llen(&mut conn, &format!("{list}:ebb-processing")).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_in_flight_when_a_run_stops_run_in_the_next_one_and_nothing_is_lost() {
    let mut conn = redis().await;
    let dir = tempfile::tempdir().unwrap();
    let (list, out) = (unique("ebb-local-task"), dir.path().join("out"));
    let payloads: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    push(&mut conn, &list, &payloads).await;
    // A taker that crashed after moving 5 messages to the processing list, before any Job existed.
    for _ in 0..5 {
        let _: Option<String> = redis::cmd("LMOVE")
            .arg(&list)
            .arg(format!("{list}:ebb-processing"))
            .arg("LEFT")
            .arg("RIGHT")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let state = dir.path().join("state");
    let file = dir.path().join("app.yaml");
    // First run: every Job sleeps; the run is stopped while all 20 are in flight.
    let started = dir.path().join("started");
    let slow =
        r#"echo "$KEDA_TASK_DATA" >> "$OUT.started"; sleep 30; echo "$KEDA_TASK_DATA" >> "$OUT""#;
    std::fs::write(&file, manifest(&list, slow, &started, "")).unwrap();
    let started_file = PathBuf::from(format!("{}.started", started.display()));
    run_until(&file, &state, Duration::from_secs(30), || {
        lines(&started_file).len() >= 20
    })
    .await;
    assert_eq!(lines(&started_file).len(), 20);
    assert_eq!(journal_entries(&state), 20);
    assert_eq!(llen(&mut conn, &list).await, 0);
    assert_eq!(llen(&mut conn, &format!("{list}:ebb-processing")).await, 0);

    // Second run, quick Jobs: the journal's 20 run again, exactly once each.
    let quick = r#"echo "$KEDA_TASK_DATA" >> "$OUT""#;
    std::fs::write(&file, manifest(&list, quick, &out, "")).unwrap();
    run_until(&file, &state, Duration::from_secs(30), || {
        lines(&out).len() >= 20 && journal_entries(&state) == 0
    })
    .await;
    let got = counted(&lines(&out));
    assert_eq!(got.len(), 20);
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    assert_eq!(journal_entries(&state), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_above_32_kib_comes_as_a_file() {
    let mut conn = redis().await;
    let dir = tempfile::tempdir().unwrap();
    let (list, out) = (unique("ebb-local-task"), dir.path().join("out"));
    push(&mut conn, &list, &["x".repeat(40 * 1024)]).await;
    let file = dir.path().join("app.yaml");
    let script = r#"echo "${KEDA_TASK_DATA:-unset} $(wc -c < "$KEDA_TASK_DATA_FILE")" >> "$OUT""#;
    std::fs::write(&file, manifest(&list, script, &out, "")).unwrap();
    let state = dir.path().join("state");
    run_until(&file, &state, Duration::from_secs(20), || {
        !lines(&out).is_empty() && journal_entries(&state) == 0
    })
    .await;
    assert_eq!(lines(&out), vec!["unset 40960".to_owned()]);
}
