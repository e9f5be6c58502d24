//! Whether a step still meets the service-level objective, judged against the first step and
//! the step before it. Pure, so the rules are tested on numbers, not on a live service.

use super::report::Objective;

/// A step's figures as the rules read them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepFigures {
    pub users: u64,
    pub rps: f64,
    pub p95_ms: f64,
    pub fail_ratio: f64,
}

/// The reasons `step` breaks the objective; empty when it meets it.
pub fn judge(
    objective: &Objective,
    first: &StepFigures,
    previous: Option<&StepFigures>,
    step: &StepFigures,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if step.fail_ratio > objective.max_fail_ratio {
        reasons.push(format!(
            "failure ratio {:.2}% is above {:.2}%",
            step.fail_ratio * 100.0,
            objective.max_fail_ratio * 100.0
        ));
    }
    if let Some(limit) = objective.max_p95_ms
        && step.p95_ms > limit
    {
        reasons.push(format!(
            "p95 {:.1} ms is above the limit of {limit:.1} ms",
            step.p95_ms
        ));
    }
    if first.p95_ms > 0.0 && step.p95_ms > objective.p95_growth_factor * first.p95_ms {
        reasons.push(format!(
            "p95 {:.1} ms is more than {}× the first step's {:.1} ms",
            step.p95_ms, objective.p95_growth_factor, first.p95_ms
        ));
    }
    if let Some(previous) = previous
        && step.users > previous.users
        && previous.rps > 0.0
    {
        // Below capacity a closed-model swarm's throughput grows with its users; a step that
        // got less than `min_rps_gain` of that growth has hit the ceiling.
        let user_growth = step.users as f64 / previous.users as f64 - 1.0;
        let rps_growth = step.rps / previous.rps - 1.0;
        if rps_growth < objective.min_rps_gain * user_growth {
            reasons.push(format!(
                "throughput no longer rises: {:.0} → {:.0} req/s ({:+.0}%) while users grew {:.0}%",
                previous.rps,
                step.rps,
                rps_growth * 100.0,
                user_growth * 100.0
            ));
        }
    }
    reasons
}

/// Parses `50,100,200,500,1000`: at least two steps, each above zero, strictly rising.
pub fn parse_steps(text: &str) -> Result<Vec<u64>, String> {
    let steps = text
        .split(',')
        .map(|part| {
            part.trim().parse::<u64>().map_err(|_| {
                format!(
                    "--steps {text:?}: {:?} is not a number of users",
                    part.trim()
                )
            })
        })
        .collect::<Result<Vec<u64>, String>>()?;
    if steps.len() < 2 {
        return Err(format!(
            "--steps {text:?}: a slam needs at least two steps, e.g. 50,100,200"
        ));
    }
    if steps.contains(&0) {
        return Err(format!(
            "--steps {text:?}: a step of 0 users measures nothing"
        ));
    }
    if steps.windows(2).any(|pair| pair[1] <= pair[0]) {
        return Err(format!(
            "--steps {text:?}: steps must rise, e.g. 50,100,200,500,1000"
        ));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objective() -> Objective {
        Objective {
            max_p95_ms: Some(500.0),
            p95_growth_factor: 3.0,
            max_fail_ratio: 0.01,
            min_rps_gain: 0.25,
        }
    }

    fn figures(users: u64, rps: f64, p95_ms: f64, fail_ratio: f64) -> StepFigures {
        StepFigures {
            users,
            rps,
            p95_ms,
            fail_ratio,
        }
    }

    #[test]
    fn a_healthy_step_meets_the_objective() {
        let first = figures(50, 1000.0, 20.0, 0.0);
        let step = figures(100, 1900.0, 25.0, 0.0);
        assert!(judge(&objective(), &first, Some(&first), &step).is_empty());
    }

    #[test]
    fn each_rule_breaks_on_its_own() {
        let first = figures(50, 1000.0, 200.0, 0.0);
        let cases = [
            (figures(100, 1900.0, 210.0, 0.05), "failure ratio"),
            (figures(100, 1900.0, 501.0, 0.0), "above the limit"),
            (figures(100, 1100.0, 210.0, 0.0), "no longer rises"),
        ];
        for (step, expected) in cases {
            let reasons = judge(&objective(), &first, Some(&first), &step);
            assert_eq!(reasons.len(), 1, "{reasons:?}");
            assert!(reasons[0].contains(expected), "{reasons:?}");
        }
        let growth = Objective {
            max_p95_ms: None,
            ..objective()
        };
        let low_first = figures(50, 1000.0, 20.0, 0.0);
        let reasons = judge(
            &growth,
            &low_first,
            Some(&low_first),
            &figures(100, 1900.0, 61.0, 0.0),
        );
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("more than 3×"), "{reasons:?}");
    }

    #[test]
    fn the_first_step_is_judged_on_absolute_rules_only() {
        let first = figures(50, 1000.0, 700.0, 0.0);
        let reasons = judge(&objective(), &first, None, &first);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("above the limit"));
    }

    #[test]
    fn step_lists() {
        assert_eq!(
            parse_steps("50,100, 200,500,1000"),
            Ok(vec![50, 100, 200, 500, 1000])
        );
        assert!(parse_steps("50").unwrap_err().contains("at least two"));
        assert!(parse_steps("0,10").unwrap_err().contains("0 users"));
        assert!(parse_steps("100,50").unwrap_err().contains("must rise"));
        assert!(parse_steps("10,ten").unwrap_err().contains("not a number"));
        assert!(parse_steps("10,10").unwrap_err().contains("must rise"));
    }
}
