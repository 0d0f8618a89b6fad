//! The decision trace: one `DecisionRecord` per decision (KEDA's poll, an HPA sync that moved the
//! target, a ScaledJob poll) built from the decision types of this crate, and a bounded
//! `DecisionLog` of the last N per object. This is what `ebb explain` prints.
//!
//! Records hold metric names and numbers, never trigger metadata; error texts pass through
//! [`redact`] so a connection string with credentials in a scaler's error stays out.

use std::collections::VecDeque;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::hpa::{ExternalMetric, HpaRecommendation, HpaSpec, replicas_for_metric};
use crate::modifiers::COMPOSITE_METRIC_NAME;
use crate::scaled_job::{JobCounts, JobMetrics, JobsDecision};
use crate::scaled_object::{ScaleDecision, ScaledObjectPolicy};
use crate::trigger::{MetricType, TriggerKind};

/// How many records a `DecisionLog` keeps per object unless told otherwise.
pub const DEFAULT_DECISION_LOG_CAPACITY: usize = 50;

/// What a decision did, as a small closed set (the `outcome` label of `ebb_scaling_decisions_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// KEDA scaled the target up from zero (or from idle to min).
    Activated,
    /// KEDA scaled the target down to zero (or idle) after the cooldown.
    Deactivated,
    /// Below `minReplicaCount` without idle mode: restored to min.
    RestoredMin,
    /// Active; the HPA owns 1↔N.
    Active,
    /// Active, but some trigger failed (`lastActiveTime` is not refreshed).
    ActiveWithErrors,
    /// Inactive, waiting for `cooldownPeriod` to pass.
    CoolingDown,
    /// Inactive with nothing to do.
    Inactive,
    /// A scale was due but `paused-scale-in`/`paused-scale-out` blocked it.
    Blocked,
    /// Inactive with failing triggers: replicas held so the HPA can reach `fallback.replicas`.
    FallbackHold,
    /// No decision possible: triggers failed without fallback, or the replica count is unreadable.
    Failed,
    /// Paused (`paused` or `paused-replicas` annotation).
    Paused,
    /// The HPA's sync moved the target (1↔N).
    HpaScaled,
    /// A ScaledJob poll created Jobs.
    JobsCreated,
    /// A ScaledJob poll created no Job.
    NoJobs,
}

impl Outcome {
    /// The snake_case name used in JSON and as a metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Activated => "activated",
            Outcome::Deactivated => "deactivated",
            Outcome::RestoredMin => "restored_min",
            Outcome::Active => "active",
            Outcome::ActiveWithErrors => "active_with_errors",
            Outcome::CoolingDown => "cooling_down",
            Outcome::Inactive => "inactive",
            Outcome::Blocked => "blocked",
            Outcome::FallbackHold => "fallback_hold",
            Outcome::Failed => "failed",
            Outcome::Paused => "paused",
            Outcome::HpaScaled => "hpa_scaled",
            Outcome::JobsCreated => "jobs_created",
            Outcome::NoJobs => "no_jobs",
        }
    }

    /// Whether this outcome changed the replica or Job count (such records are never merged).
    pub fn moved(self) -> bool {
        matches!(
            self,
            Outcome::Activated
                | Outcome::Deactivated
                | Outcome::RestoredMin
                | Outcome::HpaScaled
                | Outcome::JobsCreated
        )
    }
}

/// Which step decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSource {
    /// KEDA's poll of a ScaledObject (`ebb_core::decide`).
    Poll,
    /// The HPA's sync (computed by Ebb in local mode and `ebb simulate`).
    HpaSync,
    /// KEDA's poll of a ScaledJob (`ebb_core::scaled_job::jobs_to_create`).
    JobsPoll,
}

/// One trigger as the decision saw it: names and numbers only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRecord {
    /// `triggers[].name` (the formula variable), when set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The external metric name, e.g. `s0-rabbitmq-orders`.
    pub metric_name: String,
    /// The value used (post-fallback); `None` when failing or not polled.
    pub value: Option<f64>,
    /// The target (averageValue or value).
    pub target: f64,
    /// The activation threshold; active ⇔ value > this.
    pub activation_target: f64,
    /// `AverageValue` or `Value`.
    pub metric_type: String,
    /// Whether this trigger counts as active.
    pub active: bool,
    /// Whether the value is the synthetic fallback metric.
    #[serde(default)]
    pub fallback: bool,
    /// Consecutive failures (`status.health`), when fallback tracks them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<i32>,
    /// cpu/memory: served by the metrics-server, never polled by KEDA.
    #[serde(default)]
    pub resource: bool,
    /// The error of this poll (redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TriggerRecord {
    /// A measured trigger (ScaledJob polls, where KEDA's activity comes from the scaler).
    pub fn measured(metric_name: &str, value: f64, target: f64, active: bool) -> TriggerRecord {
        TriggerRecord {
            name: String::new(),
            metric_name: metric_name.to_owned(),
            value: Some(value),
            target,
            activation_target: 0.0,
            metric_type: metric_type_name(MetricType::AverageValue).to_owned(),
            active,
            fallback: false,
            failures: None,
            resource: false,
            error: None,
        }
    }

    /// A failed trigger; `error` is redacted.
    pub fn failed(metric_name: &str, target: f64, error: &str) -> TriggerRecord {
        TriggerRecord {
            value: None,
            active: false,
            error: Some(redact(error)),
            ..TriggerRecord::measured(metric_name, 0.0, target, false)
        }
    }

    /// `s0-sqlite=37/5 active`, `s0-redis=ERROR`: one compact cell.
    pub fn cell(&self) -> String {
        let mut s = format!("{}=", self.metric_name);
        match (self.value, &self.error) {
            (Some(v), _) => s.push_str(&format!("{}/{}", number(v), number(self.target))),
            (None, Some(_)) => s.push_str("ERROR"),
            (None, None) if self.resource => s.push_str("(metrics-server)"),
            (None, None) => s.push_str("(not polled)"),
        }
        if self.fallback {
            s.push_str(" fallback");
        } else if self.active {
            s.push_str(" active");
        }
        s
    }
}

/// `spec.fallback` and whether it is in effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FallbackRecord {
    /// Whether any trigger is served by the fallback metric in this decision.
    pub active: bool,
    /// `failureThreshold`.
    pub failure_threshold: i32,
    /// `replicas`.
    pub replicas: i32,
    /// `behavior`, as in the spec (`static`, `currentReplicas`, …).
    pub behavior: String,
}

/// `advanced.scalingModifiers` and the composite metric it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormulaRecord {
    /// The formula as written (`None` when empty).
    pub formula: Option<String>,
    /// The `composite-metric` value; `None` when it could not be computed.
    pub value: Option<f64>,
    /// `target`.
    pub target: f64,
    /// `activationTarget`.
    pub activation_target: f64,
}

/// One metric the HPA read, and the replicas it alone asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaMetricRecord {
    /// The external metric name (`composite-metric` with scalingModifiers).
    pub metric_name: String,
    /// The value served; `None` when the metric could not be read.
    pub value: Option<f64>,
    /// The target.
    pub target: Option<f64>,
    /// `AverageValue` or `Value`.
    pub metric_type: Option<String>,
    /// `ceil(value / target)` and friends; `None` when unusable.
    pub replicas: Option<u32>,
}

/// The HPA's inputs and result, where Ebb computes the HPA (local mode, simulation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaRecord {
    /// `spec.replicas` before the sync.
    pub current_replicas: u32,
    /// Ready pods.
    pub ready_replicas: u32,
    /// HPA `minReplicas`.
    pub min_replicas: u32,
    /// HPA `maxReplicas`.
    pub max_replicas: u32,
    /// Per metric.
    pub metrics: Vec<HpaMetricRecord>,
    /// The replicas the metrics ask for before behavior and bounds (max over metrics).
    pub wanted: Option<u32>,
    /// The replicas set.
    pub desired_replicas: u32,
    /// Kubernetes' condition reason, e.g. `ScaleUpLimit`, `TooManyReplicas`.
    pub reason: String,
}

/// A ScaledJob poll's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobsRecord {
    /// Unfinished Jobs.
    pub running: u32,
    /// Unfinished Jobs whose pods have not started.
    pub pending: u32,
    /// Jobs the queue asks for.
    pub queue_wants: u32,
    /// The cap the metrics allow.
    pub max_scale: u32,
    /// The cap the strategy allows.
    pub effective_max_scale: u32,
    /// Jobs created.
    pub created: u32,
}

/// One decision, explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    /// When (of the latest decision, when identical ones were merged).
    pub time: Timestamp,
    /// The first of merged identical decisions; `None` when this record is one decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// How many identical consecutive decisions this record stands for (≥ 1).
    pub count: u32,
    /// Which step decided.
    pub source: DecisionSource,
    /// What it did.
    pub outcome: Outcome,
    /// The outcome in a few words: `scaled 0→1`, `cooling down, 3 replicas`.
    pub summary: String,
    /// Why, in words: `scaled 0→1: trigger s0-rabbitmq-orders active, 37 > 0`.
    pub reason: String,
    /// Replicas (ScaledJobs: unfinished Jobs) before the decision; `None` when unreadable.
    pub current_replicas: Option<u32>,
    /// Replicas set by this decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_to: Option<u32>,
    /// Whether the object is active.
    pub active: bool,
    /// Whether a trigger or the formula failed.
    pub error: bool,
    /// Per trigger, in spec order.
    pub triggers: Vec<TriggerRecord>,
    /// `spec.fallback`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackRecord>,
    /// `scalingModifiers`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<FormulaRecord>,
    /// The HPA's inputs, for HPA syncs Ebb computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<HpaRecord>,
    /// ScaledJob numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobsRecord>,
}

impl DecisionRecord {
    /// The record of one ScaledObject poll: `decision = decide(policy, observed, now)` with
    /// `observed.current_replicas == current_replicas`.
    pub fn scaled_object(
        policy: &ScaledObjectPolicy,
        current_replicas: Option<u32>,
        decision: &ScaleDecision,
        now: Timestamp,
    ) -> DecisionRecord {
        let outcome = classify(policy, current_replicas, decision);
        let replicas = |c: Option<u32>| c.map_or("unknown".to_owned(), |c| c.to_string());
        let summary = match (outcome, decision.scale_to) {
            (_, Some(to)) => format!("scaled {}→{to}", replicas(current_replicas)),
            (Outcome::Paused, None) => format!("paused, {} replicas", replicas(current_replicas)),
            (Outcome::Active, None) => format!("active, {} replicas", replicas(current_replicas)),
            (Outcome::ActiveWithErrors, None) => format!(
                "active with errors, {} replicas",
                replicas(current_replicas)
            ),
            (Outcome::CoolingDown, None) => {
                format!("cooling down, {} replicas", replicas(current_replicas))
            }
            (Outcome::Blocked, None) => format!("blocked, {} replicas", replicas(current_replicas)),
            (Outcome::FallbackHold, None) => {
                format!(
                    "holding {} replicas for fallback",
                    replicas(current_replicas)
                )
            }
            (Outcome::Failed, None) => "not scaling".to_owned(),
            (_, None) => format!("inactive, {} replicas", replicas(current_replicas)),
        };
        let triggers = policy
            .triggers
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let outcome = decision.triggers.get(i);
                TriggerRecord {
                    name: spec.name.clone(),
                    metric_name: spec.metric_name.clone(),
                    value: outcome.and_then(|o| o.value),
                    target: spec.target,
                    activation_target: spec.activation_target,
                    metric_type: metric_type_name(spec.metric_type).to_owned(),
                    active: outcome.is_some_and(|o| o.active),
                    fallback: outcome.is_some_and(|o| o.fallback),
                    failures: outcome.and_then(|o| o.health).map(|h| h.number_of_failures),
                    resource: spec.kind == TriggerKind::Resource,
                    error: outcome.and_then(|o| o.error.as_deref()).map(redact),
                }
            })
            .collect();
        let fallback = policy.fallback.map(|f| FallbackRecord {
            active: decision.fallback_active,
            failure_threshold: f.failure_threshold,
            replicas: f.replicas,
            behavior: fallback_behavior_name(f.behavior).to_owned(),
        });
        let formula = policy.scaling_modifiers.as_ref().map(|m| FormulaRecord {
            formula: m.formula.as_ref().map(|f| f.source().to_owned()),
            value: decision.composite,
            target: m.target,
            activation_target: m.activation_target,
        });
        DecisionRecord {
            time: now,
            since: None,
            count: 1,
            source: DecisionSource::Poll,
            outcome,
            summary,
            reason: redact(&decision.why),
            current_replicas,
            scale_to: decision.scale_to,
            active: decision.is_active,
            error: decision.is_error,
            triggers,
            fallback,
            formula,
            hpa: None,
            jobs: None,
        }
    }

    /// The record of an HPA sync Ebb computed: `metrics` as `ScaleLoopState::hpa_metrics` returned
    /// them, `rec = HpaState::sync(spec, current, ready, metrics, now)`.
    pub fn hpa_sync(
        policy: &ScaledObjectPolicy,
        spec: &HpaSpec,
        current: u32,
        ready: u32,
        metrics: &[Option<ExternalMetric>],
        rec: &HpaRecommendation,
        now: Timestamp,
    ) -> DecisionRecord {
        let names: Vec<&str> = if policy.scaling_modifiers.is_some() {
            vec![COMPOSITE_METRIC_NAME]
        } else {
            policy
                .triggers
                .iter()
                .filter(|t| t.kind == TriggerKind::External)
                .map(|t| t.metric_name.as_str())
                .collect()
        };
        let metric_records: Vec<HpaMetricRecord> = metrics
            .iter()
            .enumerate()
            .map(|(i, m)| HpaMetricRecord {
                metric_name: names.get(i).copied().unwrap_or("?").to_owned(),
                value: m.map(|m| m.value),
                target: m.map(|m| m.target),
                metric_type: m.map(|m| metric_type_name(m.metric_type).to_owned()),
                replicas: m
                    .as_ref()
                    .and_then(|m| replicas_for_metric(m, current, ready)),
            })
            .collect();
        let wanted = metric_records.iter().filter_map(|m| m.replicas).max();
        let served: Vec<String> = metric_records
            .iter()
            .map(|m| match (m.value, m.target) {
                (Some(v), Some(t)) => format!("{} {}/{}", m.metric_name, number(v), number(t)),
                _ => format!("{} unavailable", m.metric_name),
            })
            .collect();
        let to = rec.desired_replicas;
        let wants = match wanted {
            Some(w) if w == to => format!("want {w}"),
            Some(w) => format!("want {w}, set {to}"),
            None => format!("unusable, set {to}"),
        };
        let reason = format!(
            "hpa scaled {current}→{to}: metrics {} {wants} ({})",
            served.join(", "),
            rec.reason
        );
        DecisionRecord {
            time: now,
            since: None,
            count: 1,
            source: DecisionSource::HpaSync,
            outcome: Outcome::HpaScaled,
            summary: format!("hpa scaled {current}→{to}"),
            reason,
            current_replicas: Some(current),
            scale_to: Some(to),
            active: true,
            error: metrics.iter().any(Option::is_none),
            triggers: Vec::new(),
            fallback: None,
            formula: None,
            hpa: Some(HpaRecord {
                current_replicas: current,
                ready_replicas: ready,
                min_replicas: spec.min_replicas.max(1),
                max_replicas: spec.max_replicas,
                metrics: metric_records,
                wanted,
                desired_replicas: to,
                reason: rec.reason.to_owned(),
            }),
            jobs: None,
        }
    }

    /// The record of one ScaledJob poll: `metrics = aggregate(..)`, `decision =
    /// jobs_to_create(policy, metrics, counts)`; `triggers` built with `TriggerRecord::measured` /
    /// `failed`.
    pub fn scaled_job(
        triggers: Vec<TriggerRecord>,
        metrics: &JobMetrics,
        counts: JobCounts,
        decision: &JobsDecision,
        now: Timestamp,
    ) -> DecisionRecord {
        let (outcome, summary) = match decision.create {
            0 => (Outcome::NoJobs, "no Jobs created".to_owned()),
            1 => (Outcome::JobsCreated, "created 1 Job".to_owned()),
            n => (Outcome::JobsCreated, format!("created {n} Jobs")),
        };
        let error = triggers.iter().any(|t| t.error.is_some());
        DecisionRecord {
            time: now,
            since: None,
            count: 1,
            source: DecisionSource::JobsPoll,
            outcome,
            summary,
            reason: redact(&decision.why),
            current_replicas: Some(counts.running),
            scale_to: None,
            active: metrics.is_active,
            error,
            triggers,
            fallback: None,
            formula: None,
            hpa: None,
            jobs: Some(JobsRecord {
                running: counts.running,
                pending: counts.pending,
                queue_wants: metrics.scale_to,
                max_scale: metrics.max_scale,
                effective_max_scale: decision.effective_max_scale,
                created: decision.create,
            }),
        }
    }

    /// Whether `next` repeats this record (same outcome, same words but for numbers) and moves
    /// nothing: then the log keeps one record with a count instead of two.
    fn repeated_by(&self, next: &DecisionRecord) -> bool {
        !next.outcome.moved()
            && self.outcome == next.outcome
            && self.source == next.source
            && self.summary == next.summary
            && shape(&self.reason) == shape(&next.reason)
    }
}

/// Which outcome a ScaleDecision is, from its structured fields (never from its `why`).
fn classify(
    policy: &ScaledObjectPolicy,
    current: Option<u32>,
    decision: &ScaleDecision,
) -> Outcome {
    let ready_reason = decision.conditions.ready.reason;
    if policy.pause.is_paused() {
        return Outcome::Paused;
    }
    let Some(current) = current else {
        return Outcome::Failed;
    };
    let min = policy.min_replica_count.unwrap_or(0);
    if decision.is_active {
        return match decision.scale_to {
            Some(_) => Outcome::Activated,
            None if current == 0 || (policy.idle_replica_count.is_some() && current < min) => {
                Outcome::Blocked
            }
            None if ready_reason == "PartialTriggerError" => Outcome::ActiveWithErrors,
            None => Outcome::Active,
        };
    }
    if let Some(to) = decision.scale_to {
        return if to < current {
            Outcome::Deactivated
        } else {
            Outcome::RestoredMin
        };
    }
    let cooling = decision
        .conditions
        .active
        .as_ref()
        .is_some_and(|c| c.reason == "ScalerCooldown");
    let would_scale_in = policy
        .idle_replica_count
        .map_or(current > 0 && min == 0, |idle| current > idle);
    if ready_reason == "TriggerError" {
        Outcome::Failed
    } else if decision.is_error && policy.fallback.is_some_and(|f| f.replicas != 0) {
        Outcome::FallbackHold
    } else if cooling {
        Outcome::CoolingDown
    } else if policy.pause.paused_scale_in && would_scale_in {
        Outcome::Blocked
    } else {
        Outcome::Inactive
    }
}

/// The last N decisions of one object, oldest first; identical consecutive decisions are merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionLog {
    capacity: usize,
    records: VecDeque<DecisionRecord>,
}

impl Default for DecisionLog {
    fn default() -> Self {
        DecisionLog::new(DEFAULT_DECISION_LOG_CAPACITY)
    }
}

impl DecisionLog {
    /// An empty log keeping at most `capacity` records (at least 1).
    pub fn new(capacity: usize) -> DecisionLog {
        DecisionLog {
            capacity: capacity.max(1),
            records: VecDeque::new(),
        }
    }

    /// Adds a record (merging it into the last one when it repeats it), dropping the oldest beyond
    /// capacity. Returns the previous outcome when the outcome changed.
    pub fn push(&mut self, record: DecisionRecord) -> Option<Outcome> {
        let previous = self.records.back().map(|r| r.outcome);
        match self.records.back_mut() {
            Some(last) if last.repeated_by(&record) => {
                let since = last.since.unwrap_or(last.time);
                let count = last.count.saturating_add(record.count);
                *last = DecisionRecord {
                    since: Some(since),
                    count,
                    ..record
                };
            }
            _ => {
                self.records.push_back(record);
                while self.records.len() > self.capacity {
                    self.records.pop_front();
                }
            }
        }
        let now = self.records.back().map(|r| r.outcome);
        previous.filter(|p| Some(*p) != now)
    }

    /// The records, oldest first.
    pub fn records(&self) -> impl DoubleEndedIterator<Item = &DecisionRecord> + ExactSizeIterator {
        self.records.iter()
    }

    /// The latest record.
    pub fn latest(&self) -> Option<&DecisionRecord> {
        self.records.back()
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The most records kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Removes credentials from a text bound for a record or a log: the user-info of URLs
/// (`amqp://user:pass@host` → `amqp://[REDACTED]@host`) and the values of query or `key=value`
/// parameters whose key names a secret (`password`, `token`, `secret`, `key`, …).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\''))
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo) => {
                out.push_str("[REDACTED]");
                rest = &tail[userinfo..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    redact_parameters(&out)
}

fn redact_parameters(text: &str) -> String {
    const SECRET_KEYS: [&str; 7] = ["password", "passwd", "pwd", "secret", "token", "key", "sig"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let (head, tail) = rest.split_at(eq);
        let key_start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .map_or(0, |i| i + 1);
        let key = head[key_start..].to_ascii_lowercase();
        out.push_str(head);
        out.push('=');
        let value = &tail[1..];
        let end = value
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | ',' | '"' | '\''))
            .unwrap_or(value.len());
        if !key.is_empty() && end > 0 && SECRET_KEYS.iter().any(|k| key.ends_with(k)) {
            out.push_str("[REDACTED]");
            rest = &value[end..];
        } else {
            rest = value;
        }
    }
    out.push_str(rest);
    out
}

/// A reason without its numbers: two decisions that differ only in values merge.
fn shape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_ascii_digit() && *c != '.')
        .collect()
}

fn metric_type_name(t: MetricType) -> &'static str {
    match t {
        MetricType::AverageValue => "AverageValue",
        MetricType::Value => "Value",
    }
}

fn fallback_behavior_name(b: crate::fallback::FallbackBehavior) -> &'static str {
    use crate::fallback::FallbackBehavior::*;
    match b {
        Static => "static",
        CurrentReplicas => "currentReplicas",
        CurrentReplicasIfHigher => "currentReplicasIfHigher",
        CurrentReplicasIfLower => "currentReplicasIfLower",
        ScalingModifiers => "scalingModifiers",
    }
}

/// `37`, `2.5`, `0.33`: numbers as people write them.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests;
