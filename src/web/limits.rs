//! Fixed-window rate limits, in memory, keyed by client address or account.
//!
//! Used for log-in and sign-up: enough to make password guessing and sign-up
//! floods slow, with no other service to run. A restart forgets the counts,
//! which is acceptable for this purpose.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts per key in the current window.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys kept at most before old windows are swept.
const SWEEP_AT: usize = 100_000;

impl RateLimiter {
    /// Counts one attempt under `key`; `Err(seconds)` when over `max` per `window`.
    pub fn hit(&self, key: &str, max: u32, window: Duration) -> Result<(), u64> {
        self.hit_at(key, max, window, Instant::now())
    }

    fn hit_at(&self, key: &str, max: u32, window: Duration, now: Instant) -> Result<(), u64> {
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let (start, count) = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= window {
            *start = now;
            *count = 0;
        }
        if *count >= max {
            let left = window.saturating_sub(now.duration_since(*start));
            return Err(left.as_secs().max(1));
        }
        *count += 1;
        Ok(())
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
}
