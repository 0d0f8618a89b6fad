//! Task sources against the real brokers (`scripts/services start`): for each of the five, 200
//! messages become 200 tasks with their own payloads (none lost, none twice); a taker dropped
//! between take and ack loses nothing (its messages come back, with the same ids); a poison message
//! lands in the dead-letter target with its reason. Exact counts throughout.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::*;
use crate::azure::testing as azurite;
use crate::error::MeasureReason;
use crate::http::HttpSettings;
use crate::testutil::{self, unique};

const N: usize = 200;
const REASON: &str = "failed 3 times; last: exit 1";

fn payload(i: usize) -> String {
    format!("{{\"image\":\"img-{i:03}.png\"}}")
}

fn expected() -> BTreeSet<String> {
    (0..N).map(payload).collect()
}

fn texts(tasks: &[Task]) -> BTreeSet<String> {
    tasks.iter().map(|t| t.text().unwrap().to_owned()).collect()
}

/// Takes batches of `batch` until `want` tasks are in hand, waiting up to `patience` for more
/// while the source is empty.
async fn take_all(
    source: &dyn TaskSource,
    want: usize,
    batch: usize,
    patience: Duration,
) -> Vec<Task> {
    let mut out: Vec<Task> = Vec::new();
    let mut idle_since = Instant::now();
    while out.len() < want {
        let got = source
            .take(batch.min(want - out.len()))
            .await
            .unwrap_or_else(|e| panic!("take: {}", e.full_message()));
        if got.is_empty() {
            if idle_since.elapsed() > patience {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        } else {
            idle_since = Instant::now();
            out.extend(got);
        }
    }
    out
}

async fn ack_all(source: &dyn TaskSource, tasks: &[Task]) {
    for t in tasks {
        source
            .ack(t)
            .await
            .unwrap_or_else(|e| panic!("ack {}: {}", t.id, e.full_message()));
    }
}

/// 200 messages in the source: 200 tasks, each payload once, 200 distinct ids, all acknowledged,
/// and nothing left.
async fn two_hundred_tasks(source: &dyn TaskSource, expected_source: &str) -> Vec<Task> {
    let tasks = take_all(source, N + 1, 37, Duration::from_millis(600)).await;
    assert_eq!(tasks.len(), N);
    assert_eq!(texts(&tasks), expected());
    let ids: BTreeSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), N);
    assert!(
        tasks
            .iter()
            .all(|t| t.source == expected_source && t.receipt.is_held())
    );
    assert_eq!(source.source(), expected_source);
    ack_all(source, &tasks).await;
    assert_eq!(source.take(10).await.unwrap().len(), 0);
    assert_eq!(source.recover().await.unwrap().len(), 0);
    tasks
}

/// A first taker holds 50 of 200 messages and is dropped without acknowledging; a second one
/// (after `recover`) ends up with all 200, the 50 under the same ids as before.
async fn crash_between_take_and_ack(
    first: Arc<dyn TaskSource>,
    second: impl FnOnce() -> Arc<dyn TaskSource>,
    patience: Duration,
) -> usize {
    let held = take_all(&*first, 50, 50, Duration::from_secs(5)).await;
    assert_eq!(held.len(), 50);
    drop(first);
    let second = second();
    let recovered = second.recover().await.unwrap();
    let recovered_count = recovered.len();
    let mut all = recovered;
    all.extend(take_all(&*second, N - recovered_count, 50, patience).await);
    assert_eq!(all.len(), N);
    assert_eq!(texts(&all), expected());
    let ids_by_payload: BTreeMap<&[u8], &str> = all
        .iter()
        .map(|t| (t.payload.as_slice(), t.id.as_str()))
        .collect();
    for h in &held {
        assert_eq!(
            ids_by_payload.get(h.payload.as_slice()),
            Some(&h.id.as_str())
        );
    }
    ack_all(&*second, &all).await;
    assert_eq!(second.take(10).await.unwrap().len(), 0);
    recovered_count
}

// ------------------------------------------------------------------------------------- rabbitmq

async fn amqp() -> Connection {
    testutil::init();
    let url = testutil::amqp_url();
    testutil::require("RabbitMQ (AMQP)", &testutil::host_port(&url)).await;
    Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap()
}

/// Declares `queue` and publishes the 200 payloads; even ones carry `message-id: mid-<i>`.
async fn rabbit_queue(conn: &Connection, queue: &str, n: usize) {
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
        let props = if i.is_multiple_of(2) {
            BasicProperties::default().with_message_id(format!("mid-{i}").into())
        } else {
            BasicProperties::default()
        };
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                payload(i).as_bytes(),
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }
}

async fn rabbit_delete(conn: &Connection, queues: &[&str]) {
    let ch = conn.create_channel().await.unwrap();
    for q in queues {
        let _ = ch
            .queue_delete((*q).into(), QueueDeleteOptions::default())
            .await;
    }
}

fn rabbit_source(queue: &str) -> Arc<dyn TaskSource> {
    let params = TriggerParams::new(
        "rabbitmq",
        0,
        [
            ("queueName", queue.to_owned()),
            ("host", testutil::amqp_url()),
        ],
    );
    build(&params, &Clients::new()).unwrap()
}

#[tokio::test]
async fn rabbitmq_hands_out_200_messages_as_200_tasks() {
    let conn = amqp().await;
    let queue = unique("ebb-task");
    rabbit_queue(&conn, &queue, N).await;
    let source = rabbit_source(&queue);
    let tasks = two_hundred_tasks(&*source, &format!("rabbitmq/%2F/{queue}")).await;
    // message-id where set; otherwise a digest of (queue, payload).
    for t in &tasks {
        let i: usize = t.text().unwrap()[14..17].parse().unwrap();
        if i.is_multiple_of(2) {
            assert_eq!(t.id, format!("mid-{i}"));
        } else {
            assert_eq!(t.id, digest_id(&[queue.as_bytes(), payload(i).as_bytes()]));
        }
    }
    rabbit_delete(&conn, &[&queue]).await;
}

#[tokio::test]
async fn rabbitmq_requeues_what_a_dropped_taker_held() {
    let conn = amqp().await;
    let queue = unique("ebb-task");
    rabbit_queue(&conn, &queue, N).await;
    let recovered = crash_between_take_and_ack(
        rabbit_source(&queue),
        || rabbit_source(&queue),
        Duration::from_secs(10),
    )
    .await;
    // The broker requeues by itself; recover() has nothing to add.
    assert_eq!(recovered, 0);
    rabbit_delete(&conn, &[&queue]).await;
}

#[tokio::test]
async fn rabbitmq_dead_letters_a_poison_message_with_its_reason() {
    let conn = amqp().await;
    let (queue, dead) = (unique("ebb-task"), unique("ebb-dead"));
    rabbit_queue(&conn, &queue, 1).await;
    rabbit_queue(&conn, &dead, 0).await;
    let source = rabbit_source(&queue);
    let task = source.take(5).await.unwrap().remove(0);
    let missing = source
        .dead_letter(&task, &unique("ebb-no-such-queue"), REASON)
        .await
        .unwrap_err();
    assert_eq!(
        missing.reason(),
        MeasureReason::NotFound,
        "{}",
        missing.full_message()
    );
    source.dead_letter(&task, &dead, REASON).await.unwrap();
    source.ack(&task).await.unwrap();
    assert_eq!(source.take(5).await.unwrap().len(), 0);

    let ch = conn.create_channel().await.unwrap();
    let got = ch
        .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.message_count, 0);
    assert_eq!(got.delivery.data, payload(0).as_bytes());
    let headers = got.delivery.properties.headers().clone().unwrap();
    assert_eq!(
        headers.inner().get("ebb-failure-reason"),
        Some(&AMQPValue::LongString(REASON.into()))
    );
    assert_eq!(
        got.delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.as_str()),
        Some("mid-0")
    );
    rabbit_delete(&conn, &[&queue, &dead]).await;
}

#[test]
fn rabbitmq_over_http_or_regex_cannot_hand_out_messages() {
    let http = TriggerParams::new(
        "rabbitmq",
        0,
        [("queueName", "q"), ("host", "http://guest:guest@h:15672/")],
    );
    assert_eq!(
        build(&http, &Clients::new()).unwrap_err().key(),
        Some("protocol")
    );
    let kafka = TriggerParams::new("kafka", 0, [("topic", "t")]);
    assert_eq!(
        build(&kafka, &Clients::new()).unwrap_err().key(),
        Some("type")
    );
}

// ------------------------------------------------------------------------------------- redis

fn redis_params(meta: &[(&str, String)]) -> TriggerParams {
    let mut meta: Vec<(String, String)> = meta
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    meta.push((
        "address".into(),
        testutil::host_port(&testutil::redis_url()),
    ));
    TriggerParams::new("redis", 0, meta)
}

async fn redis_list(list: &str) -> redis::aio::MultiplexedConnection {
    let mut conn = crate::redis::tests::redis_conn().await;
    for i in 0..N {
        let _: i64 = redis::cmd("RPUSH")
            .arg(list)
            .arg(payload(i))
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    conn
}

fn redis_source(list: &str) -> Arc<dyn TaskSource> {
    build(
        &redis_params(&[("listName", list.to_owned())]),
        &Clients::new(),
    )
    .unwrap()
}

async fn llen(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("LLEN").arg(key).query_async(conn).await.unwrap()
}

#[tokio::test]
async fn redis_list_hands_out_200_messages_as_200_tasks() {
    let list = unique("ebb-task");
    let mut conn = redis_list(&list).await;
    let source = redis_source(&list);
    let tasks = two_hundred_tasks(&*source, &format!("redis/0/{list}")).await;
    assert!(tasks.iter().all(|t| t.id == digest_id(&[&t.payload])));
    assert_eq!(llen(&mut conn, &list).await, 0);
    assert_eq!(llen(&mut conn, &format!("{list}:ebb-processing")).await, 0);
}

#[tokio::test]
async fn redis_list_recovers_what_a_dropped_taker_held() {
    let list = unique("ebb-task");
    let mut conn = redis_list(&list).await;
    let recovered = crash_between_take_and_ack(
        redis_source(&list),
        || redis_source(&list),
        Duration::from_millis(600),
    )
    .await;
    assert_eq!(recovered, 50);
    assert_eq!(llen(&mut conn, &format!("{list}:ebb-processing")).await, 0);
}

#[tokio::test]
async fn redis_list_dead_letters_a_poison_message_with_its_reason() {
    let list = unique("ebb-task");
    let dead = format!("{list}-dead");
    let mut conn = redis_list(&list).await;
    let source = redis_source(&list);
    let task = source.take(1).await.unwrap().remove(0);
    assert_eq!(task.text(), Some(payload(0).as_str()));
    source.dead_letter(&task, &dead, REASON).await.unwrap();
    source.ack(&task).await.unwrap();
    let in_dead: Vec<String> = redis::cmd("LRANGE")
        .arg(&dead)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(in_dead, vec![payload(0)]);
    let reason: Option<String> = redis::cmd("HGET")
        .arg(format!("{dead}:ebb-failure-reason"))
        .arg(&task.id)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(reason.as_deref(), Some(REASON));
    assert_eq!(llen(&mut conn, &list).await, N as i64 - 1);
    assert_eq!(llen(&mut conn, &format!("{list}:ebb-processing")).await, 0);
}

// ------------------------------------------------------------------------------------- redis-streams

async fn redis_stream(stream: &str) -> (redis::aio::MultiplexedConnection, Vec<String>) {
    let mut conn = crate::redis::tests::redis_conn().await;
    let mut ids = Vec::new();
    for i in 0..N {
        let id: String = redis::cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("event")
            .arg(payload(i))
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.push(id);
    }
    (conn, ids)
}

fn stream_source(stream: &str, group: &str) -> Arc<dyn TaskSource> {
    let mut params = redis_params(&[
        ("stream", stream.to_owned()),
        ("consumerGroup", group.to_owned()),
    ]);
    params.trigger_type = "redis-streams".into();
    build(&params, &Clients::new()).unwrap()
}

async fn pending(conn: &mut redis::aio::MultiplexedConnection, stream: &str, group: &str) -> i64 {
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(conn)
        .await
        .unwrap();
    match reply {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn redis_streams_hand_out_200_entries_as_200_tasks() {
    let stream = unique("ebb-task");
    let (mut conn, ids) = redis_stream(&stream).await;
    // The group does not exist yet: the source creates it at the start of the stream.
    let source = stream_source(&stream, "workers");
    let tasks = two_hundred_tasks(&*source, &format!("redis-streams/0/{stream}/workers")).await;
    let mut got: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(pending(&mut conn, &stream, "workers").await, 0);
}

#[tokio::test]
async fn redis_streams_recover_what_a_dropped_taker_held() {
    let stream = unique("ebb-task");
    let (mut conn, _) = redis_stream(&stream).await;
    let recovered = crash_between_take_and_ack(
        stream_source(&stream, "workers"),
        || stream_source(&stream, "workers"),
        Duration::from_millis(600),
    )
    .await;
    assert_eq!(recovered, 50);
    assert_eq!(pending(&mut conn, &stream, "workers").await, 0);
}

#[tokio::test]
async fn redis_streams_dead_letter_a_poison_entry_with_its_reason() {
    let stream = unique("ebb-task");
    let dead = format!("{stream}-dead");
    let (mut conn, ids) = redis_stream(&stream).await;
    let source = stream_source(&stream, "workers");
    let task = source.take(1).await.unwrap().remove(0);
    assert_eq!(task.id, ids[0]);
    source.dead_letter(&task, &dead, REASON).await.unwrap();
    source.ack(&task).await.unwrap();
    let reply: redis::Value = redis::cmd("XRANGE")
        .arg(&dead)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let entries = redis_streams::entries_for_tests(&reply);
    assert_eq!(entries.len(), 1);
    let fields = &entries[0];
    assert_eq!(
        fields.get("data").map(String::as_str),
        Some(payload(0).as_str())
    );
    assert_eq!(
        fields.get("ebb-failure-reason").map(String::as_str),
        Some(REASON)
    );
    assert_eq!(fields.get("ebb-task-id"), Some(&ids[0]));
    assert_eq!(pending(&mut conn, &stream, "workers").await, 0);
}

// ------------------------------------------------------------------------------------- azure-queue

async fn azure_queue(n: usize) -> String {
    testutil::init();
    azurite::require().await;
    let name = unique("ebbtask").replace('_', "-").to_ascii_lowercase();
    let base = format!("{}/{name}", azurite::queue_endpoint());
    azurite::request("PUT", &base, &[], "").await;
    for i in 0..n {
        let body = format!(
            "<QueueMessage><MessageText>{}</MessageText></QueueMessage>",
            payload(i).replace('"', "&quot;")
        );
        azurite::request("POST", &format!("{base}/messages"), &[], &body).await;
    }
    name
}

fn azure_source(queue: &str, visibility: Duration) -> Arc<dyn TaskSource> {
    let params = TriggerParams::new("azure-queue", 0, [("queueName", queue)])
        .with_auth_params([("connection", azurite::connection_string())]);
    build_with(
        &params,
        &Clients::new(),
        TaskOptions {
            visibility_timeout: visibility,
        },
    )
    .unwrap()
}

async fn azure_peek(queue: &str) -> Vec<String> {
    let xml = azurite::request(
        "GET",
        &format!(
            "{}/{queue}/messages?peekonly=true&numofmessages=32",
            azurite::queue_endpoint()
        ),
        &[],
        "",
    )
    .await;
    crate::azure::xml_texts(&xml, &["QueueMessage", "MessageText"]).unwrap()
}

#[tokio::test]
async fn azure_queue_hands_out_200_messages_as_200_tasks() {
    let queue = azure_queue(N).await;
    let source = azure_source(&queue, DEFAULT_VISIBILITY_TIMEOUT);
    two_hundred_tasks(&*source, &format!("azure-queue/devstoreaccount1/{queue}")).await;
    assert_eq!(azure_peek(&queue).await.len(), 0);
}

#[tokio::test]
async fn azure_queue_messages_a_dropped_taker_held_reappear() {
    let queue = azure_queue(N).await;
    // The first taker hides its messages for 2 s only; the second for the default 300 s.
    let recovered = crash_between_take_and_ack(
        azure_source(&queue, Duration::from_secs(2)),
        || azure_source(&queue, DEFAULT_VISIBILITY_TIMEOUT),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(recovered, 0);
    assert_eq!(azure_peek(&queue).await.len(), 0);
}

#[tokio::test]
async fn azure_queue_dead_letters_a_poison_message_with_its_reason() {
    let queue = azure_queue(1).await;
    let dead = azure_queue(0).await;
    let source = azure_source(&queue, DEFAULT_VISIBILITY_TIMEOUT);
    let task = source.take(5).await.unwrap().remove(0);
    let missing = source
        .dead_letter(&task, "ebb-no-such-queue", REASON)
        .await
        .unwrap_err();
    assert_eq!(
        missing.reason(),
        MeasureReason::NotFound,
        "{}",
        missing.full_message()
    );
    source.dead_letter(&task, &dead, REASON).await.unwrap();
    source.ack(&task).await.unwrap();
    assert_eq!(azure_peek(&queue).await.len(), 0);
    let in_dead = azure_peek(&dead).await;
    assert_eq!(in_dead.len(), 1);
    let envelope: serde_json::Value = serde_json::from_str(&in_dead[0]).unwrap();
    assert_eq!(
        envelope,
        serde_json::json!({
            "data": payload(0),
            "ebb-failure-reason": REASON,
            "ebb-task-id": task.id,
            "ebb-task-source": format!("azure-queue/devstoreaccount1/{queue}"),
        })
    );
}

// ------------------------------------------------------------------------------------- aws-sqs-queue

fn sqs_endpoint() -> String {
    testutil::endpoint("EBB_SQS_ENDPOINT", "http://127.0.0.1:5000")
}

fn sqs_region() -> String {
    testutil::endpoint("EBB_AWS_REGION", "us-east-1")
}

async fn moto(target: &str, body: serde_json::Value) -> serde_json::Value {
    let client = Clients::new()
        .http(&HttpSettings::with_timeout(Duration::from_secs(10)))
        .unwrap();
    // The trigger's own parsing builds the credentials, so this helper signs as the source does.
    let config = crate::aws_sqs_queue::Config::from_params(&sqs_params("unused")).unwrap();
    crate::aws_sqs_queue::call(&client, &config.endpoint, &config.auth, target, &body)
        .await
        .unwrap_or_else(|e| panic!("{target}: {}", e.full_message()))
}

fn sqs_params(queue: &str) -> TriggerParams {
    TriggerParams::new(
        "aws-sqs-queue",
        0,
        [
            ("queueURL", queue.to_owned()),
            ("awsEndpoint", sqs_endpoint()),
            ("awsRegion", sqs_region()),
        ],
    )
    .with_auth_params([("awsAccessKeyID", "test"), ("awsSecretAccessKey", "test")])
}

/// A fresh queue with `n` payloads; returns its name.
async fn sqs_queue(n: usize) -> String {
    testutil::init();
    testutil::require("moto", &testutil::host_port(&sqs_endpoint())).await;
    let name = unique("ebb-task");
    let url = moto("CreateQueue", serde_json::json!({ "QueueName": name })).await["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries: Vec<serde_json::Value> = chunk
            .iter()
            .map(|i| serde_json::json!({ "Id": format!("m{i}"), "MessageBody": payload(*i) }))
            .collect();
        moto(
            "SendMessageBatch",
            serde_json::json!({ "QueueUrl": url, "Entries": entries }),
        )
        .await;
    }
    name
}

fn sqs_source(queue: &str, visibility: Duration) -> Arc<dyn TaskSource> {
    build_with(
        &sqs_params(queue),
        &Clients::new(),
        TaskOptions {
            visibility_timeout: visibility,
        },
    )
    .unwrap()
}

async fn sqs_counts(queue: &str) -> (i64, i64) {
    let url = moto("GetQueueUrl", serde_json::json!({ "QueueName": queue })).await["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = moto(
        "GetQueueAttributes",
        serde_json::json!({ "QueueUrl": url, "AttributeNames": ["All"] }),
    )
    .await;
    let get = |k: &str| a["Attributes"][k].as_str().unwrap().parse::<i64>().unwrap();
    (
        get("ApproximateNumberOfMessages"),
        get("ApproximateNumberOfMessagesNotVisible"),
    )
}

#[tokio::test]
async fn aws_sqs_queue_hands_out_200_messages_as_200_tasks() {
    let queue = sqs_queue(N).await;
    let source = sqs_source(&queue, DEFAULT_VISIBILITY_TIMEOUT);
    two_hundred_tasks(&*source, &format!("aws-sqs-queue/{}/{queue}", sqs_region())).await;
    assert_eq!(sqs_counts(&queue).await, (0, 0));
}

#[tokio::test]
async fn aws_sqs_queue_messages_a_dropped_taker_held_reappear() {
    let queue = sqs_queue(N).await;
    let recovered = crash_between_take_and_ack(
        sqs_source(&queue, Duration::from_secs(2)),
        || sqs_source(&queue, DEFAULT_VISIBILITY_TIMEOUT),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(recovered, 0);
    assert_eq!(sqs_counts(&queue).await, (0, 0));
}

#[tokio::test]
async fn aws_sqs_queue_dead_letters_a_poison_message_with_its_reason() {
    let queue = sqs_queue(1).await;
    let dead = sqs_queue(0).await;
    let source = sqs_source(&queue, DEFAULT_VISIBILITY_TIMEOUT);
    let task = source.take(5).await.unwrap().remove(0);
    source.dead_letter(&task, &dead, REASON).await.unwrap();
    source.ack(&task).await.unwrap();
    assert_eq!(sqs_counts(&queue).await, (0, 0));
    let url = moto("GetQueueUrl", serde_json::json!({ "QueueName": dead })).await["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = moto(
        "ReceiveMessage",
        serde_json::json!({ "QueueUrl": url, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"] }),
    )
    .await;
    let messages = got["Messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["Body"], payload(0));
    assert_eq!(
        messages[0]["MessageAttributes"]["ebb-failure-reason"]["StringValue"],
        REASON
    );
    assert_eq!(
        messages[0]["MessageAttributes"]["ebb-task-id"]["StringValue"],
        task.id.as_str()
    );
}
