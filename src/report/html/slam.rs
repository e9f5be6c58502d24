//! The page of a slam: where throughput stopped rising with users, and what broke.

use super::chart::{Guide, LineChart, Mark, colour};
use super::markup::{Align, Table, escape, num, percent, setting};
use super::page::{Tone, cards, document};
use super::{tables, timeline};
use crate::slam::{SlamReport, SlamStep};

/// Where the knee and the breaking step sit in `steps`. Found by their user counts, which
/// rise strictly from step to step, so the page does not depend on whether `step` counts
/// from 0 or 1.
struct Landmarks {
    knee: Option<usize>,
    broke: Option<usize>,
}

impl Landmarks {
    fn of(report: &SlamReport) -> Landmarks {
        let find = |users: u64| report.steps.iter().position(|s| s.users == users);
        Landmarks {
            knee: report.knee.as_ref().and_then(|k| find(k.users)),
            broke: report.broke.as_ref().and_then(|b| find(b.users)),
        }
    }

    /// "knee", "broke" or "" for the step at `index`: its row class, guide class and badge.
    fn role(&self, index: usize) -> &'static str {
        if self.knee == Some(index) {
            "knee"
        } else if self.broke == Some(index) {
            "broke"
        } else {
            ""
        }
    }
}

pub fn render(report: &SlamReport) -> String {
    let landmarks = Landmarks::of(report);
    let verdict = match (&report.knee, &report.broke) {
        (Some(knee), Some(_)) => (format!("knee at {} users", knee.users), Tone::Plain),
        (None, Some(_)) => ("broke at the first step".to_string(), Tone::Bad),
        (_, None) if report.steps.is_empty() => ("no steps ran".to_string(), Tone::Plain),
        (_, None) => ("never broke".to_string(), Tone::Good),
    };
    let body = format!(
        "{}{}<h2>Scaling</h2><section class=\"charts pair\">{}</section>\
         <h2>Over time</h2><section class=\"charts\">{}</section>\
         <h2>Steps</h2>{}<h2>Step details</h2>{}",
        summary(report),
        breach(report),
        scaling_charts(report, &landmarks),
        over_time(report, &landmarks),
        steps_table(report, &landmarks),
        step_details(report)
    );
    document(
        "Slam report",
        &report.target,
        (&verdict.0, verdict.1),
        &body,
    )
}

fn summary(report: &SlamReport) -> String {
    let objective = &report.objective;
    let mut rules = vec![format!(
        "failures ≤ {}%",
        setting(objective.max_fail_ratio * 100.0)
    )];
    if let Some(limit) = objective.max_p95_ms {
        rules.push(format!("p95 ≤ {} ms", setting(limit)));
    }
    rules.push(format!(
        "p95 ≤ {}× the first step's",
        setting(objective.p95_growth_factor)
    ));
    rules.push(format!(
        "throughput grows by ≥ {}% of the users' growth",
        setting(objective.min_rps_gain * 100.0)
    ));
    let duration: f64 = report.steps.iter().map(|s| s.duration_s).sum();
    let peak_rps = report.steps.iter().map(|s| s.rps).fold(0.0, f64::max);
    let steps = format!(
        "{}{}",
        report.steps.len(),
        if report.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    let knee = match &report.knee {
        Some(knee) => (
            format!(
                "{} users · {} req/s · p95 {} ms",
                knee.users,
                num(knee.rps),
                num(knee.p95_ms)
            ),
            Tone::Good,
        ),
        None => ("none".to_string(), Tone::Plain),
    };
    let broke = match &report.broke {
        Some(breach) => (format!("{} users", breach.users), Tone::Bad),
        None => ("never".to_string(), Tone::Good),
    };
    cards(&[
        ("Steps", steps, Tone::Plain),
        ("Knee", knee.0, knee.1),
        ("Broke at", broke.0, broke.1),
        (
            "Peak throughput",
            format!("{} req/s", num(peak_rps)),
            Tone::Plain,
        ),
        (
            "Total duration",
            format!("{} s", num(duration)),
            Tone::Plain,
        ),
        ("Engine", escape(report.engine), Tone::Plain),
    ]) + &format!(
        "<p class=\"objective\"><strong>Objective:</strong> {}.</p>",
        escape(&rules.join("; "))
    )
}

fn breach(report: &SlamReport) -> String {
    let Some(breach) = &report.broke else {
        return String::new();
    };
    let reasons: String = breach
        .reasons
        .iter()
        .map(|r| format!("<li>{}</li>", escape(r)))
        .collect();
    format!(
        "<div class=\"callout\"><strong>Broke the objective at {} users</strong><ul>{reasons}</ul></div>",
        breach.users
    )
}

/// Throughput and p95 against users, the knee and the breaking step ringed.
fn scaling_charts(report: &SlamReport, landmarks: &Landmarks) -> String {
    let by_users = |value: fn(&SlamStep) -> f64| -> Vec<(f64, f64)> {
        report
            .steps
            .iter()
            .map(|s| (s.users as f64, value(s)))
            .collect()
    };
    let marks = |value: fn(&SlamStep) -> f64, unit: &str| -> Vec<Mark> {
        [(landmarks.knee, "knee"), (landmarks.broke, "broke")]
            .into_iter()
            .filter_map(|(index, class)| {
                let step = &report.steps[index?];
                Some(Mark {
                    x: step.users as f64,
                    y: value(step),
                    label: format!("{class}: {} users, {} {unit}", step.users, num(value(step))),
                    class,
                })
            })
            .collect()
    };
    let mut rps = LineChart::new("rps-users", "Throughput vs users", "users", "req/s")
        .narrow()
        .series("rps", "requests/s", colour::BLUE, by_users(|s| s.rps));
    rps.marks = marks(|s| s.rps, "req/s");
    let mut p95 = LineChart::new("p95-users", "p95 response time vs users", "users", "ms")
        .narrow()
        .series("p95", "p95", colour::ORANGE, by_users(|s| s.p95_ms));
    p95.marks = marks(|s| s.p95_ms, "ms");
    rps.render() + &p95.render()
}

/// The steps' histories laid end to end on one time axis, each step's start marked.
fn over_time(report: &SlamReport, landmarks: &Landmarks) -> String {
    let mut rows = Vec::new();
    let mut guides = Vec::new();
    let mut offset = 0.0;
    // Beyond eight steps the full word would run into the next step's label.
    let users = if report.steps.len() <= 8 {
        "users"
    } else {
        "u"
    };
    for (index, step) in report.steps.iter().enumerate() {
        let role = landmarks.role(index);
        guides.push(Guide {
            x: offset,
            label: if role.is_empty() {
                format!("{} {users}", step.users)
            } else {
                format!("{} {users} ({role})", step.users)
            },
            detail: format!("step {}: {} users", index + 1, step.users),
            class: if role.is_empty() { "step" } else { role },
        });
        rows.extend(
            step.report
                .history
                .iter()
                .map(|row| (offset + row.elapsed_s, row)),
        );
        // A step's history can run a moment past its planned duration; the next step starts
        // after whichever is later, so time never goes backwards.
        let last = step.report.history.last().map_or(0.0, |r| r.elapsed_s);
        offset += step.report.duration_s.max(step.duration_s).max(last);
    }
    timeline::charts(&rows, &guides)
}

fn steps_table(report: &SlamReport, landmarks: &Landmarks) -> String {
    use Align::{Left, Right};
    let mut table = Table::new(
        "steps",
        &[
            ("Step", Right),
            ("Users", Right),
            ("Duration (s)", Right),
            ("Requests", Right),
            ("Failures", Right),
            ("req/s", Right),
            ("Fail ratio", Right),
            ("p50 (ms)", Right),
            ("p95 (ms)", Right),
            ("p99 (ms)", Right),
            ("Objective", Left),
        ],
    );
    for (index, step) in report.steps.iter().enumerate() {
        let role = landmarks.role(index);
        let badge = match role {
            "knee" => " <span class=\"badge good\">knee</span>",
            "broke" => " <span class=\"badge bad\">broke</span>",
            _ => "",
        };
        let verdict = if step.met {
            format!("<span class=\"good\">✓ met</span>{badge}")
        } else {
            let reasons: Vec<String> = step.reasons.iter().map(|r| escape(r)).collect();
            format!("<span class=\"bad\">✗</span>{badge} {}", reasons.join("; "))
        };
        let attrs = format!(
            " data-step=\"{}\"{}",
            index + 1,
            if role.is_empty() {
                String::new()
            } else {
                format!(" class=\"{role}\"")
            }
        );
        table.row(
            &attrs,
            &[
                (index + 1).to_string(),
                step.users.to_string(),
                num(step.duration_s),
                step.requests.to_string(),
                step.failures.to_string(),
                num(step.rps),
                percent(step.fail_ratio),
                num(step.p50_ms),
                num(step.p95_ms),
                num(step.p99_ms),
                verdict,
            ],
        );
    }
    table.finish()
}

/// Each step's full tables, folded away until asked for.
fn step_details(report: &SlamReport) -> String {
    if report.steps.is_empty() {
        return "<p class=\"none\">No steps ran.</p>".to_string();
    }
    report
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            format!(
                "<details><summary>Step {} · {} users · {} req/s</summary>{}</details>",
                index + 1,
                step.users,
                num(step.rps),
                tables::all(&step.report, "h4")
            )
        })
        .collect()
}
