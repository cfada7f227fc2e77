//! Fixed-window rate limits, in memory, keyed by client address or account.
//!
//! Used for log-in, sign-up, password changes and subscriptions: enough to
//! make password guessing and floods slow, with no other service to run.
//! A restart forgets the counts, and each node of a multi-node hub counts
//! alone (a documented per-node budget, docs/SECURITY.md).
//!
//! Keys are kept as 64-bit keyed hashes, so a hostile key (a 60 KB username)
//! costs the same few bytes as any other, and expired windows are swept by a
//! timer the server runs ([`RateLimiter::sweep`]) as well as when the table
//! grows past 100,000 keys; memory stays bounded (see #13).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One key's window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    length: Duration,
    count: u32,
}

/// Counts per key in the current window.
#[derive(Debug, Default)]
pub struct RateLimiter {
    hasher: RandomState,
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    map: HashMap<u64, Window>,
    /// When the table was last swept for being full; full sweeps are at
    /// most one a second, so a full table does not cost a scan per hit.
    swept: Option<Instant>,
}

/// Keys kept at most before old windows are swept.
const SWEEP_AT: usize = 100_000;

impl RateLimiter {
    /// Counts one attempt under `key`; `Err(seconds)` when over `max` per `window`.
    pub fn hit(&self, key: &str, max: u32, window: Duration) -> Result<(), u64> {
        self.hit_at(key, max, window, Instant::now())
    }

    /// How many attempts `key` has in its current window, without counting one.
    pub fn count(&self, key: &str) -> u32 {
        let now = Instant::now();
        let h = self.hasher.hash_one(key);
        self.lock()
            .map
            .get(&h)
            .filter(|w| now.duration_since(w.start) < w.length)
            .map_or(0, |w| w.count)
    }

    fn hit_at(&self, key: &str, max: u32, window: Duration, now: Instant) -> Result<(), u64> {
        let h = self.hasher.hash_one(key);
        let mut windows = self.lock();
        if windows.map.len() >= SWEEP_AT
            && windows
                .swept
                .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            windows
                .map
                .retain(|_, w| now.duration_since(w.start) < w.length);
            windows.swept = Some(now);
        }
        let w = windows.map.entry(h).or_insert(Window {
            start: now,
            length: window,
            count: 0,
        });
        if now.duration_since(w.start) >= w.length {
            *w = Window {
                start: now,
                length: window,
                count: 0,
            };
        }
        if w.count >= max {
            let left = w.length.saturating_sub(now.duration_since(w.start));
            return Err(left.as_secs().max(1));
        }
        w.count += 1;
        Ok(())
    }

    /// Forgets every window that has ended.
    pub fn sweep(&self) {
        self.sweep_at(Instant::now());
    }

    fn sweep_at(&self, now: Instant) {
        self.lock()
            .map
            .retain(|_, w| now.duration_since(w.start) < w.length);
    }

    /// The table; a panic elsewhere while it was held leaves it usable,
    /// never turns the limits off.
    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_per_window_then_refuses_until_it_ends() {
        let l = RateLimiter::default();
        let t = Instant::now();
        let w = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.hit_at("ip:1", 3, w, t).is_ok());
        }
        assert_eq!(l.hit_at("ip:1", 3, w, t + Duration::from_secs(10)), Err(50));
        assert!(l.hit_at("ip:2", 3, w, t).is_ok(), "keys are separate");
        assert!(l.hit_at("ip:1", 3, w, t + w).is_ok(), "a new window");
    }

    #[test]
    fn keys_cost_the_same_and_expired_ones_are_swept() {
        // See: #13 (600 log-ins with 60 KB usernames grew RSS by 81 MB).
        let l = RateLimiter::default();
        let t = Instant::now();
        let w = Duration::from_secs(60);
        for i in 0..600 {
            let key = format!("login-user:{i}{}", "x".repeat(60_000));
            assert!(l.hit_at(&key, 3, w, t).is_ok());
        }
        assert_eq!(l.len(), 600);
        let size = std::mem::size_of::<(u64, Window)>();
        assert!(l.len() * size < 600 * 64, "{size} bytes a key");
        l.hit_at("long", 3, Duration::from_secs(3600), t).unwrap();
        l.sweep_at(t + w);
        assert_eq!(l.len(), 1, "only the hour-long window is left");
    }
}
