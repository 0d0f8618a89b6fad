// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::params::order::*;

fn params() -> TriggerParams {
    TriggerParams::new(
        "test",
        0,
        [
            ("host", "meta-host"),
            ("blank", "   "),
            ("portFromEnv", "PORT_VAR"),
            ("passwordFromEnv", "PW"),
            ("count", "10"),
            ("ratio", "10.5"),
            ("flag", "True"),
            ("bad", "abc"),
            ("dur", "1m30s"),
            ("ms", "250"),
            ("headers", "a=1, b = two ,c=x=y"),
        ],
    )
    .with_resolved_env([("PORT_VAR", "5672"), ("PW", "env-secret")])
    .with_auth_params([
        ("host", "auth-host"),
        ("password", "auth-secret"),
        ("blank", "from-auth"),
    ])
}

#[test]
fn lookup_follows_the_key_order_and_skips_blank_values() {
    let p = params();
    let cases: &[(&str, &[Source], Option<(&str, Source)>)] = &[
        ("host", MAE, Some(("meta-host", Source::TriggerMetadata))),
        ("host", AME, Some(("auth-host", Source::AuthParams))),
        ("port", MAE, Some(("5672", Source::ResolvedEnv))),
        ("password", AE, Some(("auth-secret", Source::AuthParams))),
        (
            "password",
            &[Source::ResolvedEnv, Source::AuthParams],
            Some(("env-secret", Source::ResolvedEnv)),
        ),
        // Whitespace-only metadata does not win; auth is next.
        ("blank", MA, Some(("from-auth", Source::AuthParams))),
        ("blank", M_, None),
        ("absent", MEA, None),
        // Alternatives are tried in order within a source.
        ("nope;count", M_, Some(("10", Source::TriggerMetadata))),
    ];
    for (key, order, want) in cases {
        let got = p.lookup(key, order).map(|f| (f.value, f.source));
        assert_eq!(got, *want, "key {key} order {order:?}");
    }
}

#[test]
fn typed_accessors_decode_like_keda() {
    let p = params();
    assert_eq!(p.required::<i64>("count", M_).unwrap(), 10);
    assert_eq!(p.required::<f64>("count", M_).unwrap(), 10.0);
    assert_eq!(p.required::<f64>("ratio", M_).unwrap(), 10.5);
    assert!(p.required::<bool>("flag", M_).unwrap());
    assert_eq!(
        p.required::<Duration>("dur", M_).unwrap(),
        Duration::from_secs(90)
    );
    assert_eq!(
        p.required::<Duration>("ms", M_).unwrap(),
        Duration::from_millis(250)
    );
    assert_eq!(p.with_default("absent", M_, 5i64).unwrap(), 5);
    assert_eq!(p.optional::<String>("absent", M_).unwrap(), None);
    let kv: KeyValues = p.required("headers", M_).unwrap();
    assert_eq!(
        kv.0,
        vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "two".to_owned()),
            ("c".to_owned(), "x=y".to_owned())
        ]
    );
}

#[test]
fn typed_accessor_errors_name_the_key() {
    let p = params();
    let cases: Vec<(ConfigError, &str)> = vec![
        (
            p.required::<f64>("bad", M_).unwrap_err(),
            r#"bad: "abc" is not a number"#,
        ),
        (
            p.required::<i64>("ratio", M_).unwrap_err(),
            r#"ratio: "10.5" is not an integer"#,
        ),
        (
            p.required::<bool>("bad", M_).unwrap_err(),
            r#"bad: "abc" is not a boolean"#,
        ),
        (
            p.required::<String>("queueName", M_).unwrap_err(),
            r#"missing required parameter "queueName" in [triggerMetadata]"#,
        ),
        (
            p.required::<String>("absent", MEA).unwrap_err(),
            r#"missing required parameter "absent" in [triggerMetadata resolvedEnv authParams]"#,
        ),
        (
            p.one_of("bad", M_, &["x", "y"], None).unwrap_err(),
            r#"bad: "abc" is not one of [x, y]"#,
        ),
        (
            p.required::<Duration>("bad", M_).unwrap_err(),
            r#"bad: "abc" is not a duration (Go syntax like "30s" or integer milliseconds)"#,
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn go_parse_bool_accepts_exactly_gos_spellings() {
    for t in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(bool::from_param(t), Some(true), "{t}");
    }
    for f in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(bool::from_param(f), Some(false), "{f}");
    }
    for bad in ["yes", "tRUE", "on", "2"] {
        assert_eq!(bool::from_param(bad), None, "{bad}");
    }
}

#[test]
fn numbers_decode_as_json() {
    assert_eq!(i64::from_param("10"), Some(10));
    assert_eq!(i64::from_param("10.5"), None);
    assert_eq!(i64::from_param("1e3"), None);
    assert_eq!(i64::from_param("0x10"), None);
    assert_eq!(u32::from_param("-1"), None);
    assert_eq!(f64::from_param("1e3"), Some(1000.0));
    assert_eq!(f64::from_param("-2.5"), Some(-2.5));
    assert_eq!(f64::from_param("NaN"), None);
}

#[test]
fn go_durations_parse_and_negatives_are_rejected() {
    let cases = [
        ("30s", Some(Duration::from_secs(30))),
        ("1h2m3s", Some(Duration::from_secs(3723))),
        ("1.5s", Some(Duration::from_millis(1500))),
        ("250ms", Some(Duration::from_millis(250))),
        ("10us", Some(Duration::from_micros(10))),
        ("0", Some(Duration::ZERO)),
        ("3000", Some(Duration::from_secs(3))),
        ("-1s", None),
        ("-5", None),
        ("5d", None),
        ("s", None),
    ];
    for (raw, want) in cases {
        assert_eq!(Duration::from_param(raw), want, "{raw}");
    }
}

#[test]
fn secrets_are_never_in_debug_output() {
    let p = params();
    let secret = p.secret("password", AE).unwrap();
    assert_eq!(secret.expose(), "auth-secret");
    assert_eq!(format!("{secret:?}"), "[REDACTED]");
    let debug = format!("{p:?}");
    assert!(
        !debug.contains("auth-secret") && !debug.contains("env-secret"),
        "{debug}"
    );
}

#[test]
fn metric_type_defaults_to_average_value_and_rejects_utilization_for_external() {
    let p = TriggerParams::new("t", 0, [("a", "b")]);
    assert_eq!(
        p.external_target_type().unwrap(),
        MetricTargetType::AverageValue
    );
    let p = p.with_metric_type("Value");
    assert_eq!(p.external_target_type().unwrap(), MetricTargetType::Value);
    let p = TriggerParams::new("t", 0, [("a", "b")]).with_metric_type("Utilization");
    assert_eq!(
        p.external_target_type().unwrap_err().key(),
        Some("metricType")
    );
}
