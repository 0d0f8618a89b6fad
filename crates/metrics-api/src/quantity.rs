//! Metric values as Kubernetes quantities, formatted the way KEDA's adapter does.
//!
//! KEDA builds every value with `resource.NewMilliQuantity(int64(value*1000), resource.DecimalSI)`, and
//! Go's canonical form then picks the largest SI suffix that keeps the mantissa an integer.

/// The quantity string for `value`: `42` ⇒ `"42"`, `2.5` ⇒ `"2500m"`, `1500000` ⇒ `"1500k"`.
/// NaN, ±infinity and negative values become `"0"`.
pub fn format_milli(value: f64) -> String {
    if !value.is_finite() || value <= 0.0 {
        return "0".to_owned();
    }
    // Go's int64 conversion truncates toward zero; Rust's `as` does too, and saturates at i64::MAX.
    let mut mantissa = (value * 1000.0) as i64;
    if mantissa <= 0 {
        return "0".to_owned();
    }
    let mut exponent = -3i32;
    while mantissa % 1000 == 0 && exponent < 18 {
        mantissa /= 1000;
        exponent += 3;
    }
    let suffix = match exponent {
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        _ => "E",
    };
    format!("{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::format_milli;

    #[test]
    fn values_format_as_keda_milli_quantities() {
        let table = [
            (42.0, "42"),
            (2.5, "2500m"),
            (0.001, "1m"),
            (0.0005, "0"),
            (0.0, "0"),
            (1000.0, "1k"),
            (1500.0, "1500"),
            (1_500_000.0, "1500k"),
            (2_000_000_000.0, "2G"),
            (1.25, "1250m"),
            (f64::NAN, "0"),
            (f64::INFINITY, "0"),
            (f64::NEG_INFINITY, "0"),
            (-3.0, "0"),
        ];
        for (value, want) in table {
            assert_eq!(format_milli(value), want, "value {value}");
        }
    }
}
