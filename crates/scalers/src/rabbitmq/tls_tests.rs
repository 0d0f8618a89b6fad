//! `rabbitmq` over AMQP with TLS, against the second node `scripts/services` starts (`rabbitmq-tls`:
//! amqps on 127.0.0.1:5671 only, `verify_peer` with `fail_if_no_peer_cert`, certificates from the
//! script's own CA). Messages are published with lapin's own TLS client, independent of the scaler's.

// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::*;
use crate::error::MeasureReason;
use crate::testutil::{self, CANARY, assert_no_canary, endpoint, measure_once, unique};

/// The TLS node's URL and PEM material (read from the files `scripts/services env` names).
struct TlsNode {
    url: String,
    ca: String,
    cert: String,
    key: String,
    encrypted_key: String,
    key_password: String,
}

async fn node() -> TlsNode {
    testutil::init();
    let url = endpoint(
        "EBB_RABBITMQ_TLS_URL",
        "amqps://guest:guest@127.0.0.1:5671/%2f",
    );
    testutil::require(
        "RabbitMQ TLS node (rabbitmq-tls)",
        &testutil::host_port(&url),
    )
    .await;
    let dir = "/tmp/ebb-services/rabbitmq-tls/certs";
    let read = |var: &str, file: &str| {
        let path = endpoint(var, &format!("{dir}/{file}"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    TlsNode {
        ca: read("EBB_RABBITMQ_TLS_CA_FILE", "ca.pem"),
        cert: read("EBB_RABBITMQ_TLS_CERT_FILE", "client.pem"),
        key: read("EBB_RABBITMQ_TLS_KEY_FILE", "client.key"),
        encrypted_key: read("EBB_RABBITMQ_TLS_ENCRYPTED_KEY_FILE", "client.key.enc"),
        key_password: endpoint("EBB_RABBITMQ_TLS_KEY_PASSWORD", "ebb-key-password"),
        url,
    }
}

/// Declares `queue` on the TLS node and publishes `n` confirmed messages.
async fn publish(node: &TlsNode, queue: &str, n: usize) -> Connection {
    let tls = OwnedTLSConfig {
        identity: Some(OwnedIdentity::PKCS8 {
            pem: node.cert.clone().into_bytes(),
            key: node.key.clone().into_bytes(),
        }),
        cert_chain: Some(node.ca.clone()),
    };
    let conn = Connection::connect_with_config(
        &node.url,
        ConnectionProperties::default(),
        tls,
        lapin::runtime::default_runtime().unwrap(),
    )
    .await
    .expect("publisher connects to the TLS node");
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    for i in 0..n {
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                format!("m{i}").as_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }
    conn
}

async fn delete(conn: &Connection, queue: &str) {
    let ch = conn.create_channel().await.unwrap();
    ch.queue_delete(queue.into(), Default::default())
        .await
        .unwrap();
}

fn trigger(queue: &str, host: &str, auth: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(
        KIND,
        0,
        [
            ("queueName", queue),
            ("host", host),
            ("activationValue", "22"),
        ],
    )
    .with_auth_params(auth.iter().copied())
}

#[tokio::test]
async fn amqps_reads_the_exact_queue_length_with_a_client_certificate() {
    let node = node().await;
    let queue = unique("ebb.tls");
    let conn = publish(&node, &queue, 23).await;
    let tls = [
        ("tls", "enable"),
        ("ca", node.ca.as_str()),
        ("cert", node.cert.as_str()),
        ("key", node.key.as_str()),
    ];
    let encrypted = [
        ("tls", "enable"),
        ("ca", node.ca.as_str()),
        ("cert", node.cert.as_str()),
        ("key", node.encrypted_key.as_str()),
        ("keyPassword", node.key_password.as_str()),
    ];
    let no_password = node.url.replacen("guest:guest@", "", 1);
    let plain_scheme = node.url.replacen("amqps://", "amqp://", 1);
    let cases: [(&str, &str, &[(&str, &str)]); 4] = [
        ("guest/guest over TLS", &node.url, &tls),
        ("encrypted PKCS#8 key", &node.url, &encrypted),
        // No password in the URL: SASL EXTERNAL, the user is the certificate's CN (ebb-client).
        ("SASL EXTERNAL", &no_password, &tls),
        // tls: enable on an amqp:// URL with an explicit port: TLS on that port, as KEDA dials.
        ("amqp:// with tls: enable", &plain_scheme, &tls),
    ];
    for (what, host, auth) in cases {
        let m = measure_once(&trigger(&queue, host, auth))
            .await
            .unwrap_or_else(|e| panic!("{what}: {}", e.full_message()));
        assert_eq!(m.values[0].value, 23.0, "{what}");
        assert!(m.is_active, "{what}: 23 > 22");
    }
    delete(&conn, &queue).await;
}

/// A CA that signed nothing the node presents.
fn stranger_ca() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

#[tokio::test]
async fn a_wrong_ca_or_a_missing_client_certificate_is_refused_without_secrets() {
    let node = node().await;
    let queue = unique("ebb.tls");
    let conn = publish(&node, &queue, 3).await;
    let with_canary = node
        .url
        .replacen("guest:guest@", &format!("guest:{CANARY}@"), 1);
    let wrong_ca = stranger_ca();
    // The server's certificate does not chain to the CA we were given.
    let err = measure_once(&trigger(
        &queue,
        &with_canary,
        &[
            ("tls", "enable"),
            ("ca", wrong_ca.as_str()),
            ("cert", node.cert.as_str()),
            ("key", node.key.as_str()),
        ],
    ))
    .await
    .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    // No client certificate: the node ends the handshake.
    let err = measure_once(&trigger(
        &queue,
        &with_canary,
        &[("tls", "enable"), ("ca", node.ca.as_str())],
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            err.reason(),
            MeasureReason::Unauthorized | MeasureReason::Unreachable
        ),
        "{:?}: {}",
        err.reason(),
        err.full_message()
    );
    assert_no_canary(&err);
    // A wrong password over a good TLS connection.
    let err = measure_once(&trigger(
        &queue,
        &with_canary,
        &[
            ("tls", "enable"),
            ("ca", node.ca.as_str()),
            ("cert", node.cert.as_str()),
            ("key", node.key.as_str()),
        ],
    ))
    .await
    .unwrap_err();
    assert_eq!(err.reason(), MeasureReason::Unauthorized);
    assert_no_canary(&err);
    // unsafeSsl skips the server check: the wrong CA no longer matters.
    let mut insecure = trigger(
        &queue,
        &node.url,
        &[
            ("tls", "enable"),
            ("ca", wrong_ca.as_str()),
            ("cert", node.cert.as_str()),
            ("key", node.key.as_str()),
        ],
    );
    insecure.metadata.insert("unsafeSsl".into(), "true".into());
    let m = measure_once(&insecure).await.unwrap();
    assert_eq!(m.values[0].value, 3.0);
    delete(&conn, &queue).await;
}

#[test]
fn amqp_tls_parameters() {
    let c = Config::from_params(&trigger(
        "q",
        "amqps://u:p@h/%2f",
        &[("tls", "enable"), ("cert", "x"), ("key", "y")],
    ));
    // The PEM is checked when the config is read; the error names the key, never its value.
    let err = c.unwrap_err();
    assert_eq!(err.key(), Some("cert"), "{err}");
    let err = Config::from_params(&trigger(
        "q",
        "amqps://u:p@h/%2f",
        &[("tls", "enable"), ("key", CANARY)],
    ))
    .unwrap_err();
    assert_eq!(err.key(), Some("cert"));
    assert!(!format!("{err} {err:?}").contains(CANARY));
    // amqps without `tls: enable` still uses TLS (system roots).
    let c = Config::from_params(&trigger("q", "amqps://u:p@h/%2f", &[])).unwrap();
    let key = amqp::AmqpKey::for_config(&c);
    assert_eq!(key.tls, Some(crate::tls::TlsSettings::default()));
    let c = Config::from_params(&trigger("q", "amqp://u:p@h/%2f", &[])).unwrap();
    assert_eq!(amqp::AmqpKey::for_config(&c).tls, None);
}
