//! Graceful shutdown: the termination signals, and the set of open connections to drain.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, oneshot};

/// SIGTERM (what Kubernetes sends PID 1) or SIGINT, whichever comes first. Installed before the
/// start-up line is printed, so a signal sent right after it is never lost to the default action.
pub struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    pub async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The open connections, each with a way to ask it to finish its current request and close.
///
/// Each connection gets its own oneshot rather than sharing one watch channel: a connection polls
/// its stop signal on every wake-up, and a watch receiver takes a lock shared by all connections
/// there, which would be a contended lock per request.
#[derive(Default)]
pub struct Connections {
    open: Mutex<Open>,
    all_closed: Notify,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// `None` once the connection has been asked to stop.
    stops: HashMap<u64, Option<oneshot::Sender<()>>>,
}

impl Connections {
    /// Registers a new connection; it counts as open until the [`Registration`] drops.
    pub fn register(self: &Arc<Self>) -> (Registration, oneshot::Receiver<()>) {
        let (stop, stopped) = oneshot::channel();
        let mut open = self.lock();
        let id = open.next_id;
        open.next_id += 1;
        open.stops.insert(id, Some(stop));
        let registration = Registration {
            connections: Arc::clone(self),
            id,
        };
        (registration, stopped)
    }

    /// Asks every open connection to stop after its current request.
    pub fn stop_all(&self) {
        for stop in self.lock().stops.values_mut() {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
    }

    pub fn open_count(&self) -> usize {
        self.lock().stops.len()
    }

    /// Resolves once no connection is open.
    pub async fn all_closed(&self) {
        loop {
            let mut notified = pin!(self.all_closed.notified());
            // Enable before checking, so a close between the check and the await still wakes us.
            notified.as_mut().enable();
            if self.open_count() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Held by a connection's task; dropping it marks the connection closed.
pub struct Registration {
    connections: Arc<Connections>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = self.connections.lock();
        open.stops.remove(&self.id);
        if open.stops.is_empty() {
            self.connections.all_closed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_reaches_every_connection_and_close_is_awaited() {
        let connections = Arc::new(Connections::default());
        let (first, first_stop) = connections.register();
        let (second, second_stop) = connections.register();
        connections.stop_all();
        assert!(first_stop.await.is_ok());
        assert!(second_stop.await.is_ok());

        let waiter = tokio::spawn({
            let connections = Arc::clone(&connections);
            async move { connections.all_closed().await }
        });
        drop(first);
        assert_eq!(connections.open_count(), 1);
        drop(second);
        waiter.await.unwrap();
        assert_eq!(connections.open_count(), 0);
    }
}
