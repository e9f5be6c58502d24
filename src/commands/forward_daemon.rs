//! `thidctl forward-daemon` (hidden): the background process a detached `up` leaves holding the
//! port-forwards. It reads what to forward from the state file, binds, writes back what it
//! bound and its pid, and runs until SIGTERM (`thidctl down`) or SIGINT.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::Outcome;
use crate::kube::forward::{self, ForwardSpec};
use crate::runbook::state::{self, ForwardRecord, ForwarderState};

#[derive(Debug, clap::Args)]
pub struct ForwardDaemonArgs {
    /// The state file a detached `thidctl up` wrote.
    #[arg(long)]
    pub state: PathBuf,
}

pub fn execute(args: ForwardDaemonArgs) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ForwardDaemonArgs) -> anyhow::Result<Outcome> {
    let mut deploy = state::load(&args.state)?
        .context("no state file: start forwards with `thidctl up --detach`")?;
    let wanted = deploy
        .forwarder
        .clone()
        .context("the state file asks for no forwards")?;
    let cluster = crate::kube::connect(Some(&deploy.context)).await?;
    let mut open = Vec::new();
    for record in &wanted.forwards {
        let local_port = record
            .local
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(record.remote_port);
        let spec = ForwardSpec {
            name: record.name.clone(),
            namespace: deploy.namespace.clone(),
            selector: record.selector.clone(),
            remote_port: record.remote_port,
            local_port,
        };
        let forward = forward::open(&cluster, spec).await?;
        eprintln!("forwarding {} on {}", record.name, forward.local_addr);
        open.push(forward);
    }
    deploy.forwarder = Some(ForwarderState {
        pid: std::process::id(),
        log: wanted.log,
        forwards: open
            .iter()
            .zip(&wanted.forwards)
            .map(|(forward, record)| ForwardRecord {
                local: forward.local_addr.to_string(),
                moved: record.moved || forward.moved,
                ..record.clone()
            })
            .collect(),
    });
    state::save(&args.state, &deploy)?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("stopping forwards");
    drop(open);
    Ok(Outcome::Passed)
}
