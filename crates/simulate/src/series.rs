//! What a simulation produces: one sample per second, the scale events, and a summary.

use std::fmt::{self, Write as _};

/// Who changed the replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// KEDA's own loop (0↔1, idle, min): `ebb_core::decide`.
    Keda,
    /// The HPA (1↔N): `HpaState::sync`.
    Hpa,
    /// Jobs created by a ScaledJob poll.
    Jobs,
}

impl Actor {
    /// Lower-case name, for CSV and text.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Keda => "keda",
            Actor::Hpa => "hpa",
            Actor::Jobs => "jobs",
        }
    }
}

/// One change of the desired count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleEvent {
    /// Second of the simulation.
    pub t: u32,
    /// Desired replicas (or running Jobs) before.
    pub from: u32,
    /// After.
    pub to: u32,
    /// Who decided it.
    pub actor: Actor,
}

impl ScaleEvent {
    /// A short label for charts: `0→1`, `→5`, `+3 jobs`.
    pub fn label(&self) -> String {
        match self.actor {
            Actor::Jobs => format!("+{}", self.to.saturating_sub(self.from)),
            _ if self.from == 0 || self.to == 0 => format!("{}→{}", self.from, self.to),
            _ => format!("→{}", self.to),
        }
    }
}

/// The state at the start of one simulated second.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Second of the simulation.
    pub t: u32,
    /// The value each trigger reports (aligned with the policy's triggers; `None` = failing or
    /// not modelled).
    pub metrics: Vec<Option<f64>>,
    /// The queue (load model only): messages waiting, including those being worked on.
    pub backlog: Option<f64>,
    /// Events arriving during this second (load model only).
    pub arrivals: f64,
    /// Load model: replicas (Jobs) that would just keep up with this second's arrivals —
    /// arrivals ÷ per-replica rate, or arrivals × job duration for a ScaledJob.
    pub needed: Option<f64>,
    /// Desired replicas (`spec.replicas`), or unfinished Jobs for a ScaledJob.
    pub desired: u32,
    /// Ready replicas, or Jobs whose pod has started.
    pub ready: u32,
    /// Whether the object was active at the last poll.
    pub active: bool,
}

/// Figures a person asks about first.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// What the primary series is: `backlog` or the trigger's name.
    pub primary: String,
    /// Highest value of the primary series, and when.
    pub peak: (f64, u32),
    /// First second after the peak at which the primary series is 0.
    pub drained_at: Option<u32>,
    /// Most desired replicas (running Jobs), and when first reached.
    pub max_desired: (u32, u32),
    /// Most ready replicas (started Jobs).
    pub max_ready: u32,
    /// Σ desired over seconds: what the pods cost, started or not.
    pub replica_seconds: u64,
    /// Changes of the desired count (ScaledJob: polls that created Jobs).
    pub scale_events: usize,
    /// Jobs created (ScaledJob only).
    pub jobs_created: Option<u64>,
    /// Last simulated second.
    pub end: u32,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// `ScaledObject ns/name` or `ScaledJob ns/name`.
    pub title: String,
    /// Column names of `Sample::metrics` (trigger name or metric name).
    pub metric_names: Vec<String>,
    /// `replicas` or `jobs`: what `desired`/`ready` count.
    pub unit: &'static str,
    /// One per second, from 0.
    pub samples: Vec<Sample>,
    /// Every change of the desired count, in time order.
    pub events: Vec<ScaleEvent>,
    /// The figures.
    pub summary: Summary,
}

impl Simulation {
    /// The per-second series as CSV:
    /// `time_s,<metrics…>,backlog,arrivals_per_s,needed_<unit>,desired_<unit>,ready_<unit>,active,events`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("time_s");
        for name in &self.metric_names {
            out.push(',');
            out.push_str(name);
        }
        let _ = writeln!(
            out,
            ",backlog,arrivals_per_s,needed_{0},desired_{0},ready_{0},active,events",
            self.unit
        );
        let mut events = self.events.iter().peekable();
        for s in &self.samples {
            let _ = write!(out, "{}", s.t);
            for m in &s.metrics {
                out.push(',');
                if let Some(v) = m {
                    let _ = write!(out, "{}", round3(*v));
                }
            }
            out.push(',');
            if let Some(b) = s.backlog {
                let _ = write!(out, "{}", round3(b));
            }
            let _ = write!(out, ",{},", round3(s.arrivals));
            if let Some(n) = s.needed {
                let _ = write!(out, "{}", round3(n));
            }
            let _ = write!(out, ",{},{},{},", s.desired, s.ready, s.active);
            let mut labels = Vec::new();
            while let Some(e) = events.next_if(|e| e.t == s.t) {
                labels.push(format!("{}:{}->{}", e.actor.as_str(), e.from, e.to));
            }
            out.push_str(&labels.join(" "));
            out.push('\n');
        }
        out
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let jobs = self.jobs_created.is_some();
        let unit = if jobs { "running Jobs" } else { "replicas" };
        writeln!(
            f,
            "peak {}: {} at t={}s",
            self.primary,
            number(self.peak.0),
            self.peak.1
        )?;
        match self.drained_at {
            Some(at) => writeln!(
                f,
                "drained: {} back to 0 at t={at}s ({}s after the peak)",
                self.primary,
                at - self.peak.1
            )?,
            None => writeln!(f, "drained: {} still above 0 at the end", self.primary)?,
        }
        writeln!(
            f,
            "max {unit}: {} (first at t={}s); max ready: {}",
            self.max_desired.0, self.max_desired.1, self.max_ready
        )?;
        let seconds = if jobs {
            "job-seconds"
        } else {
            "replica-seconds"
        };
        writeln!(
            f,
            "{seconds}: {} ({:.1} {}-hours)",
            self.replica_seconds,
            self.replica_seconds as f64 / 3600.0,
            if jobs { "job" } else { "replica" }
        )?;
        match self.jobs_created {
            Some(n) => writeln!(f, "jobs created: {n} in {} polls", self.scale_events)?,
            None => writeln!(f, "scale events: {}", self.scale_events)?,
        }
        write!(f, "simulated: {}s", self.end + 1)
    }
}

/// `12345678.5` → `12,345,678.5`; integers without decimals.
pub fn number(v: f64) -> String {
    let rounded = round3(v);
    let int = rounded.trunc() as i64;
    let mut digits = int.unsigned_abs().to_string();
    let mut i = digits.len();
    while i > 3 {
        i -= 3;
        digits.insert(i, ',');
    }
    let sign = if int < 0 { "-" } else { "" };
    let frac = rounded.fract().abs();
    if frac > 0.0 {
        let f = format!("{frac:.3}");
        format!(
            "{sign}{digits}{}",
            f.trim_start_matches('0').trim_end_matches('0')
        )
    } else {
        format!("{sign}{digits}")
    }
}

/// Builds the summary from the samples.
pub(crate) fn summarize(
    primary: String,
    samples: &[Sample],
    primary_of: impl Fn(&Sample) -> f64,
    events: &[ScaleEvent],
    jobs_created: Option<u64>,
) -> Summary {
    let mut peak = (0.0, 0);
    let mut max_desired = (0, 0);
    let mut max_ready = 0;
    let mut replica_seconds = 0u64;
    for s in samples {
        let v = primary_of(s);
        if v > peak.0 {
            peak = (v, s.t);
        }
        if s.desired > max_desired.0 {
            max_desired = (s.desired, s.t);
        }
        max_ready = max_ready.max(s.ready);
        replica_seconds += u64::from(s.desired);
    }
    let drained_at = samples
        .iter()
        .filter(|s| s.t > peak.1)
        .find(|s| primary_of(s) <= 0.0)
        .map(|s| s.t);
    Summary {
        primary,
        peak,
        drained_at,
        max_desired,
        max_ready,
        replica_seconds,
        scale_events: events.len(),
        jobs_created,
        end: samples.last().map_or(0, |s| s.t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1234.0), "1,234");
        assert_eq!(number(5_000_000.25), "5,000,000.25");
        assert_eq!(number(37.0), "37");
    }

    #[test]
    fn labels_show_activation_and_targets() {
        let e = |from, to, actor| ScaleEvent {
            t: 0,
            from,
            to,
            actor,
        };
        assert_eq!(e(0, 1, Actor::Keda).label(), "0→1");
        assert_eq!(e(1, 5, Actor::Hpa).label(), "→5");
        assert_eq!(e(3, 0, Actor::Keda).label(), "3→0");
        assert_eq!(e(2, 5, Actor::Jobs).label(), "+3");
    }
}
