//! The signals that stop a server: SIGINT (Ctrl-C) and SIGTERM (`kill`,
//! systemd, Kubernetes). The first asks for a graceful stop, a second for an
//! immediate one.

use std::io;

/// Which stop signal arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
}

impl Stop {
    /// The signal's name, as `kill -l` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }

    /// The exit status of a process ended by this signal, as shells report it
    /// (128 + the signal's number).
    pub fn exit_status(self) -> u8 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
        }
    }
}

/// SIGINT and SIGTERM, caught from the moment this is made (a signal that
/// arrives before [`recv`](StopSignals::recv) is awaited is kept for it).
///
/// They are watched on a thread of their own, with its own small runtime, so
/// that a second signal ends the process even when the command's own threads
/// are stuck (writing to a stderr nobody reads, say): the command is handed
/// each signal to act on, and if it has not ended [`FORCED_EXIT_AFTER`] after
/// the second, the watcher ends the process with that signal's status.
pub struct StopSignals {
    stops: tokio::sync::mpsc::UnboundedReceiver<Stop>,
}

/// How long the command gets to end by itself after a second stop signal.
const FORCED_EXIT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl StopSignals {
    pub fn new() -> io::Result<StopSignals> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let watch = {
            let _in_runtime = runtime.enter();
            Watch::new()?
        };
        let (sender, stops) = tokio::sync::mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("aleph-signals".to_owned())
            .spawn(move || runtime.block_on(watch.run(sender)))?;
        Ok(StopSignals { stops })
    }

    /// The next stop signal.
    pub async fn recv(&mut self) -> Stop {
        match self.stops.recv().await {
            Some(stop) => stop,
            // The watcher ends only with the process.
            None => std::future::pending().await,
        }
    }
}

/// The signals themselves, registered in the watcher's runtime.
struct Watch {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Watch {
    fn new() -> io::Result<Watch> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Watch {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Watch {})
    }

    async fn next(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Stop::Interrupt,
                _ = self.terminate.recv() => Stop::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Stop::Interrupt
        }
    }

    async fn run(mut self, stops: tokio::sync::mpsc::UnboundedSender<Stop>) {
        let first = self.next().await;
        let _ = stops.send(first);
        let second = self.next().await;
        let _ = stops.send(second);
        tokio::time::sleep(FORCED_EXIT_AFTER).await;
        std::process::exit(i32::from(second.exit_status()));
    }
}
