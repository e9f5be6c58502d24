//! Ctrl-C as users expect it from a load tool: the first stops the work cleanly and lets the
//! results print; the second exits at once. SIGTERM (a CI job's timeout, `kill`) counts as a
//! first Ctrl-C, so what thidctl started — worker pods, forwards — is still removed.

use tokio::sync::watch;

use crate::Outcome;

/// Installs the handler on the current runtime; the receiver turns true at the first Ctrl-C
/// or SIGTERM.
pub fn install() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::spawn(async move {
        #[cfg(unix)]
        let terminated = async move {
            match terminate {
                Some(mut terminate) => terminate.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                if result.is_err() {
                    return;
                }
                eprintln!("\nStopping… (press Ctrl-C again to exit at once)");
            }
            Some(()) = terminated => eprintln!("\nStopping on SIGTERM…"),
        }
        sender.send_replace(true);
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(Outcome::Interrupted.code()));
        }
    });
    receiver
}
