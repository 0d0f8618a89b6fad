//! `external` trigger: metrics and activity from an external scaler over gRPC (KEDA's
//! `externalscaler.ExternalScaler` service, `proto/externalscaler.proto`).
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `scalerAddress` | M | required | `host:port` |
//! | `enableTLS` | M | `false` | TLS is also used whenever `caCert` or `tlsClientCert` is given |
//! | `unsafeSsl` | M | `false` | skip server certificate verification |
//! | `caCert`, `tlsClientCert`, `tlsClientKey` | A | — | PEM |
//! | any other key | M | | passed to the scaler in `ScaledObjectRef.scalerMetadata`; `<key>FromEnv` keys carry the resolved env value |
//!
//! `ScaledObjectRef.name` and `.namespace` are the owning object's ([`TriggerParams::scaled_object`]).
//!
//! Metric specs come from `GetMetricSpec` (fetched on the first measurement, cached; name
//! `s<i>-<metricName>`, target `targetSizeFloat` if > 0 else `targetSize`). Each measurement calls
//! `GetMetrics` with the unprefixed name, then `IsActive`; value `metricValueFloat` if > 0 else
//! `metricValue`; activity is `IsActive`'s result. Channels are shared per (address, TLS).
//! `external-push` (`crate::external_push`) adds `StreamIsActive`.

pub mod grpc;

/// Code generated from `proto/externalscaler.proto`.
#[allow(unreachable_pub, missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("externalscaler");
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};
use crate::secret::SecretString;
use crate::tls::TlsSettings;

pub use grpc::{GrpcClient, GrpcKey};
use proto::external_scaler_client::ExternalScalerClient;

/// The trigger type.
pub const KIND: &str = "external";

/// Parsed `external` / `external-push` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Channel identity.
    pub key: GrpcKey,
    /// `ScaledObjectRef` sent with every call.
    pub scaled_object: ScaledObjectRef,
    /// The trigger index (`s<i>-`).
    pub index: usize,
    /// Per-call timeout (the global HTTP timeout).
    pub timeout: Duration,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

/// The scaled object as the external scaler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScaledObjectRef {
    /// ScaledObject name.
    pub name: String,
    /// ScaledObject namespace.
    pub namespace: String,
    /// Trigger metadata with `FromEnv` values resolved.
    pub scaler_metadata: HashMap<String, String>,
}

impl ScaledObjectRef {
    fn to_proto(&self) -> proto::ScaledObjectRef {
        proto::ScaledObjectRef {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            scaler_metadata: self.scaler_metadata.clone(),
        }
    }
}

impl Config {
    pub(crate) fn scaled_object_proto(&self) -> proto::ScaledObjectRef {
        self.scaled_object.to_proto()
    }

    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let address: String = params.required("scalerAddress", order::M_)?;
        if address.contains("://") || !address.contains(':') {
            return Err(ConfigError::invalid(
                "scalerAddress",
                format!("{address:?} is not host:port"),
            ));
        }
        let enable_tls = params.with_default("enableTLS", order::M_, false)?;
        let insecure = params.with_default("unsafeSsl", order::M_, false)?;
        let ca: Option<String> = params.optional("caCert", order::A_)?;
        let cert: Option<String> = params.optional("tlsClientCert", order::A_)?;
        let key: Option<SecretString> = params.secret("tlsClientKey", order::A_);
        if cert.is_some() != key.is_some() {
            return Err(ConfigError::invalid(
                if cert.is_some() {
                    "tlsClientKey"
                } else {
                    "tlsClientCert"
                },
                "tlsClientCert and tlsClientKey must be given together",
            ));
        }
        let tls = (enable_tls || ca.is_some() || cert.is_some()).then_some(TlsSettings {
            ca,
            cert,
            key,
            insecure,
        });
        if let Some(tls) = &tls {
            tls.validate()?;
        }
        // KEDA passes the metadata on, with `<key>FromEnv` replaced by the resolved value.
        let mut scaler_metadata = HashMap::new();
        for (k, v) in &params.metadata {
            if k.ends_with("FromEnv") {
                if let Some(resolved) = params.resolved_env.get(v).filter(|r| !r.is_empty()) {
                    scaler_metadata.insert(k.clone(), resolved.clone());
                }
            } else {
                scaler_metadata.insert(k.clone(), v.clone());
            }
        }
        Ok(Self {
            key: GrpcKey {
                address,
                tls,
                connect_timeout: params.global_http_timeout,
            },
            // KEDA sends the owning object's name and namespace with every call.
            scaled_object: ScaledObjectRef {
                name: params.object_name.clone(),
                namespace: params.object_namespace.clone(),
                scaler_metadata,
            },
            index: params.index,
            timeout: params.global_http_timeout,
            target_type: params.external_target_type()?,
        })
    }
}

/// The `external` scaler (and the pull half of `external-push`).
#[derive(Debug)]
pub struct ExternalScaler {
    pub(crate) config: Config,
    pub(crate) client: Arc<GrpcClient>,
    kind: &'static str,
    /// Specs from the last successful `GetMetricSpec`.
    specs: Mutex<Vec<MetricSpec>>,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(ExternalScaler::new(params, clients, KIND)?))
}

impl ExternalScaler {
    /// Builds the scaler (no network).
    pub fn new(
        params: &TriggerParams,
        clients: &Clients,
        kind: &'static str,
    ) -> Result<Self, ConfigError> {
        let config = Config::from_params(params)?;
        let client = clients.grpc(&config.key)?;
        Ok(Self {
            config,
            client,
            kind,
            specs: Mutex::new(Vec::new()),
        })
    }

    /// Overrides the ScaledObject's name and namespace sent in `ScaledObjectRef` (normally taken
    /// from [`TriggerParams::scaled_object`]).
    pub fn with_scaled_object(
        mut self,
        name: impl Into<String>,
        namespace: impl Into<String>,
    ) -> Self {
        self.config.scaled_object.name = name.into();
        self.config.scaled_object.namespace = namespace.into();
        self
    }

    pub(crate) fn rpc(
        &self,
    ) -> Result<ExternalScalerClient<tonic::transport::Channel>, MeasureError> {
        Ok(ExternalScalerClient::new(self.client.channel()?))
    }

    async fn call<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, MeasureError> {
        match tokio::time::timeout(self.config.timeout, fut).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(status)) => Err(grpc::from_status(what, &status)),
            Err(_) => Err(MeasureError::new(
                MeasureReason::Timeout,
                format!("{what}: no answer within {:?}", self.config.timeout),
            )),
        }
    }

    /// Calls `GetMetricSpec` and caches the specs `metric_specs` returns.
    pub async fn refresh_specs(&self) -> Result<Vec<MetricSpec>, MeasureError> {
        let mut rpc = self.rpc()?;
        let response = self
            .call(
                "external: GetMetricSpec",
                rpc.get_metric_spec(self.config.scaled_object.to_proto()),
            )
            .await?;
        if response.metric_specs.is_empty() {
            return Err(MeasureError::new(
                MeasureReason::BadResponse,
                "external: got empty metric spec",
            ));
        }
        let specs: Vec<MetricSpec> = response
            .metric_specs
            .iter()
            .map(|s| {
                MetricSpec::external(
                    crate::metric::metric_name(self.config.index, &s.metric_name),
                    self.config.target_type,
                    if s.target_size_float > 0.0 {
                        TargetValue::Float(s.target_size_float)
                    } else {
                        TargetValue::Int(s.target_size)
                    },
                    0.0,
                )
            })
            .collect();
        *self.specs.lock().unwrap_or_else(PoisonError::into_inner) = specs.clone();
        Ok(specs)
    }

    /// `IsActive`.
    pub async fn is_active(&self) -> Result<bool, MeasureError> {
        let mut rpc = self.rpc()?;
        let r = self
            .call(
                "external: IsActive",
                rpc.is_active(self.config.scaled_object.to_proto()),
            )
            .await?;
        Ok(r.result)
    }

    /// `GetMetrics` for one metric (the name without `s<i>-`).
    async fn metric(&self, raw_name: &str) -> Result<f64, MeasureError> {
        let mut rpc = self.rpc()?;
        let request = proto::GetMetricsRequest {
            scaled_object_ref: Some(self.config.scaled_object.to_proto()),
            metric_name: raw_name.to_owned(),
        };
        let r = self
            .call("external: GetMetrics", rpc.get_metrics(request))
            .await?;
        let value = r.metric_values.first().ok_or_else(|| {
            MeasureError::new(
                MeasureReason::BadResponse,
                format!("external: no value for metric {raw_name:?}"),
            )
        })?;
        Ok(if value.metric_value_float > 0.0 {
            value.metric_value_float
        } else {
            value.metric_value as f64
        })
    }
}

impl Scaler for ExternalScaler {
    fn trigger_type(&self) -> &'static str {
        self.kind
    }

    /// The specs of the last successful `GetMetricSpec` (empty before the first measurement).
    fn metric_specs(&self) -> Vec<MetricSpec> {
        self.specs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn measure<'a>(&'a self, _poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let mut specs = self.metric_specs();
            if specs.is_empty() {
                specs = self.refresh_specs().await?;
            }
            let prefix = format!("s{}-", self.config.index);
            let mut values = Vec::with_capacity(specs.len());
            for spec in &specs {
                let raw = spec
                    .metric_name
                    .strip_prefix(&prefix)
                    .unwrap_or(&spec.metric_name);
                values.push(crate::metric::MetricValue {
                    metric_name: spec.metric_name.clone(),
                    value: self.metric(raw).await?,
                });
            }
            let is_active = self.is_active().await?;
            Ok(Measurement { values, is_active })
        })
    }
}

impl Clients {
    /// The shared gRPC channel for `key` (TLS material checked, nothing connected).
    pub fn grpc(&self, key: &GrpcKey) -> Result<Arc<GrpcClient>, ConfigError> {
        self.inner.grpc.get_or_create(key, GrpcClient::new)
    }
}

#[cfg(test)]
mod tests;
