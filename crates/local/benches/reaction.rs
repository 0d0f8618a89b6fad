//! Local-mode figures (issue #7), printed with their targets: the reaction time from the first
//! message on a real Redis list (127.0.0.1) to the first worker process start with pollingInterval
//! 1 s (median and p90 of 20 runs), and the resident memory of the supervising process while it
//! supervises 100 worker processes. `ebb_local::run` runs in this process on a current-thread
//! runtime, exactly as `ebb run` drives it, so this process is the supervisor being measured.
//!
//! `cargo bench -p ebb-local --bench reaction` (needs Redis: `scripts/services start`).

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ebb_local::{Options, View};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const RUNS: u32 = 20;
const REACTION_TARGET: Duration = Duration::from_millis(1200);
const WORKERS: usize = 100;
/// KEDA's operator is usually given 100 MiB; a local supervisor should need well under half.
const RSS_TARGET_MIB: f64 = 50.0;

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let redis = redis_addr();
    // Memory first, before the reaction runs have grown this process for anything else.
    let memory = runtime.block_on(memory_with_workers(&redis))?;
    let mut reactions = Vec::new();
    for i in 0..RUNS {
        let r = runtime.block_on(reaction_once(&redis, i))?;
        eprintln!("run {:2}: {:.3} s", i + 1, r.as_secs_f64());
        reactions.push(r);
    }
    reactions.sort();
    let median = (reactions[9] + reactions[10]) / 2;
    let p90 = reactions[17];
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "reaction, first message -> first worker process start (pollingInterval 1 s, Redis list on {redis}, {RUNS} runs):"
    );
    println!(
        "  median {:.3} s, p90 {:.3} s (min {:.3} s, max {:.3} s); target median < {:.1} s: {} (p90 {})",
        median.as_secs_f64(),
        p90.as_secs_f64(),
        reactions[0].as_secs_f64(),
        reactions[reactions.len() - 1].as_secs_f64(),
        REACTION_TARGET.as_secs_f64(),
        verdict(median < REACTION_TARGET),
        verdict(p90 < REACTION_TARGET),
    );
    println!(
        "resident memory of the supervising process with {} worker processes running:",
        memory.children
    );
    println!(
        "  VmRSS {:.1} MiB (peak VmHWM {:.1} MiB; {:.1} MiB before any worker); target < {RSS_TARGET_MIB:.0} MiB: {}",
        memory.rss_mib,
        memory.hwm_mib,
        memory.baseline_mib,
        verdict(memory.rss_mib < RSS_TARGET_MIB && memory.children == WORKERS)
    );
    Ok(())
}

/// `EBB_REDIS_ADDR`, else /tmp/ebb-services/env.sh (as `scripts/services env` writes it), else
/// Redis's default port on loopback.
fn redis_addr() -> String {
    if let Ok(v) = std::env::var("EBB_REDIS_ADDR") {
        return v;
    }
    std::fs::read_to_string("/tmp/ebb-services/env.sh")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("export EBB_REDIS_ADDR="))
        .map(|v| v.trim_matches('\'').trim_matches('"').to_owned())
        .next()
        .unwrap_or_else(|| "127.0.0.1:6379".to_owned())
}

/// One Redis command over RESP; returns the first reply line (`:1`, `+OK`, `-ERR …`).
fn redis(addr: &str, args: &[&str]) -> Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(cmd.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    if line.starts_with('-') {
        return Err(format!("redis {}: {}", args[0], line.trim()).into());
    }
    Ok(line.trim().to_owned())
}

fn manifest(list: &str, addr: &str, command: &str, min_replicas: usize) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker}}
spec:
  replicas: 0
  template:
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: worker
        command: ["sh", "-c", "{command}"]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: worker}}
spec:
  scaleTargetRef: {{name: worker}}
  pollingInterval: 1
  minReplicaCount: {min_replicas}
  maxReplicaCount: {max}
  triggers:
  - type: redis
    metadata: {{address: "{addr}", listName: "{list}", listLength: "1"}}
"#,
        max = min_replicas.max(1),
    )
}

fn options(dir: &Path) -> Options {
    let mut options = Options::new(vec![dir.join("app.yaml")]);
    options.log_dir = Some(dir.join("logs"));
    options
}

/// Starts `ebb_local::run` on `dir`, runs `driver` beside it, then stops the run.
async fn with_run<T>(dir: &Path, driver: impl Future<Output = Result<T>>) -> Result<T> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = ebb_local::run(options(dir), Arc::new(View::quiet()), async {
        let _ = stop_rx.await;
    });
    let driver = async {
        let out = driver.await;
        let _ = stop_tx.send(());
        out
    };
    let (summary, out) = tokio::join!(run, driver);
    let summary = summary?;
    if !summary.problems.is_empty() {
        return Err(format!("ebb-local reported problems: {:?}", summary.problems).into());
    }
    out
}

/// One reaction: the list is empty when the run starts; one message is pushed at a phase of the
/// poll cycle that moves by 50 ms each run (so 20 runs cover the whole 1 s interval).
async fn reaction_once(addr: &str, i: u32) -> Result<Duration> {
    let dir = tempfile::tempdir()?;
    let list = format!("ebb-bench-reaction-{}-{i}", std::process::id());
    let stamp = dir.path().join("stamp");
    // The worker records when it starts (wall clock, ns), then idles.
    let command = format!("date +%s%N > {}; exec sleep 1000", stamp.display());
    std::fs::write(
        dir.path().join("app.yaml"),
        manifest(&list, addr, &command, 0),
    )?;
    redis(addr, &["DEL", &list])?;
    let reaction = with_run(dir.path(), async {
        tokio::time::sleep(Duration::from_millis(1000 + 50 * u64::from(i))).await;
        let pushed = SystemTime::now().duration_since(UNIX_EPOCH)?;
        redis(addr, &["RPUSH", &list, "job"])?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(ns) = std::fs::read_to_string(&stamp)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
            {
                return Ok(Duration::from_nanos(ns).saturating_sub(pushed));
            }
            if Instant::now() > deadline {
                return Err("no worker started within 10 s of the message".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    redis(addr, &["DEL", &list])?;
    reaction
}

struct Memory {
    rss_mib: f64,
    hwm_mib: f64,
    baseline_mib: f64,
    children: usize,
}

/// `minReplicaCount: 100` on an empty list: 100 `sleep` workers; VmRSS once all have started and
/// three more polls have passed.
async fn memory_with_workers(addr: &str) -> Result<Memory> {
    let dir = tempfile::tempdir()?;
    let started = dir.path().join("started");
    std::fs::create_dir(&started)?;
    let list = format!("ebb-bench-memory-{}", std::process::id());
    let command = format!("touch {}/$EBB_REPLICA; exec sleep 1000", started.display());
    std::fs::write(
        dir.path().join("app.yaml"),
        manifest(&list, addr, &command, WORKERS),
    )?;
    let baseline_mib = status_mib("VmRSS")?;
    with_run(dir.path(), async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_dir(&started)?.count() < WORKERS {
            if Instant::now() > deadline {
                return Err("100 workers did not start within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(Memory {
            rss_mib: status_mib("VmRSS")?,
            hwm_mib: status_mib("VmHWM")?,
            baseline_mib,
            children: children()?,
        })
    })
    .await
}

/// A `kB` field of /proc/self/status, in MiB.
fn status_mib(field: &str) -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    Ok(kb / 1024.0)
}

/// Live processes whose parent is this process.
fn children() -> Result<usize> {
    let me = std::process::id().to_string();
    let mut n = 0;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(1) == Some(&me.as_str()) && fields.first() != Some(&"Z") {
            n += 1;
        }
    }
    Ok(n)
}
