//! `/metrics` for Prometheus and `/explain/<kind>/<namespace>/<name>` for `ebb explain`: a minimal
//! HTTP/1.1 responder (one request per connection) over `ebb-telemetry`, which also answers
//! `/explain` for the operator, so both serve the same JSON.

use std::net::SocketAddr;
use std::sync::Arc;

use ebb_telemetry::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The port `ebb run --metrics-addr` examples use and `ebb explain` asks by default.
pub const DEFAULT_METRICS_PORT: u16 = 9464;

/// Binds `addr` now (so a taken port is an error at start), then serves in the background.
pub(crate) async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, metrics.clone()));
        }
    });
    Ok(local)
}

async fn answer(mut stream: TcpStream, metrics: Arc<Metrics>) {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // Read the request head (the body, if any, is ignored).
    while len < buf.len() {
        match stream.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let (status, content_type, body) = if path == "/metrics" || path.starts_with("/metrics?") {
        (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        )
    } else if let Some(a) = metrics.decisions().answer(path) {
        let status = match a.status {
            200 => "200 OK",
            400 => "400 Bad Request",
            _ => "404 Not Found",
        };
        (status, a.content_type, a.body)
    } else {
        (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics or /explain\n".to_owned(),
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ebb_core::scaled_object::{Observed, TriggerObservation, decide};
    use ebb_core::trace::DecisionRecord;
    use ebb_core::{ScaledObjectPolicy, TriggerResult, TriggerSpec};
    use ebb_telemetry::{BuildInfo, ObjectType};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn explain_is_served_beside_metrics() {
        let metrics = Arc::new(Metrics::new(&BuildInfo {
            version: "0".into(),
            git_commit: String::new(),
            toolchain: "rustc".into(),
        }));
        let policy = ScaledObjectPolicy {
            triggers: vec![TriggerSpec {
                metric_name: "s0-sqlite".into(),
                target: 5.0,
                ..TriggerSpec::default()
            }],
            ..ScaledObjectPolicy::default()
        };
        let now = jiff::Timestamp::from_second(1_767_225_600).unwrap();
        let observed = Observed {
            current_replicas: Some(0),
            ready_replicas: Some(0),
            triggers: vec![TriggerObservation::new(TriggerResult::value(37.0))],
            last_active_time: None,
            creation_time: now,
        };
        let d = decide(&policy, &observed, now);
        let record = DecisionRecord::scaled_object(&policy, Some(0), &d, now);
        metrics.record_decision(ObjectType::ScaledObject, "default", "worker", record);
        let addr = serve("127.0.0.1:0".parse().unwrap(), metrics)
            .await
            .unwrap();

        let ok = get(addr, "/explain/scaledobject/default/worker").await;
        assert!(
            ok.starts_with("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"),
            "{ok}"
        );
        let body = ok.split_once("\r\n\r\n").unwrap().1;
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            v["records"][0]["reason"],
            "scaled 0→1: trigger s0-sqlite active, 37 > 0"
        );
        let missing = get(addr, "/explain/so/default/other").await;
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );
        let bad = get(addr, "/explain/pod/default/x").await;
        assert!(bad.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{bad}");
        let text = get(addr, "/metrics").await;
        assert!(
            text.contains(r#"ebb_scaling_decisions_total{namespace="default",scaledObject="worker",type="scaledobject",outcome="activated"} 1"#),
            "{text}"
        );
    }
}
