//! "This panel target has fresh data", decided from evidence. An instant query looks up to
//! 5 minutes back, so a non-empty answer alone proves nothing: the raw series the expression
//! reads must also have a sample younger than two scrape intervals.

use std::time::Duration;

use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};

use super::client::{Prometheus, QueryResult};
use super::error::PromError;

/// How far back the fallback look-up searches for a series Prometheus has marked stale: a
/// 5-minute subquery, each step of which looks back Prometheus's 5-minute lookback delta.
pub const NOT_SEEN_WITHIN: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    Fresh {
        newest_age: Duration,
        value: f64,
    },
    /// The query returned no series.
    Empty,
    /// Series, but every value NaN (e.g. a quantile over a window without requests).
    AllNaN,
    /// Values, but the newest raw sample is older than two scrape intervals (or, at
    /// [`NOT_SEEN_WITHIN`], none was found at all), or Prometheus has marked every series the
    /// query reads as ended (`ended`): a range function keeps answering from older samples for
    /// its whole window after the target went away, so that answer is history, not fresh data.
    Stale {
        newest_age: Duration,
        ended: bool,
    },
    /// Prometheus answered with warnings, so the data may be partial: cannot decide.
    Warnings(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetEvidence {
    /// The query as sent (substituted).
    pub query: String,
    pub result: QueryResult,
    /// What Prometheus holds for each vector selector in the query.
    pub series: Vec<SeriesSeen>,
}

/// The newest raw sample of one vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSeen {
    pub selector: String,
    /// Unix time of the newest raw sample; `None` when Prometheus has none within
    /// [`NOT_SEEN_WITHIN`].
    pub newest: Option<f64>,
    /// An instant selector finds nothing although samples exist: Prometheus wrote staleness
    /// markers, because the target stopped answering or left service discovery.
    pub ended: bool,
}

impl SeriesSeen {
    pub fn live(selector: impl Into<String>, newest: Option<f64>) -> Self {
        SeriesSeen {
            selector: selector.into(),
            newest,
            ended: false,
        }
    }

    pub fn ended(selector: impl Into<String>, newest: f64) -> Self {
        SeriesSeen {
            selector: selector.into(),
            newest: Some(newest),
            ended: true,
        }
    }
}

impl TargetEvidence {
    /// The newest raw sample over all selectors.
    pub fn newest_sample(&self) -> Option<f64> {
        newest(self.series.iter())
    }

    /// The newest raw sample over the selectors whose series Prometheus still serves.
    fn newest_live_sample(&self) -> Option<f64> {
        newest(self.series.iter().filter(|seen| !seen.ended))
    }

    /// Prometheus's own "now" for this evidence: an instant query's samples carry the
    /// evaluation time. Ages measured against it need no clock agreement with the cluster.
    pub fn evaluated_at(&self) -> Option<f64> {
        self.result.samples.first().map(|sample| sample.timestamp)
    }
}

fn newest<'a>(series: impl Iterator<Item = &'a SeriesSeen>) -> Option<f64> {
    series
        .filter_map(|seen| seen.newest)
        .filter(|at| at.is_finite())
        .reduce(f64::max)
}

/// The verdict on one target. Pure: `now_unix` and the scrape interval come from the caller.
pub fn judge(evidence: &TargetEvidence, scrape_interval: Duration, now_unix: f64) -> Freshness {
    if !evidence.result.warnings.is_empty() {
        return Freshness::Warnings(evidence.result.warnings.clone());
    }
    if evidence.result.samples.is_empty() {
        // Prometheus hides a series as soon as its target stops answering; if the series was
        // there until a while ago, "stale" says more than "empty".
        return match evidence.newest_sample().map(|newest| age(newest, now_unix)) {
            Some(newest_age) if newest_age >= scrape_interval * 2 => Freshness::Stale {
                newest_age,
                ended: evidence.newest_live_sample().is_none(),
            },
            _ => Freshness::Empty,
        };
    }
    let Some(value) = evidence
        .result
        .samples
        .iter()
        .map(|sample| sample.value)
        .find(|value| !value.is_nan())
    else {
        return Freshness::AllNaN;
    };
    // An expression without selectors (`vector(1)`) reads no series: there is nothing to age.
    if evidence.series.is_empty() {
        return Freshness::Fresh {
            newest_age: Duration::ZERO,
            value,
        };
    }
    let Some(newest) = evidence.newest_live_sample() else {
        // Every series either never existed or has been marked ended.
        return match evidence.newest_sample() {
            Some(ended_at) => Freshness::Stale {
                newest_age: age(ended_at, now_unix),
                ended: true,
            },
            None => Freshness::Stale {
                newest_age: NOT_SEEN_WITHIN,
                ended: false,
            },
        };
    };
    let newest_age = age(newest, now_unix);
    if newest_age < scrape_interval * 2 {
        Freshness::Fresh { newest_age, value }
    } else {
        Freshness::Stale {
            newest_age,
            ended: false,
        }
    }
}

/// A sample newer than `now` is clock skew or a later look-up: its age counts as zero.
fn age(sample_unix: f64, now_unix: f64) -> Duration {
    Duration::try_from_secs_f64((now_unix - sample_unix).max(0.0)).unwrap_or(Duration::MAX)
}

/// Runs `query` and, per vector selector in it, asks for the time of its newest raw sample.
pub async fn probe_target(
    prometheus: &Prometheus,
    query: &str,
) -> Result<TargetEvidence, PromError> {
    let mut result = prometheus.instant_query(query).await?;
    let mut series = Vec::new();
    for selector in vector_selectors(query) {
        let seen = match newest_sample(prometheus, &selector, &mut result.warnings).await {
            Ok(seen) => seen,
            Err(error @ PromError::Rejected { .. }) => {
                // The main query was fine, so this is thidctl's rewrite: say so, do not guess.
                result.warnings.push(format!(
                    "thidctl could not age the series {selector}: {error}"
                ));
                SeriesSeen::live(selector, None)
            }
            Err(error) => return Err(error),
        };
        series.push(seen);
    }
    Ok(TargetEvidence {
        query: query.to_owned(),
        result,
        series,
    })
}

async fn newest_sample(
    prometheus: &Prometheus,
    selector: &str,
    warnings: &mut Vec<String>,
) -> Result<SeriesSeen, PromError> {
    // `timestamp()` gives the raw sample's time, not the evaluation time.
    let direct = prometheus
        .instant_query(&format!("max(timestamp({selector}))"))
        .await?;
    warnings.extend(direct.warnings.iter().cloned());
    if let Some(at) = first_number(&direct) {
        return Ok(SeriesSeen::live(selector, Some(at)));
    }
    // Nothing: the series may be gone, or marked stale when its target stopped answering (an
    // instant selector then returns nothing at once). A subquery still sees the older samples,
    // which gives the "stale by N s" its N.
    let window = NOT_SEEN_WITHIN / 2;
    let fallback = prometheus
        .instant_query(&format!(
            "max(max_over_time(timestamp({selector})[{}s:1s]))",
            window.as_secs()
        ))
        .await?;
    warnings.extend(fallback.warnings.iter().cloned());
    Ok(match first_number(&fallback) {
        Some(at) => SeriesSeen::ended(selector, at),
        None => SeriesSeen::live(selector, None),
    })
}

fn first_number(result: &QueryResult) -> Option<f64> {
    result
        .samples
        .iter()
        .map(|sample| sample.value)
        .find(|value| value.is_finite())
}

/// The vector selectors an expression reads (those inside range selectors too), without
/// `offset` and `@`, each once, in order. Empty when promql-parser cannot parse the query.
pub fn vector_selectors(query: &str) -> Vec<String> {
    struct Collect(Vec<String>);
    impl ExprVisitor for Collect {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
            let selector = match expr {
                Expr::VectorSelector(selector) => selector,
                Expr::MatrixSelector(matrix) => &matrix.vs,
                _ => return Ok(true),
            };
            let mut selector = selector.clone();
            // The newest raw sample is what matters, wherever the expression looks.
            selector.offset = None;
            selector.at = None;
            let text = selector.to_string();
            if !self.0.contains(&text) {
                self.0.push(text);
            }
            Ok(true)
        }
    }
    let Ok(expr) = parser::parse(query) else {
        return Vec::new();
    };
    let mut collect = Collect(Vec::new());
    let Ok(_) = walk_expr(&mut collect, &expr);
    collect.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::client::decode_query_response;

    const SCRAPE: Duration = Duration::from_secs(20);

    fn fixture(name: &str) -> QueryResult {
        let path = format!(
            "{}/tests/fixtures/prometheus/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
        decode_query_response(&body).unwrap()
    }

    /// Evidence from a recorded answer; "now" is its evaluation time.
    fn recorded(name: &str, newest_behind_now: Option<f64>) -> (TargetEvidence, f64) {
        let result = fixture(name);
        let now = result
            .samples
            .first()
            .map_or(1.7e9, |sample| sample.timestamp);
        let evidence = TargetEvidence {
            query: "sum by (route, status) (rate(thidwick_http_requests_total[80s]))".into(),
            result,
            series: vec![SeriesSeen::live(
                "thidwick_http_requests_total",
                newest_behind_now.map(|behind| now - behind),
            )],
        };
        (evidence, now)
    }

    /// Recorded under load with 1 s scrapes: the rate and, right after it, the newest raw sample.
    #[test]
    fn fresh() {
        let (evidence, now) = recorded("query-vector.json", None);
        let newest = fixture("query-newest-sample.json").samples[0].value;
        let evidence = TargetEvidence {
            series: vec![SeriesSeen::live(
                "thidwick_http_requests_total",
                Some(newest),
            )],
            ..evidence
        };
        match judge(&evidence, Duration::from_secs(1), now) {
            Freshness::Fresh { newest_age, value } => {
                assert!(newest_age < Duration::from_secs(1), "{newest_age:?}");
                assert!(value > 0.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty() {
        let (evidence, now) = recorded("query-empty.json", None);
        assert_eq!(judge(&evidence, SCRAPE, now), Freshness::Empty);
    }

    #[test]
    fn empty_after_the_series_ended_is_stale() {
        let (evidence, now) = recorded("query-empty.json", None);
        let evidence = TargetEvidence {
            series: vec![SeriesSeen::ended("x", now - 30.0)],
            ..evidence
        };
        assert_eq!(
            judge(&evidence, Duration::from_secs(1), now),
            Freshness::Stale {
                newest_age: Duration::from_secs(30),
                ended: true
            }
        );
        // Series that are fresh but a query that selects nothing from them: empty, not stale.
        assert_eq!(judge(&evidence, SCRAPE, now), Freshness::Empty);
    }

    #[test]
    fn all_nan() {
        let (evidence, now) = recorded("query-nan.json", Some(1.0));
        assert_eq!(judge(&evidence, SCRAPE, now), Freshness::AllNaN);
    }

    #[test]
    fn stale_is_two_scrape_intervals() {
        // A 5-minute lookback still answers, but the newest raw sample is 41 s old.
        let (evidence, now) = recorded("query-vector.json", Some(41.0));
        assert_eq!(
            judge(&evidence, SCRAPE, now),
            Freshness::Stale {
                newest_age: Duration::from_secs(41),
                ended: false
            }
        );
        let (evidence, now) = recorded("query-vector.json", Some(39.0));
        assert!(matches!(
            judge(&evidence, SCRAPE, now),
            Freshness::Fresh { .. }
        ));
    }

    /// Recorded 8 s after the scraped target was stopped (1 s scrapes): `rate(…[80s])` still
    /// answers from older samples, `timestamp()` has nothing (Prometheus marked the series stale),
    /// and the subquery fallback finds the last sample.
    #[test]
    fn recorded_after_the_target_stopped() {
        let result = fixture("query-after-stop.json");
        assert!(fixture("query-after-stop-newest.json").samples.is_empty());
        let newest = fixture("query-after-stop-newest-fallback.json").samples[0].value;
        let evidence = TargetEvidence {
            query: "sum by (route, status) (rate(thidwick_http_requests_total{namespace=~\".*\"}[80s]))".into(),
            result,
            series: vec![SeriesSeen::ended("thidwick_http_requests_total{namespace=~\".*\"}", newest)],
        };
        let now = evidence.evaluated_at().unwrap();
        match judge(&evidence, Duration::from_secs(1), now) {
            Freshness::Stale { newest_age, ended } => {
                assert!(newest_age > Duration::from_secs(7), "{newest_age:?}");
                assert!(ended);
            }
            other => panic!("{other:?}"),
        }
        // With 20 s scrapes the last sample is younger than two intervals, but Prometheus has
        // already marked the series ended: the rate is the window's history, not fresh data.
        assert!(matches!(
            judge(&evidence, SCRAPE, now),
            Freshness::Stale { ended: true, .. }
        ));
    }

    #[test]
    fn values_without_any_raw_sample_are_stale() {
        let (evidence, now) = recorded("query-vector.json", None);
        assert_eq!(
            judge(&evidence, SCRAPE, now),
            Freshness::Stale {
                newest_age: NOT_SEEN_WITHIN,
                ended: false
            }
        );
    }

    #[test]
    fn warnings_are_inconclusive() {
        let (evidence, now) = recorded("query-warnings.json", Some(1.0));
        match judge(&evidence, SCRAPE, now) {
            Freshness::Warnings(warnings) => assert_eq!(warnings.len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_newest_of_several_selectors_counts() {
        let (mut evidence, now) = recorded("query-vector.json", Some(100.0));
        evidence
            .series
            .push(SeriesSeen::live("other", Some(now - 2.0)));
        evidence.series.push(SeriesSeen::live("gone", None));
        assert!(matches!(
            judge(&evidence, SCRAPE, now),
            Freshness::Fresh { .. }
        ));
    }

    #[test]
    fn no_selectors_nothing_to_age() {
        let (mut evidence, now) = recorded("query-scalar.json", None);
        evidence.series.clear();
        assert_eq!(
            judge(&evidence, SCRAPE, now),
            Freshness::Fresh {
                newest_age: Duration::ZERO,
                value: 42.0
            }
        );
    }

    #[test]
    fn selectors_inside_functions() {
        assert_eq!(
            vector_selectors(r#"sum by (le)(rate(x_bucket{a="b"}[1m]))"#),
            [r#"x_bucket{a="b"}"#]
        );
        assert_eq!(
            vector_selectors(
                r#"sum(rate(d_sum[1m] offset 5m)) / sum(rate(d_count[1m])) + on() group_left d_sum"#
            ),
            ["d_sum", "d_count"]
        );
        assert_eq!(
            vector_selectors(r#"max(thidwick_capacity_work_time_seconds{namespace=~".*"}) * 1000"#),
            [r#"thidwick_capacity_work_time_seconds{namespace=~".*"}"#]
        );
        assert_eq!(
            vector_selectors(
                r#"histogram_quantile(0.5, sum by (le) (rate(b{namespace=~".*", route!~"/metrics.*"}[4s])))"#
            ),
            [r#"b{namespace=~".*",route!~"/metrics.*"}"#]
        );
        assert!(vector_selectors("vector(1)").is_empty());
        assert!(vector_selectors("sum(").is_empty());
    }
}
