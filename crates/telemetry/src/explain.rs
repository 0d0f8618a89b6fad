//! `GET /explain/<kind>/<namespace>/<name>`: the last decisions of one object as JSON, and
//! `GET /explain`: which objects have any. The lookup and the answer live here, independent of any
//! HTTP server, so local mode and the operator serve the same path with the same body.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ebb_core::trace::{DecisionLog, DecisionRecord, Outcome};
use serde::{Deserialize, Serialize};

use crate::metrics::ObjectType;

/// The path prefix served.
pub const EXPLAIN_PATH: &str = "/explain";

/// `/explain/scaledobject/<namespace>/<name>`: where one object's decisions are served.
pub fn explain_path(object_type: ObjectType, namespace: &str, name: &str) -> String {
    format!("{EXPLAIN_PATH}/{}/{namespace}/{name}", object_type.as_str())
}

/// The JSON body of `/explain/<kind>/<namespace>/<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `ScaledObject` or `ScaledJob`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// How many records are kept per object.
    pub capacity: usize,
    /// The records, oldest first.
    pub records: Vec<DecisionRecord>,
}

/// One entry of `GET /explain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainedObject {
    /// `ScaledObject` or `ScaledJob`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Records kept.
    pub records: usize,
    /// The latest outcome's summary.
    pub latest: String,
    /// Its path.
    pub path: String,
}

/// The JSON body of an error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainError {
    /// What went wrong.
    pub error: String,
}

/// An HTTP answer, for whichever server sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// 200, 404 or 400.
    pub status: u16,
    /// Always `application/json`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Answer {
    fn json(status: u16, body: &impl Serialize) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            // Serializing these plain structs cannot fail.
            body: serde_json::to_string_pretty(body).unwrap_or_default() + "\n",
        }
    }

    fn error(status: u16, error: String) -> Answer {
        Answer::json(status, &ExplainError { error })
    }
}

type Key = (ObjectType, String, String);

/// The decision logs of every object, last N each.
#[derive(Debug)]
pub struct DecisionStore {
    capacity: usize,
    logs: Mutex<BTreeMap<Key, DecisionLog>>,
}

impl DecisionStore {
    /// An empty store keeping `capacity` records per object.
    pub fn new(capacity: usize) -> DecisionStore {
        DecisionStore {
            capacity: capacity.max(1),
            logs: Mutex::new(BTreeMap::new()),
        }
    }

    fn logs(&self) -> MutexGuard<'_, BTreeMap<Key, DecisionLog>> {
        self.logs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `record`; returns the previous outcome when the outcome changed.
    pub fn record(
        &self,
        object_type: ObjectType,
        namespace: &str,
        name: &str,
        record: DecisionRecord,
    ) -> Option<Outcome> {
        let key = (object_type, namespace.to_owned(), name.to_owned());
        self.logs()
            .entry(key)
            .or_insert_with(|| DecisionLog::new(self.capacity))
            .push(record)
    }

    /// Forgets an object.
    pub fn remove(&self, object_type: ObjectType, namespace: &str, name: &str) {
        self.logs()
            .remove(&(object_type, namespace.to_owned(), name.to_owned()));
    }

    /// One object's log (a copy).
    pub fn log(&self, object_type: ObjectType, namespace: &str, name: &str) -> Option<DecisionLog> {
        self.logs()
            .get(&(object_type, namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The answer to a GET of `path` (query string ignored), or `None` when `path` is not under
    /// `/explain` (the caller serves it or 404s).
    pub fn answer(&self, path: &str) -> Option<Answer> {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let rest = path.strip_prefix(EXPLAIN_PATH)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        Some(match parts.as_slice() {
            [] => Answer::json(200, &self.objects()),
            [kind, namespace, name] => match ObjectType::parse(kind) {
                Some(t) => self.explain(t, namespace, name),
                None => Answer::error(
                    400,
                    format!("unknown kind {kind:?}: use scaledobject or scaledjob"),
                ),
            },
            _ => Answer::error(
                400,
                format!(
                    "expected {EXPLAIN_PATH}/<scaledobject|scaledjob>/<namespace>/<name>, got {path}"
                ),
            ),
        })
    }

    fn explain(&self, object_type: ObjectType, namespace: &str, name: &str) -> Answer {
        match self.log(object_type, namespace, name) {
            Some(log) => Answer::json(
                200,
                &Explanation {
                    kind: object_type.kind().to_owned(),
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    capacity: log.capacity(),
                    records: log.records().cloned().collect(),
                },
            ),
            None => {
                let known: Vec<String> = self
                    .objects()
                    .into_iter()
                    .map(|o| format!("{}/{}/{}", o.kind.to_ascii_lowercase(), o.namespace, o.name))
                    .collect();
                Answer::error(
                    404,
                    format!(
                        "no decisions recorded for {} {namespace}/{name}; known: {}",
                        object_type.kind(),
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            }
        }
    }

    /// Every object with records, in (kind, namespace, name) order.
    pub fn objects(&self) -> Vec<ExplainedObject> {
        self.logs()
            .iter()
            .map(|((t, namespace, name), log)| ExplainedObject {
                kind: t.kind().to_owned(),
                namespace: namespace.clone(),
                name: name.clone(),
                records: log.len(),
                latest: log.latest().map_or_else(String::new, |r| r.summary.clone()),
                path: explain_path(*t, namespace, name),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BuildInfo, Metrics};
    use ebb_core::scaled_object::{Observed, TriggerObservation, decide};
    use ebb_core::trace::Outcome;
    use ebb_core::{ScaledObjectPolicy, TriggerResult, TriggerSpec};
    use jiff::Timestamp;

    fn record(value: f64, current: u32, second: i64) -> DecisionRecord {
        let policy = ScaledObjectPolicy {
            triggers: vec![TriggerSpec {
                metric_name: "s0-sqlite".into(),
                target: 5.0,
                ..TriggerSpec::default()
            }],
            ..ScaledObjectPolicy::default()
        };
        let now = Timestamp::from_second(1_767_225_600 + second).unwrap();
        let observed = Observed {
            current_replicas: Some(current),
            ready_replicas: Some(current),
            triggers: vec![TriggerObservation::new(TriggerResult::value(value))],
            last_active_time: None,
            creation_time: now,
        };
        let d = decide(&policy, &observed, now);
        DecisionRecord::scaled_object(&policy, Some(current), &d, now)
    }

    fn metrics() -> Metrics {
        Metrics::with_decision_log(
            &BuildInfo {
                version: "0.1.0".into(),
                git_commit: String::new(),
                toolchain: "rustc".into(),
            },
            3,
        )
    }

    #[test]
    fn explain_serves_the_records_of_one_object_as_json() {
        let m = metrics();
        assert_eq!(
            m.record_decision(
                ObjectType::ScaledObject,
                "default",
                "worker",
                record(37.0, 0, 1)
            ),
            None
        );
        assert_eq!(
            m.record_decision(
                ObjectType::ScaledObject,
                "default",
                "worker",
                record(37.0, 1, 2)
            ),
            Some(Outcome::Activated)
        );
        let a = m
            .decisions()
            .answer("/explain/scaledobject/default/worker?x=1")
            .unwrap();
        assert_eq!((a.status, a.content_type), (200, "application/json"));
        let e: Explanation = serde_json::from_str(&a.body).unwrap();
        assert_eq!(
            (
                e.kind.as_str(),
                e.namespace.as_str(),
                e.name.as_str(),
                e.capacity
            ),
            ("ScaledObject", "default", "worker", 3)
        );
        let reasons: Vec<&str> = e.records.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "scaled 0→1: trigger s0-sqlite active, 37 > 0",
                "active (trigger s0-sqlite active, 37 > 0); HPA owns 1 replicas"
            ]
        );
        // `so` is accepted as the kind; the list names every object with its path.
        assert_eq!(
            m.decisions()
                .answer("/explain/so/default/worker")
                .map(|a| a.status),
            Some(200)
        );
        let list: Vec<ExplainedObject> =
            serde_json::from_str(&m.decisions().answer("/explain").unwrap().body).unwrap();
        assert_eq!(
            list,
            vec![ExplainedObject {
                kind: "ScaledObject".into(),
                namespace: "default".into(),
                name: "worker".into(),
                records: 2,
                latest: "active, 1 replicas".into(),
                path: "/explain/scaledobject/default/worker".into(),
            }]
        );
        let text = m.encode();
        for line in [
            r#"ebb_scaling_decisions_total{namespace="default",scaledObject="worker",type="scaledobject",outcome="activated"} 1"#,
            r#"ebb_scaling_decisions_total{namespace="default",scaledObject="worker",type="scaledobject",outcome="active"} 1"#,
            r#"ebb_scaled_object_fallback_active{namespace="default",scaledObject="worker"} 0"#,
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn unknown_objects_and_bad_paths_are_json_errors() {
        let m = metrics();
        m.record_decision(
            ObjectType::ScaledObject,
            "default",
            "worker",
            record(0.0, 0, 1),
        );
        let a = m
            .decisions()
            .answer("/explain/scaledobject/default/other")
            .unwrap();
        assert_eq!(a.status, 404);
        let e: ExplainError = serde_json::from_str(&a.body).unwrap();
        assert_eq!(
            e.error,
            "no decisions recorded for ScaledObject default/other; known: scaledobject/default/worker"
        );
        assert_eq!(
            m.decisions()
                .answer("/explain/deployment/default/worker")
                .map(|a| a.status),
            Some(400)
        );
        assert_eq!(
            m.decisions()
                .answer("/explain/scaledobject/worker")
                .map(|a| a.status),
            Some(400)
        );
        assert_eq!(m.decisions().answer("/metrics"), None);
        assert_eq!(m.decisions().answer("/explainer"), None);
        m.remove_object(ObjectType::ScaledObject, "default", "worker");
        assert_eq!(
            m.decisions()
                .answer("/explain/scaledobject/default/worker")
                .map(|a| a.status),
            Some(404)
        );
    }

    #[test]
    fn the_store_keeps_the_last_n_per_object() {
        let m = metrics();
        for i in 0..5 {
            // Alternating outcomes are never merged.
            m.record_decision(ObjectType::ScaledObject, "a", "x", record(37.0, 0, i));
        }
        m.record_decision(ObjectType::ScaledJob, "a", "x", record(0.0, 0, 9));
        let log = m
            .decisions()
            .log(ObjectType::ScaledObject, "a", "x")
            .unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(
            m.decisions()
                .log(ObjectType::ScaledJob, "a", "x")
                .map(|l| l.len()),
            Some(1)
        );
        assert_eq!(
            explain_path(ObjectType::ScaledJob, "a", "x"),
            "/explain/scaledjob/a/x"
        );
    }
}
