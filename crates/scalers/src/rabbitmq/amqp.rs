//! RabbitMQ over AMQP 0-9-1: one shared connection per (URL, credentials, TLS), passive queue declare.
//!
//! TLS (an `amqps://` host, or `tls: enable`) goes through the crate's one rustls config
//! ([`TlsSettings::client_config`]: `ca`, client `cert`/`key`, `unsafeSsl`) on lapin's transport hook;
//! the port is the URL's (`amqp://` 5672, `amqps://` 5671), as KEDA's client dials. With a client
//! certificate and no password in the URL, the connection logs in with SASL EXTERNAL (the broker takes
//! the user from the certificate), as KEDA's does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};

use super::{Config, QueueInfo};
use crate::error::{MeasureError, MeasureReason};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::secret::SecretString;
use crate::tls::TlsSettings;

/// A shared AMQP connection's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AmqpKey {
    /// `amqp(s)://user:pass@host:port/<escaped vhost>` (secret).
    pub uri: SecretString,
    /// TLS settings when the connection uses TLS (`amqps://` or `tls: enable`).
    pub tls: Option<TlsSettings>,
    /// Connect / declare timeout.
    pub timeout: Duration,
}

impl AmqpKey {
    /// The connection identity for a parsed trigger.
    pub fn for_config(config: &Config) -> Self {
        let vhost = percent_encoding::utf8_percent_encode(
            &config.vhost,
            percent_encoding::NON_ALPHANUMERIC,
        );
        let uri = format!("{}/{vhost}", config.base_url.expose());
        let tls = if config.tls_enabled {
            Some(config.tls.clone())
        } else if uri.starts_with("amqps://") {
            // amqps without `tls: enable`: system roots, verification on (KEDA's plain Dial).
            Some(TlsSettings::default())
        } else {
            None
        };
        Self {
            uri: SecretString::new(uri),
            tls,
            timeout: config.timeout,
        }
    }
}

/// A shared, lazily (re)connected AMQP connection with one channel for passive declares.
pub struct AmqpClient {
    key: AmqpKey,
    connection_name: String,
    state: tokio::sync::Mutex<Option<(Connection, Channel)>>,
}

impl std::fmt::Debug for AmqpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpClient").finish_non_exhaustive()
    }
}

impl Drop for AmqpClient {
    fn drop(&mut self) {
        // The last trigger went: close the connection politely (needs a runtime; skip without one).
        if let Some((conn, _)) = self.state.get_mut().take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let _ = conn.close(200, "ebb: no triggers left".into()).await;
            });
        }
    }
}

impl Clients {
    /// The shared AMQP client for `key` (not connected yet).
    pub fn amqp(&self, key: &AmqpKey) -> Arc<AmqpClient> {
        match self.inner.amqp.get_or_create(key, |k| {
            Ok::<_, std::convert::Infallible>(AmqpClient {
                key: k.clone(),
                connection_name: self.inner.name.clone(),
                state: tokio::sync::Mutex::new(None),
            })
        }) {
            Ok(c) => c,
            Err(never) => match never {},
        }
    }
}

impl AmqpClient {
    /// A connected channel, reconnecting the connection or reopening the channel as needed.
    async fn channel(&self) -> Result<Channel, MeasureError> {
        let mut state = self.state.lock().await;
        if let Some((conn, channel)) = state.as_mut() {
            if channel.status().connected() {
                return Ok(channel.clone());
            }
            if conn.status().connected() {
                // A 404 on a passive declare closes the channel, not the connection.
                let fresh = conn
                    .create_channel()
                    .await
                    .map_err(|e| self.error("opening a channel", &e))?;
                *channel = fresh.clone();
                return Ok(fresh);
            }
        }
        let props = ConnectionProperties::default()
            .with_connection_name(self.connection_name.as_str().into());
        let connect = async {
            connect(&self.key, props)
                .await
                .map_err(|e| self.error("connecting", &e))
        };
        let conn = tokio::time::timeout(self.key.timeout, connect)
            .await
            .map_err(|_| {
                MeasureError::new(MeasureReason::Timeout, "rabbitmq: connecting timed out")
            })??;
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| self.error("opening a channel", &e))?;
        *state = Some((conn, channel.clone()));
        Ok(channel)
    }

    fn error(&self, doing: &str, e: &lapin::Error) -> MeasureError {
        let text = e.to_string();
        // Certificates refused either way (ours by the broker, the broker's by us) are auth failures.
        let tls_refused = [
            "invalid peer certificate",
            "CertificateRequired",
            "BadCertificate",
            "UnknownCA",
            "certificate required",
        ]
        .iter()
        .any(|t| text.contains(t));
        let reason = if text.contains("ACCESS_REFUSED")
            || text.contains("ACCESS-REFUSED")
            || text.contains("403")
            || tls_refused
        {
            MeasureReason::Unauthorized
        } else if text.contains("NOT_FOUND") || text.contains("NOT-FOUND") || text.contains("404") {
            MeasureReason::NotFound
        } else if matches!(
            e.kind(),
            lapin::ErrorKind::IOError(_) | lapin::ErrorKind::InvalidConnectionState(_)
        ) {
            MeasureReason::Unreachable
        } else if matches!(e.kind(), lapin::ErrorKind::ProtocolError(_)) {
            MeasureReason::BadResponse
        } else {
            MeasureReason::Unreachable
        };
        MeasureError::caused_by(
            reason,
            format!("rabbitmq (amqp): {doing}"),
            e,
            &[&self.key.uri],
        )
    }

    /// Whether this client currently holds an open connection.
    pub fn is_connected(&self) -> bool {
        self.state
            .try_lock()
            .map(|s| s.as_ref().is_some_and(|(c, _)| c.status().connected()))
            .unwrap_or(true)
    }
}

/// Ready messages in `queue` via a passive declare (rates are not available over AMQP).
pub(crate) async fn queue_info(
    poll: &Poll,
    client: &Arc<AmqpClient>,
    queue: &str,
) -> Result<QueueInfo, MeasureError> {
    let key = format!("amqp|{:p}|{queue}", Arc::as_ptr(client));
    poll.once(key, async {
        let channel = client.channel().await?;
        let declare = channel.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        );
        let declared = tokio::time::timeout(client.key.timeout, declare)
            .await
            .map_err(|_| {
                MeasureError::new(
                    MeasureReason::Timeout,
                    "rabbitmq (amqp): queue.declare timed out",
                )
            })?
            .map_err(|e| client.error(&format!("declaring queue {queue:?}"), &e))?;
        Ok(QueueInfo {
            messages: i64::from(declared.message_count()),
            ..QueueInfo::default()
        })
    })
    .await
}

/// Opens a connection for `key`: plain, or over TLS with Ebb's one rustls config through lapin's
/// transport hook (SASL EXTERNAL when a client certificate comes without a password). The scaler's
/// shared clients and the task-data source both connect through here.
pub(crate) async fn connect(
    key: &AmqpKey,
    props: ConnectionProperties,
) -> lapin::Result<Connection> {
    let Some(tls) = &key.tls else {
        return Connection::connect(key.uri.expose(), props).await;
    };
    let mut uri: lapin::uri::AMQPUri = key
        .uri
        .expose()
        .parse()
        .map_err(|_| lapin::Error::from(std::io::Error::other("host is not an AMQP URI")))?;
    if tls.cert.is_some() && uri.authority.userinfo.password.is_empty() {
        uri.query.auth_mechanism = Some(lapin::uri::SASLMechanism::External);
    }
    let config = tls
        .client_config()
        .map_err(|e| lapin::Error::from(std::io::Error::other(e.to_string())))?;
    let connector = lapin::tcp::RustlsConnector::from(Arc::new(config));
    let runtime = lapin::runtime::default_runtime()?;
    Connection::connector(
        uri,
        runtime,
        async move |uri, runtime| {
            let host = uri.authority.host.clone();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), uri.authority.port))
                    .await?
                    .collect();
            let plain = lapin::tcp::AsyncTcpStream::connect(&runtime, addrs).await?;
            // The host names the server for SNI and for certificate verification.
            Ok(plain.into_rustls(&connector, &host).await?)
        },
        props,
    )
    .await
}
