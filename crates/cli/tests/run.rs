//! `ebb run` end to end: real processes, real brokers on 127.0.0.1 (RabbitMQ, Redis), the
//! quickstart on SQLite, bad input, and no process left behind after SIGINT or SIGTERM.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EBB: &str = env!("CARGO_BIN_EXE_ebb");

/// `EBB_*` service URLs from the environment or /tmp/ebb-services/env.sh (as scalers' testutil).
fn service(key: &str, default: &str) -> String {
    if let Ok(v) = std::env::var(key) {
        return v;
    }
    let file = std::fs::read_to_string("/tmp/ebb-services/env.sh").unwrap_or_default();
    file.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.trim_matches('\'').trim_matches('"').to_owned())
        .unwrap_or_else(|| default.to_owned())
}

/// A unique marker in the environment of `ebb run` and so of every process it starts.
fn marker(test: &str) -> String {
    format!(
        "{test}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    )
}

fn start_run(dir: &Path, marker: &str, extra: &[&str]) -> Child {
    Command::new(EBB)
        .args(["run", "--plain", "-f"])
        .arg(dir)
        .args(extra)
        .env("EBB_TEST_MARKER", marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Processes whose environment carries `marker` (`ebb run` itself included).
fn marked_processes(marker: &str) -> Vec<String> {
    let needle = format!("EBB_TEST_MARKER={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            let cmd = std::fs::read_to_string(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!("{name}: {}", cmd.replace('\0', " ")));
        }
    }
    found
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// The replica counts `keda a→b` / `hpa a→b` lines of `ebb run` show, in order.
fn scale_steps(out: &str) -> Vec<(String, u32, u32)> {
    out.lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("ScaledObject default/worker: ")?;
            let (actor, rest) = rest.split_once(' ')?;
            if actor != "keda" && actor != "hpa" {
                return None;
            }
            let (step, _) = rest.split_once(':')?;
            let (a, b) = step.split_once('→')?;
            Some((actor.to_owned(), a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

fn worker_manifest(command: &str, trigger: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: default}}
spec:
  replicas: 0
  template:
    spec:
      terminationGracePeriodSeconds: 3
      containers:
      - name: worker
        command: {command}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: worker, namespace: default}}
spec:
  scaleTargetRef: {{name: worker}}
  pollingInterval: 1
  cooldownPeriod: 5
  maxReplicaCount: 8
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 0
  triggers:
{trigger}
"#
    )
}

/// 500 messages, workers at 25/s each: 0 → N (N > 1) → 0, and the queue is drained.
fn burst_scales_out_and_back_to_zero(queue_flag: &str, url: &str, trigger: &str, queue: &str) {
    let dir = tempfile::tempdir().unwrap();
    let command =
        format!(r#"["ebb", "demo", "work", "{queue_flag}", "{url}", "--per-second", "25"]"#);
    write(dir.path(), "app.yaml", &worker_manifest(&command, trigger));
    let produce = |extra: &[&str]| {
        let ok = Command::new(EBB)
            .args([
                "demo", "produce", queue_flag, url, "--rate", "0", "--for", "0s", "--exit",
            ])
            .args(extra)
            .env("EBB_DEMO_QUEUE", queue)
            .status()
            .unwrap()
            .success();
        assert!(ok, "producing");
    };
    produce(&["--reset"]);
    let mark = marker(queue);
    let mut cmd = Command::new(EBB);
    cmd.args([
        "run",
        "--plain",
        "--hpa-sync-period",
        "3s",
        "--for",
        "45s",
        "-f",
    ])
    .arg(dir.path())
    .env("EBB_TEST_MARKER", &mark)
    .env("EBB_DEMO_QUEUE", queue)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    produce(&["--burst", "500"]);
    let (code, out) = finish(child);
    assert_eq!(code, Some(0), "{out}");
    let steps = scale_steps(&out);
    assert_eq!(
        steps.first().map(|s| (s.0.as_str(), s.1, s.2)),
        Some(("keda", 0, 1)),
        "{out}"
    );
    let peak = steps.iter().map(|s| s.2).max().unwrap_or(0);
    assert!(peak > 1, "the HPA scaled out: {steps:?}\n{out}");
    assert_eq!(
        steps.last().map(|s| s.2),
        Some(0),
        "back to zero: {steps:?}\n{out}"
    );
    // Inactive means the queue length is at or below activation (0): drained.
    assert!(
        out.contains("→0: scaled") && out.contains("no trigger active"),
        "the queue drained: {out}"
    );
    assert!(
        marked_processes(&mark).is_empty(),
        "orphans: {:?}",
        marked_processes(&mark)
    );
}

#[test]
fn a_redis_burst_scales_workers_out_and_back_to_zero() {
    let url = service("EBB_REDIS_URL", "redis://127.0.0.1:6379");
    let list = format!("ebb-run-e2e-{}", std::process::id());
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let trigger = format!(
        "  - type: redis\n    metadata: {{address: \"{addr}\", listName: \"{list}\", listLength: \"50\"}}"
    );
    burst_scales_out_and_back_to_zero("--redis", &url, &trigger, &list);
}

#[test]
fn a_rabbitmq_burst_scales_workers_out_and_back_to_zero() {
    let url = service(
        "EBB_RABBITMQ_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    );
    let queue = format!("ebb-run-e2e-{}", std::process::id());
    let trigger = format!(
        "  - type: rabbitmq\n    metadata: {{host: \"{url}\", queueName: \"{queue}\", mode: QueueLength, value: \"50\"}}"
    );
    burst_scales_out_and_back_to_zero("--amqp", &url, &trigger, &queue);
}

#[test]
fn the_quickstart_scales_out_with_the_backlog_and_back_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("queue.db");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart/quickstart.yaml"
    ))
    .unwrap()
    .replace("/tmp/ebb-quickstart/queue.db", db.to_str().unwrap())
    .replace("\"--for\", \"40s\"", "\"--for\", \"10s\"")
    .replace("cooldownPeriod: 20", "cooldownPeriod: 4");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    write(&manifests, "quickstart.yaml", &text);
    let mark = marker("quickstart");
    let child = start_run(
        &manifests,
        &mark,
        &["--hpa-sync-period", "3s", "--for", "40s"],
    );
    let (code, out) = finish(child);
    assert_eq!(code, Some(0), "{out}");
    let steps = scale_steps(&out);
    assert_eq!(
        steps.first().map(|s| (s.0.as_str(), s.1, s.2)),
        Some(("keda", 0, 1)),
        "{out}"
    );
    assert!(
        steps.iter().any(|s| s.0 == "hpa" && s.2 > s.1),
        "scaled out: {steps:?}"
    );
    assert_eq!(
        steps.last().map(|s| s.2),
        Some(0),
        "back to zero: {steps:?}\n{out}"
    );
    assert!(marked_processes(&mark).is_empty());
}

fn stubborn_manifest() -> String {
    // Three replicas, each a shell with a grandchild; one ignores SIGTERM (killed after 1 s).
    r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: sleeper}
spec:
  replicas: 3
  template:
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sleeper
        command: ["sh", "-c", "sleep 1000 & sleep 1000 & wait"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stubborn}
spec:
  template:
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: stubborn
        command: ["sh", "-c", "trap '' TERM; sleep 1000 & while true; do sleep 1; done"]
"#
    .to_owned()
}

fn no_orphans_after(sig: &str) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.yaml", &stubborn_manifest());
    let mark = marker(sig);
    let child = start_run(dir.path(), &mark, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    // ebb run + 3 × (sh + 2 sleeps) + stubborn (sh + sleep + loop sleep).
    while marked_processes(&mark).len() < 12 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        marked_processes(&mark).len() >= 12,
        "{:?}",
        marked_processes(&mark)
    );
    signal(&child, sig);
    let (code, out) = finish(child);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("SIG{sig} received")), "{out}");
    assert!(
        out.contains("stubborn-0: stopped (signal 9 (SIGKILL))"),
        "{out}"
    );
    let left = marked_processes(&mark);
    assert!(left.is_empty(), "left behind: {left:?}\n{out}");
}

#[test]
fn sigint_stops_and_reaps_every_process_and_grandchild() {
    no_orphans_after("INT");
}

#[test]
fn sigterm_stops_and_reaps_every_process_and_grandchild() {
    no_orphans_after("TERM");
}

#[test]
fn bad_workloads_are_reported_backed_off_and_stop_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let so = |name: &str| {
        format!(
            "---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {{name: {name}}}\nspec:\n  scaleTargetRef: {{name: {name}}}\n  minReplicaCount: 1\n  triggers:\n  - type: cron\n    metadata: {{timezone: UTC, start: \"0 0 * * *\", end: \"59 23 * * *\", desiredReplicas: \"1\"}}\n"
        )
    };
    let deploy = |name: &str, command: &str| {
        format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: c\n{command}"
        )
    };
    let mut text = String::new();
    text += &deploy("nocommand", "        image: busybox\n");
    text += &so("nocommand");
    text += &deploy("missing", "        command: [\"/nonexistent/worker\"]\n");
    text += &so("missing");
    text += &deploy(
        "crasher",
        "        command: [\"sh\", \"-c\", \"echo boom; exit 3\"]\n",
    );
    text += &so("crasher");
    text += &deploy("good", "        command: [\"sleep\", \"1000\"]\n");
    text += &so("good");
    text += "---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: invalid}\nspec:\n  scaleTargetRef: {name: good}\n  triggers:\n  - type: redis\n    metadata: {listName: x, listLength: abc}\n";
    write(dir.path(), "app.yaml", &text);
    let mark = marker("bad");
    let (code, out) = finish(start_run(dir.path(), &mark, &["--for", "8s"]));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("container \"c\" has no command"), "{out}");
    assert!(out.contains("ScaledObject default/invalid"), "{out}");
    assert!(out.contains("cannot start `/nonexistent/worker`"), "{out}");
    assert!(out.contains("crasher-0 | boom"), "{out}");
    assert!(out.contains("crasher-0: exited (exit 3)"), "{out}");
    assert!(out.contains("restarting in 2.0s (back-off)"), "{out}");
    let starts: BTreeMap<&str, usize> = [
        "crasher-0: started",
        "missing-0: cannot start",
        "good-0: started",
    ]
    .into_iter()
    .map(|p| (p, out.matches(p).count()))
    .collect();
    // 8 s with delays 1, 2, 4: at most 4 attempts each — a backoff, never a fork storm.
    assert!(
        starts["crasher-0: started"] <= 4 && starts["crasher-0: started"] >= 2,
        "{starts:?}"
    );
    assert!(starts["missing-0: cannot start"] <= 4, "{starts:?}");
    assert_eq!(starts["good-0: started"], 1, "{starts:?}\n{out}");
    assert!(marked_processes(&mark).is_empty());
}

fn redis_llen(url: &str, list: &str) -> i64 {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    redis::cmd("LLEN").arg(list).query(&mut conn).unwrap()
}

/// 12 items, listLength 1, maxReplicaCount 5, each Job pops one item and exits: the default
/// strategy creates min(items, 5 − running) Jobs a poll — 5, 5, 2 — and nothing once drained.
#[test]
fn a_scaled_job_creates_one_job_per_redis_item_and_keeps_its_history_limits() {
    let url = service("EBB_REDIS_URL", "redis://127.0.0.1:6379");
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let list = format!("ebb-run-scaledjob-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    write(
        &manifests,
        "job.yaml",
        &format!(
            r#"apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {{name: redis-job, namespace: default}}
spec:
  pollingInterval: 2
  maxReplicaCount: 5
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  jobTargetRef:
    template:
      spec:
        containers:
        - name: job
          command: ["ebb", "demo", "work", "--redis", "{url}", "--once", "--per-second", "1000"]
          env:
          - {{name: EBB_DEMO_QUEUE, value: "{list}"}}
  triggers:
  - type: redis
    metadata: {{address: "{addr}", listName: "{list}", listLength: "1"}}
"#
        ),
    );
    let ok = Command::new(EBB)
        .args([
            "demo", "produce", "--redis", &url, "--reset", "--burst", "12", "--rate", "0", "--for",
            "0s", "--exit",
        ])
        .env("EBB_DEMO_QUEUE", &list)
        .status()
        .unwrap()
        .success();
    assert!(ok, "producing");
    assert_eq!(redis_llen(&url, &list), 12);
    let mark = marker("scaledjob");
    let child = start_run(
        &manifests,
        &mark,
        &["--for", "9s", "--log-dir", logs.to_str().unwrap()],
    );
    let (code, out) = finish(child);
    assert_eq!(code, Some(0), "{out}");
    let created: Vec<u32> = out
        .lines()
        .filter_map(|l| {
            l.split_once("KEDAJobsCreated: Created ")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(created, vec![5, 5, 2], "{out}");
    assert_eq!(out.matches(": Complete (exit 0)").count(), 12, "{out}");
    assert!(!out.contains(": Failed"), "{out}");
    assert!(
        out.contains("no trigger active; running Jobs are left alone"),
        "{out}"
    );
    // Twelve Jobs that each pop at most one item (`--once`) left the list empty: one item each.
    assert_eq!(redis_llen(&url, &list), 0);
    // successfulJobsHistoryLimit 3: only the last three Jobs' logs are kept (11 and 12 ended last).
    let mut kept: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(
        kept.contains(&"redis-job-11.log".to_owned())
            && kept.contains(&"redis-job-12.log".to_owned()),
        "{kept:?}"
    );
    assert!(marked_processes(&mark).is_empty());
}
