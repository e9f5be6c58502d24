//! Progress that knows where it is: a spinner per step and ✓/✗ with the duration on a
//! terminal; plain lines otherwise. Always on stderr, so stdout stays for the result.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Reporter {
    terminal: bool,
    quiet: bool,
    spinner: Mutex<Option<ProgressBar>>,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        Reporter {
            terminal: std::io::stderr().is_terminal(),
            quiet,
            spinner: Mutex::new(None),
        }
    }

    pub fn start(&self, title: &str) {
        if self.quiet {
            return;
        }
        if self.terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                    .expect("valid template"),
            );
            bar.set_message(title.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            *self.spinner.lock().expect("spinner lock") = Some(bar);
        } else {
            eprintln!("==> {title}");
        }
    }

    /// A line of progress inside the current step (build output, rollout state).
    pub fn progress(&self, title: &str, line: &str) {
        if self.quiet {
            return;
        }
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        match self.spinner.lock().expect("spinner lock").as_ref() {
            Some(bar) => bar.set_message(format!("{title}: {}", shorten(line, 100))),
            None => eprintln!("    {line}"),
        }
    }

    pub fn finish(&self, title: &str, passed: bool, detail: &str, elapsed: Duration) {
        if let Some(bar) = self.spinner.lock().expect("spinner lock").take() {
            bar.finish_and_clear();
        }
        if self.quiet {
            return;
        }
        let mark = if passed { "✓" } else { "✗" };
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        };
        eprintln!("{mark} {title}{detail} ({:.1}s)", elapsed.as_secs_f64());
    }

    /// A message outside any step.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }
}

fn shorten(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        line.to_string()
    } else {
        format!("{}…", line.chars().take(width - 1).collect::<String>())
    }
}
