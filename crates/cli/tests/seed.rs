//! The seed scenarios of examples/seed/ run as written: image processing (a ScaledJob on an
//! `azure-queue` trigger) against Azurite on 127.0.0.1, with a second file overriding the example's
//! Secret and ConfigMap (later documents of the same name win).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Command;

const EBB: &str = env!("CARGO_BIN_EXE_ebb");

/// `EBB_*` service settings from the environment or /tmp/ebb-services/env.sh.
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

fn azurite_connection_string() -> String {
    service(
        "EBB_AZURITE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;",
    )
}

/// `ebb demo <args>` on the example's queue (`images`) in Azurite; returns its stdout.
fn demo(args: &[&str]) -> String {
    demo_on("images", args)
}

/// `ebb demo <args>` on `queue` in Azurite; returns its stdout.
fn demo_on(queue: &str, args: &[&str]) -> String {
    let out = Command::new(EBB)
        .arg("demo")
        .args(args)
        .args(["--azure-queue", queue])
        .env(
            "AZURE_STORAGE_CONNECTION_STRING",
            azurite_connection_string(),
        )
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "ebb demo {args:?}: {text}");
    text
}

#[test]
fn image_processing_runs_one_job_per_storage_queue_message_with_its_event_against_azurite() {
    let dir = tempfile::tempdir().unwrap();
    let processed = dir.path().join("processed.txt");
    let overrides = dir.path().join("azurite.yaml");
    std::fs::write(
        &overrides,
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: image-processing-storage, namespace: default}}\n\
             stringData:\n  connection: \"{}\"\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: image-processing-config, namespace: default}}\n\
             data:\n  processed-log: \"{}\"\n",
            azurite_connection_string(),
            processed.display()
        ),
    )
    .unwrap();
    // The dead-letter queue the example names exists (empty); nothing should land in it.
    demo_on(
        "images-poison",
        &[
            "produce", "--reset", "--burst", "0", "--rate", "0", "--for", "0s", "--exit",
        ],
    );
    let produced = demo(&[
        "produce", "--reset", "--burst", "6", "--rate", "0", "--for", "0s", "--exit",
    ]);
    // The producer names messages `<its replica name>-1` … `-6`.
    let producer = produced.split(':').next().unwrap().trim().to_owned();

    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/seed/image-processing/"
    );
    let out = Command::new(EBB)
        .args(["run", "--plain", "--for", "12s", "-f", example, "-f"])
        .arg(&overrides)
        // Task data journals of this run only.
        .env("EBB_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");

    // maxReplicaCount 4, queueLength 1, 6 messages: 4 Jobs, then 2 once those completed.
    let created: Vec<u32> = text
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
    assert_eq!(created, vec![4, 2], "{text}");
    assert_eq!(text.matches(": Complete (exit 0)").count(), 6, "{text}");
    assert!(!text.contains(": Failed"), "{text}");

    // Task data: each Job took its own message (the run says so) and saw it in $KEDA_TASK_DATA.
    assert!(
        text.contains("task data from spec.triggers[0] (azure-queue), 3 attempt(s) per message"),
        "{text}"
    );
    assert!(!text.contains("WARNING"), "{text}");
    assert!(!text.contains("ERROR"), "{text}");

    // Each message processed exactly once, by the Job created for it.
    let lines: Vec<String> = std::fs::read_to_string(&processed)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    let ids: BTreeSet<&str> = lines.iter().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(ids.len(), 6, "{lines:?}");
    let texts: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| l.split(' ').nth(1).map(str::to_owned))
        .collect();
    let expected: BTreeSet<String> = (1..=6).map(|n| format!("{producer}-{n}")).collect();
    assert_eq!(texts, expected, "{lines:?}");

    // The queue ends empty (every message was deleted once its Job existed), and so does the
    // dead-letter queue: a last worker finds nothing in either.
    let last = demo(&["work", "--once", "--per-second", "1000"]);
    assert!(last.contains("the queue stayed empty"), "{last}");
    let poison = demo_on("images-poison", &["work", "--once", "--per-second", "1000"]);
    assert!(poison.contains("the queue stayed empty"), "{poison}");
}
