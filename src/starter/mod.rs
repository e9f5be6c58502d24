//! The project's own stand-in for thidwick-starter: a small, fast HTTP service with a tunable
//! capacity, so load tests can be rehearsed (and their "slam" shown to queue) without the real one.
//!
//! `GET /hello` answers a greeting after holding a service slot for the work time; `GET /metrics`
//! and `GET /metrics/prometheus` show the same counters as JSON and as Prometheus text, and never
//! wait behind /hello's capacity.

mod args;
mod capacity;
mod faults;
mod metrics;
mod render;
mod server;
mod shutdown;

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use hyper::StatusCode;

pub use args::Args;

/// Runs the service until SIGTERM or SIGINT, then drains and returns `Ok`.
pub fn serve(args: Args) -> anyhow::Result<()> {
    let threads = match args.threads {
        Some(threads) => threads.get(),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("thidwick-starter")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve_async(args))
}

async fn serve_async(args: Args) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let signals = shutdown::Signals::install().context("cannot install signal handlers")?;

    let fail_status =
        StatusCode::from_u16(args.fail_status).context("--fail-status is not a status code")?;
    let state = Arc::new(server::State::new(
        capacity::Capacity::new(args.limits()),
        faults::FailPlan::new(args.fail_ratio),
        fail_status,
    ));

    // The one line on stdout: scripts and tests read the real port from it.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "thidwick-starter listening on http://{address}")
        .and_then(|()| stdout.flush())
        .context("cannot write the start-up line to stdout")?;
    drop(stdout);

    server::run(listener, state, signals.recv()).await;
    Ok(())
}
