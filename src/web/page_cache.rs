//! Rendered pages for visitors who are not logged in.
//!
//! List pages, trending and paper pages look the same to every anonymous
//! visitor except for the CSRF token in their forms. They are rendered once
//! with a placeholder token, kept here, and served with the visitor's token
//! put in. An entry is dropped when it is older than [`TTL`], or when the
//! community changed (any vote, submission or curation bumps the
//! generation) or the search indexes were swapped. Logged-in users always
//! get a fresh page (it shows their own votes). Search pages are not cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Stands in for the CSRF token in cached pages.
pub const CSRF_PLACEHOLDER: &str = "__paperhub_csrf__";
/// How long a page may be served from the cache.
pub const TTL: Duration = Duration::from_secs(30);
/// Pages kept at most.
const CAPACITY: usize = 4096;

struct Cached {
    generation: u64,
    at: Instant,
    html: Arc<str>,
}

/// The cache.
#[derive(Default)]
pub struct PageCache {
    generation: AtomicU64,
    pages: Mutex<HashMap<String, Cached>>,
    /// One lock per page being rendered, so a burst of misses renders once.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl PageCache {
    /// Invalidates every page (the community changed).
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The current generation, combined with the caller's (index) one.
    fn current(&self, extra: u64) -> u64 {
        self.generation
            .load(Ordering::Relaxed)
            .wrapping_mul(1_000_003)
            .wrapping_add(extra)
    }

    /// The page for `key`, with `csrf` put in, if fresh.
    pub fn get(&self, key: &str, extra: u64, csrf: &str) -> Option<String> {
        let generation = self.current(extra);
        let pages = self.pages.lock().ok()?;
        let c = pages.get(key)?;
        (c.generation == generation && c.at.elapsed() < TTL)
            .then(|| c.html.replace(CSRF_PLACEHOLDER, csrf))
    }

    /// The lock to hold while rendering `key`.
    pub fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut flights) = self.flights.lock() else {
            return Arc::default();
        };
        if flights.len() >= CAPACITY {
            flights.retain(|_, f| Arc::strong_count(f) > 1);
        }
        Arc::clone(flights.entry(key.to_owned()).or_default())
    }

    /// Keeps `html` (rendered with [`CSRF_PLACEHOLDER`]) under `key`.
    pub fn put(&self, key: &str, extra: u64, html: &str) {
        let generation = self.current(extra);
        let Ok(mut pages) = self.pages.lock() else {
            return;
        };
        if pages.len() >= CAPACITY {
            pages.retain(|_, c| c.generation == generation && c.at.elapsed() < TTL);
            if pages.len() >= CAPACITY {
                pages.clear();
            }
        }
        pages.insert(
            key.to_owned(),
            Cached {
                generation,
                at: Instant::now(),
                html: html.into(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_personalised_and_invalidated() {
        let cache = PageCache::default();
        cache.put("/", 0, &format!("<input value=\"{CSRF_PLACEHOLDER}\">"));
        assert_eq!(cache.get("/", 0, "abc").unwrap(), "<input value=\"abc\">");
        assert!(cache.get("/", 1, "abc").is_none(), "the indexes changed");
        cache.bump();
        assert!(cache.get("/", 0, "abc").is_none(), "the community changed");
        assert!(cache.get("/other", 0, "abc").is_none());
    }
}
