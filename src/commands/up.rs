//! `thidctl up`: build, deliver, install, wait, forward — the deployment half of the runbook.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::Outcome;
use crate::cli::OutputFormat;
use crate::config::{Config, ConfigArgs};
use crate::helm::Helm;
use crate::runbook::state::{self, DeployState, ForwardRecord};
use crate::runbook::steps::{self, choose_delivery, delivery_label, image_spec, release_for};
use crate::runbook::{Context, Reporter, StepRecord, run_steps};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Leave the port-forwards to a background thidctl process (stopped by `thidctl down`).
    #[arg(long)]
    pub detach: bool,
    /// Print the plan — images, helm command lines, forwards — and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Roll back or remove a release stuck in pending-install/upgrade/rollback before installing.
    #[arg(long)]
    pub repair_stuck_releases: bool,
    /// Install and wait, but open no port-forwards.
    #[arg(long)]
    pub no_forwards: bool,
    /// Step report format on stdout (progress always goes to stderr).
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Serialize)]
struct UpReport {
    passed: bool,
    context: String,
    namespace: String,
    steps: Vec<StepRecord>,
    forwards: Vec<ForwardRecord>,
    detached_pid: Option<u32>,
}

pub fn execute(args: UpArgs) -> anyhow::Result<Outcome> {
    let mut config = Config::load(&args.config)?;
    if args.no_forwards {
        config.forwards.clear();
    }
    if args.dry_run {
        print!("{}", plan(&config)?);
        return Ok(Outcome::Passed);
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(up(args, config))
}

async fn up(args: UpArgs, config: Config) -> anyhow::Result<Outcome> {
    let reporter = Reporter::new(false);
    // A previous detached `up` holds the ports this one is about to forward: hand them over.
    if let Ok(kube_context) = state::resolve_context(&config)
        && let Some(pid) =
            state::stop_forwarder(&state::path_for(&kube_context, &config.namespace))?
    {
        reporter.note(&format!(
            "stopped the previous background forwards (process {pid})"
        ));
    }
    let steps = steps::up_steps(&config);
    let mut context = Context::new(config);
    context.repair_stuck = args.repair_stuck_releases;
    let started = Instant::now();
    let (records, failure) = run_steps(&steps, &mut context, &reporter).await;
    let cluster_context = context
        .cluster
        .as_ref()
        .map(|c| c.context.clone())
        .unwrap_or_default();
    let mut report = UpReport {
        passed: failure.is_none(),
        context: cluster_context.clone(),
        namespace: context.config.namespace.clone(),
        steps: records,
        forwards: Vec::new(),
        detached_pid: None,
    };
    if let Some(error) = failure {
        context.forwards.clear();
        print_report(&args, &report);
        return Err(
            error.context("thidctl up stopped; `thidctl down` removes whatever it installed")
        );
    }
    let state_path = state::path_for(&cluster_context, &context.config.namespace);
    let mut deploy = DeployState {
        context: cluster_context,
        namespace: context.config.namespace.clone(),
        releases: context
            .config
            .releases
            .iter()
            .map(|r| r.name.clone())
            .collect(),
        forwarder: None,
        images: recorded_images(&context),
    };
    report.forwards = context
        .forwards
        .iter()
        .map(|f| ForwardRecord {
            name: f.spec.name.clone(),
            local: f.local_addr.to_string(),
            selector: f.spec.selector.clone(),
            remote_port: f.spec.remote_port,
            moved: f.moved,
        })
        .collect();
    state::save(&state_path, &deploy)?;
    reporter.note(&format!("up in {:.1}s", started.elapsed().as_secs_f64()));

    if report.forwards.is_empty() {
        print_report(&args, &report);
        return Ok(Outcome::Passed);
    }
    if args.detach {
        // Hand the ports over: close ours, let the background process bind the same ones.
        let wanted = report.forwards.clone();
        context.forwards.clear();
        let forwarder = spawn_forwarder(&state_path, &wanted, &mut deploy)?;
        report.detached_pid = Some(forwarder.pid);
        report.forwards = forwarder.forwards.clone();
        print_report(&args, &report);
        return Ok(Outcome::Passed);
    }
    print_report(&args, &report);
    reporter.note(
        "Forwarding; press Ctrl-C to stop the forwards (the releases stay until `thidctl down`).",
    );
    tokio::signal::ctrl_c().await.ok();
    context.forwards.clear();
    reporter.note("forwards closed");
    Ok(Outcome::Passed)
}

/// The delivered images as the cluster pulls them, for later runs (in-cluster workers) to use.
fn recorded_images(context: &Context) -> std::collections::BTreeMap<String, state::ImageRecord> {
    let pull_policy = context
        .delivery
        .as_ref()
        .map_or("IfNotPresent", |delivery| delivery.pull_policy());
    context
        .cluster_refs
        .iter()
        .map(|(name, reference)| {
            (
                name.clone(),
                state::ImageRecord {
                    reference: reference.clone(),
                    pull_policy: pull_policy.to_string(),
                    pull_secret: context.pull_secret.clone(),
                },
            )
        })
        .collect()
}

fn print_report(args: &UpArgs, report: &UpReport) {
    match args.output {
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(report).expect("the report serialises")
            );
        }
        OutputFormat::Text => {
            if !report.forwards.is_empty() {
                println!("{:<12} {:<22} TO", "FORWARD", "LOCAL");
                for forward in &report.forwards {
                    let note = if forward.moved {
                        " (port moved: the usual one was taken)"
                    } else {
                        ""
                    };
                    println!(
                        "{:<12} http://{:<15} pods {} port {}{note}",
                        forward.name, forward.local, forward.selector, forward.remote_port
                    );
                }
            }
            if let Some(pid) = report.detached_pid {
                println!(
                    "Forwards are held by background process {pid}; `thidctl status` shows them, `thidctl down` stops them."
                );
            }
        }
    }
    let _ = std::io::stdout().flush();
}

/// Starts `thidctl forward-daemon` in its own process group, so the terminal's Ctrl-C does not
/// reach it, and waits until it has bound every forward (or failed).
fn spawn_forwarder(
    state_path: &Path,
    wanted: &[ForwardRecord],
    deploy: &mut DeployState,
) -> anyhow::Result<state::ForwarderState> {
    use std::os::unix::process::CommandExt;
    let log = state_path.with_extension("forwarder.log");
    deploy.forwarder = Some(state::ForwarderState {
        pid: 0,
        log: log.clone(),
        forwards: wanted.to_vec(),
    });
    state::save(state_path, deploy)?;
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut child = std::process::Command::new(
        std::env::current_exe().context("cannot find thidctl's own path")?,
    )
    .arg("forward-daemon")
    .arg("--state")
    .arg(state_path)
    .stdin(Stdio::null())
    .stdout(log_file.try_clone()?)
    .stderr(log_file)
    .process_group(0)
    .spawn()
    .context("cannot start the background forwarder")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "the background forwarder exited ({status}): {}",
                log_text.trim().replace('\n', " | ")
            );
        }
        if let Some(DeployState {
            forwarder: Some(forwarder),
            ..
        }) = state::load(state_path)?
            && forwarder.pid == child.id()
        {
            return Ok(forwarder);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the background forwarder did not report its forwards within 30 s (log: {})",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--dry-run`: what `up` would do, from the configuration alone.
fn plan(config: &Config) -> anyhow::Result<String> {
    let kube_context = match &config.context {
        Some(context) => context.clone(),
        None => ::kube::config::Kubeconfig::read()
            .ok()
            .and_then(|k| k.current_context)
            .unwrap_or_else(|| "(no current kube context)".into()),
    };
    let mut out = format!(
        "Plan for context {kube_context}, namespace {}:\n",
        config.namespace
    );
    let delivery = choose_delivery(config, &kube_context).ok();
    let mut context = Context::new(config.clone());
    context.delivery = delivery.clone();
    out.push_str(&format!(
        "\nImages ({}):\n",
        delivery
            .as_ref()
            .map(delivery_label)
            .unwrap_or_else(|| "delivery undecided: give --registry".into())
    ));
    for image in &config.images {
        // The id is known only after the build; the plan shows where it goes.
        let spec = image_spec(config, image)?.pinned("<image id>");
        let cluster_ref = delivery
            .as_ref()
            .map(|d| d.cluster_ref(&spec))
            .unwrap_or_else(|| spec.local_ref());
        out.push_str(&format!(
            "  {} ← {} (context {}, BASE_IMAGE={}{})\n",
            cluster_ref,
            spec.dockerfile.display(),
            spec.context.display(),
            config.base_image,
            if spec.network_host {
                ", host network"
            } else {
                ""
            }
        ));
        context.cluster_refs.insert(image.name.clone(), cluster_ref);
    }
    let helm = Helm::locate(config.helm.as_deref(), Some(&kube_context))
        .unwrap_or_else(|_| Helm::assumed(Some(&kube_context)));
    out.push_str(&format!("\nReleases (helm {}):\n", helm.version));
    for release in &config.releases {
        out.push_str(&format!(
            "  {}\n",
            helm.upgrade_command_line(&release_for(&context, release)?)
        ));
    }
    out.push_str("\nForwards:\n");
    for forward in &config.forwards {
        out.push_str(&format!(
            "  127.0.0.1:{} → pods {} port {}\n",
            forward.local_port.unwrap_or(forward.port),
            forward.selector,
            forward.port
        ));
    }
    Ok(out)
}
