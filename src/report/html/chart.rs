//! Line charts as inline SVG, drawn here so the page needs no script, no library and no network.
//!
//! Every chart is `<svg class="chart" data-chart="KEY" data-points="N">`, N the number of data
//! points of its longest series, and each series is a `<polyline class="series">`; a chart
//! without data says "no data" in the same frame so the page keeps its layout.

use std::fmt::Write;

use super::markup::escape;
use super::scale::Axis;

/// The drawing's width in SVG units; text is sized in these units too, so a chart shown in
/// half a page wants a narrower drawing (`LineChart::narrow`) to keep its text readable.
const WIDTH: f64 = 960.0;
const NARROW_WIDTH: f64 = 600.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 52.0;
/// Up to this many points per series each get a dot (with a hover title); beyond, the dots
/// would only blur the line.
const MAX_DOTS: usize = 40;

/// Colours from Okabe and Ito's palette, told apart by people with any common colour blindness.
pub mod colour {
    pub const BLUE: &str = "#0072B2";
    pub const ORANGE: &str = "#E69F00";
    pub const VERMILLION: &str = "#D55E00";
    pub const GREEN: &str = "#009E73";
}

pub struct Series {
    pub key: &'static str,
    pub label: String,
    pub colour: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A labelled vertical line at `x` (a step boundary), `detail` shown on hover.
#[derive(Clone)]
pub struct Guide {
    pub x: f64,
    pub label: String,
    pub detail: String,
    pub class: &'static str,
}

/// A ringed point with a label (the knee).
pub struct Mark {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub class: &'static str,
}

pub struct LineChart {
    pub key: &'static str,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub guides: Vec<Guide>,
    pub marks: Vec<Mark>,
    width: f64,
}

impl LineChart {
    pub fn new(key: &'static str, title: &str, x_label: &str, y_label: &str) -> LineChart {
        LineChart {
            key,
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            series: Vec::new(),
            guides: Vec::new(),
            marks: Vec::new(),
            width: WIDTH,
        }
    }

    /// For a chart that shares the row with another.
    pub fn narrow(mut self) -> LineChart {
        self.width = NARROW_WIDTH;
        self
    }

    pub fn series(
        mut self,
        key: &'static str,
        label: &str,
        colour: &'static str,
        points: Vec<(f64, f64)>,
    ) -> LineChart {
        self.series.push(Series {
            key,
            label: label.to_string(),
            colour,
            // A NaN would turn the whole polyline invalid; drop the point, keep the line.
            points: points
                .into_iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect(),
        });
        self
    }

    /// The chart inside a `<figure>` with its title as caption.
    pub fn render(&self) -> String {
        format!(
            "<figure class=\"chart-box\"><figcaption>{}</figcaption>{}</figure>",
            escape(&self.title),
            self.svg()
        )
    }

    fn svg(&self) -> String {
        let points = self
            .series
            .iter()
            .map(|s| s.points.len())
            .max()
            .unwrap_or(0);
        let mut svg = format!(
            "<svg class=\"chart\" data-chart=\"{}\" data-points=\"{points}\" viewBox=\"0 0 {width} {HEIGHT}\" \
             role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
            self.key,
            escape(&self.title),
            width = self.width,
        );
        if points == 0 {
            let _ = write!(
                svg,
                "<rect class=\"frame\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\"/>\
                 <text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text></svg>",
                self.width - LEFT - RIGHT,
                HEIGHT - TOP - BOTTOM,
                (LEFT + self.width - RIGHT) / 2.0,
                (TOP + HEIGHT - BOTTOM) / 2.0
            );
            return svg;
        }
        let all = || self.series.iter().flat_map(|s| s.points.iter());
        // Both axes start at zero: every figure here is a count, rate or time, and a line that
        // starts at the origin shows proportions honestly.
        let x_max = all()
            .map(|p| p.0)
            .chain(self.guides.iter().map(|g| g.x))
            .fold(0.0, f64::max);
        let y_max = all().map(|p| p.1).fold(0.0, f64::max);
        let x_axis = Axis::nice(0.0, x_max, 8);
        let y_axis = Axis::nice(0.0, y_max, 5);
        let px = |x: f64| x_axis.map(x, LEFT, self.width - RIGHT);
        let py = |y: f64| y_axis.map(y, HEIGHT - BOTTOM, TOP);

        self.axes(&mut svg, &x_axis, &y_axis);
        svg.push_str("<g class=\"guides\">");
        for guide in &self.guides {
            let x = px(guide.x);
            let _ = write!(
                svg,
                "<g class=\"guide {}\"><title>{}</title>\
                 <line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{}\">{}</text></g>",
                guide.class,
                escape(&guide.detail),
                HEIGHT - BOTTOM,
                x + 3.0,
                TOP + 11.0,
                escape(&guide.label)
            );
        }
        svg.push_str("</g><g class=\"plot\">");
        for series in &self.series {
            let coordinates: Vec<String> = series
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            let _ = write!(
                svg,
                "<polyline class=\"series\" data-series=\"{}\" data-points=\"{}\" fill=\"none\" \
                 stroke=\"{}\" stroke-width=\"2.5\" stroke-linejoin=\"round\" points=\"{}\"/>",
                series.key,
                series.points.len(),
                series.colour,
                coordinates.join(" ")
            );
            if series.points.len() <= MAX_DOTS {
                for &(x, y) in &series.points {
                    let _ = write!(
                        svg,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\">\
                         <title>{}: {} at {} {}</title></circle>",
                        px(x),
                        py(y),
                        series.colour,
                        escape(&series.label),
                        super::markup::num(y),
                        escape(&self.x_label),
                        super::markup::num(x)
                    );
                }
            }
        }
        svg.push_str("</g>");
        for mark in &self.marks {
            let (x, y) = (px(mark.x), py(mark.y));
            // Keep the label inside the frame when the mark sits at the right edge.
            let anchor = if x > self.width - 200.0 {
                "end"
            } else {
                "start"
            };
            let label_x = if anchor == "end" { x - 12.0 } else { x + 12.0 };
            let _ = write!(
                svg,
                "<g class=\"mark {}\" data-mark=\"{}\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\"/>\
                 <text x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text></g>",
                mark.class,
                mark.class,
                (y - 12.0).max(TOP + 12.0),
                escape(&mark.label)
            );
        }
        self.legend(&mut svg);
        svg.push_str("</svg>");
        svg
    }

    fn axes(&self, svg: &mut String, x_axis: &Axis, y_axis: &Axis) {
        let (left, right, top, bottom) = (LEFT, self.width - RIGHT, TOP, HEIGHT - BOTTOM);
        svg.push_str("<g class=\"grid\">");
        for &tick in &y_axis.ticks {
            let y = y_axis.map(tick, bottom, top);
            let _ = write!(
                svg,
                "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{right}\" y2=\"{y:.1}\"/>"
            );
        }
        svg.push_str("</g><g class=\"axis x\">");
        let _ = write!(
            svg,
            "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"/>"
        );
        for &tick in &x_axis.ticks {
            let x = x_axis.map(tick, left, right);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{bottom}\" x2=\"{x:.1}\" y2=\"{}\"/>\
                 <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                bottom + 5.0,
                bottom + 19.0,
                x_axis.label(tick)
            );
        }
        let _ = write!(
            svg,
            "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             </g><g class=\"axis y\"><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\"/>",
            (left + right) / 2.0,
            HEIGHT - 8.0,
            escape(&self.x_label)
        );
        for &tick in &y_axis.ticks {
            let y = y_axis.map(tick, bottom, top);
            let _ = write!(
                svg,
                "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{left}\" y2=\"{y:.1}\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left - 5.0,
                left - 8.0,
                y + 4.0,
                y_axis.label(tick)
            );
        }
        let _ = write!(
            svg,
            "<text class=\"axis-label\" transform=\"translate(16 {:.1}) rotate(-90)\" \
             text-anchor=\"middle\">{}</text></g>",
            (top + bottom) / 2.0,
            escape(&self.y_label)
        );
    }

    fn legend(&self, svg: &mut String) {
        svg.push_str("<g class=\"legend\">");
        let mut x = LEFT;
        for series in &self.series {
            let _ = write!(
                svg,
                "<line x1=\"{x}\" y1=\"18\" x2=\"{}\" y2=\"18\" stroke=\"{}\" stroke-width=\"4\"/>\
                 <text x=\"{}\" y=\"22\">{}</text>",
                x + 22.0,
                series.colour,
                x + 28.0,
                escape(&series.label)
            );
            // Roughly 7.5 px a character at the legend's font size.
            x += 50.0 + series.label.chars().count() as f64 * 7.5;
        }
        svg.push_str("</g>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_chart_says_no_data() {
        let html = LineChart::new("rps", "Requests", "time (s)", "req/s")
            .series("rps", "req/s", colour::BLUE, vec![])
            .render();
        assert!(
            html.contains("data-chart=\"rps\" data-points=\"0\""),
            "{html}"
        );
        assert!(html.contains("no data"));
        assert!(!html.contains("<polyline"));
    }

    #[test]
    fn plots_every_series_and_drops_non_finite_points() {
        let html = LineChart::new("latency", "Latency", "time (s)", "ms")
            .series(
                "p50",
                "p50",
                colour::BLUE,
                vec![(1.0, 2.0), (2.0, f64::NAN), (3.0, 4.0)],
            )
            .series("p95", "p95", colour::ORANGE, vec![(1.0, 5.0)])
            .render();
        assert!(html.contains("data-points=\"2\""), "{html}");
        assert_eq!(html.matches("<polyline").count(), 2);
        assert!(!html.contains("NaN"));
        assert!(!html.contains("no data"));
    }

    #[test]
    fn escapes_labels() {
        let mut chart = LineChart::new("users", "<b>", "x", "y").series(
            "users",
            "<script>",
            colour::GREEN,
            vec![(0.0, 1.0)],
        );
        chart.guides.push(Guide {
            x: 1.0,
            label: "&".into(),
            detail: "\"".into(),
            class: "step",
        });
        let html = chart.render();
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;") && html.contains("&amp;"));
    }
}
