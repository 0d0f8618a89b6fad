//! Simulation inputs from CSV: a trace of metric values per trigger, and an arrival rate for the
//! load model. Both are step functions: a row's values hold from its `time_s` until the next row.
//!
//! The format is deliberately plain: comma-separated, a header row, no quoting; blank lines and
//! lines starting with `#` are skipped. Errors name the line and column (both 1-based).

use ebb_core::{TriggerKind, TriggerSpec};

/// A CSV problem at a line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CsvError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl CsvError {
    fn new(line: usize, column: usize, message: impl Into<String>) -> CsvError {
        CsvError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Metric values per trigger over time; `None` is a scaler failure (an empty cell).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Trigger index (into the policy's triggers) of each value column.
    pub columns: Vec<usize>,
    /// `(time_s, values per column)`, strictly increasing in time.
    pub rows: Vec<(u32, Vec<Option<f64>>)>,
}

impl Trace {
    /// Parses `time_s,<trigger>…`, where each trigger column is a trigger's `name` or its metric
    /// name (`s0-rabbitmq-orders`). Values must be finite and ≥ 0; an empty cell means the scaler
    /// failed at that time (it feeds fallback, as a failed poll would).
    pub fn parse(text: &str, triggers: &[TriggerSpec]) -> Result<Trace, CsvError> {
        let mut lines = data_lines(text);
        let Some((header_line, header)) = lines.next() else {
            return Err(CsvError::new(
                1,
                1,
                "empty file: expected a header time_s,<trigger>…",
            ));
        };
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        expect_time_header(&names, header_line)?;
        let mut columns = Vec::new();
        for (i, name) in names.iter().enumerate().skip(1) {
            let index = triggers
                .iter()
                .position(|t| (!t.name.is_empty() && t.name == *name) || t.metric_name == *name)
                .ok_or_else(|| {
                    CsvError::new(
                        header_line,
                        i + 1,
                        format!("unknown trigger {name:?}; known: {}", known(triggers)),
                    )
                })?;
            if triggers[index].kind == TriggerKind::Resource {
                return Err(CsvError::new(
                    header_line,
                    i + 1,
                    format!(
                        "{name:?} is a cpu/memory trigger; the metrics-server serves it and the simulation does not model it"
                    ),
                ));
            }
            if columns.contains(&index) {
                return Err(CsvError::new(
                    header_line,
                    i + 1,
                    format!("trigger {name:?} appears twice"),
                ));
            }
            columns.push(index);
        }
        if columns.is_empty() {
            return Err(CsvError::new(
                header_line,
                2,
                format!("no trigger columns; known: {}", known(triggers)),
            ));
        }
        let mut rows: Vec<(u32, Vec<Option<f64>>)> = Vec::new();
        for (line, text) in lines {
            let cells: Vec<&str> = text.split(',').map(str::trim).collect();
            if cells.len() != names.len() {
                return Err(CsvError::new(
                    line,
                    cells.len().min(names.len()) + 1,
                    format!(
                        "expected {} columns like the header, found {}",
                        names.len(),
                        cells.len()
                    ),
                ));
            }
            let time = parse_time(cells[0], line, rows.last().map(|r| r.0))?;
            let mut values = Vec::with_capacity(columns.len());
            for (c, (cell, &index)) in cells[1..].iter().zip(&columns).enumerate() {
                if cell.is_empty() {
                    values.push(None);
                    continue;
                }
                let trigger = &triggers[index];
                let value = parse_value(cell).map_err(|why| {
                    CsvError::new(
                        line,
                        c + 2,
                        format!(
                            "metric value {cell:?} of trigger {} {why}",
                            describe(trigger)
                        ),
                    )
                })?;
                values.push(Some(value));
            }
            rows.push((time, values));
        }
        if rows.is_empty() {
            return Err(CsvError::new(
                header_line + 1,
                1,
                "no data rows after the header",
            ));
        }
        Ok(Trace { columns, rows })
    }

    /// The value of trigger `index` at `t` (step interpolation; before the first row the first
    /// row holds). `None` when the trace has no column for it.
    pub fn value(&self, index: usize, t: u32) -> Option<Option<f64>> {
        let column = self.columns.iter().position(|&c| c == index)?;
        let row = step_row(&self.rows, t)?;
        row.1.get(column).copied()
    }

    /// The time of the last row.
    pub fn end(&self) -> u32 {
        self.rows.last().map_or(0, |r| r.0)
    }
}

/// Arrival rate (events per second) over time, for the load model.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrivals {
    /// `(time_s, events_per_s)`, strictly increasing in time.
    pub rows: Vec<(u32, f64)>,
}

impl Arrivals {
    /// Parses `time_s,events_per_s`.
    pub fn parse(text: &str) -> Result<Arrivals, CsvError> {
        let mut lines = data_lines(text);
        let Some((header_line, header)) = lines.next() else {
            return Err(CsvError::new(
                1,
                1,
                "empty file: expected a header time_s,events_per_s",
            ));
        };
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        expect_time_header(&names, header_line)?;
        if names.len() != 2 || names[1] != "events_per_s" {
            return Err(CsvError::new(
                header_line,
                2,
                format!("expected the header time_s,events_per_s, found {header:?}"),
            ));
        }
        let mut rows: Vec<(u32, f64)> = Vec::new();
        for (line, text) in lines {
            let cells: Vec<&str> = text.split(',').map(str::trim).collect();
            if cells.len() != 2 {
                return Err(CsvError::new(
                    line,
                    cells.len().min(2) + 1,
                    format!("expected 2 columns, found {}", cells.len()),
                ));
            }
            let time = parse_time(cells[0], line, rows.last().map(|r| r.0))?;
            let rate = parse_value(cells[1]).map_err(|why| {
                CsvError::new(line, 2, format!("events_per_s {:?} {why}", cells[1]))
            })?;
            rows.push((time, rate));
        }
        if rows.is_empty() {
            return Err(CsvError::new(
                header_line + 1,
                1,
                "no data rows after the header",
            ));
        }
        Ok(Arrivals { rows })
    }

    /// Events per second at `t` (0 before the first row).
    pub fn rate(&self, t: u32) -> f64 {
        match self.rows.first() {
            Some(first) if t < first.0 => 0.0,
            _ => step_row(&self.rows, t).map_or(0.0, |r| r.1),
        }
    }

    /// The time of the last row.
    pub fn end(&self) -> u32 {
        self.rows.last().map_or(0, |r| r.0)
    }
}

fn step_row<T>(rows: &[(u32, T)], t: u32) -> Option<&(u32, T)> {
    let after = rows.partition_point(|r| r.0 <= t);
    rows.get(after.saturating_sub(1))
}

/// Non-blank, non-comment lines with their 1-based numbers.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn expect_time_header(names: &[&str], line: usize) -> Result<(), CsvError> {
    if names.first() != Some(&"time_s") {
        return Err(CsvError::new(
            line,
            1,
            format!(
                "the first column must be time_s, found {:?}",
                names.first().unwrap_or(&"")
            ),
        ));
    }
    Ok(())
}

fn parse_time(cell: &str, line: usize, previous: Option<u32>) -> Result<u32, CsvError> {
    let time: u32 = cell.parse().map_err(|_| {
        CsvError::new(
            line,
            1,
            format!("time_s {cell:?} is not a whole number of seconds ≥ 0"),
        )
    })?;
    if let Some(p) = previous.filter(|p| time <= *p) {
        return Err(CsvError::new(
            line,
            1,
            format!("time_s {time} must be after the previous row's {p}"),
        ));
    }
    Ok(time)
}

fn parse_value(cell: &str) -> Result<f64, &'static str> {
    let v: f64 = cell.parse().map_err(|_| "is not a number")?;
    if !v.is_finite() {
        Err("is not finite")
    } else if v < 0.0 {
        Err("is negative")
    } else {
        Ok(v)
    }
}

fn describe(t: &TriggerSpec) -> String {
    if t.name.is_empty() {
        t.metric_name.clone()
    } else {
        format!("{} ({})", t.name, t.metric_name)
    }
}

fn known(triggers: &[TriggerSpec]) -> String {
    let names: Vec<String> = triggers
        .iter()
        .filter(|t| t.kind == TriggerKind::External)
        .map(describe)
        .collect();
    if names.is_empty() {
        "none (only cpu/memory triggers)".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triggers() -> Vec<TriggerSpec> {
        vec![
            TriggerSpec {
                name: "orders".into(),
                metric_name: "s0-rabbitmq-orders".into(),
                target: 5.0,
                ..Default::default()
            },
            TriggerSpec {
                metric_name: "s1-prometheus".into(),
                target: 100.0,
                ..Default::default()
            },
            TriggerSpec {
                metric_name: "cpu".into(),
                kind: TriggerKind::Resource,
                ..Default::default()
            },
        ]
    }

    fn err(text: &str) -> String {
        Trace::parse(text, &triggers()).unwrap_err().to_string()
    }

    #[test]
    fn columns_match_trigger_names_or_metric_names_and_values_step() {
        let t = Trace::parse(
            "# comment\ntime_s,s1-prometheus,orders\n0,1,0\n\n10,2,37\n20,,0\n",
            &triggers(),
        )
        .unwrap();
        assert_eq!(t.columns, vec![1, 0]);
        assert_eq!(t.value(0, 0), Some(Some(0.0)));
        assert_eq!(t.value(0, 9), Some(Some(0.0)));
        assert_eq!(t.value(0, 10), Some(Some(37.0)));
        assert_eq!(t.value(0, 15), Some(Some(37.0)));
        assert_eq!(t.value(1, 25), Some(None));
        assert_eq!(t.value(2, 0), None);
        assert_eq!(t.end(), 20);
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases = [
            (
                "",
                "line 1, column 1: empty file: expected a header time_s,<trigger>…",
            ),
            (
                "t,orders\n0,1\n",
                "line 1, column 1: the first column must be time_s, found \"t\"",
            ),
            (
                "time_s,orders,queue\n",
                "line 1, column 3: unknown trigger \"queue\"; known: orders (s0-rabbitmq-orders), s1-prometheus",
            ),
            (
                "time_s,cpu\n",
                "line 1, column 2: \"cpu\" is a cpu/memory trigger; the metrics-server serves it and the simulation does not model it",
            ),
            (
                "time_s,orders\n0,1\n5,-3\n",
                "line 3, column 2: metric value \"-3\" of trigger orders (s0-rabbitmq-orders) is negative",
            ),
            (
                "time_s,orders\n0,NaN\n",
                "line 2, column 2: metric value \"NaN\" of trigger orders (s0-rabbitmq-orders) is not finite",
            ),
            (
                "time_s,orders\n0,inf\n",
                "line 2, column 2: metric value \"inf\" of trigger orders (s0-rabbitmq-orders) is not finite",
            ),
            (
                "time_s,orders\n0,x\n",
                "line 2, column 2: metric value \"x\" of trigger orders (s0-rabbitmq-orders) is not a number",
            ),
            (
                "time_s,orders\n0,1\n0,2\n",
                "line 3, column 1: time_s 0 must be after the previous row's 0",
            ),
            (
                "time_s,orders\n1.5,1\n",
                "line 2, column 1: time_s \"1.5\" is not a whole number of seconds ≥ 0",
            ),
            (
                "time_s,orders\n0,1,2\n",
                "line 2, column 3: expected 2 columns like the header, found 3",
            ),
            (
                "time_s,orders\n",
                "line 2, column 1: no data rows after the header",
            ),
            (
                "time_s,orders,orders\n",
                "line 1, column 3: trigger \"orders\" appears twice",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text:?}");
        }
    }

    #[test]
    fn arrivals_step_and_are_zero_before_the_first_row() {
        let a = Arrivals::parse("time_s,events_per_s\n10,100\n130,0\n").unwrap();
        assert_eq!(
            (a.rate(0), a.rate(10), a.rate(129), a.rate(130), a.end()),
            (0.0, 100.0, 100.0, 0.0, 130)
        );
        assert_eq!(
            Arrivals::parse("time_s,events_per_s\n0,-1\n")
                .unwrap_err()
                .to_string(),
            "line 2, column 2: events_per_s \"-1\" is negative"
        );
        assert_eq!(
            Arrivals::parse("time_s,rate\n").unwrap_err().to_string(),
            "line 1, column 2: expected the header time_s,events_per_s, found \"time_s,rate\""
        );
    }
}
