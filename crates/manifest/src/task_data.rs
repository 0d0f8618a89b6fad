//! Task data settings of a ScaledJob (an Ebb extension): the `taskdata.ebb.dev/*` annotations,
//! parsed and checked without the network. `ebb validate`, the webhook, `ebb run` and the operator
//! read them here.
//!
//! | annotation | value | default |
//! |---|---|---|
//! | `taskdata.ebb.dev/trigger` | the trigger's `name`, or its index (`"0"`); presence opts in | — |
//! | `taskdata.ebb.dev/dead-letter` | queue / list / stream on the same broker | none: drop with a Warning |
//! | `taskdata.ebb.dev/max-attempts` | failed Jobs per message before dead-lettering, ≥ 1 | `3` |

use std::fmt;

use ebb_api::constants::{
    DEFAULT_TASK_DATA_MAX_ATTEMPTS, TASK_DATA_DEAD_LETTER_ANNOTATION,
    TASK_DATA_MAX_ATTEMPTS_ANNOTATION, TASK_DATA_TRIGGER_ANNOTATION,
};
use ebb_api::scaled_job::ScaledJob;
use ebb_api::trigger::ScaleTriggers;

/// Trigger types whose source can hand out single messages, sorted.
pub const SUPPORTED_TRIGGER_TYPES: &[&str] = &[
    "aws-sqs-queue",
    "azure-queue",
    "rabbitmq",
    "redis",
    "redis-streams",
];

/// A ScaledJob's task data settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDataSettings {
    /// Index of the trigger in `spec.triggers` whose source hands out messages.
    pub trigger_index: usize,
    /// That trigger's type.
    pub trigger_type: String,
    /// Dead-letter target on the same broker, if any.
    pub dead_letter: Option<String>,
    /// Failed Jobs per message before dead-lettering (≥ 1).
    pub max_attempts: u32,
}

/// A task data annotation is wrong; names the annotation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.path())]
pub struct TaskDataError {
    /// The annotation key, e.g. `taskdata.ebb.dev/trigger`.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

impl TaskDataError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }

    /// The field path: `metadata.annotations["<key>"]`.
    pub fn path(&self) -> String {
        format!("metadata.annotations[{:?}]", self.key)
    }
}

impl TaskDataSettings {
    /// The settings of `sj`: `None` when it does not opt in (no `taskdata.ebb.dev/trigger`).
    pub fn from_scaled_job(sj: &ScaledJob) -> Result<Option<Self>, TaskDataError> {
        let annotations = sj.metadata.annotations.as_ref();
        let get = |key: &str| annotations.and_then(|a| a.get(key)).map(|v| v.trim());
        let dead_letter = get(TASK_DATA_DEAD_LETTER_ANNOTATION);
        let max_attempts = get(TASK_DATA_MAX_ATTEMPTS_ANNOTATION);
        let Some(reference) = get(TASK_DATA_TRIGGER_ANNOTATION) else {
            for (key, value) in [
                (TASK_DATA_DEAD_LETTER_ANNOTATION, dead_letter),
                (TASK_DATA_MAX_ATTEMPTS_ANNOTATION, max_attempts),
            ] {
                if value.is_some() {
                    return Err(TaskDataError::new(
                        key,
                        format!("has no effect without {TASK_DATA_TRIGGER_ANNOTATION:?}"),
                    ));
                }
            }
            return Ok(None);
        };
        let (trigger_index, trigger) = find_trigger(&sj.spec.triggers, reference)?;
        check_trigger(trigger)?;
        let dead_letter = match dead_letter {
            None => None,
            Some("") => {
                return Err(TaskDataError::new(
                    TASK_DATA_DEAD_LETTER_ANNOTATION,
                    "is empty: name a queue, list or stream, or remove the annotation",
                ));
            }
            Some(target) => {
                if source_name(trigger).is_some_and(|source| source == target) {
                    return Err(TaskDataError::new(
                        TASK_DATA_DEAD_LETTER_ANNOTATION,
                        format!(
                            "{target:?} is the trigger's own source; a poison message would come straight back"
                        ),
                    ));
                }
                Some(target.to_owned())
            }
        };
        let max_attempts = match max_attempts {
            None => DEFAULT_TASK_DATA_MAX_ATTEMPTS,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(TaskDataError::new(
                        TASK_DATA_MAX_ATTEMPTS_ANNOTATION,
                        format!("{raw:?} is not a whole number of 1 or more"),
                    ));
                }
            },
        };
        Ok(Some(Self {
            trigger_index,
            trigger_type: trigger.type_.clone(),
            dead_letter,
            max_attempts,
        }))
    }
}

/// The trigger named `reference`, or at index `reference`.
fn find_trigger<'a>(
    triggers: &'a [ScaleTriggers],
    reference: &str,
) -> Result<(usize, &'a ScaleTriggers), TaskDataError> {
    let err = |m: String| TaskDataError::new(TASK_DATA_TRIGGER_ANNOTATION, m);
    if reference.is_empty() {
        return Err(err(
            "is empty: name a trigger (its `name`) or give its index, e.g. \"0\"".into(),
        ));
    }
    if let Some(found) = triggers
        .iter()
        .enumerate()
        .find(|(_, t)| t.name.as_deref() == Some(reference))
    {
        return Ok(found);
    }
    if let Ok(index) = reference.parse::<usize>() {
        return triggers.get(index).map(|t| (index, t)).ok_or_else(|| {
            err(format!(
                "there is no trigger at index {index} (the ScaledJob has {})",
                triggers.len()
            ))
        });
    }
    let names: Vec<&str> = triggers.iter().filter_map(|t| t.name.as_deref()).collect();
    Err(err(if names.is_empty() {
        format!("no trigger is named {reference:?} (no trigger has a name; give an index)")
    } else {
        format!(
            "no trigger is named {reference:?} (names: {})",
            names.join(", ")
        )
    }))
}

/// Whether the trigger's source can hand out single messages, judged from its metadata.
fn check_trigger(trigger: &ScaleTriggers) -> Result<(), TaskDataError> {
    let err = |m: String| Err(TaskDataError::new(TASK_DATA_TRIGGER_ANNOTATION, m));
    let ty = trigger.type_.as_str();
    if !SUPPORTED_TRIGGER_TYPES.contains(&ty) {
        return err(format!(
            "trigger type {ty:?} cannot hand out messages; task data supports {}",
            SUPPORTED_TRIGGER_TYPES.join(", ")
        ));
    }
    let meta = |key: &str| trigger.metadata.get(key).map(|v| v.trim());
    match ty {
        "rabbitmq" => {
            let http_host = meta("host").is_some_and(|h| h.starts_with("http"));
            if meta("protocol") == Some("http") || (meta("protocol") != Some("amqp") && http_host) {
                return err(
                    "task data takes rabbitmq messages over AMQP; this trigger uses the management API (protocol http)".into(),
                );
            }
            if meta("useRegex") == Some("true") {
                return err(
                    "task data needs one rabbitmq queue; this trigger matches queues by regex (useRegex)".into(),
                );
            }
        }
        "redis-streams" if meta("consumerGroup").is_none_or(str::is_empty) => {
            return err(
                "task data reads a redis stream through a consumer group; set the trigger's consumerGroup".into(),
            );
        }
        _ => {}
    }
    Ok(())
}

/// The queue / list / stream the trigger reads, when its metadata names it.
fn source_name(trigger: &ScaleTriggers) -> Option<&str> {
    let key = match trigger.type_.as_str() {
        "redis" => "listName",
        "redis-streams" => "stream",
        "aws-sqs-queue" => "queueURL",
        _ => "queueName",
    };
    trigger.metadata.get(key).map(|v| v.trim())
}

impl fmt::Display for TaskDataSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task data from spec.triggers[{}] ({}), {} attempt(s) per message, ",
            self.trigger_index, self.trigger_type, self.max_attempts
        )?;
        match &self.dead_letter {
            Some(target) => write!(f, "dead-letter to {target:?}"),
            None => f.write_str("no dead-letter target (poison messages are dropped)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sj(annotations: &[(&str, &str)], triggers: &str) -> ScaledJob {
        let annotations: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        let triggers: serde_json::Value = serde_json::from_str(triggers).unwrap();
        serde_json::from_value(serde_json::json!({
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledJob",
            "metadata": {"name": "j", "namespace": "ns", "annotations": annotations},
            "spec": {
                "jobTargetRef": {"template": {"spec": {"containers": [{"name": "c"}]}}},
                "triggers": triggers,
            }
        }))
        .unwrap()
    }

    const TWO: &str = r#"[
        {"type": "cron", "metadata": {"timezone": "UTC", "start": "0 * * * *", "end": "1 * * * *", "desiredReplicas": "1"}},
        {"type": "redis", "name": "jobs", "metadata": {"listName": "jobs", "addressFromEnv": "R"}}
    ]"#;

    #[test]
    fn admission_and_the_task_sources_agree_on_types_and_the_reason_header() {
        assert_eq!(SUPPORTED_TRIGGER_TYPES, ebb_scalers::task::TRIGGER_TYPES);
        assert_eq!(
            ebb_api::constants::TASK_FAILURE_REASON_HEADER,
            ebb_scalers::task::FAILURE_REASON
        );
    }

    #[test]
    fn no_trigger_annotation_means_keda_behaviour() {
        assert_eq!(TaskDataSettings::from_scaled_job(&sj(&[], TWO)), Ok(None));
    }

    #[test]
    fn the_trigger_is_found_by_name_or_index_with_defaults() {
        let expected = TaskDataSettings {
            trigger_index: 1,
            trigger_type: "redis".into(),
            dead_letter: None,
            max_attempts: 3,
        };
        for reference in ["jobs", "1", " 1 "] {
            let got = TaskDataSettings::from_scaled_job(&sj(
                &[("taskdata.ebb.dev/trigger", reference)],
                TWO,
            ));
            assert_eq!(got, Ok(Some(expected.clone())), "{reference:?}");
        }
        let got = TaskDataSettings::from_scaled_job(&sj(
            &[
                ("taskdata.ebb.dev/trigger", "jobs"),
                ("taskdata.ebb.dev/dead-letter", "jobs-dead"),
                ("taskdata.ebb.dev/max-attempts", "5"),
            ],
            TWO,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(got.dead_letter.as_deref(), Some("jobs-dead"));
        assert_eq!(got.max_attempts, 5);
        assert_eq!(
            got.to_string(),
            "task data from spec.triggers[1] (redis), 5 attempt(s) per message, dead-letter to \"jobs-dead\""
        );
    }

    #[test]
    fn bad_settings_name_their_annotation() {
        let rabbit_http = r#"[{"type": "rabbitmq", "metadata": {"queueName": "q", "host": "http://h:15672/", "mode": "QueueLength", "value": "1"}}]"#;
        let stream_no_group =
            r#"[{"type": "redis-streams", "metadata": {"stream": "s", "addressFromEnv": "R"}}]"#;
        for (annotations, triggers, path, message) in [
            (
                vec![("taskdata.ebb.dev/trigger", "")],
                TWO,
                "metadata.annotations[\"taskdata.ebb.dev/trigger\"]",
                "is empty: name a trigger (its `name`) or give its index, e.g. \"0\"",
            ),
            (
                vec![("taskdata.ebb.dev/trigger", "7")],
                TWO,
                "metadata.annotations[\"taskdata.ebb.dev/trigger\"]",
                "there is no trigger at index 7 (the ScaledJob has 2)",
            ),
            (
                vec![("taskdata.ebb.dev/trigger", "job")],
                TWO,
                "metadata.annotations[\"taskdata.ebb.dev/trigger\"]",
                "no trigger is named \"job\" (names: jobs)",
            ),
            (
                vec![("taskdata.ebb.dev/trigger", "0")],
                TWO,
                "metadata.annotations[\"taskdata.ebb.dev/trigger\"]",
                "trigger type \"cron\" cannot hand out messages; task data supports aws-sqs-queue, azure-queue, rabbitmq, redis, redis-streams",
            ),
            (
                vec![("taskdata.ebb.dev/trigger", "0")],
                rabbit_http,
                "metadata.annotations[\"taskdata.ebb.dev/trigger\"]",
                "task data takes rabbitmq messages over AMQP; this trigger uses the management API (protocol http)",
            ),
            (
                vec![("taskdata.ebb.dev/trigger", "0")],
                stream_no_group,
                "metadata.annotations[\"taskdata.ebb.dev/trigger\"]",
                "task data reads a redis stream through a consumer group; set the trigger's consumerGroup",
            ),
            (
                vec![
                    ("taskdata.ebb.dev/trigger", "jobs"),
                    ("taskdata.ebb.dev/max-attempts", "0"),
                ],
                TWO,
                "metadata.annotations[\"taskdata.ebb.dev/max-attempts\"]",
                "\"0\" is not a whole number of 1 or more",
            ),
            (
                vec![
                    ("taskdata.ebb.dev/trigger", "jobs"),
                    ("taskdata.ebb.dev/dead-letter", "jobs"),
                ],
                TWO,
                "metadata.annotations[\"taskdata.ebb.dev/dead-letter\"]",
                "\"jobs\" is the trigger's own source; a poison message would come straight back",
            ),
            (
                vec![("taskdata.ebb.dev/dead-letter", "dead")],
                TWO,
                "metadata.annotations[\"taskdata.ebb.dev/dead-letter\"]",
                "has no effect without \"taskdata.ebb.dev/trigger\"",
            ),
        ] {
            let err = TaskDataSettings::from_scaled_job(&sj(&annotations, triggers)).unwrap_err();
            assert_eq!((err.path().as_str(), err.message.as_str()), (path, message));
            assert_eq!(err.to_string(), format!("{path}: {message}"));
        }
    }
}
