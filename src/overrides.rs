//! `--set` overrides as helm spells their keys — `master.config.target-host`,
//! `imagePullSecrets[0].name`, `podAnnotations.prometheus\.io/scrape` — turned into the values
//! document thidctl hands helm in a file. Values stay strings, as with `--set-string`.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

/// One step of a key's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Splits a key at unescaped dots, reading `name[2]` as a key and a list index and `\.` as a
/// dot inside a name. Errors name what is wrong with the key.
pub fn parse_key(key: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut name = String::new();
    let mut chars = key.chars().peekable();
    // Whether a segment ended with `]`, so that only `.` or `[` may follow.
    let mut after_index = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                name.push('.');
                chars.next();
            }
            '.' => {
                if !name.is_empty() {
                    segments.push(Segment::Key(std::mem::take(&mut name)));
                } else if !after_index {
                    return Err(format!("`{key}` has an empty name between dots"));
                }
                after_index = false;
            }
            '[' => {
                if !name.is_empty() {
                    segments.push(Segment::Key(std::mem::take(&mut name)));
                } else if !after_index {
                    return Err(format!("`{key}` has a list index with no name before it"));
                }
                let mut digits = String::new();
                loop {
                    let Some(c) = chars.next() else {
                        return Err(format!("`{key}` opens a list index `[` that never closes"));
                    };
                    if c == ']' {
                        break;
                    }
                    digits.push(c);
                }
                let index = digits.parse().map_err(|_| {
                    format!("`{key}` has the list index `[{digits}]`; use a number")
                })?;
                segments.push(Segment::Index(index));
                after_index = true;
            }
            _ if after_index => {
                return Err(format!("`{key}`: a `.` must follow a list index"));
            }
            _ => name.push(c),
        }
    }
    if !name.is_empty() {
        segments.push(Segment::Key(name));
    } else if !after_index {
        return Err(format!("`{key}` ends without a name"));
    }
    Ok(segments)
}

/// The values document for `set`: nested mappings, and lists where a key has an index (padded
/// with nulls, as helm pads them).
pub fn nest(set: &BTreeMap<String, String>) -> Result<Value, String> {
    let mut root = Value::Mapping(Mapping::new());
    for (key, value) in set {
        let segments = parse_key(key)?;
        let mut node = &mut root;
        for segment in &segments {
            node = match segment {
                Segment::Key(name) => {
                    if !node.is_mapping() {
                        *node = Value::Mapping(Mapping::new());
                    }
                    let map = node.as_mapping_mut().expect("made a mapping above");
                    map.entry(Value::String(name.clone()))
                        .or_insert(Value::Null)
                }
                Segment::Index(index) => {
                    if !node.is_sequence() {
                        *node = Value::Sequence(Vec::new());
                    }
                    let list = node.as_sequence_mut().expect("made a list above");
                    if list.len() <= *index {
                        list.resize(index + 1, Value::Null);
                    }
                    &mut list[*index]
                }
            };
        }
        *node = Value::String(value.clone());
    }
    Ok(root)
}

/// The last name in a key (`registry.password` → `password`), for deciding what to hide.
pub fn last_name(key: &str) -> &str {
    let name = key.rsplit('.').next().unwrap_or(key);
    name.split('[').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_split_at_unescaped_dots_and_indices() {
        use Segment::{Index, Key};
        let key = |s: &str| Key(s.to_string());
        assert_eq!(
            parse_key("master.config.target-host").unwrap(),
            [key("master"), key("config"), key("target-host")]
        );
        assert_eq!(
            parse_key("imagePullSecrets[0].name").unwrap(),
            [key("imagePullSecrets"), Index(0), key("name")]
        );
        assert_eq!(
            parse_key(r"podAnnotations.prometheus\.io/scrape").unwrap(),
            [key("podAnnotations"), key("prometheus.io/scrape")]
        );
        assert_eq!(
            parse_key("matrix[1][2]").unwrap(),
            [key("matrix"), Index(1), Index(2)]
        );
    }

    #[test]
    fn malformed_keys_are_named() {
        for bad in [
            "a..b", "a[x].b", "[0].a", "a[0]b", "a.", ".a", "a[0", "a[1.b",
        ] {
            let error = parse_key(bad).unwrap_err();
            assert!(error.contains(bad), "{bad}: {error}");
        }
    }

    #[test]
    fn indices_make_lists_padded_with_nulls() {
        let values = nest(&set(&[
            ("imagePullSecrets[1].name", "second"),
            ("imagePullSecrets[0].name", "first"),
            ("tolerations[2]", "x"),
        ]))
        .unwrap();
        assert_eq!(values["imagePullSecrets"][0]["name"], "first");
        assert_eq!(values["imagePullSecrets"][1]["name"], "second");
        let tolerations = values["tolerations"].as_sequence().unwrap();
        assert_eq!(tolerations[..2], [Value::Null, Value::Null]);
        assert_eq!(tolerations[2], "x");
    }

    #[test]
    fn values_stay_strings_and_dotted_names_stay_whole() {
        let values = nest(&set(&[
            ("master.config.extra", "a,b=c"),
            ("enabled", "true"),
            (r"podAnnotations.prometheus\.io/scrape", "true"),
        ]))
        .unwrap();
        assert_eq!(values["master"]["config"]["extra"], "a,b=c");
        assert_eq!(values["enabled"], Value::String("true".into()));
        assert_eq!(
            values["podAnnotations"]["prometheus.io/scrape"],
            Value::String("true".into())
        );
    }

    #[test]
    fn the_last_name_decides_what_is_hidden() {
        assert_eq!(last_name("registry.password"), "password");
        assert_eq!(last_name("imagePullSecrets[0].name"), "name");
        assert_eq!(last_name("tokens[3]"), "tokens");
    }
}
