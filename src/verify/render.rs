//! The verify report for people (a table), for programs (JSON) and for CI (JUnit XML).

use std::fmt::Write;

use serde::Serialize;

use super::{Check, CheckStatus};

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl VerifyReport {
    /// Passes only when every required check passed; inconclusive is not a pass.
    pub fn new(checks: Vec<Check>) -> VerifyReport {
        let passed = checks
            .iter()
            .filter(|check| check.required)
            .all(|check| matches!(check.status, CheckStatus::Pass | CheckStatus::Skipped));
        VerifyReport { passed, checks }
    }
}

fn mark(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "✓ pass",
        CheckStatus::Fail => "✗ FAIL",
        CheckStatus::Inconclusive => "? inconclusive",
        CheckStatus::Skipped => "- skipped",
    }
}

pub fn table(report: &VerifyReport) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<width$} {:>7}  SUMMARY",
        "STATUS", "CHECK", "TIME"
    );
    for check in &report.checks {
        let optional = if check.required { "" } else { " (optional)" };
        let _ = writeln!(
            out,
            "{:<16} {:<width$} {:>6.1}s  {}{optional}",
            mark(check.status),
            check.name,
            check.duration_s,
            check.summary
        );
        for evidence in &check.evidence {
            let _ = writeln!(
                out,
                "{:<16} {:<width$} {:>7}  {}: {}",
                "", "", "", evidence.label, evidence.value
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        if report.passed {
            "All required checks passed."
        } else {
            "A required check did not pass."
        }
    );
    out
}

pub fn junit(report: &VerifyReport) -> String {
    let count = |status| report.checks.iter().filter(|c| c.status == status).count();
    let failures = count(CheckStatus::Fail) + count(CheckStatus::Inconclusive);
    let total_time: f64 = report.checks.iter().map(|c| c.duration_s).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"thidctl verify\" tests=\"{}\" failures=\"{failures}\" skipped=\"{}\" time=\"{total_time:.3}\">",
        report.checks.len(),
        count(CheckStatus::Skipped)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"runbook\" tests=\"{}\" failures=\"{failures}\" skipped=\"{}\" time=\"{total_time:.3}\">",
        report.checks.len(),
        count(CheckStatus::Skipped)
    );
    for check in &report.checks {
        let _ = write!(
            out,
            "    <testcase classname=\"thidctl.verify\" name=\"{}\" time=\"{:.3}\"",
            xml(&check.name),
            check.duration_s
        );
        let evidence: String = check
            .evidence
            .iter()
            .map(|e| format!("{}: {}\n", e.label, e.value))
            .collect();
        match check.status {
            CheckStatus::Pass => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml(&evidence)
                );
            }
            CheckStatus::Skipped => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(&check.summary)
                );
            }
            CheckStatus::Fail | CheckStatus::Inconclusive => {
                let kind = if check.status == CheckStatus::Fail {
                    "fail"
                } else {
                    "inconclusive"
                };
                let _ = writeln!(
                    out,
                    ">\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>",
                    xml(&check.summary),
                    xml(&evidence)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> VerifyReport {
        VerifyReport::new(vec![
            Check::new("Locust aimed at host", CheckStatus::Pass, "http://svc:8080")
                .with_evidence("host", "http://svc:8080"),
            Check::new(
                "Panel \"Latency\"",
                CheckStatus::Fail,
                "no series for x{a=\"<b>\"}",
            )
            .with_evidence("query", "x & y"),
            Check::new("Capacity", CheckStatus::Inconclusive, "warnings").optional(),
            Check::new("Skipped one", CheckStatus::Skipped, "asked to skip"),
        ])
    }

    #[test]
    fn required_failures_fail_the_report() {
        assert!(!report().passed);
        let only_optional = VerifyReport::new(vec![
            Check::new("a", CheckStatus::Pass, ""),
            Check::new("b", CheckStatus::Inconclusive, "").optional(),
        ]);
        assert!(only_optional.passed);
        let inconclusive = VerifyReport::new(vec![Check::new("a", CheckStatus::Inconclusive, "")]);
        assert!(!inconclusive.passed, "inconclusive is never a pass");
    }

    #[test]
    fn junit_counts_and_escapes() {
        let xml = junit(&report());
        assert!(
            xml.contains("tests=\"4\" failures=\"2\" skipped=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"Panel &quot;Latency&quot;\""), "{xml}");
        assert!(
            xml.contains("message=\"no series for x{a=&quot;&lt;b&gt;&quot;}\""),
            "{xml}"
        );
        assert!(xml.contains("query: x &amp; y"), "{xml}");
        assert!(xml.contains("<skipped message=\"asked to skip\"/>"));
        assert_eq!(xml.matches("<testcase").count(), 4);
    }

    #[test]
    fn table_shows_every_check_and_its_evidence() {
        let text = table(&report());
        assert!(
            text.contains("✓ pass") && text.contains("✗ FAIL") && text.contains("? inconclusive")
        );
        assert!(text.contains("query: x & y"));
        assert!(text.contains("(optional)"));
        assert!(text.ends_with("A required check did not pass.\n"));
    }
}
