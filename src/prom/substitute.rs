//! Grafana's template-variable substitution for Prometheus targets, so that thidctl queries
//! exactly what the dashboard shows.

use std::collections::BTreeMap;
use std::time::Duration;

use super::dashboard::Dashboard;
use super::duration;

/// What Grafana would know when it renders a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Substitution {
    /// The Prometheus scrape interval (Grafana's "min interval" for the data source).
    pub scrape_interval: Duration,
    /// The dashboard's time range: `$__range`.
    pub range: Duration,
    /// Values by variable name that win over the dashboard's saved ones, e.g. `namespace`.
    /// `All` or `$__all` means the variable's "All".
    pub variables: BTreeMap<String, String>,
}

/// Replaces `$var`, `${var}`, `${var:format}` and `[[var]]` (formats give the plain value) and
/// Grafana's built-ins: `$__interval` is the scrape interval (Grafana's max of the computed
/// interval and the data source's min interval, which is the scrape interval for a short range),
/// `$__rate_interval` is max(`$__interval` + scrape interval, 4 × scrape interval), `$__range`
/// is `range`; each with its `_ms` (and `$__range_s`) form. Variables it cannot resolve stay as
/// written; [`unresolved_variables`] lists them.
pub fn substitute(expr: &str, dashboard: &Dashboard, substitution: &Substitution) -> String {
    scan(expr, |name| resolve(name, dashboard, substitution))
}

/// The variable references still in `expr` (after [`substitute`], the ones it could not
/// resolve), by name, each once.
pub fn unresolved_variables(expr: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    scan(expr, |name| {
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
        None
    });
    names
}

fn resolve(name: &str, dashboard: &Dashboard, substitution: &Substitution) -> Option<String> {
    let scrape = substitution.scrape_interval;
    let interval = scrape;
    let rate_interval = (interval + scrape).max(scrape * 4);
    let range = substitution.range;
    let builtin = match name {
        "__interval" => Some(duration::promql(interval)),
        "__interval_ms" => Some(interval.as_millis().to_string()),
        "__rate_interval" => Some(duration::promql(rate_interval)),
        "__rate_interval_ms" => Some(rate_interval.as_millis().to_string()),
        "__range" => Some(format!("{}s", range.as_secs())),
        "__range_s" => Some(range.as_secs().to_string()),
        "__range_ms" => Some(range.as_millis().to_string()),
        _ => None,
    };
    if builtin.is_some() {
        return builtin;
    }
    let variable = dashboard.variable(name);
    let value = match substitution.variables.get(name) {
        Some(value) => value.clone(),
        None => {
            let variable = variable?;
            // Grafana shows the first option when nothing was saved as current.
            variable
                .current
                .clone()
                .or_else(|| variable.options.first().cloned())?
        }
    };
    if value == "$__all" || value == "All" {
        return Some(match variable {
            Some(variable) => all_value(&variable.all_value, &variable.options),
            None => ".*".to_owned(),
        });
    }
    Some(value)
}

/// "All" is the custom all value when there is one, else every option as a regex alternation
/// (Grafana's Prometheus data source). With no options known (a query variable saved without
/// them), `.*`: Grafana would list the label's values, and `.*` matches at least those.
fn all_value(custom: &Option<String>, options: &[String]) -> String {
    if let Some(custom) = custom {
        return custom.clone();
    }
    if options.is_empty() {
        return ".*".to_owned();
    }
    let escaped: Vec<String> = options.iter().map(|option| regex_escape(option)).collect();
    format!("({})", escaped.join("|"))
}

fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$*+?.()|{}[]".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Walks `expr` and offers each variable reference's name to `lookup`; a `Some` replaces the
/// reference, a `None` keeps it as written. Names are Grafana's `\w+`; a purely numeric name
/// (`$1` in `label_replace`) is a regex back-reference, never a variable.
fn scan(expr: &str, mut lookup: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(start) = rest.find(['$', '[']) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let Some((name, len)) = reference(rest) else {
            // Not a reference: keep this one character and go on.
            let c = rest.chars().next().expect("find gave a character");
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let replacement = if name.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            lookup(name)
        };
        out.push_str(replacement.as_deref().unwrap_or(&rest[..len]));
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// A reference at the start of `text`: its name and its length in bytes.
fn reference(text: &str) -> Option<(&str, usize)> {
    if let Some(inner) = text.strip_prefix("${") {
        let end = inner.find('}')?;
        // `${var.field:format}`: the name is what comes before the field path and the format.
        let name = inner[..end].split([':', '.']).next()?;
        return is_name(name).then_some((name, end + 3));
    }
    if let Some(inner) = text.strip_prefix("[[") {
        let end = inner.find("]]")?;
        let name = inner[..end].split(':').next()?;
        return is_name(name).then_some((name, end + 4));
    }
    let inner = text.strip_prefix('$')?;
    let len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..len];
    is_name(name).then_some((name, len + 1))
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::dashboard::Variable;

    fn variable(
        name: &str,
        current: Option<&str>,
        all_value: Option<&str>,
        options: &[&str],
    ) -> Variable {
        Variable {
            name: name.into(),
            kind: "custom".into(),
            current: current.map(Into::into),
            all_value: all_value.map(Into::into),
            include_all: true,
            options: options.iter().map(|option| option.to_string()).collect(),
        }
    }

    fn dashboard() -> Dashboard {
        Dashboard {
            title: "t".into(),
            uid: None,
            panels: Vec::new(),
            variables: vec![
                variable("namespace", Some("$__all"), Some(".*"), &[]),
                variable("quantile", Some("0.95"), None, &["0.5", "0.95"]),
                variable("pod", Some("All"), None, &["a-1", "b.2"]),
                variable("empty", None, None, &["first", "second"]),
            ],
            time_from: Some("now-1h".into()),
        }
    }

    fn twenty_seconds() -> Substitution {
        Substitution {
            scrape_interval: Duration::from_secs(20),
            range: Duration::from_secs(3_600),
            variables: BTreeMap::new(),
        }
    }

    #[test]
    fn substitution_table() {
        let dashboard = dashboard();
        let substitution = twenty_seconds();
        let table = [
            ("$quantile", "0.95"),
            ("${quantile}", "0.95"),
            ("[[quantile]]", "0.95"),
            ("${quantile:regex}", "0.95"),
            ("${quantile:raw}", "0.95"),
            ("[[quantile:raw]]", "0.95"),
            ("x{namespace=~\"$namespace\"}", "x{namespace=~\".*\"}"),
            ("$pod", "(a-1|b\\.2)"),
            ("$empty", "first"),
            ("$__interval", "20s"),
            ("$__interval_ms", "20000"),
            ("$__rate_interval", "80s"),
            ("$__rate_interval_ms", "80000"),
            ("$__range", "3600s"),
            ("$__range_s", "3600"),
            ("$__range_ms", "3600000"),
            ("${__rate_interval}", "80s"),
            ("$unknown", "$unknown"),
            ("${unknown:raw}", "${unknown:raw}"),
            ("[[unknown]]", "[[unknown]]"),
            (
                "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
                "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
            ),
            ("x{a=~\"^b$\"}[5m]", "x{a=~\"^b$\"}[5m]"),
            ("$", "$"),
            ("${", "${"),
            ("[[", "[["),
            ("ünïcødé $quantile", "ünïcødé 0.95"),
        ];
        for (expr, expected) in table {
            assert_eq!(
                substitute(expr, &dashboard, &substitution),
                expected,
                "{expr}"
            );
        }
    }

    #[test]
    fn rate_interval_is_four_scrapes_or_interval_plus_scrape() {
        let dashboard = dashboard();
        for (scrape, expected) in [(20, "80s"), (1, "4s"), (15, "60s")] {
            let substitution = Substitution {
                scrape_interval: Duration::from_secs(scrape),
                ..twenty_seconds()
            };
            assert_eq!(
                substitute("$__rate_interval", &dashboard, &substitution),
                expected
            );
        }
    }

    #[test]
    fn overrides_win_and_all_means_all() {
        let dashboard = dashboard();
        let mut substitution = twenty_seconds();
        substitution
            .variables
            .insert("namespace".into(), "thidwick".into());
        substitution
            .variables
            .insert("quantile".into(), "All".into());
        substitution.variables.insert("extra".into(), "x".into());
        assert_eq!(
            substitute("$namespace $quantile $extra", &dashboard, &substitution),
            "thidwick (0\\.5|0\\.95) x"
        );
        substitution
            .variables
            .insert("namespace".into(), "$__all".into());
        assert_eq!(substitute("$namespace", &dashboard, &substitution), ".*");
    }

    #[test]
    fn unresolved_are_listed_once() {
        let dashboard = dashboard();
        let out = substitute(
            "rate(x{a=\"$nope\", b=\"${nope}\"}[$__interval]) + $__from + $1",
            &dashboard,
            &twenty_seconds(),
        );
        assert_eq!(
            out,
            "rate(x{a=\"$nope\", b=\"${nope}\"}[20s]) + $__from + $1"
        );
        assert_eq!(unresolved_variables(&out), ["nope", "__from"]);
        assert!(unresolved_variables("sum(rate(x[80s]))").is_empty());
    }

    #[test]
    fn the_project_dashboard_substitutes_completely() {
        let dashboard = Dashboard::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("charts/monitoring/dashboards/thidwick-starter.json"),
        )
        .unwrap();
        let substitution = twenty_seconds();
        for panel in &dashboard.panels {
            for target in &panel.targets {
                let out = substitute(&target.expr, &dashboard, &substitution);
                assert!(unresolved_variables(&out).is_empty(), "{out}");
                assert!(out.contains("namespace=~\".*\""), "{out}");
            }
        }
        let requests = substitute(
            &dashboard.panels[0].targets[0].expr,
            &dashboard,
            &substitution,
        );
        assert_eq!(
            requests,
            "sum by (route, status) (rate(thidwick_http_requests_total{namespace=~\".*\"}[80s]))"
        );
    }
}
