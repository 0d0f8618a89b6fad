//! Pause and force-activation annotations (`autoscaling.keda.sh/paused*`, `force-activation`).

use thiserror::Error;

/// `autoscaling.keda.sh/paused`: freeze the ScaledObject at its current replicas.
pub const PAUSED: &str = "autoscaling.keda.sh/paused";
/// `autoscaling.keda.sh/paused-replicas`: freeze at this replica count.
pub const PAUSED_REPLICAS: &str = "autoscaling.keda.sh/paused-replicas";
/// `autoscaling.keda.sh/paused-scale-in`: block scaling in (HPA scaleDown Disabled, no N→0/idle).
pub const PAUSED_SCALE_IN: &str = "autoscaling.keda.sh/paused-scale-in";
/// `autoscaling.keda.sh/paused-scale-out`: block scaling out (HPA scaleUp Disabled, no 0/idle→N).
pub const PAUSED_SCALE_OUT: &str = "autoscaling.keda.sh/paused-scale-out";
/// `autoscaling.keda.sh/force-activation`: treat the ScaledObject as active.
pub const FORCE_ACTIVATION: &str = "autoscaling.keda.sh/force-activation";

/// The pause-related settings of a ScaledObject, read from its annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PauseSettings {
    /// `paused` is true.
    pub paused: bool,
    /// `paused-replicas` is present, with its value.
    pub paused_replicas: Option<u32>,
    /// `paused-scale-in` is true.
    pub paused_scale_in: bool,
    /// `paused-scale-out` is true.
    pub paused_scale_out: bool,
    /// `force-activation` is true.
    pub force_activation: bool,
}

/// A `paused-replicas` value that is not a non-negative int32.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "annotation {PAUSED_REPLICAS} has invalid value {value:?}: expected a non-negative integer"
)]
pub struct PausedReplicasError {
    /// The annotation's value.
    pub value: String,
}

impl PauseSettings {
    /// Reads the settings from annotations (KEDA: a non-boolean value counts as true; a bad
    /// `paused-replicas` is a reconcile error).
    pub fn from_annotations<'a>(
        annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<PauseSettings, PausedReplicasError> {
        let mut settings = PauseSettings::default();
        for (key, value) in annotations {
            match key {
                PAUSED => settings.paused = parse_bool_or_true(value),
                PAUSED_SCALE_IN => settings.paused_scale_in = parse_bool_or_true(value),
                PAUSED_SCALE_OUT => settings.paused_scale_out = parse_bool_or_true(value),
                FORCE_ACTIVATION => settings.force_activation = parse_bool_or_true(value),
                PAUSED_REPLICAS => {
                    let replicas = value
                        .trim()
                        .parse::<i32>()
                        .ok()
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or_else(|| PausedReplicasError {
                            value: value.to_owned(),
                        })?;
                    settings.paused_replicas = Some(replicas);
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    /// Paused outright (`paused` or `paused-replicas`): no loop, no HPA.
    pub fn is_paused(&self) -> bool {
        self.paused || self.paused_replicas.is_some()
    }

    /// Any pause, including one direction only; drives the Paused condition.
    pub fn any(&self) -> bool {
        self.is_paused() || self.paused_scale_in || self.paused_scale_out
    }
}

/// Go's `strconv.ParseBool`, except that KEDA treats an unparseable value as true.
fn parse_bool_or_true(value: &str) -> bool {
    !matches!(value, "0" | "f" | "F" | "false" | "FALSE" | "False")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_parse_like_go_parse_bool_with_garbage_meaning_true() {
        let cases: &[(&[(&str, &str)], PauseSettings)] = &[
            (&[], PauseSettings::default()),
            (
                &[(PAUSED, "true")],
                PauseSettings {
                    paused: true,
                    ..Default::default()
                },
            ),
            (&[(PAUSED, "false")], PauseSettings::default()),
            (&[(PAUSED, "F")], PauseSettings::default()),
            (
                &[(PAUSED, "yes please")],
                PauseSettings {
                    paused: true,
                    ..Default::default()
                },
            ),
            (
                &[(PAUSED_REPLICAS, "3")],
                PauseSettings {
                    paused_replicas: Some(3),
                    ..Default::default()
                },
            ),
            (
                &[(PAUSED_SCALE_IN, "1")],
                PauseSettings {
                    paused_scale_in: true,
                    ..Default::default()
                },
            ),
            (
                &[(PAUSED_SCALE_OUT, "T")],
                PauseSettings {
                    paused_scale_out: true,
                    ..Default::default()
                },
            ),
            (
                &[(FORCE_ACTIVATION, "true")],
                PauseSettings {
                    force_activation: true,
                    ..Default::default()
                },
            ),
            (&[("other", "true")], PauseSettings::default()),
        ];
        for (annotations, want) in cases {
            assert_eq!(
                PauseSettings::from_annotations(annotations.iter().copied()),
                Ok(*want),
                "{annotations:?}"
            );
        }
    }

    #[test]
    fn bad_paused_replicas_is_an_error() {
        for bad in ["x", "-1", "1.5", ""] {
            assert!(
                PauseSettings::from_annotations([(PAUSED_REPLICAS, bad)]).is_err(),
                "{bad}"
            );
        }
    }
}
