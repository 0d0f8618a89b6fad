//! Azure Storage Queue task source: Get Messages with a visibility timeout (default 300 s) hides a
//! message from every other reader; Delete Message with its pop receipt acknowledges it. A message
//! taken and never deleted reappears when the timeout ends (with a new pop receipt, the same
//! `MessageId`), so `recover` has nothing to do. A task's id is the `MessageId`; its payload is
//! the `MessageText` as stored (Ebb does not base64-decode it).
//!
//! Storage queue messages have no headers: a dead-lettered message's text is a JSON object
//! `{"data": <text>, "ebb-failure-reason": …, "ebb-task-id": …, "ebb-task-source": …}`.

use std::sync::Arc;

use super::{Held, Receipt, Task, TaskOptions, TaskSource};
use crate::azure::{StorageAccount, signed_request};
use crate::azure_queue::Config;
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::HttpClient;
use crate::metric::{path_escape, query_escape};
use crate::params::TriggerParams;
use crate::pool::Clients;
use crate::scaler::BoxFuture;

/// Get Messages returns at most 32 messages per call.
const MAX_PER_GET: usize = 32;

/// Messages of one storage queue.
#[derive(Debug)]
pub(super) struct AzureQueueTasks {
    client: Arc<HttpClient>,
    account: StorageAccount,
    queue: String,
    source: String,
    visibility_secs: u64,
}

impl AzureQueueTasks {
    pub(super) fn new(
        params: &TriggerParams,
        clients: &Clients,
        options: TaskOptions,
    ) -> Result<Self, ConfigError> {
        let config = Config::from_params(params)?;
        Ok(Self {
            client: clients.http(&config.http)?,
            source: format!(
                "azure-queue/{}/{}",
                config.account.account, config.queue_name
            ),
            account: config.account,
            queue: config.queue_name,
            // The service accepts 1 s to 7 days.
            visibility_secs: options.visibility_timeout.as_secs().clamp(1, 7 * 24 * 3600),
        })
    }

    fn failed(&self, doing: &str, status: u16, body: &str) -> MeasureError {
        let code = crate::azure::xml_text(body, &["Error", "Code"])
            .ok()
            .flatten()
            .unwrap_or_default();
        let reason = match status {
            401 | 403 => MeasureReason::Unauthorized,
            404 => MeasureReason::NotFound,
            _ => MeasureReason::BadResponse,
        };
        MeasureError::new(
            reason,
            format!(
                "azure-queue task source {}: {doing}: HTTP {status} {code}",
                self.source
            ),
        )
    }
}

impl TaskSource for AzureQueueTasks {
    fn source(&self) -> &str {
        &self.source
    }

    fn take(&self, max: usize) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let path = format!("{}/messages", path_escape(&self.queue));
            while out.len() < max {
                let n = (max - out.len()).min(MAX_PER_GET);
                let query = format!(
                    "numofmessages={n}&visibilitytimeout={}",
                    self.visibility_secs
                );
                let reply =
                    signed_request(&self.client, &self.account, "GET", &path, &query, "").await?;
                if reply.status != 200 {
                    return Err(self.failed("getting messages", reply.status, &reply.body));
                }
                let messages = parse_messages(&reply.body).map_err(|e| {
                    MeasureError::new(
                        MeasureReason::BadResponse,
                        format!("azure-queue task source {}: {e}", self.source),
                    )
                })?;
                let got = messages.len();
                for m in messages {
                    out.push(Task {
                        id: m.message_id.clone(),
                        payload: m.text.into_bytes(),
                        source: self.source.clone(),
                        receipt: Receipt(Held::Azure {
                            message_id: m.message_id,
                            pop_receipt: m.pop_receipt,
                        }),
                    });
                }
                if got < n {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn ack<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            let Held::Azure {
                message_id,
                pop_receipt,
            } = &task.receipt.0
            else {
                return Ok(());
            };
            let path = format!(
                "{}/messages/{}",
                path_escape(&self.queue),
                path_escape(message_id)
            );
            let query = format!("popreceipt={}", query_escape(pop_receipt));
            let reply =
                signed_request(&self.client, &self.account, "DELETE", &path, &query, "").await?;
            match reply.status {
                200..=299 => Ok(()),
                status => Err(self.failed(
                    &format!(
                        "deleting message {message_id:?} (its visibility timeout may have ended)"
                    ),
                    status,
                    &reply.body,
                )),
            }
        })
    }

    fn dead_letter<'a>(
        &'a self,
        task: &'a Task,
        target: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            let envelope = serde_json::json!({
                "data": String::from_utf8_lossy(&task.payload),
                super::FAILURE_REASON: reason,
                "ebb-task-id": task.id,
                "ebb-task-source": task.source,
            });
            let body = format!(
                "<QueueMessage><MessageText>{}</MessageText></QueueMessage>",
                xml_escape(&envelope.to_string())
            );
            let path = format!("{}/messages", path_escape(target));
            let reply =
                signed_request(&self.client, &self.account, "POST", &path, "", &body).await?;
            match reply.status {
                200..=299 => Ok(()),
                status => Err(self.failed(
                    &format!("putting a message on dead-letter queue {target:?}"),
                    status,
                    &reply.body,
                )),
            }
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        // Untouched messages reappear by themselves when their visibility timeout ends.
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[derive(Debug, Default, PartialEq)]
struct Message {
    message_id: String,
    pop_receipt: String,
    text: String,
}

/// The messages of a Get Messages answer (`QueueMessagesList/QueueMessage/*`).
fn parse_messages(xml: &str) -> Result<Vec<Message>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out: Vec<Message> = Vec::new();
    let mut field: Option<String> = None;
    let mut text = String::new();
    let mut in_message = false;
    loop {
        match reader.read_event().map_err(|e| format!("not XML: {e}"))? {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "QueueMessage" {
                    in_message = true;
                    out.push(Message::default());
                } else if in_message {
                    field = Some(name);
                    text.clear();
                }
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "QueueMessage" {
                    out.push(Message::default());
                }
            }
            Event::Text(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if field.is_some() => {
                let name = r.into_inner().into_owned();
                text.push_str(match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "QueueMessage" {
                    in_message = false;
                } else if field.as_deref() == Some(name.as_str()) {
                    if let Some(m) = out.last_mut() {
                        let value = std::mem::take(&mut text);
                        match name.as_str() {
                            "MessageId" => m.message_id = value,
                            "PopReceipt" => m.pop_receipt = value,
                            "MessageText" => m.text = value,
                            _ => {}
                        }
                    }
                    field = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(m) = out
        .iter()
        .find(|m| m.message_id.is_empty() || m.pop_receipt.is_empty())
    {
        return Err(format!("a message without MessageId or PopReceipt: {m:?}"));
    }
    Ok(out)
}

fn xml_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_messages_answers_parse_with_entities_and_empty_texts() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><QueueMessagesList>
            <QueueMessage><MessageId>id-1</MessageId><InsertionTime>x</InsertionTime>
              <PopReceipt>AgAA+/=</PopReceipt><DequeueCount>1</DequeueCount>
              <MessageText>{"image":"a&amp;b.png"}</MessageText></QueueMessage>
            <QueueMessage><MessageId>id-2</MessageId><PopReceipt>r2</PopReceipt><MessageText /></QueueMessage>
            </QueueMessagesList>"#;
        assert_eq!(
            parse_messages(xml).unwrap(),
            vec![
                Message {
                    message_id: "id-1".into(),
                    pop_receipt: "AgAA+/=".into(),
                    text: r#"{"image":"a&b.png"}"#.into(),
                },
                Message {
                    message_id: "id-2".into(),
                    pop_receipt: "r2".into(),
                    text: String::new(),
                },
            ]
        );
        assert_eq!(parse_messages("<QueueMessagesList />").unwrap(), vec![]);
        assert_eq!(xml_escape("<a & 'b'>"), "&lt;a &amp; &apos;b&apos;&gt;");
    }
}
