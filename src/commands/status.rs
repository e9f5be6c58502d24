//! `thidctl status`: the releases, their pods and the forwards, with their health.

use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::cli::OutputFormat;
use crate::config::{Config, ConfigArgs};
use crate::helm::Helm;
use crate::kube::PodSummary;
use crate::runbook::state;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Serialize)]
struct StatusReport {
    context: String,
    namespace: String,
    healthy: bool,
    releases: Vec<ReleaseHealth>,
    forwards: Vec<ForwardHealth>,
}

#[derive(Serialize)]
struct ReleaseHealth {
    name: String,
    status: String,
    revision: u64,
    chart: String,
    pods: Vec<PodView>,
}

#[derive(Serialize)]
struct PodView {
    name: String,
    phase: String,
    ready: String,
    restarts: u32,
    problem: Option<String>,
}

impl From<PodSummary> for PodView {
    fn from(pod: PodSummary) -> PodView {
        PodView {
            ready: pod.ready(),
            name: pod.name,
            phase: pod.phase,
            restarts: pod.restarts,
            problem: pod.problem,
        }
    }
}

#[derive(Serialize)]
struct ForwardHealth {
    name: String,
    local: String,
    process_alive: bool,
    answering: bool,
}

pub fn execute(args: StatusArgs) -> anyhow::Result<Outcome> {
    let config = Config::load(&args.config)?;
    let kube_context = state::resolve_context(&config)?;
    let helm = Helm::locate(config.helm.as_deref(), Some(&kube_context))?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let cluster = runtime.block_on(crate::kube::connect(Some(&kube_context)))?;
    let mut releases = Vec::new();
    for release in &config.releases {
        let found = helm.status(&release.name, &config.namespace)?;
        let selector = format!("app.kubernetes.io/instance={}", release.name);
        let pods: Vec<PodView> = runtime
            .block_on(crate::kube::pod_summaries(
                &cluster,
                &config.namespace,
                &selector,
            ))?
            .into_iter()
            .map(PodView::from)
            .collect();
        releases.push(match found {
            Some(status) => ReleaseHealth {
                name: release.name.clone(),
                status: status.status,
                revision: status.revision,
                chart: status.chart,
                pods,
            },
            None => ReleaseHealth {
                name: release.name.clone(),
                status: "not installed".into(),
                revision: 0,
                chart: String::new(),
                pods,
            },
        });
    }
    let forwards = match state::load(&state::path_for(&kube_context, &config.namespace))?
        .and_then(|s| s.forwarder)
    {
        Some(forwarder) => {
            let alive = forwarder.pid != 0 && state::process_alive(forwarder.pid);
            forwarder
                .forwards
                .iter()
                .map(|f| ForwardHealth {
                    name: f.name.clone(),
                    local: f.local.clone(),
                    process_alive: alive,
                    answering: alive && answers(&f.local),
                })
                .collect()
        }
        None => Vec::new(),
    };
    let healthy = releases
        .iter()
        .all(|r| r.status == "deployed" && r.pods.iter().all(|p| p.problem.is_none()))
        && forwards.iter().all(|f| f.answering);
    let report = StatusReport {
        context: kube_context,
        namespace: config.namespace.clone(),
        healthy,
        releases,
        forwards,
    };
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print!("{}", render(&report)),
    }
    Ok(if healthy {
        Outcome::Passed
    } else {
        Outcome::ChecksFailed
    })
}

fn answers(address: &str) -> bool {
    address
        .parse()
        .ok()
        .is_some_and(|address| TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok())
}

fn render(report: &StatusReport) -> String {
    let mut out = format!(
        "Context {}, namespace {}\n\n",
        report.context, report.namespace
    );
    out.push_str(&format!(
        "{:<18} {:<16} {:>8}  {}\n",
        "RELEASE", "STATUS", "REVISION", "CHART"
    ));
    for release in &report.releases {
        out.push_str(&format!(
            "{:<18} {:<16} {:>8}  {}\n",
            release.name, release.status, release.revision, release.chart
        ));
        for pod in &release.pods {
            let problem = pod.problem.as_deref().unwrap_or("");
            out.push_str(&format!(
                "  pod {:<44} {:<10} ready {:<5} restarts {:<3} {problem}\n",
                pod.name, pod.phase, pod.ready, pod.restarts
            ));
        }
    }
    if report.forwards.is_empty() {
        out.push_str("\nNo background forwards (`thidctl up --detach` starts them).\n");
    } else {
        out.push_str(&format!(
            "\n{:<12} {:<22} {}\n",
            "FORWARD", "LOCAL", "STATE"
        ));
        for forward in &report.forwards {
            let state = match (forward.process_alive, forward.answering) {
                (true, true) => "answering",
                (true, false) => "process alive, port not answering",
                (false, _) => "process gone",
            };
            out.push_str(&format!(
                "{:<12} {:<22} {state}\n",
                forward.name, forward.local
            ));
        }
    }
    out.push_str(if report.healthy {
        "\nAll healthy.\n"
    } else {
        "\nSomething is not healthy.\n"
    });
    out
}
