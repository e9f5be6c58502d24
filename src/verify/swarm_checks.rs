//! The runbook's first two "Verify:" items, decided from the running Locust: it is aimed at the
//! service, and its #requests column keeps growing with no #fails.

use std::time::{Duration, Instant};

use super::{Check, CheckStatus};

pub const AIMED_AT: &str = "Locust is aimed at the service";
pub const REQUESTS_GROW: &str = "Requests grow with no failures";

/// "Locust is aimed at host http://thidwick-thidwick-starter:8080".
pub fn aimed_at(actual: Option<&str>, expected: &str) -> Check {
    let normal = |host: &str| host.trim().trim_end_matches('/').to_ascii_lowercase();
    let check = match actual {
        Some(host) if normal(host) == normal(expected) => {
            Check::new(AIMED_AT, CheckStatus::Pass, format!("aimed at {host}"))
        }
        Some(host) => Check::new(
            AIMED_AT,
            CheckStatus::Fail,
            format!("aimed at {host}, expected {expected}"),
        ),
        None => Check::new(AIMED_AT, CheckStatus::Fail, "Locust reports no target host"),
    };
    check
        .with_evidence("expected", expected)
        .with_evidence("actual", actual.unwrap_or("(none)"))
}

/// One reading of Locust's totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub at_s: f64,
    pub requests: u64,
    pub failures: u64,
    pub users: u64,
}

/// Requests must rise between every two readings and failures stay within `max_fail_ratio`
/// of the requests made in the window.
pub fn judge_growth(readings: &[Reading], max_fail_ratio: f64) -> Check {
    let (Some(first), Some(last)) = (readings.first(), readings.last()) else {
        return Check::new(
            REQUESTS_GROW,
            CheckStatus::Inconclusive,
            "no readings of Locust's statistics",
        );
    };
    let series = readings
        .iter()
        .map(|r| r.requests.to_string())
        .collect::<Vec<_>>()
        .join(" → ");
    let grown = last.requests.saturating_sub(first.requests);
    let failed = last.failures.saturating_sub(first.failures);
    let seconds = (last.at_s - first.at_s).max(1e-9);
    let stalled = readings
        .windows(2)
        .position(|pair| pair[1].requests <= pair[0].requests);
    let ratio = if grown == 0 {
        0.0
    } else {
        failed as f64 / grown as f64
    };
    let (status, summary) = if readings.len() < 2 {
        (
            CheckStatus::Inconclusive,
            "only one reading; the window was too short".to_string(),
        )
    } else if last.users == 0 {
        (
            CheckStatus::Fail,
            "no users are swarming: start a swarm (thidctl load --engine locust)".to_string(),
        )
    } else if let Some(index) = stalled {
        (
            CheckStatus::Fail,
            format!(
                "#requests stopped growing between reading {} and {}",
                index + 1,
                index + 2
            ),
        )
    } else if ratio > max_fail_ratio {
        (
            CheckStatus::Fail,
            format!(
                "{failed} of {grown} requests failed ({:.2}%, limit {:.2}%)",
                ratio * 100.0,
                max_fail_ratio * 100.0
            ),
        )
    } else {
        (
            CheckStatus::Pass,
            format!(
                "+{grown} requests in {seconds:.0}s ({:.1}/s), {failed} failures",
                grown as f64 / seconds
            ),
        )
    };
    Check::new(REQUESTS_GROW, status, summary)
        .with_evidence("#requests", series)
        .with_evidence("#fails", format!("{} → {}", first.failures, last.failures))
        .with_evidence("users", last.users.to_string())
}

/// Takes readings every `every` over `window` through `read`, then judges them.
pub async fn sample_growth<F, Fut>(
    window: Duration,
    every: Duration,
    max_fail_ratio: f64,
    mut read: F,
) -> Check
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(u64, u64, u64)>>,
{
    let started = Instant::now();
    // A swarm started a moment ago (the CI stage starts `load` and `verify` together) has no
    // users yet; give it up to one window to get going before the readings count.
    while started.elapsed() < window {
        match read().await {
            Ok((_, _, users)) if users > 0 => break,
            Ok(_) => tokio::time::sleep(every.min(Duration::from_secs(2))).await,
            Err(_) => break,
        }
    }
    let sampling = Instant::now();
    let mut readings = Vec::new();
    loop {
        match read().await {
            Ok((requests, failures, users)) => readings.push(Reading {
                at_s: sampling.elapsed().as_secs_f64(),
                requests,
                failures,
                users,
            }),
            Err(error) => {
                return Check::new(
                    REQUESTS_GROW,
                    CheckStatus::Fail,
                    format!("cannot read Locust's statistics: {error:#}"),
                )
                .timed(started.elapsed());
            }
        }
        if sampling.elapsed() + every > window {
            break;
        }
        tokio::time::sleep(every).await;
    }
    judge_growth(&readings, max_fail_ratio).timed(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at_s: f64, requests: u64, failures: u64) -> Reading {
        Reading {
            at_s,
            requests,
            failures,
            users: 50,
        }
    }

    #[test]
    fn host_comparison_ignores_a_trailing_slash() {
        let expected = "http://thidwick-thidwick-starter:8080";
        assert_eq!(
            aimed_at(Some("http://thidwick-thidwick-starter:8080/"), expected).status,
            CheckStatus::Pass
        );
        assert_eq!(
            aimed_at(Some("http://elsewhere:8080"), expected).status,
            CheckStatus::Fail
        );
        assert_eq!(aimed_at(None, expected).status, CheckStatus::Fail);
    }

    #[test]
    fn growth_passes_only_when_every_reading_rises() {
        let growing = [
            reading(0.0, 100, 0),
            reading(5.0, 200, 0),
            reading(10.0, 310, 0),
        ];
        let check = judge_growth(&growing, 0.0);
        assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
        assert!(check.summary.contains("+210 requests"));
        let stalled = [
            reading(0.0, 100, 0),
            reading(5.0, 100, 0),
            reading(10.0, 150, 0),
        ];
        assert_eq!(judge_growth(&stalled, 0.0).status, CheckStatus::Fail);
    }

    #[test]
    fn failures_in_the_window_fail_unless_allowed() {
        let failing = [reading(0.0, 100, 5), reading(10.0, 200, 15)];
        assert_eq!(judge_growth(&failing, 0.0).status, CheckStatus::Fail);
        assert_eq!(judge_growth(&failing, 0.1).status, CheckStatus::Pass);
        // Failures before the window do not count against it.
        let old = [reading(0.0, 100, 5), reading(10.0, 200, 5)];
        assert_eq!(judge_growth(&old, 0.0).status, CheckStatus::Pass);
    }

    #[test]
    fn sampling_waits_for_a_swarm_that_is_still_starting() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut calls = 0u64;
        let check = runtime.block_on(sample_growth(
            Duration::from_millis(300),
            Duration::from_millis(50),
            0.0,
            || {
                calls += 1;
                // Two readings of an idle Locust, then a swarm whose requests grow.
                let reading = if calls <= 2 {
                    (0, 0, 0)
                } else {
                    (calls * 10, 0, 50)
                };
                async move { Ok(reading) }
            },
        ));
        assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
    }

    #[test]
    fn no_users_or_one_reading_never_pass() {
        let idle = [
            Reading {
                at_s: 0.0,
                requests: 10,
                failures: 0,
                users: 0,
            },
            Reading {
                at_s: 5.0,
                requests: 11,
                failures: 0,
                users: 0,
            },
        ];
        assert_eq!(judge_growth(&idle, 0.0).status, CheckStatus::Fail);
        assert_eq!(
            judge_growth(&[reading(0.0, 1, 0)], 0.0).status,
            CheckStatus::Inconclusive
        );
        assert_eq!(judge_growth(&[], 0.0).status, CheckStatus::Inconclusive);
    }
}
