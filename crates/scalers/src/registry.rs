//! `registry::ALL`: every trigger type Ebb knows, sorted by name.

use crate::error::ConfigError;
use crate::params::TriggerParams;
use crate::pool::Clients;
use crate::scaler::Scaler;

/// Builds a scaler from params, sharing clients through `Clients`. No network I/O.
pub type BuildFn = fn(&TriggerParams, &Clients) -> Result<Box<dyn Scaler>, ConfigError>;

/// One trigger type.
#[derive(Clone, Copy)]
pub struct ScalerKind {
    /// `trigger.type`.
    pub name: &'static str,
    /// Constructor.
    pub build: BuildFn,
}

impl std::fmt::Debug for ScalerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScalerKind")
            .field("name", &self.name)
            .finish()
    }
}

/// Every trigger type, sorted by name (a test keeps it sorted and unique).
pub const ALL: &[ScalerKind] = &[
    ScalerKind {
        name: crate::aws_sqs_queue::KIND,
        build: crate::aws_sqs_queue::build,
    },
    ScalerKind {
        name: crate::azure_eventhub::KIND,
        build: crate::azure_eventhub::build,
    },
    ScalerKind {
        name: crate::azure_queue::KIND,
        build: crate::azure_queue::build,
    },
    ScalerKind {
        name: crate::azure_servicebus::KIND,
        build: crate::azure_servicebus::build,
    },
    ScalerKind {
        name: crate::cpu_memory::CPU,
        build: crate::cpu_memory::build,
    },
    ScalerKind {
        name: crate::cron::KIND,
        build: crate::cron::build,
    },
    ScalerKind {
        name: crate::external::KIND,
        build: crate::external::build,
    },
    ScalerKind {
        name: crate::external_push::KIND,
        build: crate::external_push::build,
    },
    ScalerKind {
        name: crate::kafka::KIND,
        build: crate::kafka::build,
    },
    ScalerKind {
        name: crate::cpu_memory::MEMORY,
        build: crate::cpu_memory::build,
    },
    ScalerKind {
        name: crate::metrics_api::KIND,
        build: crate::metrics_api::build,
    },
    ScalerKind {
        name: crate::mysql::KIND,
        build: crate::mysql::build,
    },
    ScalerKind {
        name: crate::nats_jetstream::KIND,
        build: crate::nats_jetstream::build,
    },
    ScalerKind {
        name: crate::postgresql::KIND,
        build: crate::postgresql::build,
    },
    ScalerKind {
        name: crate::prometheus::KIND,
        build: crate::prometheus::build,
    },
    ScalerKind {
        name: crate::rabbitmq::KIND,
        build: crate::rabbitmq::build,
    },
    ScalerKind {
        name: crate::redis::KIND,
        build: crate::redis::build,
    },
    ScalerKind {
        name: crate::redis_streams::KIND,
        build: crate::redis_streams::build,
    },
    ScalerKind {
        name: crate::sqlite::KIND,
        build: crate::sqlite::build,
    },
];

/// The kind for `trigger_type`.
pub fn find(trigger_type: &str) -> Option<&'static ScalerKind> {
    ALL.binary_search_by(|k| k.name.cmp(trigger_type))
        .ok()
        .and_then(|i| ALL.get(i))
}

/// Builds the scaler for `params.trigger_type`.
pub fn build(params: &TriggerParams, clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    let kind = find(&params.trigger_type)
        .ok_or_else(|| ConfigError::UnknownTriggerType(params.trigger_type.clone()))?;
    (kind.build)(params, clients)
}

/// Validates a trigger without touching the network (`ebb validate`, `ebb check --offline`).
pub fn validate(params: &TriggerParams) -> Result<Vec<crate::metric::MetricSpec>, ConfigError> {
    // One set of (empty) pools for every offline check: building a scaler connects nothing, and
    // its pool entries die with it, so sharing them saves allocating pools per trigger.
    static OFFLINE: std::sync::LazyLock<Clients> = std::sync::LazyLock::new(Clients::new);
    build(params, &OFFLINE).map(|s| s.metric_specs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_sorted_and_unique() {
        for pair in ALL.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} must sort before {}",
                pair[0].name,
                pair[1].name
            );
        }
    }

    #[test]
    fn every_registered_kind_has_an_example_manifest() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scalers");
        for kind in ALL {
            let path = dir.join(format!("{}.yaml", kind.name));
            assert!(path.is_file(), "no example manifest at {}", path.display());
        }
    }

    #[test]
    fn unknown_trigger_types_are_config_errors() {
        let params = TriggerParams::new("kafka-ish", 0, [("a", "b")]);
        let err = build(&params, &Clients::new()).unwrap_err();
        assert_eq!(err.to_string(), r#"unknown trigger type "kafka-ish""#);
    }

    #[test]
    fn every_registered_kind_is_found_by_name() {
        for kind in ALL {
            assert_eq!(find(kind.name).map(|k| k.name), Some(kind.name));
        }
    }
}
