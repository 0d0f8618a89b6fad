//! RabbitMQ over the management HTTP API: one queue, or every queue matching a regex.

use std::sync::Arc;

use serde::Deserialize;

use super::{Config, Operation, QueueInfo};
use crate::error::{MeasureError, MeasureReason};
use crate::http::{self, HttpClient, HttpGet};
use crate::metric::path_escape;
use crate::poll::Poll;

#[derive(Debug, Deserialize, Default)]
struct Queue {
    #[serde(default)]
    messages: i64,
    #[serde(default)]
    messages_ready: i64,
    #[serde(default)]
    message_stats: Option<MessageStats>,
}

#[derive(Debug, Deserialize, Default)]
struct MessageStats {
    #[serde(default)]
    publish_details: Option<Rate>,
    #[serde(default)]
    deliver_get_details: Option<Rate>,
}

#[derive(Debug, Deserialize, Default)]
struct Rate {
    #[serde(default)]
    rate: f64,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    items: Vec<Queue>,
    #[serde(default)]
    page_count: u32,
}

impl Queue {
    fn info(&self, exclude_unacknowledged: bool) -> QueueInfo {
        let stats = self.message_stats.as_ref();
        QueueInfo {
            messages: if exclude_unacknowledged {
                self.messages_ready
            } else {
                self.messages
            },
            publish_rate: stats
                .and_then(|s| s.publish_details.as_ref())
                .map_or(0.0, |r| r.rate),
            deliver_rate: stats
                .and_then(|s| s.deliver_get_details.as_ref())
                .map_or(0.0, |r| r.rate),
        }
    }
}

/// The queue's (or the regex matches') counts and rates.
pub(crate) async fn queue_info(
    poll: &Poll,
    client: &Arc<HttpClient>,
    config: &Config,
) -> Result<QueueInfo, MeasureError> {
    let (base, auth) = http::split_userinfo(config.base_url.expose())
        .map_err(|m| MeasureError::new(MeasureReason::Config, format!("rabbitmq: host {m}")))?;
    let base = base.as_str().trim_end_matches('/').to_owned();
    let vhost = path_escape(&config.vhost);
    let mut req = if config.use_regex {
        let mut req = HttpGet::new(format!("{base}/api/queues/{vhost}"));
        req.query = vec![
            ("page".into(), "1".into()),
            ("use_regex".into(), "true".into()),
            ("pagination".into(), "false".into()),
            ("name".into(), config.queue_name.clone()),
            ("page_size".into(), config.page_size.to_string()),
        ];
        req
    } else {
        HttpGet::new(format!(
            "{base}/api/queues/{vhost}/{}",
            path_escape(&config.queue_name)
        ))
    };
    req.auth = auth;
    let response = http::get(poll, client, &req, "rabbitmq (http)").await?;
    let bad = |e: serde_json::Error| {
        MeasureError::new(
            MeasureReason::BadResponse,
            format!("rabbitmq (http): unexpected JSON: {e}"),
        )
    };
    if !config.use_regex {
        let queue: Queue = serde_json::from_str(&response.body).map_err(bad)?;
        return Ok(queue.info(config.exclude_unacknowledged));
    }
    let page: Page = serde_json::from_str(&response.body).map_err(bad)?;
    if page.page_count > 1 {
        return Err(MeasureError::new(
            MeasureReason::BadResponse,
            "rabbitmq (http): more queues match useRegex than fit in one page; raise pageSize",
        ));
    }
    let infos: Vec<QueueInfo> = page
        .items
        .iter()
        .map(|q| q.info(config.exclude_unacknowledged))
        .collect();
    Ok(combine(&infos, config.operation))
}

/// Combines regex matches (zero matches ⇒ all zeros).
pub(crate) fn combine(infos: &[QueueInfo], operation: Operation) -> QueueInfo {
    if infos.is_empty() {
        return QueueInfo::default();
    }
    let sum = infos.iter().fold(QueueInfo::default(), |a, q| QueueInfo {
        messages: a.messages + q.messages,
        publish_rate: a.publish_rate + q.publish_rate,
        deliver_rate: a.deliver_rate + q.deliver_rate,
    });
    match operation {
        Operation::Sum => sum,
        Operation::Avg => {
            let n = infos.len();
            QueueInfo {
                // KEDA divides the counts as integers.
                messages: sum.messages / n as i64,
                publish_rate: sum.publish_rate / n as f64,
                deliver_rate: sum.deliver_rate / n as f64,
            }
        }
        Operation::Max => infos.iter().fold(QueueInfo::default(), |a, q| QueueInfo {
            messages: a.messages.max(q.messages),
            publish_rate: a.publish_rate.max(q.publish_rate),
            deliver_rate: a.deliver_rate.max(q.deliver_rate),
        }),
    }
}
