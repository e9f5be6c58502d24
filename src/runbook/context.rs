//! The one context the steps share: configuration, the clients they connect, and what earlier
//! steps found out (image references, open forwards).

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::config::Config;
use crate::helm::Helm;
use crate::image::{Delivery, Docker, RegistryCredentials};
use crate::kube::Cluster;
use crate::kube::forward::Forward;

pub struct Context {
    pub config: Config,
    pub cluster: Option<Cluster>,
    pub helm: Option<Helm>,
    pub docker: Option<Docker>,
    pub delivery: Option<Delivery>,
    /// For pushing to the registry, when it wants them.
    pub registry_credentials: Option<RegistryCredentials>,
    /// The pull secret the releases and in-cluster workers name, once applied.
    pub pull_secret: Option<String>,
    /// Image name → the id of the image this run built.
    pub built_ids: BTreeMap<String, String>,
    /// Image name → the reference the cluster pulls.
    pub cluster_refs: BTreeMap<String, String>,
    pub forwards: Vec<Forward>,
    /// Roll back or remove releases stuck in a pending state instead of refusing.
    pub repair_stuck: bool,
}

impl Context {
    pub fn new(config: Config) -> Context {
        Context {
            config,
            cluster: None,
            helm: None,
            docker: None,
            delivery: None,
            registry_credentials: None,
            pull_secret: None,
            built_ids: BTreeMap::new(),
            cluster_refs: BTreeMap::new(),
            forwards: Vec::new(),
            repair_stuck: false,
        }
    }

    pub fn cluster(&self) -> anyhow::Result<&Cluster> {
        self.cluster
            .as_ref()
            .context("no cluster connection (the connect step did not run)")
    }

    pub fn helm(&self) -> anyhow::Result<&Helm> {
        self.helm
            .as_ref()
            .context("helm was not located (the helm step did not run)")
    }

    pub fn docker(&self) -> anyhow::Result<&Docker> {
        self.docker
            .as_ref()
            .context("no Docker connection (the Docker step did not run)")
    }

    /// The selector of every pod the configured releases own.
    pub fn releases_selector(&self) -> String {
        let names: Vec<&str> = self
            .config
            .releases
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        format!("app.kubernetes.io/instance in ({})", names.join(","))
    }
}
