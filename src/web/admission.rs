//! Admission control for CPU-heavy requests: searches, For-you rankings
//! and similar papers; password hashing (see #13).
//!
//! A few run at once on blocking threads, so a burst queues instead of
//! taking every core (and, for argon2, 19 MiB each) at once; a bounded
//! number wait for a permit; beyond that a request is answered at once with
//! a 503 and `Retry-After`, instead of joining a queue whose tail would
//! wait seconds. Under overload, short answers to some beat slow answers to
//! all.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use super::errors::AppError;

/// Seconds a turned-away client is asked to wait.
const RETRY_AFTER: u64 = 1;

/// At most `running` jobs at once and `queue` more waiting.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    queue: usize,
    waiting: AtomicUsize,
}

/// Counts a waiter for as long as it waits, however its wait ends (a
/// client that goes away drops the future).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Admission {
    /// `running` jobs at once (at least 1), `queue` waiting.
    pub fn new(running: usize, queue: usize) -> Admission {
        Admission {
            permits: Arc::new(Semaphore::new(running.max(1))),
            queue,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Runs `f` on a blocking thread once a permit is free.
    ///
    /// # Errors
    /// 503 with `Retry-After` when `queue` requests already wait; 500 when
    /// the task panicked.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(AppError::busy(RETRY_AFTER));
                }
                let _waiting = Waiting(&self.waiting);
                Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .map_err(AppError::internal)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(AppError::internal)
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_a_request_is_turned_away_at_once_and_waiters_are_counted_back() {
        let admission = Arc::new(Admission::new(1, 1));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let a = Arc::clone(&admission);
        let running = tokio::spawn(async move {
            a.run(move || {
                let _ = started_tx.send(());
                let _ = hold.recv();
                1
            })
            .await
        });
        started_rx.await.unwrap();
        let a = Arc::clone(&admission);
        let queued = tokio::spawn(async move { a.run(|| 2).await });
        while admission.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let turned_away = admission.run(|| 3).await.unwrap_err();
        assert_eq!(turned_away.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(turned_away.retry_after, Some(RETRY_AFTER));
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap().unwrap(), 1);
        assert_eq!(queued.await.unwrap().unwrap(), 2);
        assert_eq!(admission.waiting(), 0);
        assert_eq!(admission.run(|| 4).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_leaves_the_queue() {
        let admission = Admission::new(1, 4);
        let held = Arc::clone(&admission.permits).try_acquire_owned().unwrap();
        let wait = admission.run(|| ());
        // Polled once (it queues), then dropped, as when a client leaves.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(20), wait).await;
        assert_eq!(admission.waiting(), 0);
        drop(held);
        admission.run(|| ()).await.unwrap();
    }
}
