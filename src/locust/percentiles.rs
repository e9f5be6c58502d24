//! `GET /stats/requests/csv`, read for its percentile columns. The JSON API of Locust 1.x–2.12
//! gives per-row percentiles for the 90th and 99th only, while the CSV download that its web UI
//! offers has every one Locust reports ("50%" … "100%", whole milliseconds).

use std::collections::{BTreeMap, HashMap};

use super::stats::LocustStats;
use crate::report::load::percentile_label;

/// Percentiles per (method, name) row, in milliseconds, labelled as in [`crate::report::RequestRow`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PercentileTable {
    /// The labels of the CSV's percentile columns: what this Locust reports, even while idle
    /// (its rows then say "N/A").
    pub offered: Vec<String>,
    rows: HashMap<(String, String), BTreeMap<String, f64>>,
}

impl PercentileTable {
    /// `None` when the text is not a requests CSV with percentile columns (Locust before 1.0
    /// kept them in a separate distribution download).
    pub fn parse(csv_text: &str) -> Option<PercentileTable> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(csv_text.as_bytes());
        let headers = reader.headers().ok()?.clone();
        let column = |wanted: &[&str]| headers.iter().position(|h| wanted.contains(&h));
        let method_column = column(&["Type", "Method"])?;
        let name_column = column(&["Name"])?;
        let percentile_columns: Vec<(usize, String)> = headers
            .iter()
            .enumerate()
            .filter_map(|(index, header)| {
                let percent: f64 = header.strip_suffix('%')?.parse().ok()?;
                (percent > 0.0 && percent <= 100.0)
                    .then(|| (index, percentile_label(percent / 100.0)))
            })
            .collect();
        if percentile_columns.is_empty() {
            return None;
        }
        let mut table = PercentileTable {
            offered: percentile_columns.iter().map(|(_, l)| l.clone()).collect(),
            rows: HashMap::new(),
        };
        for record in reader.records() {
            let record = record.ok()?;
            let field = |index: usize| record.get(index).unwrap_or_default();
            // "N/A" where a row has no requests yet: nothing to add.
            let values: BTreeMap<String, f64> = percentile_columns
                .iter()
                .filter_map(|(index, label)| Some((label.clone(), field(*index).parse().ok()?)))
                .collect();
            let key = (
                field(method_column).to_string(),
                field(name_column).to_string(),
            );
            table.rows.insert(key, values);
        }
        Some(table)
    }

    /// Whether this Locust reports the percentile `label`.
    pub fn offers(&self, label: &str) -> bool {
        self.offered.iter().any(|offered| offered == label)
    }
}

impl LocustStats {
    /// Adds the percentiles the JSON answer lacks from `table`; values the JSON has stay.
    pub fn fill_percentiles(&mut self, table: &PercentileTable) {
        let rows = self.rows.iter_mut().map(|row| {
            let key = (row.method.clone(), row.name.clone());
            (row, key)
        });
        // The aggregate row: "Aggregated" since 1.0, with an empty type.
        let total_key = (String::new(), self.total.name.clone());
        for (row, key) in rows.chain(std::iter::once((&mut self.total, total_key))) {
            if let Some(values) = table.rows.get(&key) {
                for (label, value) in values {
                    row.percentiles_ms.entry(label.clone()).or_insert(*value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/locust/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn reads_every_percentile_column_of_locust_2_12() {
        let table = PercentileTable::parse(&fixture("requests-2.12.csv")).unwrap();
        assert_eq!(
            table.offered,
            [
                "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100"
            ]
        );
        let hello = &table.rows[&("GET".to_string(), "/hello".to_string())];
        assert_eq!(hello["50"], 1.0);
        assert_eq!(hello["80"], 11.0);
        assert_eq!(hello["100"], 12.0);
        assert!(
            table
                .rows
                .contains_key(&(String::new(), "Aggregated".to_string()))
        );
    }

    #[test]
    fn an_idle_locust_offers_its_columns_without_values() {
        let table = PercentileTable::parse(&fixture("requests-2.12-ready.csv")).unwrap();
        assert!(table.offers("95") && table.offers("99.9"));
        assert!(!table.offers("97"));
        assert!(table.rows.values().all(BTreeMap::is_empty));
    }

    #[test]
    fn fills_only_what_the_json_lacks() {
        let mut stats = LocustStats::parse(&fixture("stats-2.12.json")).unwrap();
        let json_p90 = stats.total.percentiles_ms.get("90").copied();
        assert!(!stats.total.percentiles_ms.contains_key("95"));
        let mut table = PercentileTable::parse(&fixture("requests-2.12.csv")).unwrap();
        // Name the CSV's request row like the fixture's first JSON row.
        let values = table.rows[&("GET".to_string(), "/hello".to_string())].clone();
        let first = &stats.rows[0];
        table
            .rows
            .insert((first.method.clone(), first.name.clone()), values);
        stats.fill_percentiles(&table);
        assert_eq!(stats.total.percentiles_ms["95"], 11.0);
        assert_eq!(stats.total.percentiles_ms.get("90").copied(), json_p90);
        assert_eq!(stats.rows[0].percentiles_ms["66"], 3.0);
    }

    #[test]
    fn a_csv_without_percentile_columns_is_not_a_table() {
        let old = "Method,Name,# requests,# failures,Median response time\nGET,/hello,3,0,4\n";
        assert_eq!(PercentileTable::parse(old), None);
        assert_eq!(PercentileTable::parse("<html>not found</html>"), None);
    }
}
