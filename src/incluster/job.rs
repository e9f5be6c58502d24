//! The Kubernetes objects of an in-cluster run: an Indexed Job of `thidctl worker` pods (one
//! index per share of the swarm) and, when a scenario file is used, the ConfigMap it is mounted
//! from. Pure: built from a [`WorkerJob`], so tests can read them without a cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

use crate::commands::load::LoadArgs;

/// Where each worker serves its Locust-exporter metrics, for the monitoring chart to scrape.
pub const METRICS_PORT: u16 = 9646;

/// The label every object of one run carries; its value is the Job's name.
pub const RUN_LABEL: &str = "thidctl.io/run";

/// What selects the objects of every in-cluster run.
pub const WORKER_SELECTOR: &str =
    "app.kubernetes.io/name=thidctl-worker,app.kubernetes.io/managed-by=thidctl";

/// Where a scenario file is mounted in the worker pods.
const SCENARIO_DIR: &str = "/etc/thidctl";
const SCENARIO_FILE: &str = "scenario.yaml";

/// Everything the objects are made from.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerJob {
    /// The Job's name, also the run label's value and the ConfigMap's name.
    pub name: String,
    pub namespace: String,
    pub image: String,
    pub pull_policy: String,
    /// The Secret to pull `image` with, for a registry that wants credentials.
    pub pull_secret: Option<String>,
    pub workers: u64,
    /// `thidctl worker …` arguments, the same for every pod (the index comes from the Job).
    pub args: Vec<String>,
    /// The scenario file's text, shipped in a ConfigMap.
    pub scenario: Option<String>,
    /// CPU each worker pod requests, e.g. `100m`.
    pub cpu: String,
    /// Kubernetes ends the Job after this long even if thidctl never comes back to do it.
    pub deadline: Duration,
}

impl WorkerJob {
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".into(), "thidctl-worker".into()),
            ("app.kubernetes.io/managed-by".into(), "thidctl".into()),
            (RUN_LABEL.into(), self.name.clone()),
        ])
    }

    pub fn selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.name)
    }

    pub fn job(&self) -> Job {
        let labels = self.labels();
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        if self.scenario.is_some() {
            volumes.push(json!({"name": "scenario", "configMap": {"name": self.name}}));
            mounts.push(json!({"name": "scenario", "mountPath": SCENARIO_DIR, "readOnly": true}));
        }
        let value = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": labels},
            "spec": {
                "completionMode": "Indexed",
                "completions": self.workers,
                "parallelism": self.workers,
                // A worker that dies is reported with the numbers it sent; running its share
                // again would count those users twice, and the other workers carry on.
                "backoffLimitPerIndex": 0,
                "activeDeadlineSeconds": self.deadline.as_secs().max(1),
                // Removed by thidctl at the end; this only cleans up after a killed thidctl.
                "ttlSecondsAfterFinished": 600,
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": METRICS_PORT.to_string(),
                            "prometheus.io/path": "/metrics",
                        },
                    },
                    "spec": {
                        "restartPolicy": "Never",
                        // Stopping is a SIGTERM; the worker then prints its final numbers.
                        "terminationGracePeriodSeconds": 30,
                        "enableServiceLinks": false,
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 10001},
                        "imagePullSecrets": self
                            .pull_secret
                            .iter()
                            .map(|name| json!({"name": name}))
                            .collect::<Vec<_>>(),
                        "containers": [{
                            "name": "worker",
                            "image": self.image,
                            "imagePullPolicy": self.pull_policy,
                            "args": self.args,
                            "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
                            "resources": {"requests": {"cpu": self.cpu, "memory": "64Mi"}},
                            "volumeMounts": mounts,
                        }],
                        "volumes": volumes,
                    },
                },
            },
        });
        serde_json::from_value(value).expect("the worker Job is a valid Job")
    }

    pub fn config_map(&self) -> Option<ConfigMap> {
        let scenario = self.scenario.as_ref()?;
        let value = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels()},
            "data": {SCENARIO_FILE: scenario},
        });
        Some(serde_json::from_value(value).expect("the scenario ConfigMap is a valid ConfigMap"))
    }
}

/// The `thidctl worker` arguments that make each pod run its share of `args`'s swarm against
/// `host`. Durations travel in microseconds, so nothing is rounded on the way.
pub fn worker_args(args: &LoadArgs, host: &str, workers: u64) -> Vec<String> {
    let micros = |duration: Duration| format!("{}us", duration.as_micros());
    let mut out: Vec<String> = vec![
        "worker".into(),
        "--share-of".into(),
        workers.to_string(),
        "--host".into(),
        host.into(),
        "--users".into(),
        args.users.to_string(),
        "--metrics-listen".into(),
        format!("0.0.0.0:{METRICS_PORT}"),
        "--timeout".into(),
        micros(args.timeout),
        "--stop-timeout".into(),
        micros(args.stop_timeout),
    ];
    let mut push = |flag: &str, value: String| {
        out.push(flag.into());
        out.push(value);
    };
    if let Some(rate) = args.spawn_rate {
        push("--spawn-rate", rate.to_string());
    }
    if let Some(run_time) = args.run_time {
        push("--run-time", micros(run_time));
    }
    if let Some(iterations) = args.iterations {
        push("--iterations", iterations.to_string());
    }
    if let Some(wait) = args.wait {
        push(
            "--wait",
            format!("{}..{}", micros(wait.min), micros(wait.max)),
        );
    }
    if let Some(rate) = args.rate {
        push("--rate", format!("{}/s", rate.0));
    }
    if let Some(threads) = args.threads {
        push("--threads", threads.to_string());
    }
    if args.scenario.is_some() {
        push("--scenario", format!("{SCENARIO_DIR}/{SCENARIO_FILE}"));
    } else if let Some(path) = &args.path {
        push("--path", path.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Rate, WaitRange};
    use clap::Parser;

    fn spec(scenario: Option<&str>) -> WorkerJob {
        WorkerJob {
            name: "thidctl-load-ab12".into(),
            namespace: "team".into(),
            image: "127.0.0.1:5000/thidctl/thidctl:dev".into(),
            pull_policy: "Always".into(),
            pull_secret: None,
            workers: 3,
            args: vec!["worker".into()],
            scenario: scenario.map(str::to_string),
            cpu: "100m".into(),
            deadline: Duration::from_secs(700),
        }
    }

    #[test]
    fn an_indexed_job_of_scrapeable_workers() {
        let job = spec(None).job();
        let spec = job.spec.unwrap();
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!((spec.completions, spec.parallelism), (Some(3), Some(3)));
        assert_eq!(spec.backoff_limit_per_index, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(700));
        let template = spec.template;
        let annotations = template.metadata.unwrap().annotations.unwrap();
        assert_eq!(annotations["prometheus.io/port"], "9646");
        let pod = template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert!(pod.volumes.unwrap_or_default().is_empty());
        assert!(pod.image_pull_secrets.unwrap_or_default().is_empty());
        assert_eq!(job.metadata.labels.unwrap()[RUN_LABEL], "thidctl-load-ab12");
    }

    #[test]
    fn workers_pull_with_the_secret_up_applied() {
        let job = WorkerJob {
            pull_secret: Some("thidctl-registry".into()),
            ..spec(None)
        }
        .job();
        let pod = job.spec.unwrap().template.spec.unwrap();
        let secrets = pod.image_pull_secrets.unwrap();
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].name, "thidctl-registry");
    }

    #[test]
    fn a_scenario_travels_in_a_config_map() {
        let with = spec(Some("tasks: []\n"));
        let map = with.config_map().unwrap();
        assert_eq!(map.data.unwrap()["scenario.yaml"], "tasks: []\n");
        let pod = with.job().spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.volumes.unwrap()[0].name, "scenario");
        assert!(spec(None).config_map().is_none());
    }

    #[derive(clap::Parser)]
    struct Worker {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long)]
        share_of: u64,
    }

    /// What the coordinator passes, parsed back as the worker parses it, is the same swarm.
    #[test]
    fn worker_args_parse_back_to_the_same_swarm() {
        let args = LoadArgs {
            users: 300,
            spawn_rate: Some(12.5),
            run_time: Some(Duration::from_millis(90_250)),
            wait: Some(WaitRange {
                min: Duration::from_millis(500),
                max: Duration::from_secs(5),
            }),
            path: Some("/hello".into()),
            timeout: Duration::from_secs(30),
            stop_timeout: Duration::from_millis(1500),
            threads: Some(2),
            ..LoadArgs::default()
        };
        let line = worker_args(&args, "http://thidwick-thidwick-starter:8080", 4);
        let parsed = Worker::try_parse_from(
            std::iter::once("thidctl".to_string()).chain(line.into_iter().skip(1)),
        )
        .unwrap();
        assert_eq!(parsed.share_of, 4);
        let load = parsed.load;
        assert_eq!(load.users, 300);
        assert_eq!(load.spawn_rate, Some(12.5));
        assert_eq!(load.run_time, args.run_time);
        assert_eq!(load.wait, args.wait);
        assert_eq!(load.stop_timeout, args.stop_timeout);
        assert_eq!(load.threads, Some(2));
        assert_eq!(load.path.as_deref(), Some("/hello"));
        assert_eq!(
            load.host.as_deref(),
            Some("http://thidwick-thidwick-starter:8080")
        );
        assert_eq!(load.metrics_listen.unwrap().port(), METRICS_PORT);

        let open = LoadArgs {
            rate: Some(Rate(2000.0)),
            users: 40,
            scenario: Some("k8s/dev/locust/thidwick-scenario.yaml".into()),
            ..LoadArgs::default()
        };
        let line = worker_args(&open, "http://svc:8080", 2);
        let parsed = Worker::try_parse_from(
            std::iter::once("thidctl".to_string()).chain(line.into_iter().skip(1)),
        )
        .unwrap();
        assert_eq!(parsed.load.rate, Some(Rate(2000.0)));
        assert_eq!(
            parsed.load.scenario.as_deref(),
            Some(std::path::Path::new("/etc/thidctl/scenario.yaml"))
        );
    }
}
