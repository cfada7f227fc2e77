//! The WAL checkpointer thread.

use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use paperhub_store::OpenError;
use rusqlite::Connection;

use crate::open_err;

/// Copies WAL frames into the database on its own thread.
///
/// With SQLite's automatic checkpoints, the commit that crosses the
/// threshold copies the whole WAL into the database file itself: a quarter
/// of bulk-import time on the writer thread. Here commits only nudge this
/// thread, which runs `PASSIVE` checkpoints on its own connection; those never
/// block the writer, and use the core the parser leaves idle.
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, OpenError> {
        let conn = Connection::open(path).map_err(open_err(path))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err(path))?;
        let (nudge, nudges) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                for () in nudges {
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::warn!(
                            "WAL checkpoint failed, will retry after the next commit: {e}"
                        );
                    }
                }
            })
            .map_err(|source| OpenError::Thread {
                what: "WAL checkpoint",
                source,
            })?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }

    pub(crate) fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            // A full channel means a checkpoint is already pending.
            let _ = nudge.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
