//! What Locust's index page tells: which API generation serves it and where it is aimed.
//! Three page shapes exist: 0.8's and 1.x/2.x's server-rendered forms, and the React UI of
//! later 2.x versions, which carries its settings as a `templateArgs` JSON object.

use serde_json::Value;

use super::client::ApiGeneration;

/// The generation from the swarm form's field names, which Locust 1.0 renamed; `None` when the
/// page has no swarm form at all.
pub(crate) fn generation(html: &str) -> Option<ApiGeneration> {
    let has_field = |name: &str| html.contains(&format!("name=\"{name}\""));
    if has_field("locust_count") || has_field("hatch_rate") {
        return Some(ApiGeneration::Legacy);
    }
    if has_field("user_count") || has_field("spawn_rate") {
        return Some(ApiGeneration::Modern);
    }
    // The React UI builds its form in JavaScript; the arguments it gets name the same fields.
    let args = template_args(html)?;
    (args.get("spawn_rate").is_some() || args.get("user_count").is_some())
        .then_some(ApiGeneration::Modern)
}

/// The host the page shows as Locust's target; `None` when Locust has none set.
pub(crate) fn target_host(html: &str) -> Option<String> {
    let host = match template_args(html) {
        Some(args) => args.get("host")?.as_str()?.to_string(),
        None => {
            let start = html.find("id=\"host_url\"")?;
            let text = &html[start..];
            let text = &text[text.find('>')? + 1..];
            unescape_html(text[..text.find('<')?].trim())
        }
    };
    // Jinja renders 0.8's missing host as "None".
    (!host.is_empty() && host != "None").then_some(host)
}

fn template_args(html: &str) -> Option<Value> {
    let start = html.find("templateArgs = ")? + "templateArgs = ".len();
    // The object is followed by more script; read exactly one JSON value.
    serde_json::Deserializer::from_str(&html[start..])
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// Undoes the escaping Jinja and markupsafe apply to text in pages and in 2.x error strings.
pub(crate) fn unescape_html(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX_08: &str = include_str!("../../tests/fixtures/locust/index-0.8.html");
    const INDEX_212: &str = include_str!("../../tests/fixtures/locust/index-2.12.html");
    const INDEX_247: &str = include_str!("../../tests/fixtures/locust/index-2.47.html");

    #[test]
    fn generation_from_each_index_page() {
        assert_eq!(generation(INDEX_08), Some(ApiGeneration::Legacy));
        assert_eq!(generation(INDEX_212), Some(ApiGeneration::Modern));
        assert_eq!(generation(INDEX_247), Some(ApiGeneration::Modern));
        assert_eq!(generation("<html><body>nginx</body></html>"), None);
    }

    #[test]
    fn target_host_from_each_index_page() {
        let expected = Some("http://thidwick-thidwick-starter:8080".to_string());
        assert_eq!(target_host(INDEX_08), expected);
        assert_eq!(
            target_host(INDEX_212),
            Some("http://127.0.0.1:38363".to_string())
        );
        assert_eq!(
            target_host(INDEX_247),
            Some("http://127.0.0.1:42283".to_string())
        );
    }

    #[test]
    fn missing_hosts_are_none() {
        let page_08 = INDEX_08.replace("http://thidwick-thidwick-starter:8080", "None");
        assert_eq!(target_host(&page_08), None);
        let page_247 = INDEX_247.replace("\"http://127.0.0.1:42283\"", "null");
        assert_eq!(target_host(&page_247), None);
    }

    #[test]
    fn escaped_text_is_restored() {
        assert_eq!(
            unescape_html("HTTPError(&#39;a &lt;b&gt; &amp;amp;&#39;)"),
            "HTTPError('a <b> &amp;')"
        );
    }
}
