//! Electing one node per run of a job, through the store's job leases.
//!
//! [`run_elected`] acquires the job's lease for a run, keeps renewing it
//! from a heartbeat thread while the run works, and marks the run done when
//! it succeeds (or frees the lease when it fails, so another node may try).
//! A node that finds the run busy either waits for it ([`Wait::Yes`]: the
//! harvest thread, which has nothing else to do) or returns at once
//! ([`Wait::No`]: the mail thread, which looks again on its next tick).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use paperhub_store::{Acquire, JobStore};

use crate::app::store::SharedStore;

/// How long a lease lasts without renewal; a dead node's run is taken over
/// after at most this long.
pub const LEASE: Duration = Duration::from_secs(120);

/// This process's name in leases: host, process id and a random part.
pub fn node_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".into());
        let random = crate::secrets::random_bytes::<4>()
            .map(|b| crate::secrets::hex(&b))
            .unwrap_or_default();
        format!("{host}:{}:{random}", std::process::id())
    })
}

/// Whether to wait while another node holds the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Wait until it is done (or its lease runs out, then take it over).
    Yes,
    /// Return at once.
    No,
}

/// What became of a run.
#[derive(Debug, PartialEq, Eq)]
pub enum Elected<T> {
    /// This node ran it.
    Ran(T),
    /// It was done already, by this node or another.
    Done,
    /// Another node is running it (only with [`Wait::No`]).
    Busy,
}

/// Runs `work` for the run `run_key` of `job` if this node wins the lease;
/// see the module docs.
///
/// # Errors
/// The store fails, or `work` does (its lease is then freed).
pub fn run_elected<T>(
    store: &SharedStore,
    job: &str,
    run_key: &str,
    wait: Wait,
    work: impl FnOnce() -> Result<T>,
) -> Result<Elected<T>> {
    let me = node_id();
    loop {
        let now = Utc::now();
        match store.acquire(job, run_key, me, now, now + LEASE)? {
            Acquire::Acquired => break,
            Acquire::Done { .. } => return Ok(Elected::Done),
            Acquire::Busy { owner, until } => {
                if wait == Wait::No {
                    return Ok(Elected::Busy);
                }
                let left = (until - Utc::now()).to_std().unwrap_or_default();
                tracing::info!(
                    job,
                    run = run_key,
                    "{job} {run_key} is running on {owner}; waiting"
                );
                std::thread::sleep(left.clamp(Duration::from_secs(1), Duration::from_secs(5)));
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let (store, job, stop) = (Arc::clone(store), job.to_owned(), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || heartbeat(store.as_ref(), &job, me, &stop))?
    };
    // Stops the heartbeat however `work` ends, a panic included: a lease
    // renewed for a run nobody works on would hold the job forever.
    let guard = StopOnDrop {
        stop,
        heartbeat: Some(heartbeat),
    };
    let outcome = work();
    drop(guard);
    match outcome {
        Ok(value) => {
            if !store.complete(job, run_key, me, Utc::now())? {
                tracing::warn!(
                    job,
                    run = run_key,
                    "{job} {run_key}: the lease was lost while it ran"
                );
            }
            Ok(Elected::Ran(value))
        }
        Err(e) => {
            store.release(job, me)?;
            Err(e)
        }
    }
}

/// Stops and joins the heartbeat thread when dropped.
struct StopOnDrop {
    stop: Arc<AtomicBool>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.thread().unpark();
            let _ = heartbeat.join();
        }
    }
}

/// Renews the lease every third of its length until `stop`.
fn heartbeat(store: &dyn JobStore, job: &str, me: &str, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(LEASE / 3);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let until = Utc::now() + LEASE;
        match store.renew(job, me, until) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    job,
                    "lost the lease of {job}; another node may take it over"
                );
                return;
            }
            Err(e) => tracing::warn!(job, "renewing the lease of {job} failed: {e}"),
        }
    }
}
