//! The few text helpers every part of the page needs: escaping, number formatting, tables.

use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A figure for people: whole above 100, one decimal above 10, two below — the precision a
/// reader can use, whatever the unit.
pub fn num(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

pub fn percent(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// A setting as the user wrote it: 5 → "5", 0.25 → "0.25", at most three decimals.
pub fn setting(value: f64) -> String {
    format!("{}", (value * 1000.0).round() / 1000.0)
}

/// How a table cell is aligned: names read left, figures right so their digits line up.
#[derive(Clone, Copy)]
pub enum Align {
    Left,
    Right,
}

/// A table built row by row; cells are HTML already (callers escape what came from the report).
pub struct Table {
    html: String,
    aligns: Vec<Align>,
}

impl Table {
    pub fn new(class: &str, headers: &[(&str, Align)]) -> Table {
        let mut html = format!("<div class=\"scroll\"><table class=\"{class}\"><thead><tr>");
        for (header, align) in headers {
            let _ = write!(html, "<th{}>{}</th>", align_attr(*align), escape(header));
        }
        html.push_str("</tr></thead><tbody>");
        Table {
            html,
            aligns: headers.iter().map(|(_, align)| *align).collect(),
        }
    }

    /// Appends a row; `attrs` goes into the `<tr>` tag as is (class, data attributes).
    pub fn row(&mut self, attrs: &str, cells: &[String]) {
        let _ = write!(self.html, "<tr{attrs}>");
        for (index, cell) in cells.iter().enumerate() {
            let align = self.aligns.get(index).copied().unwrap_or(Align::Left);
            let _ = write!(self.html, "<td{}>{cell}</td>", align_attr(align));
        }
        self.html.push_str("</tr>");
    }

    pub fn finish(mut self) -> String {
        self.html.push_str("</tbody></table></div>");
        self.html
    }
}

fn align_attr(align: Align) -> &'static str {
    match align {
        Align::Left => "",
        Align::Right => " class=\"num\"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(escape(r#"<script>&"'"#), "&lt;script&gt;&amp;&quot;&#39;");
        assert_eq!(escape("plain /path?q=1"), "plain /path?q=1");
    }

    #[test]
    fn numbers_keep_useful_precision() {
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(percent(0.0125), "1.25%");
        assert_eq!(setting(5.0), "5");
        assert_eq!(setting(0.25), "0.25");
    }
}
