//! Metric specs, targets, values and KEDA's metric naming (`s<index>-<normalized>`).

/// How the HPA compares the metric with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricTargetType {
    /// Value divided by the current replica count is compared with the target (KEDA's default).
    AverageValue,
    /// The value itself is compared with the target.
    Value,
    /// Percent of the resource request (cpu/memory only).
    Utilization,
}

impl MetricTargetType {
    /// The HPA spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricTargetType::AverageValue => "AverageValue",
            MetricTargetType::Value => "Value",
            MetricTargetType::Utilization => "Utilization",
        }
    }
}

/// A target value, in the form KEDA puts into the HPA.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetValue {
    /// `GetMetricTarget`: a plain integer quantity.
    Int(i64),
    /// `GetMetricTargetMili`: a float rendered as a milli quantity.
    Float(f64),
    /// A Kubernetes quantity as written by the user (cpu/memory `AverageValue`, e.g. `500m`).
    Quantity(String),
    /// Integer percent (cpu/memory `Utilization`).
    Percent(i32),
}

impl TargetValue {
    /// The value as a float (quantities: `None`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            TargetValue::Int(v) => Some(*v as f64),
            TargetValue::Float(v) => Some(*v),
            TargetValue::Percent(v) => Some(f64::from(*v)),
            TargetValue::Quantity(_) => None,
        }
    }

    /// The canonical Kubernetes quantity string (`2`, `2500m`, `500Mi`, `80`).
    pub fn to_quantity(&self) -> String {
        match self {
            TargetValue::Int(v) => v.to_string(),
            TargetValue::Percent(v) => v.to_string(),
            TargetValue::Quantity(q) => q.clone(),
            TargetValue::Float(v) => {
                // resource.NewMilliQuantity(int64(v*1000), DecimalSI), canonicalised.
                let milli = (v * 1000.0) as i64;
                if milli % 1000 == 0 {
                    (milli / 1000).to_string()
                } else {
                    format!("{milli}m")
                }
            }
        }
    }
}

/// Where the HPA reads the metric from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricSource {
    /// `external.metrics.k8s.io`, served by Ebb.
    External,
    /// `Resource` (`container: None`) or `ContainerResource` metric, served by metrics.k8s.io.
    Resource {
        /// `cpu` or `memory`.
        resource: String,
        /// `containerName`, for a ContainerResource metric.
        container: Option<String>,
    },
}

/// One metric a trigger feeds to the HPA. Pure: computed from the config alone.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    /// `s<index>-...` (external) or the resource name (cpu/memory).
    pub metric_name: String,
    /// External or resource metric.
    pub source: MetricSource,
    /// AverageValue, Value or Utilization.
    pub target_type: MetricTargetType,
    /// The target.
    pub target: TargetValue,
    /// Active iff the value is strictly greater than this.
    pub activation_threshold: f64,
}

impl MetricSpec {
    /// The usual spec: one External metric the HPA reads from Ebb's metrics API.
    pub fn external(
        metric_name: impl Into<String>,
        target_type: MetricTargetType,
        target: TargetValue,
        activation_threshold: f64,
    ) -> Self {
        MetricSpec {
            metric_name: metric_name.into(),
            source: MetricSource::External,
            target_type,
            target,
            activation_threshold,
        }
    }
}

/// One measured value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// The metric name from the spec.
    pub metric_name: String,
    /// The value (the HPA divides by replicas for AverageValue).
    pub value: f64,
}

/// KEDA's `NormalizeString`: each of `/ . : % ( )` becomes `-`.
pub fn normalize(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '/' | '.' | ':' | '%' | '(' | ')' => '-',
            other => other,
        })
        .collect()
}

/// `s<index>-<normalize(raw)>`.
pub fn metric_name(index: usize, raw: &str) -> String {
    format!("s{index}-{}", normalize(raw))
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX` (upper-case).
pub fn query_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Go's `url.PathEscape`: like `query_escape` but space is `%20` and `:@&=+$` stay.
pub fn path_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b':'
            | b'@'
            | b'&'
            | b'='
            | b'+'
            | b'$' => out.push(b as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_replace_keda_separators_with_dashes() {
        let cases = [
            (0, "redis-jobs", "s0-redis-jobs"),
            (2, "a/b.c:d%e(f)g", "s2-a-b-c-d-e-f-g"),
            (
                1,
                "rabbitmq-namespace%2Fname",
                "s1-rabbitmq-namespace-2Fname",
            ),
        ];
        for (index, raw, want) in cases {
            assert_eq!(metric_name(index, raw), want);
        }
    }

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape("namespace/name"), "namespace%2Fname");
        assert_eq!(query_escape("a b+c"), "a+b%2Bc");
        assert_eq!(query_escape("q.1~_-"), "q.1~_-");
    }

    #[test]
    fn float_targets_render_as_milli_quantities() {
        assert_eq!(TargetValue::Float(2.5).to_quantity(), "2500m");
        assert_eq!(TargetValue::Float(20.0).to_quantity(), "20");
        assert_eq!(TargetValue::Int(5).to_quantity(), "5");
    }
}
