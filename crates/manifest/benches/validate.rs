//! Throughput of `ebb validate`'s work (parse + typed decode + every rule) on 10,000 ScaledObjects
//! in one file. Prints objects/s; the target is 20,000 objects/s on one core.
//!
//! Run: `cargo bench -p ebb-manifest --bench validate`

use std::fmt::Write;
use std::time::Instant;

const OBJECTS: usize = 10_000;
const TARGET_PER_SEC: f64 = 20_000.0;

fn corpus() -> String {
    let mut text = String::new();
    for i in 0..OBJECTS {
        let _ = write!(
            text,
            "---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: worker-{i}\n  namespace: load\n\
             spec:\n  scaleTargetRef:\n    name: worker-{i}\n  minReplicaCount: 0\n  maxReplicaCount: 20\n  cooldownPeriod: 120\n\
             \x20 triggers:\n  - type: rabbitmq\n    name: queue\n    metadata:\n      queueName: orders-{i}\n      mode: QueueLength\n\
             \x20     value: \"20\"\n    authenticationRef:\n      name: rabbit\n  - type: prometheus\n    name: rps\n    metadata:\n\
             \x20     serverAddress: http://prometheus.monitoring:9090\n      query: sum(rate(http_requests_total{{app=\"w{i}\"}}[1m]))\n\
             \x20     threshold: \"100\"\n"
        );
    }
    text
}

fn main() {
    let text = corpus();
    // Warm up once, then take the best of five runs (a busy machine only ever slows a run down).
    let mut best = f64::INFINITY;
    for _ in 0..6 {
        let start = Instant::now();
        let loaded = ebb_manifest::parse_text("bench.yaml", &text);
        let checked = ebb_manifest::check_documents(&loaded.documents);
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(checked.len(), OBJECTS);
        assert!(checked.iter().all(|c| c.is_valid()));
        best = best.min(secs);
    }
    let rate = OBJECTS as f64 / best;
    let met = if rate >= TARGET_PER_SEC {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "validate: {OBJECTS} ScaledObjects ({} MB) in {:.1} ms = {:.0} objects/s (target >= {:.0}: {met})",
        text.len() / 1_000_000,
        best * 1e3,
        rate,
        TARGET_PER_SEC
    );
}
