//! One model of a load run's results and its renderers: text tables, JSON, Locust's CSV files,
//! and the live view while it runs. Built from measurements; never measures anything itself.

pub mod csv;
pub mod html;
pub mod live;
pub mod load;
pub mod text;

pub use load::{LoadReport, RequestRow};

/// `2026-12-03T12:46:41Z` for seconds since the Unix epoch (UTC, whole seconds).
pub fn utc_timestamp(unix_seconds: f64) -> String {
    let seconds = unix_seconds.max(0.0) as i64;
    let (days, time_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time_of_day / 3600,
        time_of_day % 3600 / 60,
        time_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_timestamps() {
        assert_eq!(super::utc_timestamp(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_timestamp(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(
            super::utc_timestamp(1_796_215_601.9),
            "2026-12-02T12:46:41Z"
        );
    }
}
