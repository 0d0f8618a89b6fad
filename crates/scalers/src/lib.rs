//! Scalers: the `Scaler` trait, trigger parameters, the registry and one module per trigger type.
//!
//! Plain data in (`TriggerParams`), metric specs and measurements out. This crate never talks to
//! the Kubernetes API: the operator and the CLI resolve env and TriggerAuthentication first.
//! `Config::from_params` of every scaler is pure; the first network I/O happens in `measure`.

pub mod azure;
pub mod error;
pub mod http;
pub mod metric;
pub mod params;
pub mod poll;
pub mod pool;
pub mod registry;
pub mod scaler;
pub mod secret;
pub mod task;
pub mod tls;

#[cfg(test)]
mod testutil;

pub mod aws_sqs_queue;
pub mod azure_eventhub;
pub mod azure_queue;
pub mod azure_servicebus;
pub mod cpu_memory;
pub mod cron;
pub mod external;
pub mod external_push;
pub mod kafka;
pub mod metrics_api;
pub mod mysql;
pub mod nats_jetstream;
pub mod postgresql;
pub mod prometheus;
pub mod rabbitmq;
pub mod redis;
pub mod redis_streams;
// Ebb only (local mode's embedded queue), not a KEDA trigger type.
pub mod sqlite;

pub use error::{ConfigError, MeasureError, MeasureReason};
pub use metric::{MetricSource, MetricSpec, MetricTargetType, MetricValue, TargetValue};
pub use params::{Source, TriggerParams};
pub use poll::Poll;
pub use pool::Clients;
pub use registry::ScalerKind;
pub use scaler::{BoxFuture, Measurement, Scaler};
pub use secret::SecretString;
