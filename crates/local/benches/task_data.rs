//! Task data figure (issue #10), local mode: a backlog of 10,000 messages on a real Redis list
//! (127.0.0.1), a ScaledJob with `taskdata.ebb.dev/trigger` (pollingInterval 1 s, maxReplicaCount
//! 1000, strategy accurate) whose Job process appends its `$KEDA_TASK_DATA` to a file. Printed: tasks
//! taken and acknowledged per second (until the list and its processing list are both empty), Jobs
//! completed per second, and messages lost or run twice (both must be 0). `ebb_local::run` runs in
//! this process on a current-thread runtime, exactly as `ebb run` drives it.
//!
//! `cargo bench -p ebb-local --bench task_data` (needs Redis: `scripts/services start`).

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ebb_local::{Options, View};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const MESSAGES: usize = 10_000;

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench())
}

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

fn manifest(list: &str, addr: &str, out: &Path) -> String {
    format!(
        r#"apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: bench
  namespace: default
  annotations:
    taskdata.ebb.dev/trigger: "0"
spec:
  pollingInterval: 1
  maxReplicaCount: 1000
  successfulJobsHistoryLimit: 0
  failedJobsHistoryLimit: 10
  scalingStrategy: {{strategy: accurate}}
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        containers:
        - name: worker
          command: ["sh", "-c", "echo \"$KEDA_TASK_DATA\" >> \"$OUT\""]
          env:
          - {{name: OUT, value: "{out}"}}
  triggers:
  - type: redis
    metadata: {{address: "{addr}", listName: "{list}", listLength: "1"}}
"#,
        out = out.display()
    )
}

/// `LLEN`; `None` when Redis does not answer in time (this one thread also runs `ebb run`, busy
/// starting processes): the watcher just looks again.
async fn llen(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> Option<i64> {
    redis::cmd("LLEN").arg(key).query_async(conn).await.ok()
}

async fn bench() -> Result<()> {
    let url = redis_url();
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let mut conn = redis::Client::open(url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let dir = tempfile::tempdir()?;
    let list = format!("ebb-bench-tasks-{}", std::process::id());
    let processing = format!("{list}:ebb-processing");
    let out = dir.path().join("out");
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, manifest(&list, &addr, &out))?;
    let payloads: Vec<String> = (0..MESSAGES).map(|i| format!("task-{i:05}")).collect();
    for chunk in payloads.chunks(1000) {
        let _: i64 = redis::cmd("RPUSH")
            .arg(&list)
            .arg(chunk)
            .query_async(&mut conn)
            .await?;
    }

    let mut options = Options::new(vec![file.clone()]);
    options.state_dir = dir.path().join("state");
    let journal = options.state_dir.join("default/bench/tasks");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let run = ebb_local::run(options, Arc::new(View::quiet()), async {
        let _ = stop_rx.await;
    });
    let watch = async {
        let deadline = start + Duration::from_secs(600);
        let mut acked_at = None;
        let mut report = Instant::now();
        loop {
            if acked_at.is_none()
                && llen(&mut conn, &list).await == Some(0)
                && llen(&mut conn, &processing).await == Some(0)
            {
                acked_at = Some(start.elapsed());
            }
            let journaled = std::fs::read_dir(&journal).map_or(0, |d| d.count());
            let done = std::fs::read_to_string(&out).map_or(0, |t| t.lines().count());
            if report.elapsed() > Duration::from_secs(5) {
                report = Instant::now();
                eprintln!(
                    "{:5.1} s: {:?} in the list, {journaled} Jobs in flight, {done} done",
                    start.elapsed().as_secs_f64(),
                    llen(&mut conn, &list).await
                );
            }
            if acked_at.is_some() && journaled == 0 && done >= MESSAGES {
                let _ = stop_tx.send(());
                return Ok::<_, Box<dyn Error>>((acked_at, start.elapsed()));
            }
            if Instant::now() > deadline {
                let _ = stop_tx.send(());
                return Ok((acked_at, start.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (summary, times) = tokio::join!(run, watch);
    let summary = summary?;
    if !summary.problems.is_empty() {
        return Err(format!("ebb-local reported problems: {:?}", summary.problems).into());
    }
    let (acked_at, done_at) = times?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in std::fs::read_to_string(&out).unwrap_or_default().lines() {
        *seen.entry(line.to_owned()).or_insert(0) += 1;
    }
    let lost = payloads.iter().filter(|p| !seen.contains_key(*p)).count();
    let twice: usize = seen.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    let _: i64 = redis::cmd("DEL")
        .arg(&list)
        .arg(&processing)
        .query_async(&mut conn)
        .await?;

    println!(
        "task data, local mode: {MESSAGES} messages on a Redis list ({addr}), pollingInterval 1 s, maxReplicaCount 1000, one `sh` process per message:"
    );
    match acked_at {
        Some(t) => println!(
            "  taken + acknowledged: {:.0} tasks/s ({MESSAGES} in {:.2} s)",
            MESSAGES as f64 / t.as_secs_f64(),
            t.as_secs_f64()
        ),
        None => println!("  taken + acknowledged: NOT all within 600 s"),
    }
    println!(
        "  Jobs completed: {:.0}/s ({} in {:.2} s)",
        seen.values().sum::<usize>() as f64 / done_at.as_secs_f64(),
        seen.values().sum::<usize>(),
        done_at.as_secs_f64()
    );
    println!(
        "  messages lost: {lost}; run twice: {twice} (target 0 and 0: {})",
        if lost == 0 && twice == 0 {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}
