//! SQS task source: `ReceiveMessage` with a `VisibilityTimeout` (default 300 s) hides a message from
//! every other reader; `DeleteMessage` with its receipt handle acknowledges it. A message taken and
//! never deleted reappears when the timeout ends (same `MessageId`), so `recover` has nothing to do.
//! A task's id is the `MessageId`. Dead-lettered messages are sent to the target queue (a name or a
//! URL) with the string attribute `ebb-failure-reason`.

use std::sync::Arc;

use super::{Held, Receipt, Task, TaskOptions, TaskSource};
use crate::aws_sqs_queue::{Config, call};
use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::{AuthHold, HttpClient};
use crate::params::TriggerParams;
use crate::pool::Clients;
use crate::scaler::BoxFuture;

/// `ReceiveMessage` returns at most 10 messages per call.
const MAX_PER_RECEIVE: usize = 10;

/// SQS caps a visibility timeout at 12 hours.
const MAX_VISIBILITY_SECS: u64 = 12 * 3600;

/// Messages of one SQS queue.
pub(super) struct SqsTasks {
    client: Arc<HttpClient>,
    /// Keeps assumed-role credentials cached while the source lives (as the scaler does).
    _hold: AuthHold,
    config: Config,
    source: String,
    visibility_secs: u64,
    queue_url: tokio::sync::OnceCell<String>,
}

impl SqsTasks {
    pub(super) fn new(
        params: &TriggerParams,
        clients: &Clients,
        options: TaskOptions,
    ) -> Result<Self, ConfigError> {
        let config = Config::from_params(params)?;
        let client = clients.http(&config.http)?;
        Ok(Self {
            _hold: client.hold_aws(&config.auth),
            client,
            source: format!("aws-sqs-queue/{}/{}", config.region, config.queue_name),
            visibility_secs: options
                .visibility_timeout
                .as_secs()
                .min(MAX_VISIBILITY_SECS),
            queue_url: tokio::sync::OnceCell::new(),
            config,
        })
    }

    async fn call(
        &self,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, MeasureError> {
        call(
            &self.client,
            &self.config.endpoint,
            &self.config.auth,
            target,
            body,
        )
        .await
    }

    /// The URL of `queue` (a URL is used as is; a name is resolved with GetQueueUrl).
    async fn url_of(&self, queue: &str) -> Result<String, MeasureError> {
        if queue.starts_with("https://") || queue.starts_with("http://") {
            return Ok(queue.to_owned());
        }
        let answer = self
            .call("GetQueueUrl", &serde_json::json!({ "QueueName": queue }))
            .await?;
        answer["QueueUrl"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                MeasureError::new(
                    MeasureReason::BadResponse,
                    format!(
                        "aws-sqs-queue task source {}: GetQueueUrl answered without QueueUrl",
                        self.source
                    ),
                )
            })
    }

    async fn queue_url(&self) -> Result<String, MeasureError> {
        if let Some(url) = &self.config.queue_url {
            return Ok(url.clone());
        }
        self.queue_url
            .get_or_try_init(|| self.url_of(&self.config.queue_name))
            .await
            .cloned()
    }
}

impl std::fmt::Debug for SqsTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsTasks")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl TaskSource for SqsTasks {
    fn source(&self) -> &str {
        &self.source
    }

    fn take(&self, max: usize) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            if max == 0 {
                return Ok(out);
            }
            let url = self.queue_url().await?;
            while out.len() < max {
                let n = (max - out.len()).min(MAX_PER_RECEIVE);
                let answer = self
                    .call(
                        "ReceiveMessage",
                        &serde_json::json!({
                            "QueueUrl": url,
                            "MaxNumberOfMessages": n,
                            "VisibilityTimeout": self.visibility_secs,
                            "WaitTimeSeconds": 0,
                        }),
                    )
                    .await?;
                let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
                let got = messages.len();
                for m in messages {
                    let field = |name: &str| m[name].as_str().map(str::to_owned);
                    let (Some(id), Some(handle)) = (field("MessageId"), field("ReceiptHandle"))
                    else {
                        return Err(MeasureError::new(
                            MeasureReason::BadResponse,
                            format!(
                                "aws-sqs-queue task source {}: a message without MessageId or ReceiptHandle",
                                self.source
                            ),
                        ));
                    };
                    out.push(Task {
                        id,
                        payload: field("Body").unwrap_or_default().into_bytes(),
                        source: self.source.clone(),
                        receipt: Receipt(Held::Sqs {
                            receipt_handle: handle,
                        }),
                    });
                }
                // SQS may answer with fewer than asked while more wait (it samples servers): only
                // an empty answer means "nothing now".
                if got == 0 {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn ack<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            let Held::Sqs { receipt_handle } = &task.receipt.0 else {
                return Ok(());
            };
            let url = self.queue_url().await?;
            self.call(
                "DeleteMessage",
                &serde_json::json!({ "QueueUrl": url, "ReceiptHandle": receipt_handle }),
            )
            .await?;
            Ok(())
        })
    }

    fn dead_letter<'a>(
        &'a self,
        task: &'a Task,
        target: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), MeasureError>> {
        Box::pin(async move {
            let url = self.url_of(target).await?;
            let attribute = |v: &str| serde_json::json!({ "DataType": "String", "StringValue": v });
            self.call(
                "SendMessage",
                &serde_json::json!({
                    "QueueUrl": url,
                    "MessageBody": String::from_utf8_lossy(&task.payload),
                    "MessageAttributes": {
                        super::FAILURE_REASON: attribute(reason),
                        "ebb-task-id": attribute(&task.id),
                        "ebb-task-source": attribute(&task.source),
                    },
                }),
            )
            .await?;
            Ok(())
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<Vec<Task>, MeasureError>> {
        // Untouched messages reappear by themselves when their visibility timeout ends.
        Box::pin(async { Ok(Vec::new()) })
    }
}
