//! Ctrl-C as users expect it from a load tool: the first stops the work cleanly and lets the
//! results print; the second exits at once.

use tokio::sync::watch;

use crate::Outcome;

/// Installs the handler on the current runtime; the receiver turns true at the first Ctrl-C.
pub fn install() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("\nStopping… (press Ctrl-C again to exit at once)");
        sender.send_replace(true);
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(Outcome::Interrupted.code()));
        }
    });
    receiver
}
