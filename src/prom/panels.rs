//! The runbook's "the graphs start showing data", one check per dashboard panel: substitute the
//! panel's queries as Grafana would, probe them, and wait through scrape cycles until each panel
//! is fresh or time is up.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::client::Prometheus;
use super::dashboard::{Dashboard, Panel, Target};
use super::error::PromError;
use super::freshness::{Freshness, NOT_SEEN_WITHIN, TargetEvidence, judge, probe_target};
use super::substitute::{Substitution, substitute, unresolved_variables};
use crate::verify::{Check, CheckStatus};

/// Checks the panels `select` picks. Pass: a target has fresh data. Fail: no series, all NaN,
/// stale, or a query Prometheus rejects. Inconclusive: warnings, Prometheus unreachable (after
/// the client's retries), or variables thidctl cannot resolve. Panels that can still fill in are
/// re-probed every `poll` until `timeout`; `on_progress(done, total, pending titles)` follows
/// every round.
pub async fn check_panels(
    prometheus: &Prometheus,
    dashboard: &Dashboard,
    substitution: &Substitution,
    select: &dyn Fn(&Panel) -> bool,
    timeout: Duration,
    poll: Duration,
    on_progress: &mut dyn FnMut(usize, usize, &[String]),
) -> Vec<Check> {
    let started = Instant::now();
    let deadline = started + timeout;
    let panels: Vec<&Panel> = dashboard
        .panels
        .iter()
        .filter(|panel| select(panel))
        .collect();
    let mut verdicts: Vec<Option<Verdict>> = vec![None; panels.len()];
    let mut rounds = 0;
    loop {
        rounds += 1;
        for (panel, verdict) in panels.iter().zip(verdicts.iter_mut()) {
            if verdict.as_ref().is_some_and(|verdict| verdict.is_final) {
                continue;
            }
            let mut next = probe_panel(prometheus, dashboard, substitution, panel).await;
            next.elapsed = started.elapsed();
            *verdict = Some(next);
        }
        let pending: Vec<String> = panels
            .iter()
            .zip(&verdicts)
            .filter(|(_, verdict)| !verdict.as_ref().is_some_and(|verdict| verdict.is_final))
            .map(|(panel, _)| panel.path())
            .collect();
        on_progress(panels.len() - pending.len(), panels.len(), &pending);
        let now = Instant::now();
        if pending.is_empty() || now >= deadline {
            break;
        }
        tokio::time::sleep(poll.min(deadline - now)).await;
    }
    panels
        .iter()
        .zip(verdicts)
        .filter_map(|(panel, verdict)| Some(verdict?.into_check(panel, rounds, timeout)))
        .collect()
}

/// What one round decided about one panel.
#[derive(Debug, Clone)]
struct Verdict {
    status: CheckStatus,
    /// Waiting cannot change it (a pass, a rejected query, an unreachable server).
    is_final: bool,
    summary: String,
    evidence: Vec<(String, String)>,
    elapsed: Duration,
}

impl Verdict {
    fn into_check(self, panel: &Panel, rounds: u32, timeout: Duration) -> Check {
        let mut check = Check::new(format!("panel {}", panel.path()), self.status, self.summary);
        for (label, value) in self.evidence {
            check = check.with_evidence(label, value);
        }
        if self.status != CheckStatus::Pass && !self.is_final {
            check = check.with_evidence(
                "waited",
                format!(
                    "{} (timeout {}, probed {rounds}×)",
                    age(self.elapsed),
                    age(timeout)
                ),
            );
        }
        check.timed(self.elapsed)
    }
}

/// The outcome for one target.
enum Outcome {
    Judged(TargetEvidence, Freshness),
    Unresolved(String, Vec<String>),
    Failed(String, PromError),
}

async fn probe_panel(
    prometheus: &Prometheus,
    dashboard: &Dashboard,
    substitution: &Substitution,
    panel: &Panel,
) -> Verdict {
    let scrape = substitution.scrape_interval;
    let mut outcomes: Vec<(&Target, Outcome)> = Vec::new();
    for target in &panel.targets {
        let query = substitute(&target.expr, dashboard, substitution);
        let unresolved = unresolved_variables(&query);
        let outcome = if !unresolved.is_empty() {
            Outcome::Unresolved(query, unresolved)
        } else {
            match probe_target(prometheus, &query).await {
                Ok(evidence) => {
                    let now = evidence.evaluated_at().unwrap_or_else(unix_now);
                    let freshness = judge(&evidence, scrape, now);
                    Outcome::Judged(evidence, freshness)
                }
                Err(error) => Outcome::Failed(query, error),
            }
        };
        // One fresh target is enough; and when Prometheus cannot be reached for one target, it
        // cannot for the others either.
        let enough = match &outcome {
            Outcome::Judged(_, freshness) => matches!(freshness, Freshness::Fresh { .. }),
            Outcome::Failed(_, error) => !is_query_fault(error),
            Outcome::Unresolved(..) => false,
        };
        outcomes.push((target, outcome));
        if enough {
            break;
        }
    }
    decide(panel, &outcomes, scrape)
}

fn decide(panel: &Panel, outcomes: &[(&Target, Outcome)], scrape: Duration) -> Verdict {
    let title = &panel.title;
    let several = panel.targets.len() > 1;
    let label = |base: &str, target: &Target| {
        if several {
            format!("{base} {}", target.ref_id)
        } else {
            base.to_owned()
        }
    };

    if let Some((target, Outcome::Judged(evidence, Freshness::Fresh { newest_age, value }))) =
        outcomes.last()
    {
        let mut evidence_lines = vec![
            (label("query", target), evidence.query.clone()),
            ("value".to_owned(), format_value(*value)),
            (
                "series".to_owned(),
                evidence.result.samples.len().to_string(),
            ),
        ];
        if !evidence.series.is_empty() {
            evidence_lines.push(("newest sample age".to_owned(), age(*newest_age)));
        }
        return Verdict {
            status: CheckStatus::Pass,
            is_final: true,
            summary: format!(
                "\"{title}\" shows fresh data: {} (newest sample {} old)",
                format_value(*value),
                age(*newest_age)
            ),
            evidence: evidence_lines,
            elapsed: Duration::ZERO,
        };
    }

    let mut reasons = Vec::new();
    let mut evidence = Vec::new();
    for (target, outcome) in outcomes {
        let (query, reason) = match outcome {
            Outcome::Judged(found, freshness) => {
                (found.query.clone(), why(found, freshness, scrape))
            }
            Outcome::Unresolved(query, names) => {
                let names: Vec<String> = names.iter().map(|name| format!("${name}")).collect();
                let reason = format!(
                    "uses {} that thidctl cannot resolve (pass a value for it)",
                    names.join(", ")
                );
                (query.clone(), reason)
            }
            Outcome::Failed(query, error) => (query.clone(), error.to_string()),
        };
        evidence.push((label("query", target), query));
        evidence.push((label("reason", target), reason.clone()));
        reasons.push(if several {
            format!("{}: {reason}", target.ref_id)
        } else {
            reason
        });
    }
    // Worst first: a broken query is the dashboard's fault and final; trouble reaching
    // Prometheus or resolving variables means the data cannot decide, and waiting will not
    // help; warnings may clear; anything else may still fill in.
    let any = |wanted: fn(&Outcome) -> bool| outcomes.iter().any(|(_, outcome)| wanted(outcome));
    let (status, is_final) = if any(|o| matches!(o, Outcome::Failed(_, e) if is_query_fault(e))) {
        (CheckStatus::Fail, true)
    } else if any(|o| matches!(o, Outcome::Failed(..) | Outcome::Unresolved(..))) {
        (CheckStatus::Inconclusive, true)
    } else if any(|o| matches!(o, Outcome::Judged(_, Freshness::Warnings(_)))) {
        (CheckStatus::Inconclusive, false)
    } else {
        (CheckStatus::Fail, false)
    };
    let lead = match (status, is_final) {
        (CheckStatus::Inconclusive, _) => "cannot be decided",
        (_, true) => "has a query Prometheus rejects",
        _ => "shows no fresh data",
    };
    Verdict {
        status,
        is_final,
        summary: format!("\"{title}\" {lead}: {}", reasons.join("; ")),
        evidence,
        elapsed: Duration::ZERO,
    }
}

/// A rejected query (`bad_data`, `execution`) is the dashboard's fault; a timed-out or
/// unavailable one is Prometheus's state.
fn is_query_fault(error: &PromError) -> bool {
    match error {
        PromError::Rejected { error_type, .. } => !matches!(
            error_type.as_str(),
            "timeout" | "canceled" | "unavailable" | "internal"
        ),
        _ => false,
    }
}

/// Why a judged target is not fresh, in words that name the series.
fn why(evidence: &TargetEvidence, freshness: &Freshness, scrape: Duration) -> String {
    match freshness {
        Freshness::Fresh { .. } => "fresh".to_owned(),
        Freshness::Empty => {
            let missing: Vec<&str> = evidence
                .series
                .iter()
                .filter(|seen| seen.newest.is_none())
                .map(|seen| seen.selector.as_str())
                .collect();
            if !missing.is_empty() {
                format!("no series for {}", missing.join(", "))
            } else {
                "the query returned no series, although the series it reads have samples".to_owned()
            }
        }
        Freshness::AllNaN => format!(
            "all {} series are NaN (e.g. a rate or quantile over a window without requests)",
            evidence.result.samples.len()
        ),
        Freshness::Stale { newest_age, .. } if *newest_age >= NOT_SEEN_WITHIN => format!(
            "stale: no raw sample within the last {} s",
            NOT_SEEN_WITHIN.as_secs()
        ),
        Freshness::Stale {
            newest_age,
            ended: true,
        } => format!(
            "stale by {}: Prometheus marked its series ended (the target stopped answering or left \
             discovery); the value is the window's history",
            age(*newest_age)
        ),
        Freshness::Stale { newest_age, .. } => format!(
            "stale by {}: the newest raw sample is older than 2 scrape intervals ({})",
            age(*newest_age),
            age(scrape * 2)
        ),
        Freshness::Warnings(warnings) => {
            format!("Prometheus answered with warnings: {}", warnings.join("; "))
        }
    }
}

fn age(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.4}")
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::prom::client::{QueryResult, Sample};
    use crate::prom::freshness::SeriesSeen;

    fn panel(targets: &[&str]) -> Panel {
        Panel {
            title: "Latency".into(),
            row: Some("Thidwick-Starter".into()),
            targets: targets
                .iter()
                .map(|ref_id| Target {
                    ref_id: (*ref_id).into(),
                    expr: "x".into(),
                    legend: None,
                })
                .collect(),
        }
    }

    fn judged(samples: &[f64], newest: Option<f64>, freshness: Freshness) -> Outcome {
        Outcome::Judged(
            TargetEvidence {
                query: "q".into(),
                result: QueryResult {
                    samples: samples
                        .iter()
                        .map(|value| Sample {
                            labels: BTreeMap::new(),
                            value: *value,
                            timestamp: 100.0,
                        })
                        .collect(),
                    warnings: Vec::new(),
                },
                series: vec![SeriesSeen::live("x{a=\"b\"}", newest)],
            },
            freshness,
        )
    }

    const SCRAPE: Duration = Duration::from_secs(20);

    #[test]
    fn empty_names_the_missing_series() {
        let panel = panel(&["A"]);
        let outcomes = [(&panel.targets[0], judged(&[], None, Freshness::Empty))];
        let verdict = decide(&panel, &outcomes, SCRAPE);
        assert_eq!(verdict.status, CheckStatus::Fail);
        assert!(!verdict.is_final);
        assert!(
            verdict.summary.contains("\"Latency\""),
            "{}",
            verdict.summary
        );
        assert!(
            verdict.summary.contains("no series for x{a=\"b\"}"),
            "{}",
            verdict.summary
        );
    }

    #[test]
    fn stale_says_by_how_much() {
        let panel = panel(&["A", "B"]);
        let stale = Freshness::Stale {
            newest_age: Duration::from_secs(45),
            ended: false,
        };
        let outcomes = [
            (&panel.targets[0], judged(&[1.0], Some(55.0), stale.clone())),
            (
                &panel.targets[1],
                judged(&[f64::NAN], Some(99.0), Freshness::AllNaN),
            ),
        ];
        let verdict = decide(&panel, &outcomes, SCRAPE);
        assert_eq!(verdict.status, CheckStatus::Fail);
        assert!(
            verdict.summary.contains("A: stale by 45.0 s"),
            "{}",
            verdict.summary
        );
        assert!(
            verdict.summary.contains("B: all 1 series are NaN"),
            "{}",
            verdict.summary
        );
        let check = verdict.into_check(&panel, 3, Duration::from_secs(30));
        assert_eq!(check.name, "panel Thidwick-Starter › Latency");
        assert!(check.evidence.iter().any(|e| e.label == "query A"));
        assert!(check.evidence.iter().any(|e| e.label == "waited"));
    }

    #[test]
    fn rejected_fails_and_unreachable_is_inconclusive() {
        let panel = panel(&["A"]);
        let rejected = PromError::Rejected {
            error_type: "bad_data".into(),
            message: "1:5: parse error: unexpected end of input".into(),
        };
        let outcomes = [(&panel.targets[0], Outcome::Failed("sum(".into(), rejected))];
        let verdict = decide(&panel, &outcomes, SCRAPE);
        assert_eq!(verdict.status, CheckStatus::Fail);
        assert!(verdict.is_final);
        assert!(
            verdict.summary.contains("parse error"),
            "{}",
            verdict.summary
        );

        let timeout = PromError::Rejected {
            error_type: "timeout".into(),
            message: "query timed out".into(),
        };
        let outcomes = [(&panel.targets[0], Outcome::Failed("q".into(), timeout))];
        assert_eq!(verdict_status(&panel, &outcomes), CheckStatus::Inconclusive);
    }

    #[test]
    fn unresolved_and_warnings_are_inconclusive() {
        let panel = panel(&["A"]);
        let outcomes = [(
            &panel.targets[0],
            Outcome::Unresolved("x{a=\"$nope\"}".into(), vec!["nope".into()]),
        )];
        let verdict = decide(&panel, &outcomes, SCRAPE);
        assert_eq!(verdict.status, CheckStatus::Inconclusive);
        assert!(verdict.summary.contains("$nope"), "{}", verdict.summary);

        let outcomes = [(
            &panel.targets[0],
            judged(
                &[1.0],
                Some(99.0),
                Freshness::Warnings(vec!["partial".into()]),
            ),
        )];
        let verdict = decide(&panel, &outcomes, SCRAPE);
        assert_eq!(verdict.status, CheckStatus::Inconclusive);
        assert!(!verdict.is_final, "warnings may clear in a later round");
    }

    #[test]
    fn fresh_passes_with_evidence() {
        let panel = panel(&["A", "B"]);
        let fresh = Freshness::Fresh {
            newest_age: Duration::from_millis(2_500),
            value: 12.5,
        };
        let outcomes = [
            (&panel.targets[0], judged(&[], None, Freshness::Empty)),
            (&panel.targets[1], judged(&[12.5], Some(97.5), fresh)),
        ];
        let verdict = decide(&panel, &outcomes, SCRAPE);
        assert_eq!(verdict.status, CheckStatus::Pass);
        let check = verdict.into_check(&panel, 1, Duration::from_secs(30));
        let value = check.evidence.iter().find(|e| e.label == "value").unwrap();
        assert_eq!(value.value, "12.5000");
        assert!(check.evidence.iter().any(|e| e.label == "query B"));
        assert!(
            check
                .evidence
                .iter()
                .any(|e| e.label == "newest sample age" && e.value == "2.5 s")
        );
    }

    fn verdict_status(panel: &Panel, outcomes: &[(&Target, Outcome)]) -> CheckStatus {
        decide(panel, outcomes, SCRAPE).status
    }
}
