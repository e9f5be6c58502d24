//! `--in-cluster`: thidctl's own swarm run as worker pods inside the cluster (an Indexed Job of
//! thidctl's image, one index per share of the users), aimed at the Service's cluster address
//! instead of through a port-forward. The coordinator here follows the workers' logs for their
//! cumulative snapshots and merges them exactly into one report.

mod fault;
pub mod job;
mod merge;
mod run;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use tokio::sync::watch;

use crate::commands::load::{LoadArgs, plan_from};
use crate::report::live::LiveView;
use crate::runbook::state;
use crate::units::parse_duration;
use job::WorkerJob;
pub use run::InClusterResult;

/// The runbook's `master.config.target-host`: the stand-in's Service, from inside its namespace.
pub const DEFAULT_TARGET: &str = "http://thidwick-thidwick-starter:8080";

/// The image name under which `up` records thidctl's own image.
pub const IMAGE_NAME: &str = "thidctl";

#[derive(Debug, Clone, clap::Args)]
pub struct InClusterArgs {
    /// Run the swarm inside the cluster as worker pods of thidctl's image (a Kubernetes Job),
    /// aimed at the Service's cluster address [--host default: http://thidwick-thidwick-starter:8080].
    #[arg(long)]
    pub in_cluster: bool,
    /// Worker pods of an --in-cluster run; users, spawn rate and iterations are split between them.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub workers: u64,
    /// Image of the worker pods [default: the thidctl image that `thidctl up` delivered].
    #[arg(long, value_name = "REF", env = "THIDCTL_WORKER_IMAGE")]
    pub worker_image: Option<String>,
    /// CPU each worker pod requests (Kubernetes quantity).
    #[arg(long, value_name = "CPU", default_value = "100m")]
    pub worker_cpu: String,
    /// Longest wait for every worker pod to start.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub worker_start_timeout: Duration,
}

impl Default for InClusterArgs {
    fn default() -> Self {
        InClusterArgs {
            in_cluster: false,
            workers: 2,
            worker_image: None,
            worker_cpu: "100m".into(),
            worker_start_timeout: Duration::from_secs(120),
        }
    }
}

/// Refuses what an in-cluster run cannot honour, before anything is created.
pub fn check(load: &LoadArgs, args: &InClusterArgs) -> anyhow::Result<()> {
    if args.workers == 0 {
        bail!("--workers 0 leaves nobody to run the swarm; give at least 1");
    }
    if load.metrics_listen.is_some() {
        bail!(
            "--metrics-listen does not apply with --in-cluster: every worker pod serves its own /metrics for Prometheus"
        );
    }
    crate::commands::worker::check_split(load, args.workers)?;
    if args.worker_start_timeout.is_zero() {
        bail!("--worker-start-timeout 0s gives the pods no time to start; give e.g. 2m");
    }
    Ok(())
}

/// The load options with the in-cluster default target filled in.
pub fn with_target(load: &LoadArgs) -> anyhow::Result<LoadArgs> {
    let mut load = load.clone();
    if load.host.is_none() {
        let scenario_host = match &load.scenario {
            Some(file) => crate::swarm::scenario::Scenario::from_file(file)?.host,
            None => None,
        };
        load.host = Some(scenario_host.unwrap_or_else(|| DEFAULT_TARGET.to_string()));
    }
    Ok(load)
}

/// Runs `load`'s swarm as `args.workers` pods in the namespace and context of `load.locust`.
pub async fn run_load(
    load: &LoadArgs,
    args: &InClusterArgs,
    interrupt: watch::Receiver<bool>,
    live: &mut LiveView,
) -> anyhow::Result<InClusterResult> {
    check(load, args)?;
    let load = with_target(load)?;
    let plan = plan_from(&load)?;
    let namespace = load.locust.namespace.clone();
    let cluster = crate::kube::connect(load.locust.context.as_deref()).await?;
    let image = worker_image(args, &cluster.context, &namespace)?;
    let scenario = match &load.scenario {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read scenario {}", file.display()))?,
        ),
        None => None,
    };
    let host = load.host.clone().expect("with_target sets a host");
    // Kubernetes ends the Job by itself if thidctl is killed before it can: the run, the stop,
    // the start-up and a margin; without a run time, a working day.
    let deadline = match load.run_time {
        Some(run_time) => {
            run_time + load.stop_timeout + args.worker_start_timeout + Duration::from_secs(120)
        }
        None => Duration::from_secs(8 * 3600),
    };
    let job = WorkerJob {
        name: run_name(),
        namespace,
        image: image.reference,
        pull_policy: image.pull_policy,
        pull_secret: image.pull_secret,
        workers: args.workers,
        args: job::worker_args(&load, &host, args.workers),
        scenario,
        cpu: args.worker_cpu.clone(),
        deadline,
    };
    eprintln!(
        "==> {} worker pods of {} in namespace {} (Job {}), aimed at {host}",
        job.workers, job.image, job.namespace, job.name
    );
    run::run(
        &cluster,
        job,
        plan,
        args.worker_start_timeout,
        interrupt,
        live,
    )
    .await
}

/// Removes the Jobs and ConfigMaps of in-cluster runs that never cleaned up after themselves
/// (thidctl killed outright); says how many Jobs there were.
pub async fn remove_leftovers(
    cluster: &crate::kube::Cluster,
    namespace: &str,
) -> anyhow::Result<usize> {
    use ::kube::Api;
    use ::kube::api::{DeleteParams, ListParams, PropagationPolicy};
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::ConfigMap;

    let workers = ListParams::default().labels(job::WORKER_SELECTOR);
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), namespace);
    let found = jobs
        .list(&workers)
        .await
        .with_context(|| format!("cannot list the Jobs in namespace {namespace}"))?
        .items
        .len();
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    if found > 0 {
        jobs.delete_collection(&background, &workers)
            .await
            .context("cannot delete the worker Jobs")?;
    }
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), namespace);
    maps.delete_collection(&DeleteParams::default(), &workers)
        .await
        .context("cannot delete the worker ConfigMaps")?;
    Ok(found)
}

/// `--worker-image`, else what the last `up` in this context and namespace delivered.
fn worker_image(
    args: &InClusterArgs,
    context: &str,
    namespace: &str,
) -> anyhow::Result<state::ImageRecord> {
    if let Some(image) = &args.worker_image {
        return Ok(state::ImageRecord {
            reference: image.clone(),
            pull_policy: "IfNotPresent".to_string(),
            pull_secret: None,
        });
    }
    let path = state::path_for(context, namespace);
    let recorded =
        state::load(&path)?.and_then(|deployed| deployed.images.get(IMAGE_NAME).cloned());
    match recorded {
        Some(image) => Ok(image),
        None => bail!(
            "no thidctl image is known for namespace {namespace} in context {context}: run `thidctl up` there \
             (it builds and delivers thidctl/thidctl) or give --worker-image REF"
        ),
    }
}

/// `thidctl-load-` and a suffix unique enough for runs side by side.
fn run_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!(
        "thidctl-load-{:x}",
        (nanos ^ (u128::from(std::process::id()) << 40)) % 0xff_ffff_ffff
    )
}
