use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::*;
use crate::testutil::{self, measure_once, unique};

fn trigger(meta: &[(&str, &str)], auth: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 0, meta.iter().map(|(k, v)| (*k, *v)))
        .with_auth_params(auth.iter().map(|(k, v)| (*k, *v)))
}

#[test]
fn defaults_and_metric_name() {
    let c = Config::from_params(&trigger(
        &[
            ("account", "$G"),
            ("stream", "orders.v1"),
            ("consumer", "c"),
        ],
        &[("natsServerMonitoringEndpoint", "nats:8222")],
    ))
    .unwrap();
    assert_eq!(c.jsz_url, "http://nats:8222/jsz");
    assert_eq!(
        (c.account.as_str(), c.lag_threshold, c.activation),
        ("$G", 10, 0)
    );
    assert_eq!(c.metric_name, "s0-nats-jetstream-orders-v1");
    let c = Config::from_params(&trigger(
        &[
            ("natsServerMonitoringEndpoint", "n:8222"),
            ("account", "A"),
            ("accountID", "ID"),
            ("stream", "s"),
            ("consumer", "c"),
            ("useHttps", "true"),
        ],
        &[],
    ))
    .unwrap();
    assert_eq!(
        (c.account.as_str(), c.jsz_url.as_str()),
        ("ID", "https://n:8222/jsz")
    );
}

#[test]
fn parameter_rules_name_the_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("account", "a"), ("stream", "s"), ("consumer", "c")],
            "natsServerMonitoringEndpoint",
        ),
        (
            &[
                ("natsServerMonitoringEndpoint", "n:1"),
                ("stream", "s"),
                ("consumer", "c"),
            ],
            "account",
        ),
        (
            &[
                ("natsServerMonitoringEndpoint", "n:1"),
                ("account", "a"),
                ("consumer", "c"),
            ],
            "stream",
        ),
        (
            &[
                ("natsServerMonitoringEndpoint", "n:1"),
                ("account", "a"),
                ("stream", "s"),
            ],
            "consumer",
        ),
        (
            &[
                ("natsServerMonitoringEndpoint", "n:1"),
                ("account", "a"),
                ("stream", "s"),
                ("consumer", "c"),
                ("lagThreshold", "1.5"),
            ],
            "lagThreshold",
        ),
        (
            &[
                ("natsServerMonitoringEndpoint", "n:1"),
                ("account", "a"),
                ("stream", "s"),
                ("consumer", "c"),
                ("useHttps", "si"),
            ],
            "useHttps",
        ),
    ];
    for (meta, key) in cases {
        let err = Config::from_params(&trigger(meta, &[])).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{meta:?}: {err}");
    }
}

/// Just enough of the NATS protocol to call the JetStream API and publish with acks.
struct Nats {
    reader: BufReader<tokio::io::ReadHalf<TcpStream>>,
    writer: tokio::io::WriteHalf<TcpStream>,
    sid: u32,
}

impl Nats {
    async fn connect(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (r, w) = tokio::io::split(stream);
        let mut nats = Nats {
            reader: BufReader::new(r),
            writer: w,
            sid: 0,
        };
        let mut info = String::new();
        nats.reader.read_line(&mut info).await.unwrap();
        assert!(info.starts_with("INFO"), "{info}");
        nats.writer
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
            .await
            .unwrap();
        let mut pong = String::new();
        nats.reader.read_line(&mut pong).await.unwrap();
        assert!(pong.starts_with("PONG"), "{pong}");
        nats
    }

    /// Publishes `payload` to `subject` and returns the first reply.
    async fn request(&mut self, subject: &str, payload: &str) -> serde_json::Value {
        self.sid += 1;
        let inbox = format!("_INBOX.ebb.{}", self.sid);
        let msg = format!(
            "SUB {inbox} {sid}\r\nUNSUB {sid} 1\r\nPUB {subject} {inbox} {len}\r\n{payload}\r\n",
            sid = self.sid,
            len = payload.len()
        );
        self.writer.write_all(msg.as_bytes()).await.unwrap();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.unwrap();
            if line.starts_with("PING") {
                self.writer.write_all(b"PONG\r\n").await.unwrap();
                continue;
            }
            if let Some(rest) = line.strip_prefix("MSG ") {
                let len: usize = rest.split_whitespace().last().unwrap().parse().unwrap();
                let mut body = vec![0u8; len + 2];
                self.reader.read_exact(&mut body).await.unwrap();
                return serde_json::from_slice(&body[..len]).unwrap();
            }
            assert!(!line.starts_with("-ERR"), "{line}");
        }
    }
}

#[tokio::test]
async fn a_consumer_with_seven_pending_messages_reads_seven() {
    testutil::init();
    let nats_addr = testutil::host_port(&testutil::nats_url());
    let monitoring = testutil::nats_monitoring();
    testutil::require("NATS", &nats_addr).await;
    testutil::require("NATS monitoring (/jsz)", &monitoring).await;
    let mut nats = Nats::connect(&nats_addr).await;
    let stream = unique("EBB").replace('.', "_");
    let subject = format!("ebb.{stream}");
    let created = nats
        .request(
            &format!("$JS.API.STREAM.CREATE.{stream}"),
            &format!(r#"{{"name":"{stream}","subjects":["{subject}"],"storage":"memory"}}"#),
        )
        .await;
    assert!(created.get("error").is_none(), "stream create: {created}");
    let created = nats
        .request(
            &format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.worker"),
            &format!(r#"{{"stream_name":"{stream}","config":{{"durable_name":"worker","ack_policy":"explicit","deliver_policy":"all"}}}}"#),
        )
        .await;
    assert!(created.get("error").is_none(), "consumer create: {created}");
    for i in 0..7 {
        let ack = nats.request(&subject, &format!("job {i}")).await;
        assert_eq!(ack["stream"], stream.as_str(), "{ack}");
    }
    let meta = [
        ("natsServerMonitoringEndpoint", monitoring.as_str()),
        ("account", "$G"),
        ("stream", stream.as_str()),
        ("consumer", "worker"),
        ("activationLagThreshold", "6"),
    ];
    let m = measure_once(&trigger(&meta, &[])).await.unwrap();
    assert_eq!(m.values[0].value, 7.0);
    assert!(m.is_active);

    let missing = [
        ("natsServerMonitoringEndpoint", monitoring.as_str()),
        ("account", "$G"),
        ("stream", stream.as_str()),
        ("consumer", "nobody"),
    ];
    let err = measure_once(&trigger(&missing, &[])).await.unwrap_err();
    assert_eq!(err.reason(), crate::MeasureReason::NotFound);

    let deleted = nats
        .request(&format!("$JS.API.STREAM.DELETE.{stream}"), "")
        .await;
    assert_eq!(deleted["success"], true, "{deleted}");
}
