//! Helpers shared by the tests that run real binaries: a `thidwick-starter` on a free local port,
//! a tiny blocking HTTP client, and a Prometheus text reader; `support` runs thidctl itself.
//!
//! Everything talks to 127.0.0.1 only and every wait is bounded, so a broken server fails a test
//! instead of hanging it.

pub mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in these helpers may take before the test fails.
#[allow(dead_code)]
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// A running `thidwick-starter` on `127.0.0.1:<free port>`, killed and reaped on drop — also
/// when the test panics, so no server outlives its test.
#[allow(dead_code)]
pub struct Starter {
    child: Option<Child>,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

#[allow(dead_code)]
impl Starter {
    /// Starts the binary with `extra_args` (after `--listen 127.0.0.1:0`) in an environment
    /// scrubbed of everything, so a developer's `THIDWICK_*` variables cannot leak in, and waits
    /// for its start-up line to learn the port.
    pub fn spawn(extra_args: &[&str]) -> Starter {
        Starter::spawn_with_env(extra_args, &[])
    }

    /// Like [`Starter::spawn`], with environment variables set for the child.
    pub fn spawn_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Starter {
        let mut child = starter_command()
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the thidwick-starter binary runs");

        // Reader threads drain both pipes for the child's whole life, so it never blocks on a
        // full pipe; stdout's first line comes back through the channel.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (first_line, line_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = first_line.send(line);
            }
            lines.for_each(drop);
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = child_stderr.read(&mut buffer) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });

        let mut starter = Starter {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        let line = match line_rx.recv_timeout(TIMEOUT) {
            Ok(line) => line,
            Err(_) => panic!(
                "thidwick-starter printed no start-up line within {TIMEOUT:?}; stderr: {}",
                starter.stderr()
            ),
        };
        starter.addr = line
            .strip_prefix("thidwick-starter listening on http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected start-up line {line:?}"));
        starter
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits (bounded) for the exit, as Kubernetes stops a pod.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the child is running");
        // The shell's builtin `kill`: std has no way to send SIGTERM, and every image has `sh`.
        let status = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &child.id().to_string()])
            .status()
            .expect("sh runs");
        assert!(status.success(), "kill -TERM failed: {status}");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("the child can be waited for") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("thidwick-starter did not exit within {TIMEOUT:?} of SIGTERM");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Starter {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `thidwick-starter` binary in an empty environment, for tests that run it themselves.
#[allow(dead_code)]
pub fn starter_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thidwick-starter"));
    command.env_clear();
    command
}

/// `GET path` on a fresh connection; gives back the status and the body.
#[allow(dead_code)]
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path)
}

/// Any method on a fresh connection (`Connection: close`); gives back the status and the body.
#[allow(dead_code)]
pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    read_response(send_request(addr, method, path))
}

/// Sends a request and returns the connection without reading the answer, so a test can have
/// several requests in the server at once; finish each with [`read_response`].
#[allow(dead_code)]
pub fn send_request(addr: SocketAddr, method: &str, path: &str) -> TcpStream {
    assert!(addr.ip().is_loopback(), "tests talk to 127.0.0.1 only");
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect to the server");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    stream
}

/// Reads a whole `Connection: close` response; gives back the status and the body.
#[allow(dead_code)]
pub fn read_response(mut stream: TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("read the response (bounded by the read timeout)");
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in response {raw:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in response {head:?}"));
    (status, body.to_owned())
}

/// The value of one sample in Prometheus text exposition, e.g.
/// `prometheus_value(text, r#"x_total{route="/hello",status="200"}"#)`. Labels match as a set,
/// in any order; `None` when no sample has exactly that name and those labels.
#[allow(dead_code)]
pub fn prometheus_value(text: &str, series: &str) -> Option<f64> {
    let wanted = parse_series(series)?;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = match line.rfind('}') {
                Some(end) => line.split_at(end + 1),
                None => line.split_once(' ')?,
            };
            if parse_series(series)? != wanted {
                return None;
            }
            let value = value.split_whitespace().next()?;
            match value {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                _ => value.parse().ok(),
            }
        })
}

/// `name{a="1",b="2"}` → the name and its labels sorted, so label order does not matter.
fn parse_series(series: &str) -> Option<(String, Vec<(String, String)>)> {
    let series = series.trim();
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_owned(), Vec::new()));
    };
    let mut labels = Vec::new();
    let mut rest = rest.strip_suffix('}')?.trim_start_matches(',');
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => value.push(match chars.next()?.1 {
                    'n' => '\n',
                    other => other,
                }),
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels.sort();
    Some((name.trim().to_owned(), labels))
}
