//! `azure-eventhub`: checkpoints from real blobs in Azurite (`scripts/services start`), partition
//! metadata from a recorded-response server.
//!
//! No Event Hubs server can run on this machine, so the runtime REST half is served by a small axum
//! server on 127.0.0.1 returning the documented Atom shapes of "get event hub" and "get partition
//! runtime metadata" (`EventHubDescription`/`PartitionIds`, `PartitionDescription`/
//! `BeginSequenceNumber`/`EndSequenceNumber`). The test only changes `Config.namespace.base_url`;
//! requests, SAS signing and parsing are the production code.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use super::*;
use crate::azure::testing;
use crate::error::MeasureReason;
use crate::testutil::{self, CANARY, assert_no_canary, unique};

const NS: &str = "ebbns.servicebus.windows.net";
const HUB: &str = "pages";
/// (begin, end) per partition: 0 has 100 events, 1 has 50, 2 is empty, 3 retains 100..=200.
const PARTITIONS: [(i64, i64); 4] = [(0, 99), (0, 49), (0, -1), (100, 200)];

fn hub_xml(ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|i| format!("<d2p1:string>{i}</d2p1:string>"))
        .collect();
    format!(
        r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>https://{NS}/{HUB}?api-version=2014-01</id><title type="text">{HUB}</title><updated>2026-11-28T00:00:00Z</updated><author><name>ebbns</name></author><link rel="self" href="https://{NS}/{HUB}?api-version=2014-01"/><content type="application/xml"><EventHubDescription xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><MessageRetentionInDays>1</MessageRetentionInDays><AuthorizationRules/><Status>Active</Status><CreatedAt>2026-11-01T00:00:00Z</CreatedAt><UpdatedAt>2026-11-01T00:00:00Z</UpdatedAt><PartitionCount>{}</PartitionCount><PartitionIds xmlns:d2p1="http://schemas.microsoft.com/2003/10/Serialization/Arrays">{ids}</PartitionIds></EventHubDescription></content></entry>"#,
        ids.len()
    )
}

fn partition_xml(id: &str, begin: i64, end: i64) -> String {
    format!(
        r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>https://{NS}/{HUB}/consumergroups/$Default/partitions/{id}?api-version=2014-01</id><title type="text">{id}</title><updated>2026-11-28T00:00:00Z</updated><author><name>ebbns</name></author><link rel="self" href="https://{NS}/{HUB}/consumergroups/$Default/partitions/{id}?api-version=2014-01"/><content type="application/xml"><PartitionDescription xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><SizeInBytes>12345</SizeInBytes><BeginSequenceNumber>{begin}</BeginSequenceNumber><EndSequenceNumber>{end}</EndSequenceNumber><IncomingBytesPerSecond>0</IncomingBytesPerSecond><OutgoingBytesPerSecond>0</OutgoingBytesPerSecond><LastEnqueuedOffset>4096</LastEnqueuedOffset><LastEnqueuedTimeUtc>2026-11-28T00:00:00Z</LastEnqueuedTimeUtc></PartitionDescription></content></entry>"#
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("SharedAccessSignature sr=") && v.contains("&skn=listen"))
}

/// The recorded-response Event Hubs runtime server; returns its base URL.
async fn runtime_server() -> String {
    async fn hub(Path(name): Path<String>, headers: HeaderMap) -> (StatusCode, String) {
        if !authorized(&headers) {
            return (
                StatusCode::UNAUTHORIZED,
                "<Error><Code>401</Code><Detail>InvalidSignature</Detail></Error>".into(),
            );
        }
        if name != HUB {
            return (
                StatusCode::NOT_FOUND,
                "<Error><Code>404</Code><Detail>Not found</Detail></Error>".into(),
            );
        }
        (StatusCode::OK, hub_xml(&["0", "1", "2", "3"]))
    }
    async fn partition(
        Path((_hub, _cg, id)): Path<(String, String, String)>,
        headers: HeaderMap,
        State(()): State<()>,
    ) -> (StatusCode, String) {
        if !authorized(&headers) {
            return (StatusCode::UNAUTHORIZED, String::new());
        }
        let i: usize = id.parse().unwrap();
        let (b, e) = PARTITIONS[i];
        (StatusCode::OK, partition_xml(&id, b, e))
    }
    let router = axum::Router::new()
        .route("/{hub}", get(hub))
        .route("/{hub}/consumergroups/{cg}/partitions/{id}", get(partition))
        .with_state(());
    format!("http://{}", testutil::serve(router).await)
}

fn trigger(meta: &[(&str, &str)], key_name: &str) -> TriggerParams {
    let connection = format!(
        "Endpoint=sb://{NS}/;SharedAccessKeyName={key_name};SharedAccessKey={CANARY};EntityPath={HUB}"
    );
    TriggerParams::new(KIND, 0, meta.iter().map(|(k, v)| (*k, *v))).with_auth_params([
        ("connection", connection),
        ("storageConnection", testing::connection_string()),
    ])
}

async fn scaler(meta: &[(&str, &str)], key_name: &str) -> AzureEventHubScaler {
    let mut config = Config::from_params(&trigger(meta, key_name)).unwrap();
    config.namespace.base_url = runtime_server().await;
    AzureEventHubScaler::with_config(config, &Clients::new()).unwrap()
}

async fn put_blob(container: &str, name: &str, body: &str, metadata: &[(&str, &str)]) {
    let mut headers = vec![("x-ms-blob-type", "BlockBlob")];
    headers.extend_from_slice(metadata);
    let path: Vec<String> = name.split('/').map(crate::metric::path_escape).collect();
    let url = format!(
        "{}/{container}/{}",
        testing::blob_endpoint(),
        path.join("/")
    );
    testing::request("PUT", &url, &headers, body).await;
}

async fn new_container() -> String {
    testing::require().await;
    let name = unique("ebbcp").replace('_', "-").to_ascii_lowercase();
    testing::request(
        "PUT",
        &format!("{}/{name}?restype=container", testing::blob_endpoint()),
        &[],
        "",
    )
    .await;
    name
}

/// Checkpoints 89 on partition 0 and 150 on partition 3 ⇒ 10 + 50 + 0 + 50 = 110.
async fn assert_110(meta: &[(&str, &str)]) {
    let s = scaler(meta, "listen").await;
    let per = s.unprocessed(&Poll::new()).await.unwrap();
    assert_eq!(
        per,
        vec![
            ("0".into(), 10),
            ("1".into(), 50),
            ("2".into(), 0),
            ("3".into(), 50)
        ],
        "{meta:?}"
    );
    let m = s.measure(&Poll::new()).await.unwrap();
    assert_eq!(m.values[0].value, 110.0);
    assert_eq!(m.values[0].metric_name, "s0-azure-eventhub-$Default");
}

#[test]
fn strategies_pick_containers_and_blob_names() {
    let cases = [
        (
            vec![],
            Strategy::AzureFunction,
            "azure-webjobs-eventhub",
            "ebbns.servicebus.windows.net/pages/$Default/3",
        ),
        (
            vec![("blobContainer", "c")],
            Strategy::Legacy,
            "c",
            "$Default/3",
        ),
        (
            vec![
                ("blobContainer", "c"),
                ("checkpointStrategy", "blobMetadata"),
            ],
            Strategy::BlobMetadata,
            "c",
            "ebbns.servicebus.windows.net/pages/$default/checkpoint/3",
        ),
        (
            vec![("blobContainer", "c"), ("checkpointStrategy", "goSdk")],
            Strategy::GoSdk,
            "c",
            "3",
        ),
        (
            vec![("blobContainer", "c"), ("checkpointStrategy", "dapr")],
            Strategy::Dapr,
            "c",
            "dapr-pages-$Default-3",
        ),
        (
            vec![
                ("checkpointStrategy", "azureFunction"),
                ("blobContainer", "ignored"),
            ],
            Strategy::AzureFunction,
            "azure-webjobs-eventhub",
            "ebbns.servicebus.windows.net/pages/$Default/3",
        ),
    ];
    for (meta, strategy, container, blob) in cases {
        let c = Config::from_params(&trigger(&meta, "listen")).unwrap();
        assert_eq!(
            (c.strategy, c.container.as_str()),
            (strategy, container),
            "{meta:?}"
        );
        assert_eq!(checkpoint::blob_name(&c, "3"), blob);
    }
    let err =
        Config::from_params(&trigger(&[("checkpointStrategy", "goSdk")], "listen")).unwrap_err();
    assert_eq!(err.key(), Some("blobContainer"));
    let err =
        Config::from_params(&trigger(&[("unprocessedEventThreshold", "0")], "listen")).unwrap_err();
    assert_eq!(err.key(), Some("unprocessedEventThreshold"));
    let p = TriggerParams::new(KIND, 0, [("x", "y")]).with_auth_params([
        (
            "connection",
            "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=b",
        ),
        ("storageConnection", "AccountName=a;AccountKey=b"),
    ]);
    assert_eq!(
        Config::from_params(&p).unwrap_err().key(),
        Some("eventHubName")
    );
}

#[test]
fn unprocessed_events_follow_keda() {
    let info = |beginning, last| PartitionInfo { beginning, last };
    assert_eq!(unprocessed(info(0, -1), Some(5), 10000), 0);
    assert_eq!(unprocessed(info(0, 0), None, 10000), 1);
    assert_eq!(unprocessed(info(5, 5), None, 10000), 0);
    assert_eq!(unprocessed(info(0, 49), None, 10000), 50);
    assert_eq!(unprocessed(info(0, 99), Some(89), 10000), 10);
    // Wrap-around, and a wrap-around that is really stale partition info.
    assert_eq!(unprocessed(info(0, 5), Some(i64::MAX - 10), 0), 15);
    assert_eq!(unprocessed(info(0, 5), Some(10), 10000), 0);
}

#[tokio::test]
async fn azure_functions_checkpoints() {
    testutil::init();
    testing::require().await;
    // The Functions container and blob names are fixed by the layout: this test owns
    // `ebbns.servicebus.windows.net/pages/$Default/*` in it (re-runs overwrite the same blobs).
    let _ = testing::try_request(
        "PUT",
        &format!("{}/{FUNCTIONS}?restype=container", testing::blob_endpoint()),
    )
    .await;
    put_blob(
        FUNCTIONS,
        &format!("{NS}/{HUB}/$Default/0"),
        r#"{"Offset":"1","SequenceNumber":89,"PartitionId":"0","Owner":"w","Token":"t","Epoch":1}"#,
        &[],
    )
    .await;
    put_blob(FUNCTIONS, &format!("{NS}/{HUB}/$Default/3"), r#"{"Offset":"2","SequenceNumber":150,"PartitionId":"3","Owner":"w","Token":"t","Epoch":1}"#, &[]).await;
    assert_110(&[]).await;
    assert_110(&[("checkpointStrategy", "azureFunction")]).await;
}
const FUNCTIONS: &str = checkpoint::FUNCTIONS_CONTAINER;

#[tokio::test]
async fn blob_metadata_checkpoints() {
    testutil::init();
    let c = new_container().await;
    put_blob(
        &c,
        &format!("{NS}/{HUB}/$default/checkpoint/0"),
        "",
        &[
            ("x-ms-meta-sequencenumber", "89"),
            ("x-ms-meta-offset", "1"),
        ],
    )
    .await;
    put_blob(
        &c,
        &format!("{NS}/{HUB}/$default/checkpoint/3"),
        "",
        &[("x-ms-meta-Sequencenumber", "150")],
    )
    .await;
    assert_110(&[
        ("blobContainer", &c),
        ("checkpointStrategy", "blobMetadata"),
    ])
    .await;
}

#[tokio::test]
async fn go_sdk_and_dapr_checkpoints() {
    testutil::init();
    let c = new_container().await;
    put_blob(&c, "0", r#"{"partitionId":"0","epoch":1,"owner":"o","checkpoint":{"offset":"1","sequenceNumber":89,"enqueueTime":"2026-11-28T00:00:00Z"},"state":"available","token":"t"}"#, &[]).await;
    put_blob(&c, "3", r#"{"partitionId":"3","epoch":1,"owner":"o","checkpoint":{"offset":"2","sequenceNumber":150,"enqueueTime":"2026-11-28T00:00:00Z"},"state":"available","token":"t"}"#, &[]).await;
    assert_110(&[("blobContainer", &c), ("checkpointStrategy", "goSdk")]).await;
    let d = new_container().await;
    put_blob(
        &d,
        &format!("dapr-{HUB}-$Default-0"),
        r#"{"partitionId":"0","checkpoint":{"sequenceNumber":89}}"#,
        &[],
    )
    .await;
    put_blob(
        &d,
        &format!("dapr-{HUB}-$Default-3"),
        r#"{"partitionId":"3","checkpoint":{"sequenceNumber":150}}"#,
        &[],
    )
    .await;
    assert_110(&[("blobContainer", &d), ("checkpointStrategy", "dapr")]).await;
}

#[tokio::test]
async fn legacy_checkpoints_in_dotnet_and_python_shapes() {
    testutil::init();
    let c = new_container().await;
    put_blob(
        &c,
        "$Default/0",
        r#"{"PartitionId":"0","Owner":"o","Token":"t","Epoch":1,"Offset":"1","SequenceNumber":89}"#,
        &[],
    )
    .await;
    put_blob(&c, "$Default/3", r#"{"partition_id":"3","owner":"o","token":"t","epoch":1,"offset":"2","sequence_number":150}"#, &[]).await;
    assert_110(&[("blobContainer", &c)]).await;
}

#[tokio::test]
async fn the_partition_cap_and_activation_use_keda_rules() {
    testutil::init();
    let c = new_container().await;
    // No checkpoints at all: 100 + 50 + 0 + 101.
    let s = scaler(
        &[
            ("blobContainer", &c),
            ("checkpointStrategy", "goSdk"),
            ("unprocessedEventThreshold", "10"),
            ("activationUnprocessedEventThreshold", "250"),
        ],
        "listen",
    )
    .await;
    let m = s.measure(&Poll::new()).await.unwrap();
    // 251 / 10 > 4 partitions ⇒ 4 × 10; activity uses the uncapped total (251 > 250).
    assert_eq!(m.values[0].value, 40.0);
    assert!(m.is_active);
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_a_missing_hub_not_found() {
    testutil::init();
    let c = new_container().await;
    let s = scaler(
        &[("blobContainer", &c), ("checkpointStrategy", "goSdk")],
        "wrong",
    )
    .await;
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);

    let mut config = Config::from_params(&trigger(
        &[
            ("blobContainer", &c),
            ("checkpointStrategy", "goSdk"),
            ("eventHubName", "x"),
        ],
        "listen",
    ))
    .unwrap();
    config.hub = "nohub".into();
    config.namespace.base_url = runtime_server().await;
    let s = AzureEventHubScaler::with_config(config, &Clients::new()).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );
}

#[tokio::test]
async fn a_wrong_storage_key_is_unauthorized_and_never_printed() {
    testutil::init();
    let c = new_container().await;
    let bad = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, CANARY);
    let mut p = trigger(
        &[("blobContainer", &c), ("checkpointStrategy", "goSdk")],
        "listen",
    );
    p.auth_params.insert(
        "storageConnection".into(),
        format!(
            "AccountName={};AccountKey={bad};BlobEndpoint={}",
            testing::account(),
            testing::blob_endpoint()
        ),
    );
    let mut config = Config::from_params(&p).unwrap();
    config.namespace.base_url = runtime_server().await;
    let s = AzureEventHubScaler::with_config(config, &Clients::new()).unwrap();
    let err = s.measure(&Poll::new()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    assert_no_canary(&err);
    assert!(!err.full_message().contains(&bad));
}

#[test]
fn recorded_shapes_parse() {
    assert_eq!(
        partition_ids_from(&hub_xml(&["a", "b"])).unwrap(),
        vec!["a", "b"]
    );
    assert_eq!(
        partition_info_from(&partition_xml("0", 3, 9)).unwrap(),
        PartitionInfo {
            beginning: 3,
            last: 9
        }
    );
    let err = partition_info_from("<entry><content/></entry>").unwrap_err();
    assert_eq!(err.reason(), MeasureReason::BadResponse);
    let err = partition_ids_from(r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Publicly Listed Services</title></feed>"#).unwrap_err();
    assert_eq!(err.reason(), MeasureReason::NotFound);
}
