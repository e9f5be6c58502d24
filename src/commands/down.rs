//! `thidctl down`: stop the background forwards, uninstall every release, forget the state.
//! Safe to run twice, and when `up` failed half-way.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::Outcome;
use crate::config::{Config, ConfigArgs};
use crate::helm::Helm;
use crate::runbook::Reporter;
use crate::runbook::state;

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also delete the namespace (never `default` or `kube-*`).
    #[arg(long)]
    pub delete_namespace: bool,
}

pub fn execute(args: DownArgs) -> anyhow::Result<Outcome> {
    let config = Config::load(&args.config)?;
    let reporter = Reporter::new(false);
    let kube_context = state::resolve_context(&config)?;
    let state_path = state::path_for(&kube_context, &config.namespace);

    let started = Instant::now();
    reporter.start("stop background forwards");
    let stopped = match state::stop_forwarder(&state_path)? {
        Some(pid) => format!("stopped process {pid}"),
        None => "none running".to_string(),
    };
    reporter.finish(
        "stop background forwards",
        true,
        &stopped,
        started.elapsed(),
    );

    // Workers of a `load --in-cluster` that was killed before it could remove them.
    let title = "remove leftover in-cluster workers";
    reporter.start(title);
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let removed = runtime.block_on(async {
        let cluster = crate::kube::connect(Some(&kube_context)).await?;
        let jobs = crate::incluster::remove_leftovers(&cluster, &config.namespace).await?;
        anyhow::Ok((cluster, jobs))
    });
    let cluster = match removed {
        Ok((cluster, jobs)) => {
            let detail = match jobs {
                0 => "none".to_string(),
                jobs => format!("{jobs} Job(s)"),
            };
            reporter.finish(title, true, &detail, started.elapsed());
            cluster
        }
        Err(error) => {
            reporter.finish(title, false, &format!("{error:#}"), started.elapsed());
            return Err(error);
        }
    };

    let title = "remove the registry pull secret";
    reporter.start(title);
    let started = Instant::now();
    match runtime.block_on(crate::kube::pull_secret::delete_pull_secret(
        &cluster,
        &config.namespace,
    )) {
        Ok(removed) => {
            let detail = if removed { "removed" } else { "none" };
            reporter.finish(title, true, detail, started.elapsed());
        }
        Err(error) => {
            reporter.finish(title, false, &error.to_string(), started.elapsed());
            return Err(error.into());
        }
    }

    let helm = Helm::locate(config.helm.as_deref(), Some(&kube_context))?;
    for release in config.releases.iter().rev() {
        let title = format!("helm uninstall {}", release.name);
        reporter.start(&title);
        let started = Instant::now();
        match helm.uninstall(&release.name, &config.namespace) {
            Ok(removed) => {
                let detail = if removed {
                    "removed"
                } else {
                    "was not installed"
                };
                reporter.finish(&title, true, detail, started.elapsed());
            }
            Err(error) => {
                reporter.finish(&title, false, &error.to_string(), started.elapsed());
                return Err(error.into());
            }
        }
    }

    if args.delete_namespace {
        let namespace = &config.namespace;
        anyhow::ensure!(
            namespace != "default" && !namespace.starts_with("kube-"),
            "refusing to delete namespace {namespace}: it belongs to the cluster"
        );
        let title = format!("delete namespace {namespace}");
        reporter.start(&title);
        let started = Instant::now();
        runtime.block_on(crate::kube::delete_namespace(
            &cluster,
            namespace,
            Duration::from_secs(120),
        ))?;
        reporter.finish(&title, true, "deleted", started.elapsed());
    }
    state::remove(&state_path)?;
    Ok(Outcome::Passed)
}
