//! Parsing of the human units the command line takes: durations (`90s`, `1m30s`, `500ms`),
//! wait ranges (`500ms..5s`) and rates (`2000/s`). Errors say what was wrong and how to write it.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum UnitError {
    #[error("invalid duration {0:?}: {1} (write e.g. 500ms, 90s, 1m30s or 2h)")]
    Duration(String, &'static str),
    #[error("invalid duration {0:?}: unknown unit {1:?} (use ms, s, m or h, e.g. 90s or 1m30s)")]
    DurationUnit(String, String),
    #[error("invalid wait {0:?}: {1} (write a fixed wait like 1s or a range like 500ms..5s)")]
    Wait(String, &'static str),
    #[error("invalid rate {0:?}: {1} (write requests per second like 2000/s, or 120/m)")]
    Rate(String, &'static str),
}

/// Parses `1h30m`, `90s`, `1.5s`, `250ms`, `100us`. A bare number is seconds, as Locust reads it.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(UnitError::Duration(text.into(), "it is empty"));
    }
    if let Ok(seconds) = trimmed.parse::<f64>() {
        return seconds_to_duration(text, seconds);
    }
    let mut total = 0f64;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(UnitError::Duration(text.into(), "expected a number"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| UnitError::Duration(text.into(), "expected a number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit.trim() {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "" => return Err(UnitError::Duration(text.into(), "a number needs a unit")),
            other => return Err(UnitError::DurationUnit(text.into(), other.into())),
        };
        total += number * scale;
    }
    seconds_to_duration(text, total)
}

fn seconds_to_duration(text: &str, seconds: f64) -> Result<Duration, UnitError> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(UnitError::Duration(text.into(), "it must be zero or more"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// How long a user waits between two tasks: uniform in `[min, max]`, like Locust's `between`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WaitRange {
    pub min: Duration,
    pub max: Duration,
}

impl WaitRange {
    pub fn is_zero(&self) -> bool {
        self.max.is_zero()
    }
}

impl std::str::FromStr for WaitRange {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, UnitError> {
        let (min, max) = match text.split_once("..") {
            Some((low, high)) => (parse_duration(low)?, parse_duration(high)?),
            None => {
                let fixed = parse_duration(text)?;
                (fixed, fixed)
            }
        };
        if min > max {
            return Err(UnitError::Wait(
                text.into(),
                "the lower bound is above the upper",
            ));
        }
        Ok(WaitRange { min, max })
    }
}

/// A request rate for the open model, in requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

impl std::str::FromStr for Rate {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, UnitError> {
        let (number, per) = text.trim().split_once('/').unwrap_or((text.trim(), "s"));
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| UnitError::Rate(text.into(), "expected a number"))?;
        let per_second = match per.trim() {
            "s" | "sec" => value,
            "m" | "min" => value / 60.0,
            "h" => value / 3600.0,
            _ => return Err(UnitError::Rate(text.into(), "unknown time unit")),
        };
        if !per_second.is_finite() || per_second <= 0.0 {
            return Err(UnitError::Rate(text.into(), "it must be above zero"));
        }
        Ok(Rate(per_second))
    }
}

/// Formats a duration the way the tables print it: `850µs`, `12.3ms`, `1.25s`.
pub fn format_duration(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1e6 {
        format!("{:.1}ms", micros / 1e3)
    } else {
        format!("{:.2}s", micros / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_name_the_problem() {
        assert!(matches!(parse_duration("5x"), Err(UnitError::DurationUnit(_, u)) if u == "x"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("s").is_err());
        let message = parse_duration("10d").unwrap_err().to_string();
        assert!(message.contains("unknown unit \"d\""), "{message}");
    }

    #[test]
    fn waits_fixed_and_ranged() {
        let range: WaitRange = "500ms..5s".parse().unwrap();
        assert_eq!(range.min, Duration::from_millis(500));
        assert_eq!(range.max, Duration::from_secs(5));
        let fixed: WaitRange = "1s".parse().unwrap();
        assert_eq!(fixed.min, fixed.max);
        assert!("5s..1s".parse::<WaitRange>().is_err());
        assert!(WaitRange::default().is_zero());
    }

    #[test]
    fn rates() {
        assert_eq!("2000/s".parse::<Rate>(), Ok(Rate(2000.0)));
        assert_eq!("120/m".parse::<Rate>(), Ok(Rate(2.0)));
        assert_eq!("50".parse::<Rate>(), Ok(Rate(50.0)));
        assert!("0/s".parse::<Rate>().is_err());
        assert!("-5/s".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
        assert!("10/fortnight".parse::<Rate>().is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850µs");
        assert_eq!(format_duration(Duration::from_micros(12_340)), "12.3ms");
        assert_eq!(format_duration(Duration::from_millis(1250)), "1.25s");
    }
}
