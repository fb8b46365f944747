//! Human units in scenario files and on the command line: durations and byte sizes.

use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Parses `"10m"`, `"30s"`, `"250ms"`, `"1h 30m"`, `"1.5s"`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds);
    }
    // humantime does not take fractions ("1.5s"); handle the common single-unit case ourselves.
    if let Some((number, unit)) = split_number_unit(text) {
        if number.contains('.') {
            let value: f64 = number
                .parse()
                .with_context(|| format!("invalid duration {text:?}"))?;
            let unit_seconds = match unit {
                "ms" => 1e-3,
                "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => bail!("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m or h)"),
            };
            return seconds_to_duration(value * unit_seconds);
        }
    }
    humantime::parse_duration(text).with_context(|| {
        format!("invalid duration {text:?}: write e.g. \"250ms\", \"30s\", \"10m\", \"1h\"")
    })
}

fn seconds_to_duration(seconds: f64) -> Result<Duration> {
    if !seconds.is_finite() || seconds < 0.0 {
        bail!("invalid duration {seconds}: must be a non-negative number of seconds");
    }
    Duration::try_from_secs_f64(seconds).context("duration out of range")
}

fn split_number_unit(text: &str) -> Option<(&str, &str)> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    (!number.is_empty()).then(|| (number, unit.trim()))
}

/// Parses `1024`, `"10KiB"`, `"1MiB"`, `"10 KB"` (SI and binary units) into bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let parsed: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("invalid size {text:?}: write e.g. 1024, \"10KiB\", \"1MiB\""))?;
    Ok(parsed.as_u64())
}

/// Formats a duration for people: `850ms`, `12.4s`, `10m`, `1h 5m`.
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", duration.as_secs_f64()),
        _ => humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_the_forms_people_write() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn sizes_in_binary_and_plain_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("10KiB").unwrap(), 10 * 1024);
        assert_eq!(parse_size("1MiB").unwrap(), 1024 * 1024);
        assert_eq!(parse_size("1 KB").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn formatted_durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(12_400)), "12.4s");
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
    }
}
