//! Timing of validate's stages (development aid): `cargo run --release -p ebb-manifest --example stages`.
use std::time::Instant;
fn main() {
    let mut text = String::new();
    for i in 0..10000 {
        text.push_str(&format!("---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: worker-{i}\n  namespace: load\nspec:\n  scaleTargetRef:\n    name: worker-{i}\n  minReplicaCount: 0\n  maxReplicaCount: 20\n  cooldownPeriod: 120\n  triggers:\n  - type: rabbitmq\n    name: queue\n    metadata:\n      queueName: orders-{i}\n      mode: QueueLength\n      value: \"20\"\n    authenticationRef:\n      name: rabbit\n  - type: prometheus\n    name: rps\n    metadata:\n      serverAddress: http://prometheus.monitoring:9090\n      query: sum(rate(x[1m]))\n      threshold: \"100\"\n"));
    }
    for _ in 0..3 {
        let t = Instant::now();
        let loaded = ebb_manifest::parse_text("b", &text);
        let a = t.elapsed();
        let t = Instant::now();
        let c = ebb_manifest::check_documents(&loaded.documents);
        println!("parse+typed {a:?} check {:?} ({})", t.elapsed(), c.len());
    }
}
