//! Durations as Prometheus and Grafana write them (`20s`, `1m30s`, `7d`, `500ms`). This is their
//! grammar (with `d`, `w` and `y`), not the command line's, which is why it is not
//! `crate::units::parse_duration`.

use std::time::Duration;

/// Parses `1m30s`, `500ms`, `7d`, `1y`; `None` for anything else (including an empty string).
pub fn parse(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total_ms: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u128 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale_ms: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_ms = total_ms.checked_add(number.checked_mul(scale_ms)?)?;
    }
    Some(Duration::from_millis(u64::try_from(total_ms).ok()?))
}

/// The length of a Grafana relative time like `now-30m` (what `time.from` holds); `None` for
/// absolute times or anything not of that form.
pub fn parse_relative(from: &str) -> Option<Duration> {
    parse(from.trim().strip_prefix("now-")?)
}

/// Writes a duration for a PromQL range: whole seconds as `80s`, otherwise milliseconds as
/// `1500ms`. Unlike Grafana's display format it never rounds (`80s`, not `1m`).
pub fn promql(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3_600)));
        assert_eq!(parse(""), None);
        assert_eq!(parse("20"), None);
        assert_eq!(parse("s"), None);
        assert_eq!(parse("1.5s"), None);
        assert_eq!(parse("20 parsecs"), None);
    }

    #[test]
    fn relative_times() {
        assert_eq!(parse_relative("now-30m"), Some(Duration::from_secs(1_800)));
        assert_eq!(parse_relative("now-1h"), Some(Duration::from_secs(3_600)));
        assert_eq!(parse_relative("now"), None);
        assert_eq!(parse_relative("2024-01-01T00:00:00Z"), None);
    }

    #[test]
    fn promql_ranges_never_round() {
        assert_eq!(promql(Duration::from_secs(80)), "80s");
        assert_eq!(promql(Duration::from_secs(3_600)), "3600s");
        assert_eq!(promql(Duration::from_millis(1_500)), "1500ms");
    }
}
