//! `--html` pages rendered by a real browser: headless Chromium loads each page from disk with
//! networking off, and the test checks both what the browser built (the DOM after loading) and
//! what it painted (the screenshot's pixels).
//!
//! CI needs the Debian package `chromium`. Without it the test fails when CI is set and prints
//! "skipped: no chromium" otherwise.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::support;
use thidctl::report::html;
use thidctl::report::load::{FailureRow, LoadReport, ModelSummary, RequestRow, percentile_label};
use thidctl::slam::{Breach, Knee, Objective, SlamReport, SlamStep};
use thidctl::swarm::EndReason;
use thidctl::swarm::collector::{HistoryRow, PERCENTILES};
use thidctl::thresholds::ThresholdResult;

/// A browser that has not finished a static page in this long is stuck.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
const WINDOW: (u32, u32) = (1280, 2400);

/// The series colours of the charts (Okabe–Ito), as the page's SVG strokes them.
const BLUE: [u8; 3] = [0x00, 0x72, 0xB2];
const ORANGE: [u8; 3] = [0xE6, 0x9F, 0x00];
const VERMILLION: [u8; 3] = [0xD5, 0x5E, 0x00];
const GREEN: [u8; 3] = [0x00, 0x9E, 0x73];

#[test]
fn load_page_renders_in_a_browser() {
    let report = load_report(50, 60, 5.0, 950.0, 11.0);
    let page = html::render_load(&report);
    assert_self_contained(&page);
    let Some(rendered) = render_in_chromium("load", &page) else {
        return;
    };
    for (chart, points) in [("users", 60), ("rps", 60), ("latency", 60)] {
        assert_chart(&rendered.dom, chart, points, points);
    }
    assert!(rendered.dom.contains("&lt;script&gt;"), "escaped name");
    assert!(
        !rendered.dom.contains("<script>"),
        "a report string became markup"
    );
    assert!(rendered.dom.contains("Aggregated") && rendered.dom.contains("Failures"));
    // Each series' lines, not just its legend swatch (88 px), were painted.
    rendered.assert_painted(&[
        ("users", GREEN),
        ("requests/s and p50", BLUE),
        ("p95", ORANGE),
        ("failures/s and p99", VERMILLION),
    ]);
}

#[test]
fn slam_page_renders_in_a_browser() {
    let report = slam_report();
    let page = html::render_slam(&report);
    assert_self_contained(&page);
    let Some(rendered) = render_in_chromium("slam", &page) else {
        return;
    };
    assert_chart(&rendered.dom, "rps-users", 5, 5);
    assert_chart(&rendered.dom, "p95-users", 5, 5);
    // Five steps of 20 one-second rows each, laid end to end.
    for chart in ["users", "rps", "latency"] {
        assert_chart(&rendered.dom, chart, 100, 100);
    }
    assert!(rendered.dom.contains("<tr data-step=\"3\" class=\"knee\">"));
    assert!(
        rendered
            .dom
            .contains("<tr data-step=\"4\" class=\"broke\">")
    );
    assert_eq!(rendered.dom.matches("data-mark=\"knee\"").count(), 2);
    assert!(
        rendered
            .dom
            .contains("p95 180.0 ms is above the limit of 100.0 ms")
    );
    rendered.assert_painted(&[
        ("users", GREEN),
        ("requests/s", BLUE),
        ("p95", ORANGE),
        ("p99", VERMILLION),
    ]);
}

/// One file, nothing fetched: no scripts, stylesheets, images or frames from anywhere.
fn assert_self_contained(page: &str) {
    for needle in [
        "<script", "<link", "<img", "<iframe", " src=", " href=", "@import", "url(",
    ] {
        assert!(
            !page.contains(needle),
            "the page refers to something: {needle}"
        );
    }
}

/// The chart `key` is in the DOM with `points` data points and a polyline of `line_points`.
fn assert_chart(dom: &str, key: &str, points: usize, line_points: usize) {
    let marker = format!("<svg class=\"chart\" data-chart=\"{key}\" data-points=\"{points}\"");
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in the DOM"));
    let end = start + dom[start..].find("</svg>").expect("an svg that closes");
    let svg = &dom[start..end];
    let polyline = svg
        .find("<polyline")
        .map(|at| &svg[at..at + svg[at..].find('>').unwrap()])
        .unwrap_or_else(|| panic!("chart {key} has no polyline"));
    let coordinates = polyline
        .split(" points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("polyline points");
    assert_eq!(coordinates.split_whitespace().count(), line_points, "{key}");
    assert!(!svg.contains("no data"), "{key}");
}

struct Rendered {
    dom: String,
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
    screenshot: PathBuf,
}

impl Rendered {
    /// For each series (name, colour), at least `PAINTED_MINIMUM` pixels within a small distance
    /// of its colour. Anti-aliased edges blend into the background, but a 2.5 px line's core
    /// keeps its colour, and nothing on the page besides the charts uses these colours — so this
    /// counts painted chart lines. Measured on the load page: 2,300–5,200 such pixels per colour;
    /// with the plotted series hidden by CSS (legends left) 75–160, so 1,000 tells the two apart
    /// with room to spare.
    fn assert_painted(&self, series: &[(&str, [u8; 3])]) {
        const PAINTED_MINIMUM: usize = 1_000;
        for &(name, colour) in series {
            let close =
                |pixel: &[u8; 3]| pixel.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= 12);
            let count = self.rgb.iter().filter(|p| close(p)).count();
            assert!(
                count >= PAINTED_MINIMUM,
                "{name}: only {count} pixels of {colour:02X?} in {} ({}×{})",
                self.screenshot.display(),
                self.width,
                self.height
            );
        }
    }
}

/// Serialises the browsers: the machine is shared, and two Chromiums at once only slow both.
static BROWSER: Mutex<()> = Mutex::new(());

/// Loads `page` in headless Chromium: the DOM after loading and a decoded screenshot, kept in
/// `target/tmp/html/` for a human to look at. `None` (skipped) without Chromium, unless on CI.
fn render_in_chromium(name: &str, page: &str) -> Option<Rendered> {
    let Some(chromium) = support::on_path(&["chromium", "chromium-browser"]) else {
        support::require("chromium", false, "the Debian package `chromium`");
        return None;
    };
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html");
    std::fs::create_dir_all(&dir).unwrap();
    let page_path = dir.join(format!("{name}.html"));
    html::write(&page_path, page).unwrap();
    let screenshot = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&screenshot);
    let url = format!("file://{}", page_path.display());

    run_chromium(
        &chromium,
        &[
            format!("--screenshot={}", screenshot.display()),
            url.clone(),
        ],
    );
    let dom = run_chromium(&chromium, &["--dump-dom".to_string(), url]);
    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", screenshot.display()));
    let (width, height, rgb) = png::decode(&png);
    assert_eq!((width, height), WINDOW, "screenshot size");
    Some(Rendered {
        dom,
        width,
        height,
        rgb,
        screenshot,
    })
}

/// Runs Chromium with a fresh profile and networking off; its stdout, killed after
/// `BROWSER_TIMEOUT`.
fn run_chromium(chromium: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = tempfile::NamedTempFile::new().unwrap();
    let errors = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(args)
        // Files, not pipes: a chatty browser cannot block on a full pipe nobody reads.
        .stdin(Stdio::null())
        .stdout(File::create(output.path()).unwrap())
        .stderr(File::create(errors.path()).unwrap())
        .spawn()
        .expect("start chromium");
    let status = support::wait_at_most(&mut child, BROWSER_TIMEOUT).unwrap_or_else(|| {
        panic!(
            "chromium {args:?} took more than {BROWSER_TIMEOUT:?}; stderr:\n{}",
            std::fs::read_to_string(errors.path()).unwrap_or_default()
        )
    });
    assert!(
        status.success(),
        "chromium {args:?}: {status}; stderr:\n{}",
        std::fs::read_to_string(errors.path()).unwrap_or_default()
    );
    std::fs::read_to_string(output.path()).unwrap()
}

// ---- realistic reports ------------------------------------------------------------------

/// A closed-model run: `users` arriving at `spawn_rate` per second, throughput following them
/// up to `peak_rps`, latency growing towards `p50_ms` as they arrive, a little deterministic
/// noise, and a few failures.
fn load_report(
    users: u64,
    seconds: u64,
    spawn_rate: f64,
    peak_rps: f64,
    p50_ms: f64,
) -> LoadReport {
    let history: Vec<HistoryRow> = (1..=seconds)
        .map(|s| {
            let now_users = ((s as f64 * spawn_rate) as u64).min(users);
            let share = now_users as f64 / users as f64;
            let noise = ((s * 7919) % 13) as f64 / 13.0 - 0.5;
            let rps = peak_rps * share * (1.0 + 0.05 * noise);
            let p50 = p50_ms * (0.7 + 0.3 * share) * (1.0 + 0.04 * noise);
            HistoryRow {
                timestamp: 1_780_000_000 + s,
                elapsed_s: s as f64,
                users: now_users,
                current_rps: rps,
                current_fail_per_s: if s % 9 == 0 { rps * 0.02 } else { 0.0 },
                current_percentiles_ms: PERCENTILE_FACTORS.map(|f| p50 * f).to_vec(),
                total_requests: (peak_rps * s as f64) as u64,
                total_failures: s / 9 * 18,
                total_median_ms: p50,
                total_average_ms: p50 * 1.3,
                total_min_ms: 1.1,
                total_max_ms: p50 * 9.0,
                total_average_content_size: 812.0,
            }
        })
        .collect();
    let duration = seconds as f64;
    let total = (peak_rps * duration * 0.95) as u64;
    let requests = vec![
        request_row("GET", "/", total * 64 / 100, 0, p50_ms * 0.8, duration),
        request_row(
            "GET",
            "/api/items?page=<n>",
            total * 30 / 100,
            total / 300,
            p50_ms * 1.3,
            duration,
        ),
        request_row(
            "POST",
            "<script>&\"'",
            total * 6 / 100,
            total / 1000,
            p50_ms * 2.8,
            duration,
        ),
    ];
    let failed = requests.iter().map(|r| r.failures).sum();
    let aggregated = request_row("", "Aggregated", total, failed, p50_ms, duration);
    let occurrences = [requests[1].failures, requests[2].failures];
    let thresholds = vec![
        ThresholdResult {
            name: "max-p95",
            limit: 50.0,
            actual: aggregated.percentile("95"),
            unit: "ms",
            passed: true,
        },
        ThresholdResult {
            name: "fail-ratio",
            limit: 0.001,
            actual: aggregated.fail_ratio(),
            unit: "ratio",
            passed: false,
        },
    ];
    LoadReport {
        schema: "thidctl/load-report/v1",
        engine: "native",
        target: "http://127.0.0.1:8080".into(),
        model: ModelSummary::Closed {
            users,
            spawn_rate: 5.0,
            wait_min_ms: 0.0,
            wait_max_ms: 0.0,
        },
        started_at_unix: 1_780_000_000.0,
        duration_s: duration,
        end: EndReason::RunTime,
        peak_users: users,
        requests,
        aggregated,
        failures: vec![
            FailureRow {
                method: "GET".into(),
                name: "/api/items?page=<n>".into(),
                cause: "status",
                error: "HTTP 503 Service Unavailable".into(),
                occurrences: occurrences[0],
                first_seen_unix: 1_780_000_009.0,
                last_seen_unix: 1_780_000_054.0,
            },
            FailureRow {
                method: "POST".into(),
                name: "<script>&\"'".into(),
                cause: "connection_reset",
                error: "connection reset by peer <eof>".into(),
                occurrences: occurrences[1],
                first_seen_unix: 1_780_000_018.0,
                last_seen_unix: 1_780_000_045.0,
            },
        ],
        open_model: None,
        history,
        passed: false,
        thresholds,
    }
}

fn request_row(
    method: &str,
    name: &str,
    requests: u64,
    failures: u64,
    median_ms: f64,
    duration: f64,
) -> RequestRow {
    RequestRow {
        method: method.into(),
        name: name.into(),
        requests,
        failures,
        median_ms,
        average_ms: median_ms * 1.3,
        min_ms: 1.1,
        max_ms: median_ms * 9.0,
        // Labelled as the library labels them, so the renderer finds the columns it looks for.
        percentiles_ms: PERCENTILES
            .into_iter()
            .zip(PERCENTILE_FACTORS)
            .map(|(quantile, factor)| (percentile_label(quantile), median_ms * factor))
            .collect::<BTreeMap<_, _>>(),
        requests_per_s: requests as f64 / duration,
        failures_per_s: failures as f64 / duration,
        average_content_size: 812.0,
    }
}

/// Percentiles as multiples of the median, in `PERCENTILES` order (50, 66 … 99.99, 100).
const PERCENTILE_FACTORS: [f64; 11] = [1.0, 1.2, 1.4, 1.5, 1.9, 2.6, 3.2, 3.8, 6.0, 8.0, 9.0];

/// Five steps of 20 s: throughput scales to 100 users, stalls at 200 while p95 shoots up.
fn slam_report() -> SlamReport {
    let figures = [
        (25, 480.0, 12.0, vec![]),
        (50, 950.0, 14.0, vec![]),
        (100, 1800.0, 25.0, vec![]),
        (
            200,
            2100.0,
            180.0,
            vec!["p95 180.0 ms is above the limit of 100.0 ms".to_string()],
        ),
        (
            400,
            1900.0,
            900.0,
            vec![
                "failure ratio 4.00% is above 1.00%".to_string(),
                "p95 900.0 ms is above the limit of 100.0 ms".to_string(),
            ],
        ),
    ];
    let steps = figures
        .into_iter()
        .map(|(users, rps, p95_ms, reasons)| {
            let mut report = load_report(users, 20, users as f64 / 2.0, rps, p95_ms / 2.6);
            report.thresholds.clear();
            SlamStep {
                users,
                duration_s: 20.0,
                requests: (rps * 20.0) as u64,
                failures: if reasons.len() > 1 {
                    (rps * 0.8) as u64
                } else {
                    0
                },
                rps,
                fail_ratio: if reasons.len() > 1 { 0.04 } else { 0.0 },
                p50_ms: p95_ms / 2.6,
                p95_ms,
                p99_ms: p95_ms * 1.5,
                met: reasons.is_empty(),
                reasons,
                report,
            }
        })
        .collect();
    SlamReport {
        schema: "thidctl/slam-report/v1",
        engine: "native",
        target: "http://127.0.0.1:8080".into(),
        objective: Objective {
            max_p95_ms: Some(100.0),
            p95_growth_factor: 3.0,
            max_fail_ratio: 0.01,
            min_rps_gain: 0.25,
        },
        steps,
        knee: Some(Knee {
            step: 2,
            users: 100,
            rps: 1800.0,
            p95_ms: 25.0,
        }),
        broke: Some(Breach {
            step: 3,
            users: 200,
            reasons: vec!["p95 180.0 ms is above the limit of 100.0 ms".into()],
        }),
        interrupted: false,
    }
}

/// Just enough PNG to read Chromium's screenshots: 8-bit RGB or RGBA, not interlaced, with a
/// small inflate (RFC 1951) since the crate has no image or zlib dependency.
mod png {
    pub fn decode(file: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
        assert_eq!(&file[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        let (mut at, mut header, mut compressed) = (8, None, Vec::new());
        while at + 8 <= file.len() {
            let length = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
            let kind = &file[at + 4..at + 8];
            let data = &file[at + 8..at + 8 + length];
            match kind {
                b"IHDR" => header = Some(data.to_vec()),
                b"IDAT" => compressed.extend_from_slice(data),
                b"IEND" => break,
                _ => {}
            }
            at += 12 + length;
        }
        let header = header.expect("IHDR");
        let width = u32::from_be_bytes(header[0..4].try_into().unwrap());
        let height = u32::from_be_bytes(header[4..8].try_into().unwrap());
        let (depth, colour_type, interlace) = (header[8], header[9], header[12]);
        assert!(
            depth == 8 && interlace == 0,
            "PNG depth {depth}, interlace {interlace}"
        );
        let channels = match colour_type {
            2 => 3,
            6 => 4,
            other => panic!("PNG colour type {other}"),
        };
        // Skip the two-byte zlib header; the Adler-32 at the end is not needed.
        let raw = inflate(&compressed[2..]);
        let stride = width as usize * channels;
        assert_eq!(raw.len(), (stride + 1) * height as usize, "PNG data size");
        let mut previous = vec![0u8; stride];
        let mut pixels = Vec::with_capacity(width as usize * height as usize);
        for line in raw.chunks(stride + 1) {
            let mut current = line[1..].to_vec();
            for i in 0..stride {
                let left = if i >= channels {
                    current[i - channels]
                } else {
                    0
                };
                let up = previous[i];
                let up_left = if i >= channels {
                    previous[i - channels]
                } else {
                    0
                };
                let predictor = match line[0] {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => ((left as u16 + up as u16) / 2) as u8,
                    4 => paeth(left, up, up_left),
                    other => panic!("PNG filter {other}"),
                };
                current[i] = current[i].wrapping_add(predictor);
            }
            pixels.extend(current.chunks(channels).map(|p| [p[0], p[1], p[2]]));
            previous = current;
        }
        (width, height, pixels)
    }

    fn paeth(a: u8, b: u8, c: u8) -> u8 {
        let p = a as i16 + b as i16 - c as i16;
        let (pa, pb, pc) = (
            (p - a as i16).abs(),
            (p - b as i16).abs(),
            (p - c as i16).abs(),
        );
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    struct Bits<'a> {
        data: &'a [u8],
        at: usize,
        bit: u32,
    }

    impl Bits<'_> {
        fn bit(&mut self) -> u32 {
            let value = (self.data[self.at] >> self.bit) & 1;
            self.bit += 1;
            if self.bit == 8 {
                (self.at, self.bit) = (self.at + 1, 0);
            }
            value as u32
        }

        /// `count` bits, least significant first.
        fn bits(&mut self, count: u32) -> u32 {
            (0..count).fold(0, |value, i| value | self.bit() << i)
        }
    }

    /// A canonical Huffman code as counts per length and symbols in code order (as in zlib's
    /// `puff.c`).
    struct Huffman {
        counts: [u16; 16],
        symbols: Vec<u16>,
    }

    impl Huffman {
        fn new(lengths: &[u8]) -> Huffman {
            let mut counts = [0u16; 16];
            for &length in lengths {
                counts[length as usize] += 1;
            }
            counts[0] = 0;
            let mut offsets = [0u16; 16];
            for length in 1..15 {
                offsets[length + 1] = offsets[length] + counts[length];
            }
            let mut symbols = vec![0u16; lengths.len()];
            for (symbol, &length) in lengths.iter().enumerate() {
                if length != 0 {
                    symbols[offsets[length as usize] as usize] = symbol as u16;
                    offsets[length as usize] += 1;
                }
            }
            Huffman { counts, symbols }
        }

        fn decode(&self, bits: &mut Bits) -> u16 {
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for length in 1..16 {
                code |= bits.bit() as i32;
                let count = self.counts[length] as i32;
                if code - count < first {
                    return self.symbols[(index + code - first) as usize];
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            panic!("bad Huffman code in the PNG");
        }
    }

    const LENGTH_BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const LENGTH_EXTRA: [u8; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DISTANCE_BASE: [u16; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const DISTANCE_EXTRA: [u8; 30] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ];
    const CODE_LENGTH_ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut bits = Bits {
            data,
            at: 0,
            bit: 0,
        };
        let mut out = Vec::new();
        loop {
            let last = bits.bit() == 1;
            match bits.bits(2) {
                0 => {
                    if bits.bit != 0 {
                        (bits.at, bits.bit) = (bits.at + 1, 0);
                    }
                    let length = u16::from_le_bytes([data[bits.at], data[bits.at + 1]]) as usize;
                    bits.at += 4;
                    out.extend_from_slice(&data[bits.at..bits.at + length]);
                    bits.at += length;
                }
                1 => {
                    let mut lengths = [8u8; 288];
                    lengths[144..256].fill(9);
                    lengths[256..280].fill(7);
                    block(
                        &mut bits,
                        &mut out,
                        &Huffman::new(&lengths),
                        &Huffman::new(&[5; 30]),
                    );
                }
                2 => {
                    let literals = bits.bits(5) as usize + 257;
                    let distances = bits.bits(5) as usize + 1;
                    let code_lengths = bits.bits(4) as usize + 4;
                    let mut order = [0u8; 19];
                    for &index in &CODE_LENGTH_ORDER[..code_lengths] {
                        order[index] = bits.bits(3) as u8;
                    }
                    let code = Huffman::new(&order);
                    let mut lengths = Vec::with_capacity(literals + distances);
                    while lengths.len() < literals + distances {
                        match code.decode(&mut bits) {
                            symbol @ 0..=15 => lengths.push(symbol as u8),
                            16 => {
                                let previous = *lengths.last().expect("repeat of nothing");
                                let repeat = 3 + bits.bits(2) as usize;
                                lengths.extend(std::iter::repeat_n(previous, repeat));
                            }
                            17 => lengths.extend(std::iter::repeat_n(0, 3 + bits.bits(3) as usize)),
                            _ => lengths.extend(std::iter::repeat_n(0, 11 + bits.bits(7) as usize)),
                        }
                    }
                    block(
                        &mut bits,
                        &mut out,
                        &Huffman::new(&lengths[..literals]),
                        &Huffman::new(&lengths[literals..]),
                    );
                }
                other => panic!("deflate block type {other}"),
            }
            if last {
                return out;
            }
        }
    }

    fn block(bits: &mut Bits, out: &mut Vec<u8>, literals: &Huffman, distances: &Huffman) {
        loop {
            match literals.decode(bits) {
                symbol @ 0..=255 => out.push(symbol as u8),
                256 => return,
                symbol => {
                    let index = symbol as usize - 257;
                    let length = LENGTH_BASE[index] as usize
                        + bits.bits(LENGTH_EXTRA[index] as u32) as usize;
                    let index = distances.decode(bits) as usize;
                    let distance = DISTANCE_BASE[index] as usize
                        + bits.bits(DISTANCE_EXTRA[index] as u32) as usize;
                    let from = out.len() - distance;
                    // Byte by byte: a copy may overlap what it is writing.
                    for i in 0..length {
                        out.push(out[from + i]);
                    }
                }
            }
        }
    }
}
