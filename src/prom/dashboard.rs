//! A Grafana dashboard read as the list of Prometheus queries it shows: panels (with the row
//! they sit in), their visible targets, and the template variables those targets use.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::duration;
use super::error::PromError;

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub title: String,
    pub uid: Option<String>,
    pub panels: Vec<Panel>,
    pub variables: Vec<Variable>,
    /// `time.from`, e.g. `now-30m`.
    pub time_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    /// The title of the row the panel sits in, if any.
    pub row: Option<String>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub ref_id: String,
    pub expr: String,
    pub legend: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    /// Grafana's variable type: `query`, `custom`, `datasource`, `interval`, …
    pub kind: String,
    /// The saved current value; `$__all` when "All" is selected.
    pub current: Option<String>,
    pub all_value: Option<String>,
    pub include_all: bool,
    pub options: Vec<String>,
}

impl Dashboard {
    /// Reads the modern layout (`panels[]`, rows as panels, a collapsed row's panels nested in
    /// it) and the old one (`rows[].panels[]`), bare or wrapped as `{"dashboard": …}` like the
    /// API exports it. Only panels with visible Prometheus targets are listed.
    pub fn parse(json: &str) -> Result<Dashboard, PromError> {
        let root: Value = serde_json::from_str(json).map_err(|err| {
            PromError::Dashboard(format!(
                "not valid JSON: {err} (is it a Grafana dashboard export?)"
            ))
        })?;
        let dashboard = match root.get("dashboard") {
            Some(inner) if inner.is_object() => inner,
            _ => &root,
        };
        if !dashboard.is_object() {
            return Err(PromError::Dashboard(
                "the JSON is not an object (is it a Grafana dashboard export?)".into(),
            ));
        }
        let has_panels = dashboard.get("panels").is_some_and(Value::is_array);
        let has_rows = dashboard.get("rows").is_some_and(Value::is_array);
        if !has_panels && !has_rows {
            return Err(PromError::Dashboard(
                "no \"panels\" or \"rows\" (is it a Grafana dashboard export?)".into(),
            ));
        }

        let mut panels = Vec::new();
        let mut row: Option<String> = None;
        for panel in array(dashboard, "panels") {
            if text(panel, "type").as_deref() == Some("row") {
                row = text(panel, "title").filter(|title| !title.is_empty());
                // A collapsed row keeps its panels inside itself; an open row's list is empty.
                for nested in array(panel, "panels") {
                    push_panel(&mut panels, nested, row.as_deref());
                }
            } else {
                push_panel(&mut panels, panel, row.as_deref());
            }
        }
        for old_row in array(dashboard, "rows") {
            let title = text(old_row, "title").filter(|title| !title.is_empty());
            for panel in array(old_row, "panels") {
                push_panel(&mut panels, panel, title.as_deref());
            }
        }

        Ok(Dashboard {
            title: text(dashboard, "title").unwrap_or_default(),
            uid: text(dashboard, "uid"),
            panels,
            variables: dashboard
                .get("templating")
                .map(|templating| array(templating, "list").filter_map(variable).collect())
                .unwrap_or_default(),
            time_from: dashboard.get("time").and_then(|time| text(time, "from")),
        })
    }

    pub fn load(path: &Path) -> Result<Dashboard, PromError> {
        let json = std::fs::read_to_string(path).map_err(|err| {
            PromError::Dashboard(format!("cannot read {}: {err}", path.display()))
        })?;
        Dashboard::parse(&json)
            .map_err(|err| PromError::Dashboard(format!("{}: {err}", path.display())))
    }

    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|variable| variable.name == name)
    }

    /// The dashboard's default time range (`now-30m` → 30 min), the usual `$__range`.
    pub fn time_range(&self) -> Option<Duration> {
        duration::parse_relative(self.time_from.as_deref()?)
    }
}

impl Panel {
    /// `Row › Title`, or the title alone outside rows.
    pub fn path(&self) -> String {
        match &self.row {
            Some(row) => format!("{row} › {}", self.title),
            None => self.title.clone(),
        }
    }
}

fn push_panel(panels: &mut Vec<Panel>, panel: &Value, row: Option<&str>) {
    let panel_datasource = panel.get("datasource");
    let targets: Vec<Target> = array(panel, "targets")
        .filter(|target| !target.get("hide").and_then(Value::as_bool).unwrap_or(false))
        .filter(|target| is_prometheus(target.get("datasource").or(panel_datasource)))
        .filter_map(|target| {
            let expr = text(target, "expr").filter(|expr| !expr.trim().is_empty())?;
            Some(Target {
                ref_id: text(target, "refId").unwrap_or_default(),
                expr,
                legend: text(target, "legendFormat").filter(|legend| !legend.is_empty()),
            })
        })
        .collect();
    if !targets.is_empty() {
        panels.push(Panel {
            title: text(panel, "title").unwrap_or_default(),
            row: row.map(str::to_owned),
            targets,
        });
    }
}

/// Loki targets also have an `expr`; only a datasource that says it is something other than
/// Prometheus is left out (a `$datasource` string or a missing one is taken as Prometheus).
fn is_prometheus(datasource: Option<&Value>) -> bool {
    match datasource.and_then(|datasource| datasource.get("type")) {
        Some(Value::String(kind)) => kind == "prometheus" || kind.starts_with('$'),
        _ => true,
    }
}

fn variable(value: &Value) -> Option<Variable> {
    let name = text(value, "name")?;
    let kind = text(value, "type").unwrap_or_default();
    let mut options: Vec<String> = array(value, "options")
        .filter_map(|option| option.get("value").and_then(single_value))
        .filter(|option| option != "$__all")
        .collect();
    // A custom variable saved without its options still has them in `query`: "a,b,c".
    if options.is_empty() && kind == "custom" {
        options = text(value, "query")
            .unwrap_or_default()
            .split(',')
            .map(|option| option.trim().to_owned())
            .filter(|option| !option.is_empty())
            .collect();
    }
    Some(Variable {
        name,
        kind,
        current: value
            .get("current")
            .and_then(|current| current.get("value"))
            .and_then(single_value),
        all_value: text(value, "allValue").filter(|all| !all.is_empty()),
        include_all: value
            .get("includeAll")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        options,
    })
}

/// A variable value is a string, or for multi-value variables a list: joined as a regex
/// alternation, as Grafana's Prometheus data source does.
fn single_value(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => {
            let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            match items.as_slice() {
                [] => None,
                [one] => Some((*one).to_owned()),
                many => Some(format!("({})", many.join("|"))),
            }
        }
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter())
        .into_iter()
        .flatten()
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(relative: &str) -> Dashboard {
        Dashboard::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
    }

    fn project() -> Dashboard {
        load("charts/monitoring/dashboards/thidwick-starter.json")
    }

    fn target_count(dashboard: &Dashboard) -> usize {
        dashboard
            .panels
            .iter()
            .map(|panel| panel.targets.len())
            .sum()
    }

    #[test]
    fn the_project_dashboard() {
        let dashboard = project();
        assert_eq!(dashboard.title, "Thidwick-Starter");
        assert_eq!(dashboard.uid.as_deref(), Some("thidwick-starter"));
        assert_eq!(dashboard.time_from.as_deref(), Some("now-30m"));
        assert_eq!(dashboard.time_range(), Some(Duration::from_secs(1_800)));
        let listed: Vec<(Option<&str>, &str, usize)> = dashboard
            .panels
            .iter()
            .map(|panel| {
                (
                    panel.row.as_deref(),
                    panel.title.as_str(),
                    panel.targets.len(),
                )
            })
            .collect();
        let starter = Some("Thidwick-Starter");
        let locust = Some("Locust");
        let capacity = Some("Thidwick-Starter Capacity");
        assert_eq!(
            listed,
            [
                (starter, "Requests/Second", 1),
                (starter, "Latency", 3),
                (locust, "Locust Average Response Time", 1),
                (locust, "Locust Median Response Time", 1),
                (locust, "Locust Current Response Time Percentiles", 2),
                (locust, "Locust Requests/Second", 2),
                (locust, "Locust Users", 2),
                (capacity, "In Flight and Queued", 2),
                (capacity, "Rejected and Failed/Second", 2),
                (capacity, "Configured Capacity", 2),
            ]
        );
        assert_eq!(target_count(&dashboard), 18);
        let latency = &dashboard.panels[1];
        assert_eq!(
            latency
                .targets
                .iter()
                .map(|t| t.ref_id.as_str())
                .collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        assert_eq!(latency.targets[1].legend.as_deref(), Some("p95"));
        assert_eq!(latency.path(), "Thidwick-Starter › Latency");

        let namespace = dashboard.variable("namespace").unwrap();
        assert_eq!(namespace.kind, "query");
        assert_eq!(namespace.current.as_deref(), Some("$__all"));
        assert_eq!(namespace.all_value.as_deref(), Some(".*"));
        assert!(namespace.include_all);
        let datasource = dashboard.variable("datasource").unwrap();
        assert_eq!(datasource.kind, "datasource");
        assert_eq!(datasource.current, None);
    }

    #[test]
    fn old_rows_skip_hidden_targets_and_text_panels() {
        let dashboard = load("tests/fixtures/dashboards/old-rows.json");
        assert_eq!(dashboard.title, "Old Rows Fixture");
        let titles: Vec<(Option<&str>, &str)> = dashboard
            .panels
            .iter()
            .map(|panel| (panel.row.as_deref(), panel.title.as_str()))
            .collect();
        assert_eq!(
            titles,
            [
                (Some("Service"), "Requests/Second"),
                (Some("Service"), "Latency"),
                (Some("Totals"), "Requests in Range"),
            ]
        );
        // 5 targets, one hidden.
        assert_eq!(target_count(&dashboard), 4);
        assert_eq!(dashboard.panels[1].targets.len(), 1);
        assert_eq!(dashboard.panels[1].targets[0].ref_id, "A");
        let quantile = dashboard.variable("quantile").unwrap();
        assert_eq!(quantile.current.as_deref(), Some("0.95"));
        assert_eq!(quantile.options, ["0.5", "0.95", "0.99"]);
        assert_eq!(dashboard.time_range(), Some(Duration::from_secs(3_600)));
    }

    #[test]
    fn nested_collapsed_rows() {
        let dashboard = load("tests/fixtures/dashboards/nested-collapsed.json");
        let titles: Vec<(Option<&str>, &str, usize)> = dashboard
            .panels
            .iter()
            .map(|panel| {
                (
                    panel.row.as_deref(),
                    panel.title.as_str(),
                    panel.targets.len(),
                )
            })
            .collect();
        assert_eq!(
            titles,
            [
                (None, "Up", 1),
                (Some("Open Row"), "Requests/Second", 1),
                (Some("Collapsed Latency"), "Latency p95", 2),
                (Some("Collapsed Latency"), "Average Latency", 1),
                (Some("Collapsed Locust"), "Locust Median Response Time", 2),
                (Some("Collapsed Locust"), "Locust Requests in Range", 1),
            ]
        );
        assert_eq!(target_count(&dashboard), 8);
        assert_eq!(
            dashboard.variable("window").unwrap().current.as_deref(),
            Some("5m")
        );
    }

    #[test]
    fn an_api_export_is_unwrapped() {
        let inner = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("charts/monitoring/dashboards/thidwick-starter.json"),
        )
        .unwrap();
        let wrapped = format!(r#"{{"meta": {{"slug": "x"}}, "dashboard": {inner}}}"#);
        assert_eq!(Dashboard::parse(&wrapped).unwrap(), project());
    }

    #[test]
    fn odd_input_is_a_one_line_error() {
        for bad in ["{", "[]", "{\"title\": \"x\"}", "", "null"] {
            let error = Dashboard::parse(bad).unwrap_err();
            assert!(matches!(error, PromError::Dashboard(_)), "{bad:?}: {error}");
            assert!(!error.to_string().contains('\n'), "{bad:?}: {error}");
        }
        let error = Dashboard::load(Path::new("/nonexistent/dashboard.json")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/dashboard.json"));
    }

    #[test]
    fn odd_panels_do_not_panic() {
        let dashboard = Dashboard::parse(
            r#"{"panels": [
                {"type": "row"},
                {"title": 3, "targets": "nope"},
                {"title": "Loki", "datasource": {"type": "loki"}, "targets": [{"expr": "{app=\"x\"}"}]},
                {"title": "Multi", "targets": [{"refId": "A", "expr": "up", "hide": false}, {"expr": "  "}]}
            ],
            "templating": {"list": [{"name": "m", "type": "custom", "query": "a, b", "current": {"value": ["a", "b"]}}]}}"#,
        )
        .unwrap();
        assert_eq!(dashboard.panels.len(), 1);
        assert_eq!(dashboard.panels[0].title, "Multi");
        assert_eq!(dashboard.panels[0].targets.len(), 1);
        let multi = dashboard.variable("m").unwrap();
        assert_eq!(multi.current.as_deref(), Some("(a|b)"));
        assert_eq!(multi.options, ["a", "b"]);
    }
}
