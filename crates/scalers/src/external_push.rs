//! `external-push` trigger: an `external` scaler whose `StreamIsActive` stream can activate the
//! ScaledObject immediately.
//!
//! Parameters as `external` (see [`crate::external`]). [`ExternalPushScaler::activations`] opens
//! the stream in a background task and yields one `()` per `IsActiveResponse{result: true}`
//! (`false` is ignored: deactivation comes from polling, as in KEDA). When the stream fails or
//! ends, it reconnects after 2 s, doubling to 60 s, reset after a message arrives.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::{ConfigError, MeasureError};
use crate::external::ExternalScaler;
use crate::metric::MetricSpec;
use crate::params::TriggerParams;
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "external-push";

/// First reconnect delay.
pub const BACKOFF_START: Duration = Duration::from_secs(2);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The `external-push` scaler.
#[derive(Debug)]
pub struct ExternalPushScaler {
    inner: std::sync::Arc<ExternalScaler>,
    stream_task: Mutex<Option<tokio::task::AbortHandle>>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(ExternalPushScaler::new(params, clients)?))
}

impl ExternalPushScaler {
    /// Builds the scaler (no network).
    pub fn new(params: &TriggerParams, clients: &Clients) -> Result<Self, ConfigError> {
        Ok(Self {
            inner: std::sync::Arc::new(ExternalScaler::new(params, clients, KIND)?),
            stream_task: Mutex::new(None),
        })
    }

    /// "Activate now" signals from `StreamIsActive`; must be called inside a tokio runtime.
    ///
    /// One stream per scaler: a second call replaces the first (its receiver then ends).
    pub fn activations(&self) -> mpsc::Receiver<()> {
        let (tx, rx) = mpsc::channel(16);
        let inner = self.inner.clone();
        let task = tokio::spawn(async move { stream_loop(&inner, tx).await });
        let mut slot = self
            .stream_task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = slot.replace(task.abort_handle()) {
            old.abort();
        }
        rx
    }
}

impl Drop for ExternalPushScaler {
    fn drop(&mut self) {
        let slot = self
            .stream_task
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(task) = slot.take() {
            task.abort();
        }
    }
}

async fn stream_loop(scaler: &ExternalScaler, tx: mpsc::Sender<()>) {
    let mut backoff = BACKOFF_START;
    loop {
        match open(scaler).await {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(r)) => {
                        backoff = BACKOFF_START;
                        if r.result && tx.send(()).await.is_err() {
                            return; // Nobody listens any more.
                        }
                    }
                    Ok(None) => {
                        tracing::info!(address = %scaler.config.key.address, "external-push: stream ended; reconnecting");
                        break;
                    }
                    Err(status) => {
                        let e = crate::external::grpc::from_status(
                            "external-push: StreamIsActive",
                            &status,
                        );
                        tracing::warn!(error = %e.full_message(), "external-push: stream failed; reconnecting");
                        break;
                    }
                }
            },
            Err(e) => {
                tracing::warn!(error = %e.full_message(), backoff_s = backoff.as_secs(), "external-push: cannot open stream");
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn open(
    scaler: &ExternalScaler,
) -> Result<tonic::Streaming<crate::external::proto::IsActiveResponse>, MeasureError> {
    let mut rpc = scaler.rpc()?;
    rpc.stream_is_active(scaler.config.scaled_object_proto())
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| crate::external::grpc::from_status("external-push: StreamIsActive", &s))
}

impl Scaler for ExternalPushScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        self.inner.metric_specs()
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        self.inner.measure(poll)
    }
}
