//! `spec.behavior` of an autoscaling/v2 HPA as plain data, with the API server's defaults
//! (pkg/apis/autoscaling/v2 `GenerateHPAScaleUpRules`/`GenerateHPAScaleDownRules`).

/// `Pods` or `Percent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingPolicyType {
    /// Change by at most `value` pods per period.
    Pods,
    /// Change by at most `value` percent of the replicas at the period's start.
    Percent,
}

/// One `HPAScalingPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingPolicy {
    /// Pods or Percent.
    pub policy_type: ScalingPolicyType,
    /// The amount.
    pub value: u32,
    /// The window the amount applies to.
    pub period_seconds: u32,
}

/// `selectPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelectPolicy {
    /// The policy allowing the biggest change (default).
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// `HPAScalingRules` as written (unset fields take the defaults of their direction).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScalingRules {
    /// `stabilizationWindowSeconds`.
    pub stabilization_window_seconds: Option<u32>,
    /// `selectPolicy`.
    pub select_policy: Option<SelectPolicy>,
    /// `policies`; empty means the defaults.
    pub policies: Vec<ScalingPolicy>,
}

/// `HorizontalPodAutoscalerBehavior`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Behavior {
    /// `scaleUp`.
    pub scale_up: Option<ScalingRules>,
    /// `scaleDown`.
    pub scale_down: Option<ScalingRules>,
}

/// Scaling rules with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRules {
    /// Stabilization window in seconds.
    pub stabilization_window_seconds: u32,
    /// Select policy.
    pub select_policy: SelectPolicy,
    /// Policies (never empty).
    pub policies: Vec<ScalingPolicy>,
}

impl EffectiveRules {
    /// The longest policy period: events older than this no longer matter.
    pub fn longest_period(&self) -> u32 {
        self.policies
            .iter()
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or(0)
    }
}

impl Behavior {
    /// Scale-up rules; defaults: window 0, Max of {4 pods, 100 %} per 15 s.
    pub fn scale_up_rules(&self) -> EffectiveRules {
        effective(
            self.scale_up.as_ref(),
            0,
            &[
                ScalingPolicy {
                    policy_type: ScalingPolicyType::Pods,
                    value: 4,
                    period_seconds: 15,
                },
                ScalingPolicy {
                    policy_type: ScalingPolicyType::Percent,
                    value: 100,
                    period_seconds: 15,
                },
            ],
        )
    }

    /// Scale-down rules; defaults: window 300 s, 100 % per 15 s.
    pub fn scale_down_rules(&self) -> EffectiveRules {
        effective(
            self.scale_down.as_ref(),
            300,
            &[ScalingPolicy {
                policy_type: ScalingPolicyType::Percent,
                value: 100,
                period_seconds: 15,
            }],
        )
    }
}

fn effective(
    rules: Option<&ScalingRules>,
    window: u32,
    policies: &[ScalingPolicy],
) -> EffectiveRules {
    let rules = rules.cloned().unwrap_or_default();
    EffectiveRules {
        stabilization_window_seconds: rules.stabilization_window_seconds.unwrap_or(window),
        select_policy: rules.select_policy.unwrap_or_default(),
        policies: if rules.policies.is_empty() {
            policies.to_vec()
        } else {
            rules.policies
        },
    }
}
