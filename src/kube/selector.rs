//! Label selectors as the strings `kubectl -l` and the API's `labelSelector` take.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// `key=value` pairs joined with commas, in the order given: `app=locust,component=master`.
pub fn format_selector<K, V>(labels: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    labels
        .into_iter()
        .map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A workload's `spec.selector` as a selector string, so its pods can be listed. Match
/// expressions use the set-based syntax (`tier in (a,b)`, `!canary`).
pub fn label_selector_string(selector: &LabelSelector) -> String {
    let mut parts = Vec::new();
    if let Some(labels) = &selector.match_labels {
        parts.push(format_selector(labels));
    }
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.clone().unwrap_or_default().join(",");
        parts.push(match expr.operator.as_str() {
            "In" => format!("{} in ({values})", expr.key),
            "NotIn" => format!("{} notin ({values})", expr.key),
            "Exists" => expr.key.clone(),
            "DoesNotExist" => format!("!{}", expr.key),
            // An operator we do not know is left out rather than guessed; the selector only
            // widens, which is safe for finding pods to explain.
            _ => continue,
        });
    }
    parts.retain(|p| !p.is_empty());
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn pairs_join_in_order() {
        assert_eq!(
            format_selector([("app", "locust4thidwick-locust"), ("component", "master")]),
            "app=locust4thidwick-locust,component=master"
        );
        assert_eq!(format_selector(Vec::<(&str, &str)>::new()), "");
    }

    #[test]
    fn map_labels_are_sorted_by_key() {
        let labels = BTreeMap::from([
            ("project".to_string(), "thidwick".to_string()),
            ("app".to_string(), "thidwick-starter".to_string()),
        ]);
        assert_eq!(
            format_selector(&labels),
            "app=thidwick-starter,project=thidwick"
        );
    }

    #[test]
    fn label_selector_with_expressions() {
        let selector: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "thidwick-starter"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "track", "operator": "NotIn", "values": ["canary"]},
                {"key": "release", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(
            label_selector_string(&selector),
            "app=thidwick-starter,tier in (web,api),track notin (canary),release,!legacy"
        );
    }

    #[test]
    fn empty_label_selector_is_empty_string() {
        assert_eq!(label_selector_string(&LabelSelector::default()), "");
    }
}
