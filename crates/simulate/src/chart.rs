//! The chart: the backlog (or metric) on the left axis, desired and ready replicas as step lines on
//! the right axis, scale events marked where the desired line moves, arrivals shaded. SVG via
//! plotters; the SVG backend writes `<text>` elements, so no font is needed to produce it.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::series::{Actor, Simulation, number};

/// Chart size in pixels.
pub const WIDTH: u32 = 1200;
/// Chart height in pixels.
pub const HEIGHT: u32 = 600;

/// Drawing the chart failed (plotters' error, as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("drawing the chart failed: {0}")]
pub struct ChartError(String);

const METRIC: RGBColor = RGBColor(31, 119, 180);
const DESIRED: RGBColor = RGBColor(230, 110, 0);
const READY: RGBColor = RGBColor(44, 160, 44);
const KEDA: RGBColor = RGBColor(148, 60, 189);
const NEEDED: RGBColor = RGBColor(120, 120, 120);
const GRID: RGBColor = RGBColor(225, 225, 225);
const ARRIVALS: RGBAColor = RGBAColor(31, 119, 180, 0.08);

/// Renders the simulation as a 1200×600 SVG document.
pub fn svg(sim: &Simulation) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, sim).map_err(|e| ChartError(e.to_string()))?;
        root.present().map_err(|e| ChartError(e.to_string()))?;
    }
    Ok(out)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, sim: &Simulation) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let samples = &sim.samples;
    let end = samples.last().map_or(1, |s| s.t).max(1);
    // Minutes read better than thousands of seconds.
    let (scale, unit) = if end > 1200 {
        (60.0, "min")
    } else {
        (1.0, "s")
    };
    let x = |t: u32| f64::from(t) / scale;
    let x_max = x(end);

    let primary = &sim.summary.primary;
    let column = sim.metric_names.iter().position(|n| n == primary);
    let value_at = |i: usize| -> f64 {
        let s = &samples[i];
        match column {
            Some(c) if s.backlog.is_none() || primary != "backlog" => {
                s.metrics.get(c).copied().flatten().unwrap_or(0.0)
            }
            _ => s.backlog.unwrap_or(0.0),
        }
    };
    // Headroom above the data keeps the legend (upper right) and the event labels off the lines.
    let y_max = nice_max((0..samples.len()).map(value_at).fold(0.0, f64::max) * 1.3);
    let replicas_max = samples
        .iter()
        .map(|s| f64::from(s.desired.max(s.ready)).max(s.needed.unwrap_or(0.0)))
        .fold(0.0, f64::max);
    let y2_max = nice_max(replicas_max.max(4.0) * 1.45).ceil();

    let left_desc = if primary == "backlog" {
        "backlog (messages)".to_owned()
    } else {
        format!("{primary} (metric value)")
    };
    let right_desc = if sim.unit == "jobs" {
        "Jobs (running / started)"
    } else {
        "replicas"
    };
    let what = if primary == "backlog" {
        "queue backlog"
    } else {
        primary.as_str()
    };
    let title = format!("{} — {what} and {} over time", sim.title, sim.unit);

    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 30).into_font().color(&BLACK))
        .margin(16)
        .margin_right(24)
        .x_label_area_size(50)
        .y_label_area_size(95)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?
        .set_secondary_coord(0.0..x_max, 0.0..y2_max);

    chart
        .configure_mesh()
        .light_line_style(GRID.mix(0.0))
        .bold_line_style(GRID)
        .x_desc(format!("time ({unit})"))
        .y_desc(left_desc)
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 17))
        .x_label_formatter(&|v| number(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc(right_desc)
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 17))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;

    // Arrivals (load model): shade the seconds where events arrive, when that marks out a burst.
    let arriving = samples.iter().filter(|s| s.arrivals > 0.0).count();
    let shade = arriving > 0 && arriving * 10 < samples.len() * 8;
    let mut start = None;
    for (i, s) in samples.iter().enumerate() {
        let on = shade && s.arrivals > 0.0;
        match (on, start) {
            (true, None) => start = Some(s.t),
            (false, Some(from)) => {
                chart.draw_series([Rectangle::new(
                    [(x(from), 0.0), (x(s.t), y_max)],
                    ARRIVALS.filled(),
                )])?;
                start = None;
            }
            _ => {}
        }
        if i + 1 == samples.len()
            && let Some(from) = start
        {
            chart.draw_series([Rectangle::new(
                [(x(from), 0.0), (x(s.t), y_max)],
                ARRIVALS.filled(),
            )])?;
        }
    }
    let peak_arrivals = samples
        .iter()
        .map(|s| s.arrivals)
        .reduce(f64::max)
        .filter(|a| *a > 0.0);
    if let Some(peak) = peak_arrivals.filter(|_| shade) {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (0.0, 0.0)],
                ARRIVALS.filled(),
            )))?
            .label(format!("arrivals (up to {}/s)", number(peak.round())))
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 6), (x + 20, y + 6)], ARRIVALS.mix(4.0).filled())
            });
    }

    // The metric: one point per second, thinned to about two per pixel.
    let step = (samples.len() / (2 * WIDTH as usize)).max(1);
    let points: Vec<(f64, f64)> = (0..samples.len())
        .filter(|i| i % step == 0 || *i + 1 == samples.len())
        .map(|i| (x(samples[i].t), value_at(i)))
        .collect();
    chart
        .draw_series(LineSeries::new(points, METRIC.stroke_width(2)))?
        .label(left_label(primary))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], METRIC.stroke_width(3)));

    let desired = steps(samples.iter().map(|s| (s.t, s.desired)), &x);
    let ready = steps(samples.iter().map(|s| (s.t, s.ready)), &x);
    let (desired_label, ready_label, needed_label) = if sim.unit == "jobs" {
        (
            "running Jobs (created, unfinished)",
            "started Jobs (pod running)",
            "Jobs needed to keep up (arrivals × job duration)",
        )
    } else {
        (
            "desired replicas",
            "ready replicas",
            "replicas needed to keep up (arrivals ÷ per-replica rate)",
        )
    };
    if samples.iter().any(|s| s.needed.is_some()) {
        let needed: Vec<(f64, f64)> = samples
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                *i == 0 || *i + 1 == samples.len() || samples[i - 1].needed != s.needed
            })
            .flat_map(|(i, s)| {
                let prev = if i == 0 {
                    s.needed
                } else {
                    samples[i - 1].needed
                };
                [
                    (x(s.t), prev.unwrap_or(0.0)),
                    (x(s.t), s.needed.unwrap_or(0.0)),
                ]
            })
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(needed, NEEDED.stroke_width(2)))?
            .label(needed_label)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], NEEDED.stroke_width(2)));
    }
    chart
        .draw_secondary_series(LineSeries::new(desired, DESIRED.stroke_width(3)))?
        .label(desired_label)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], DESIRED.stroke_width(3)));
    chart
        .draw_secondary_series(DashedLineSeries::new(ready, 7, 4, READY.stroke_width(2)))?
        .label(ready_label)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], READY.stroke_width(2)));

    // Scale events: a dot where the desired line moves; one label per second (`0→1→5`), placed
    // where it does not cover an earlier label.
    let area = chart.secondary_plotting_area().clone();
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let events = &sim.events;
    // Dots first, so no label hides under a later dot; labels keep clear of dots too.
    for e in events {
        let color = if e.actor == Actor::Keda {
            KEDA
        } else {
            DESIRED
        };
        let at = (x(e.t), f64::from(e.to));
        chart.draw_secondary_series(std::iter::once(Circle::new(at, 5, color.filled())))?;
        let (px, py) = area.map_coordinate(&at);
        placed.push((px - 6, py - 6, px + 6, py + 6));
    }
    let mut i = 0;
    while i < events.len() {
        let t = events[i].t;
        let group: Vec<_> = events[i..].iter().take_while(|e| e.t == t).collect();
        i += group.len();
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let label = if first.actor == Actor::Jobs {
            first.label()
        } else if first.from == 0 || last.to == 0 || first.actor == Actor::Keda {
            let mut chain = first.from.to_string();
            for e in &group {
                chain.push_str(&format!("→{}", e.to));
            }
            chain
        } else {
            format!("→{}", last.to)
        };
        let color = if group.iter().any(|e| e.actor == Actor::Keda) {
            KEDA
        } else {
            DESIRED
        };
        let anchor = (x(t), f64::from(last.to));
        let px = area.map_coordinate(&anchor);
        let width = 10 * i32::try_from(label.chars().count()).unwrap_or(8);
        // Left of the dot is free of the step line whichever way it moved; then above, right, below.
        let spot = [
            (-width - 8, -9),
            (-width - 4, -28),
            (6, -28),
            (8, -9),
            (6, 8),
            (6, -48),
        ]
        .into_iter()
        .find(|&(dx, dy)| {
            let r = (px.0 + dx, px.1 + dy, px.0 + dx + width, px.1 + dy + 18);
            placed
                .iter()
                .all(|p| r.2 < p.0 || r.0 > p.2 || r.3 < p.1 || r.1 > p.3)
        });
        if let Some((dx, dy)) = spot {
            placed.push((px.0 + dx, px.1 + dy, px.0 + dx + width, px.1 + dy + 18));
            chart.draw_secondary_series(std::iter::once(
                EmptyElement::at(anchor)
                    + Text::new(
                        label,
                        (dx, dy),
                        ("sans-serif", 17).into_font().color(&color),
                    ),
            ))?;
        }
    }
    if events.iter().any(|e| e.actor == Actor::Keda) {
        chart
            .draw_secondary_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("KEDA: activation 0→1, deactivation →0 (dot)")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, KEDA.filled()));
    }
    if events.iter().any(|e| e.actor != Actor::Keda) {
        let who = if sim.unit == "jobs" {
            "Jobs created at a poll (+N)"
        } else {
            "HPA: scales 1↔N (dot)"
        };
        chart
            .draw_secondary_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(who)
            .legend(|(x, y)| Circle::new((x + 10, y), 5, DESIRED.filled()));
    }

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .margin(12)
        .label_font(("sans-serif", 17))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    Ok(())
}

fn left_label(primary: &str) -> String {
    if primary == "backlog" {
        "backlog (left axis)".to_owned()
    } else {
        format!("{primary} (left axis)")
    }
}

/// Step-line points: the value holds until the next change.
fn steps(values: impl Iterator<Item = (u32, u32)>, x: &dyn Fn(u32) -> f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut last: Option<(u32, u32)> = None;
    for (t, v) in values {
        match last {
            None => out.push((x(t), f64::from(v))),
            Some((_, prev)) if prev != v => {
                out.push((x(t), f64::from(prev)));
                out.push((x(t), f64::from(v)));
            }
            _ => {}
        }
        last = Some((t, v));
    }
    if let Some((t, v)) = last {
        out.push((x(t), f64::from(v)));
    }
    out
}

/// A round axis maximum a little above `v`.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let v = v * 1.08;
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * magnitude >= v {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

/// Axis labels: `7.5M`, `250k`, `37`.
fn short(v: f64) -> String {
    let a = v.abs();
    let (n, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = format!("{n:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short_and_maxima_round() {
        assert_eq!(short(7_500_000.0), "7.5M");
        assert_eq!(short(250_000.0), "250k");
        assert_eq!(short(37.0), "37");
        assert_eq!(short(2.5), "2.5");
        assert_eq!(nice_max(37.0), 40.0);
        assert_eq!(nice_max(6_100_000.0), 8_000_000.0);
        assert_eq!(nice_max(0.0), 1.0);
    }

    #[test]
    fn steps_hold_values_until_the_change() {
        let pts = steps([(0, 0), (1, 0), (2, 1), (3, 1)].into_iter(), &|t| {
            f64::from(t)
        });
        assert_eq!(pts, vec![(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (3.0, 1.0)]);
    }
}
