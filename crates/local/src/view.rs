//! What `ebb run` shows: on a terminal, a compact table redrawn in place (object, trigger values,
//! desired and running replicas, the last decision and its why) over the latest log and worker
//! lines; otherwise plain log lines, one per event, and worker output prefixed `worker-2 | …`.
//! With `--log-format json` every line is a JSON object through `tracing`, with `kind`,
//! `namespace` and `name` fields for lines about an object and `replica` for worker output.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use ebb_core::trace::DecisionRecord;
use ebb_telemetry::ObjectType;
use ebb_telemetry::logging::{self, LogFormat};

/// How many recent lines the terminal view keeps under the table.
const TAIL: usize = 200;

/// One row of the table: one ScaledObject or ScaledJob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// `ScaledObject default/worker`.
    pub object: String,
    /// `s0-sqlite=37/5 active` per trigger.
    pub triggers: String,
    /// `spec.replicas` (ScaledJobs: unfinished Jobs).
    pub desired: u32,
    /// Processes running now.
    pub running: u32,
    /// Restarts, terminating replicas, finished Jobs.
    pub notes: String,
    /// The last change, e.g. `keda 0→1` or `hpa 1→4`.
    pub last: String,
    /// Its why.
    pub why: String,
}

#[derive(Debug, Default)]
struct Board {
    rows: BTreeMap<String, Row>,
    tail: VecDeque<String>,
}

/// The live view; cheap to call from every task.
#[derive(Debug)]
pub struct View {
    terminal: bool,
    json: bool,
    quiet: bool,
    start: Instant,
    board: Mutex<Board>,
}

impl View {
    /// A view that redraws a table (`terminal`) or prints plain lines; JSON lines instead of
    /// either when the installed log format (`ebb_telemetry::logging::init`) is JSON.
    pub fn new(terminal: bool) -> View {
        let json = logging::format() == LogFormat::Json;
        View {
            terminal: terminal && !json,
            json,
            quiet: false,
            start: Instant::now(),
            board: Mutex::new(Board::default()),
        }
    }

    /// A view that prints nothing and keeps only the rows (benchmarks, embedding).
    pub fn quiet() -> View {
        View {
            quiet: true,
            ..View::new(false)
        }
    }

    /// Whether the table is redrawn in place.
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Whether lines are JSON objects (`--log-format json`).
    pub fn is_json(&self) -> bool {
        self.json
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, line: String) {
        if self.quiet {
            return;
        }
        if self.terminal {
            let mut b = self.board();
            b.tail.push_back(line);
            while b.tail.len() > TAIL {
                b.tail.pop_front();
            }
        } else {
            // A closed stdout (`| head`) must not stop the supervisor.
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }

    /// An event of `ebb run` itself (decisions, starts, exits), stamped with the time since start.
    pub fn log(&self, line: impl AsRef<str>) {
        let line = line.as_ref();
        if self.json {
            if !self.quiet {
                json_line(line);
            }
            return;
        }
        let t = self.start.elapsed().as_secs_f64();
        self.emit(format!("[{t:6.1}s] {line}"));
    }

    /// A line a replica wrote.
    pub fn output(&self, replica: &str, line: &str) {
        if self.json {
            if !self.quiet {
                tracing::info!(target: "ebb::output", replica, "{line}");
            }
            return;
        }
        self.emit(format!("{replica} | {line}"));
    }

    /// A decision as one JSON line with the object and trigger fields (JSON mode only; plain and
    /// terminal modes show decisions through `log` and the table).
    pub fn decision(
        &self,
        object_type: ObjectType,
        namespace: &str,
        name: &str,
        record: &DecisionRecord,
    ) {
        if !self.json || self.quiet {
            return;
        }
        let triggers: Vec<String> = record.triggers.iter().map(|t| t.cell()).collect();
        let first_active = record.triggers.iter().find(|t| t.active);
        tracing::info!(
            target: "ebb::decision",
            kind = object_type.kind(),
            namespace,
            name,
            outcome = record.outcome.as_str(),
            summary = %record.summary,
            replicas = record.current_replicas,
            scale_to = record.scale_to,
            triggers = %triggers.join(" "),
            trigger = first_active.map(|t| t.metric_name.as_str()),
            value = first_active.and_then(|t| t.value),
            "{}",
            record.reason
        );
    }

    /// Replaces the row of `key`.
    pub fn set_row(&self, key: &str, row: Row) {
        self.board().rows.insert(key.to_owned(), row);
    }

    /// The current rows, in key order.
    pub fn rows(&self) -> Vec<Row> {
        self.board().rows.values().cloned().collect()
    }

    /// The table as text (also printed once at exit).
    pub fn table(&self) -> String {
        let mut lines = vec![
            [
                "OBJECT", "TRIGGERS", "DESIRED", "RUNNING", "NOTES", "LAST", "WHY",
            ]
            .map(String::from),
        ];
        for r in self.rows() {
            lines.push([
                r.object,
                r.triggers,
                r.desired.to_string(),
                r.running.to_string(),
                r.notes,
                r.last,
                r.why,
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|c| {
                lines
                    .iter()
                    .map(|l| l[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for l in &lines {
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
        out
    }

    /// One terminal frame of `rows`×`cols`: the table, a rule, and as many recent lines as fit.
    pub fn frame(&self, rows: usize, cols: usize) -> String {
        let t = self.start.elapsed().as_secs_f64();
        let mut lines: Vec<String> =
            vec![format!("ebb run — {t:.0}s — Ctrl-C stops every process")];
        lines.extend(self.table().lines().map(str::to_owned));
        lines.push("─".repeat(cols.min(100)));
        let room = rows.saturating_sub(lines.len() + 1);
        {
            let b = self.board();
            let skip = b.tail.len().saturating_sub(room);
            lines.extend(b.tail.iter().skip(skip).cloned());
        }
        let mut out = String::from("\x1b[H");
        for l in lines.iter().take(rows.saturating_sub(1)) {
            let cut: String = l.chars().take(cols.saturating_sub(1)).collect();
            out.push_str(&cut);
            out.push_str("\x1b[K\r\n");
        }
        out.push_str("\x1b[J");
        out
    }
}

/// `ScaledObject default/worker: …` and friends: the object a log line is about.
fn object_of(line: &str) -> Option<(&str, &str, &str, &str)> {
    let (kind, rest) = line.split_once(' ')?;
    if !kind.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    let (object, message) = rest.split_once(": ")?;
    let (namespace, name) = object.split_once('/')?;
    if name.contains(' ') || namespace.contains(' ') {
        return None;
    }
    Some((kind, namespace, name, message))
}

/// One log line of `ebb run` as a `tracing` event (JSON mode).
fn json_line(line: &str) {
    let (error, line) = match line.strip_prefix("ERROR ") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    match (object_of(line), error) {
        (Some((kind, namespace, name, message)), false) => {
            tracing::info!(target: "ebb::run", kind, namespace, name, "{message}")
        }
        (Some((kind, namespace, name, message)), true) => {
            tracing::error!(target: "ebb::run", kind, namespace, name, "{message}")
        }
        (None, false) => tracing::info!(target: "ebb::run", "{line}"),
        (None, true) => tracing::error!(target: "ebb::run", "{line}"),
    }
}

/// The terminal's size, or 40×120 when it cannot be read.
pub(crate) fn terminal_size() -> (usize, usize) {
    match rustix::termios::tcgetwinsize(std::io::stdout()) {
        Ok(w) if w.ws_row > 0 && w.ws_col > 0 => (usize::from(w.ws_row), usize::from(w.ws_col)),
        _ => (40, 120),
    }
}

/// Number formatting for trigger values: `37`, `2.5`.
pub(crate) fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_name_their_object() {
        assert_eq!(
            object_of("ScaledObject default/worker: keda 0→1: scaled"),
            Some(("ScaledObject", "default", "worker", "keda 0→1: scaled"))
        );
        assert_eq!(
            object_of("Deployment shop/api: not scaled by any ScaledObject: runs 2"),
            Some((
                "Deployment",
                "shop",
                "api",
                "not scaled by any ScaledObject: runs 2"
            ))
        );
        assert_eq!(object_of("worker-0: started `sleep 1000` (pid 7)"), None);
        assert_eq!(
            object_of("serving Prometheus metrics on http://x/metrics"),
            None
        );
        assert_eq!(object_of("all processes stopped and reaped"), None);
    }
}
