//! `ebb check` end to end: the built binary against the real Redis on loopback (started by
//! `scripts/services start`), with auth resolved from local files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use std::io::Write;
use std::process::{Command, Output};

const CANARY: &str = "canary-5ecret-9f3a";

fn redis_addr() -> String {
    let url = std::env::var("EBB_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    url.trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned()
}

/// RPUSHes `n` items to a fresh list through a raw RESP connection (no client library needed).
fn seed_list(key: &str, n: usize) {
    let mut conn = std::net::TcpStream::connect(redis_addr())
        .expect("Redis is not reachable: run `scripts/services start`");
    let mut cmd = format!("*2\r\n$3\r\nDEL\r\n${}\r\n{key}\r\n", key.len());
    cmd.push_str(&format!(
        "*{}\r\n$5\r\nRPUSH\r\n${}\r\n{key}\r\n",
        n + 2,
        key.len()
    ));
    for i in 0..n {
        let item = format!("job-{i}");
        cmd.push_str(&format!("${}\r\n{item}\r\n", item.len()));
    }
    conn.write_all(cmd.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    // Two replies (:0/:1 and :n); reading once is enough to know both were processed in order.
    let _ = std::io::Read::read(&mut conn, &mut buf).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn ebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(args)
        .output()
        .unwrap()
}

fn manifests(list: &str) -> String {
    format!(
        r#"apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: orders, namespace: shop}}
spec:
  scaleTargetRef: {{name: worker}}
  triggers:
  - type: redis
    name: jobs
    metadata: {{listName: {list}, addressFromEnv: REDIS_ADDR, listLength: "5", activationListLength: "3"}}
  - type: redis
    metadata: {{listName: {list}, listLength: "2", activationListLength: "9"}}
    authenticationRef: {{name: redis-auth}}
"#
    )
}

fn secrets(addr: &str, password: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: redis, namespace: shop}}
stringData: {{address: "{addr}", password: "{password}"}}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {{name: redis-auth, namespace: shop}}
spec:
  secretTargetRef:
  - {{parameter: address, name: redis, key: address}}
"#
    )
}

#[test]
fn check_measures_each_trigger_with_env_and_auth_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let list = format!("ebb-cli-check-{}", std::process::id());
    seed_list(&list, 7);
    let so = write(dir.path(), "so.yaml", &manifests(&list));
    let auth = write(dir.path(), "auth.yaml", &secrets(&redis_addr(), "unused"));
    let env = write(
        dir.path(),
        "worker.env",
        &format!("# the worker's env\nREDIS_ADDR={}\n", redis_addr()),
    );
    let out = ebb(&[
        "check",
        "-f",
        so.to_str().unwrap(),
        "--secrets",
        auth.to_str().unwrap(),
        "--env-file",
        env.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // OBJECT(2 words) TRIGGER TYPE METRIC VALUE TARGET ACTIVATION ACTIVE LATENCY
    let metric = format!("s0-redis-{list}");
    assert_eq!(
        &rows[0][3..10],
        &["jobs", "redis", metric.as_str(), "7", "5", "3", "true"]
    );
    let metric = format!("s1-redis-{list}");
    assert_eq!(
        &rows[1][3..9],
        &["redis", metric.as_str(), "7", "2", "9", "false"]
    );
}

#[test]
fn offline_check_builds_without_measuring_and_failures_exit_1_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let so = write(dir.path(), "so.yaml", &manifests("ebb-cli-offline"));
    // Port 1 on loopback refuses connections; the password is a canary that must never print.
    let auth = write(dir.path(), "auth.yaml", &secrets("127.0.0.1:1", CANARY).replace(
        "  - {parameter: address, name: redis, key: address}",
        "  - {parameter: address, name: redis, key: address}\n  - {parameter: password, name: redis, key: password}",
    ));
    let env = write(dir.path(), "worker.env", "REDIS_ADDR=127.0.0.1:1\n");
    let args = [
        "check",
        "-f",
        so.to_str().unwrap(),
        "--secrets",
        auth.to_str().unwrap(),
        "--env-file",
        env.to_str().unwrap(),
    ];
    let offline = ebb(&[&args[..], &["--offline"]].concat());
    let stdout = String::from_utf8_lossy(&offline.stdout);
    assert!(offline.status.success(), "{stdout}");
    assert_eq!(stdout.matches("(offline)").count(), 2, "{stdout}");

    let online = ebb(&args);
    let stdout = String::from_utf8_lossy(&online.stdout);
    let stderr = String::from_utf8_lossy(&online.stderr);
    assert_eq!(online.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.matches("ERROR").count(), 2, "{stdout}");
    assert!(
        stdout.contains("trigger #0 jobs (redis): unreachable"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(CANARY) && !stderr.contains(CANARY),
        "secret leaked:\n{stdout}\n{stderr}"
    );
}

#[test]
fn an_invalid_manifest_is_refused_before_anything_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let so = write(
        dir.path(),
        "so.yaml",
        &manifests("x").replace("listLength: \"5\"", "listLength: lots"),
    );
    let out = ebb(&["check", "-f", so.to_str().unwrap(), "--offline"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!(
            "ERROR {}:doc#1 ScaledObject shop/orders: spec.triggers[0].metadata.listLength: \"lots\" is not a number",
            so.display()
        )
    );
}
