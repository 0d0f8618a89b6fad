//! The shared gRPC channel to an external scaler: one per (address, TLS settings), made lazily,
//! with TLS through the crate's one rustls + ring config (CA, client certificate, `unsafeSsl`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::tls::TlsSettings;

/// What a channel is built from; also its identity in the pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrpcKey {
    /// `scalerAddress` (`host:port`).
    pub address: String,
    /// TLS settings, when TLS is used.
    pub tls: Option<TlsSettings>,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

/// A lazily connected channel; tonic reconnects it after failures by itself.
#[derive(Debug)]
pub struct GrpcClient {
    key: GrpcKey,
    channel: OnceLock<Channel>,
}

impl GrpcClient {
    pub(crate) fn new(key: &GrpcKey) -> Result<Self, ConfigError> {
        if let Some(tls) = &key.tls {
            tls.check()?;
        }
        Ok(Self {
            key: key.clone(),
            channel: OnceLock::new(),
        })
    }

    /// The channel (made on first use, which must be inside a tokio runtime).
    pub(crate) fn channel(&self) -> Result<Channel, MeasureError> {
        if let Some(c) = self.channel.get() {
            return Ok(c.clone());
        }
        let channel = self.connect_lazy()?;
        Ok(self.channel.get_or_init(|| channel).clone())
    }

    fn connect_lazy(&self) -> Result<Channel, MeasureError> {
        let config_error =
            |m: String| MeasureError::new(MeasureReason::Config, format!("external: {m}"));
        // The URI only names the authority: the connector below does TCP and (optionally) TLS.
        let endpoint = Endpoint::from_shared(format!("http://{}", self.key.address))
            .map_err(|e| config_error(format!("scalerAddress {:?}: {e}", self.key.address)))?
            .connect_timeout(self.key.connect_timeout);
        let tls = match &self.key.tls {
            None => None,
            Some(settings) => {
                let mut config = settings
                    .client_config()
                    .map_err(|e| config_error(e.to_string()))?;
                config.alpn_protocols = vec![b"h2".to_vec()];
                Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
            }
        };
        let address = self.key.address.clone();
        let connector = tower::service_fn(move |_uri: http::Uri| {
            let (address, tls) = (address.clone(), tls.clone());
            async move {
                let tcp = tokio::net::TcpStream::connect(&address).await?;
                tcp.set_nodelay(true)?;
                let io: Box<dyn Io> = match tls {
                    None => Box::new(tcp),
                    Some(tls) => {
                        let host = address.rsplit_once(':').map(|(h, _)| h).unwrap_or(&address);
                        let host = host.trim_start_matches('[').trim_end_matches(']');
                        let name = rustls_pki_types::ServerName::try_from(host.to_owned())
                            .map_err(|e| {
                                std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
                            })?;
                        Box::new(tls.connect(name, tcp).await?)
                    }
                };
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(io))
            }
        });
        Ok(endpoint.connect_with_connector_lazy(connector))
    }
}

/// A plain or TLS stream.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// Classifies a gRPC status; the message is kept (external scalers write it for users).
pub(crate) fn from_status(what: &str, status: &tonic::Status) -> MeasureError {
    use tonic::Code;
    let reason = match status.code() {
        Code::Unavailable => MeasureReason::Unreachable,
        Code::DeadlineExceeded => MeasureReason::Timeout,
        Code::Unauthenticated | Code::PermissionDenied => MeasureReason::Unauthorized,
        Code::NotFound => MeasureReason::NotFound,
        _ => MeasureReason::BadResponse,
    };
    let message: String = status.message().chars().take(300).collect();
    MeasureError::new(reason, format!("{what}: {:?}: {message}", status.code()))
}
