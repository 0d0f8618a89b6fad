//! Checkpoints in blob storage, laid out exactly as each Event Hubs SDK writes them.
//!
//! | strategy | container | blob | sequence number in |
//! |---|---|---|---|
//! | `azureFunction` (or no strategy, no container) | `azure-webjobs-eventhub` | `<ns fqdn>/<hub>/<cg>/<id>` | JSON `SequenceNumber` |
//! | `blobMetadata` | `blobContainer` | `<ns fqdn>/<hub>/<lower-case cg>/checkpoint/<id>` | metadata `sequencenumber` |
//! | `goSdk` | `blobContainer` | `<id>` | JSON `checkpoint.sequenceNumber` |
//! | `dapr` | `blobContainer` | `dapr-<hub>-<cg>-<id>` | JSON `checkpoint.sequenceNumber` |
//! | legacy (no strategy, a container) | `blobContainer` | `<cg>/<id>` | JSON `SequenceNumber` or `sequence_number` |

use std::sync::Arc;

use super::Config;
use crate::azure;
use crate::error::{MeasureError, MeasureReason};
use crate::http::HttpClient;
use crate::metric::path_escape;
use crate::poll::Poll;

/// The container Azure Functions keep checkpoints in.
pub const FUNCTIONS_CONTAINER: &str = "azure-webjobs-eventhub";

/// Which SDK's checkpoint layout to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Azure Functions' Event Hubs extension.
    AzureFunction,
    /// The current SDKs (.NET, Java, Python, JS) `BlobCheckpointStore`: blob metadata.
    BlobMetadata,
    /// Azure's Go SDK.
    GoSdk,
    /// Dapr's Event Hubs binding/pubsub.
    Dapr,
    /// The old `EventProcessorHost` layout.
    Legacy,
}

/// The blob name for `partition`.
pub fn blob_name(config: &Config, partition: &str) -> String {
    let (fqdn, hub, cg) = (&config.namespace.fqdn, &config.hub, &config.consumer_group);
    match config.strategy {
        Strategy::AzureFunction => format!("{fqdn}/{hub}/{cg}/{partition}"),
        Strategy::BlobMetadata => {
            format!("{fqdn}/{hub}/{}/checkpoint/{partition}", cg.to_lowercase())
        }
        Strategy::GoSdk => partition.to_owned(),
        Strategy::Dapr => format!("dapr-{hub}-{cg}-{partition}"),
        Strategy::Legacy => format!("{cg}/{partition}"),
    }
}

/// The checkpointed sequence number of `partition`; `None` when there is no checkpoint yet.
pub(crate) async fn read(
    poll: &Poll,
    client: &Arc<HttpClient>,
    config: &Config,
    partition: &str,
) -> Result<Option<i64>, MeasureError> {
    let blob = blob_name(config, partition);
    let path = format!(
        "{}/{}",
        path_escape(&config.container),
        blob.split('/')
            .map(path_escape)
            .collect::<Vec<_>>()
            .join("/")
    );
    let query = if config.strategy == Strategy::BlobMetadata {
        "comp=metadata"
    } else {
        ""
    };
    let response = match azure::storage_get(
        poll,
        client,
        &config.storage,
        &path,
        query,
        "azure-eventhub: reading checkpoint",
    )
    .await
    {
        Ok(r) => r,
        // No blob (or no container) yet: the consumer has not checkpointed.
        Err(e) if e.reason() == MeasureReason::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = |m: &str| {
        MeasureError::new(
            MeasureReason::BadResponse,
            format!("azure-eventhub: checkpoint {blob:?}: {m}"),
        )
    };
    if config.strategy == Strategy::BlobMetadata {
        // Header names are case-insensitive; some stores capitalise metadata names.
        return match response.header("x-ms-meta-sequencenumber") {
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| bad("sequencenumber is not an integer")),
            None => Ok(None),
        };
    }
    let json: serde_json::Value =
        serde_json::from_str(&response.body).map_err(|_| bad("not JSON"))?;
    sequence_number(config.strategy, &json)
        .map(Some)
        .ok_or_else(|| bad("no sequence number in it"))
}

/// The sequence number in a JSON checkpoint of `strategy`.
pub fn sequence_number(strategy: Strategy, json: &serde_json::Value) -> Option<i64> {
    let int = |v: &serde_json::Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    match strategy {
        Strategy::GoSdk | Strategy::Dapr => int(&json["checkpoint"]["sequenceNumber"]),
        Strategy::AzureFunction => int(&json["SequenceNumber"]),
        Strategy::Legacy => int(&json["SequenceNumber"]).or_else(|| int(&json["sequence_number"])),
        Strategy::BlobMetadata => None,
    }
}
