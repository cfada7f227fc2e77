//! Rendered pages for visitors who are not logged in.
//!
//! List pages, trending and paper pages look the same to every anonymous
//! visitor except for the CSRF token in their forms. They are rendered once
//! with a placeholder token, kept here, and served with the visitor's token
//! put in. An entry is dropped when it is older than [`TTL`], or when the
//! community changed (any vote, submission or curation bumps the
//! generation, on this node at once, from other nodes sharing the database
//! within seconds through the store's community version) or the search
//! indexes were swapped. Logged-in users always
//! get a fresh page (it shows their own votes). Search pages are not cached.
//!
//! Two rules keep the cache safe against hostile visitors (see #13):
//! - Callers key a page on the parameters it actually uses (a period, a
//!   category, a page number), never on the raw URI, so `/?x=<junk>` cannot
//!   add entries; and the cache is bounded by bytes, not only by count.
//! - The placeholder is random per process and is replaced only where it
//!   is a form's `csrf` field, so text in a paper (an abstract that quotes
//!   the placeholder) can never receive a visitor's token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a page may be served from the cache.
pub const TTL: Duration = Duration::from_secs(30);
/// Pages kept at most, whatever their size.
const CAPACITY: usize = 4096;
/// Longest key cached; a longer one is rendered every time.
pub const MAX_KEY: usize = 512;

struct Cached {
    generation: u64,
    at: Instant,
    html: Arc<str>,
}

/// The cache.
pub struct PageCache {
    generation: AtomicU64,
    /// The store's community version last observed.
    observed: AtomicU64,
    placeholder: String,
    max_bytes: usize,
    pages: Mutex<Pages>,
    /// One lock per page being rendered, so a burst of misses renders once.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct Pages {
    map: HashMap<String, Cached>,
    bytes: usize,
}

impl Pages {
    fn remove_where(&mut self, mut drop: impl FnMut(&Cached) -> bool) {
        let mut freed = 0;
        self.map.retain(|k, c| {
            let gone = drop(c);
            if gone {
                freed += k.len() + c.html.len();
            }
            !gone
        });
        self.bytes -= freed;
    }
}

impl Default for PageCache {
    fn default() -> PageCache {
        PageCache::new(64 * 1024 * 1024)
    }
}

impl PageCache {
    /// An empty cache holding at most `max_bytes` of pages and keys.
    pub fn new(max_bytes: usize) -> PageCache {
        // The placeholder only has to be unguessable by page content; a
        // failed random source still gets a per-process value.
        let random = crate::secrets::new_token().unwrap_or_else(|_| {
            format!(
                "{}{:?}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
            )
        });
        PageCache {
            generation: AtomicU64::new(0),
            observed: AtomicU64::new(u64::MAX),
            placeholder: format!("csrf-placeholder-{random}"),
            max_bytes,
            pages: Mutex::new(Pages::default()),
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// The token to render cached pages with; see [`PageCache::put`].
    pub fn placeholder(&self) -> &str {
        &self.placeholder
    }

    /// Invalidates every page (the community changed).
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Invalidates every page when the store's community version moved
    /// since the last call: a vote, submission or curation on another
    /// node (this node's own also [`bump`](PageCache::bump) at once).
    pub fn observe(&self, community_version: u64) {
        if self.observed.swap(community_version, Ordering::Relaxed) != community_version {
            self.bump();
        }
    }

    /// The current generation, combined with the caller's (index) one.
    fn current(&self, extra: u64) -> u64 {
        self.generation
            .load(Ordering::Relaxed)
            .wrapping_mul(1_000_003)
            .wrapping_add(extra)
    }

    /// `html` with the placeholder replaced by `csrf` in `csrf` form fields only.
    pub fn personalise(&self, html: &str, csrf: &str) -> String {
        html.replace(
            &format!(r#"name="csrf" value="{}""#, self.placeholder),
            &format!(r#"name="csrf" value="{csrf}""#),
        )
    }

    /// The page for `key`, with `csrf` put in, if fresh.
    pub fn get(&self, key: &str, extra: u64, csrf: &str) -> Option<String> {
        let generation = self.current(extra);
        let html = {
            let pages = self.pages.lock().ok()?;
            let c = pages.map.get(key)?;
            (c.generation == generation && c.at.elapsed() < TTL).then(|| Arc::clone(&c.html))?
        };
        Some(self.personalise(&html, csrf))
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

    /// Keeps `html` (rendered with [`PageCache::placeholder`]) under `key`.
    /// Keys over [`MAX_KEY`] bytes and pages bigger than a quarter of the
    /// budget are not kept; stale pages go first, then the oldest.
    pub fn put(&self, key: &str, extra: u64, html: &str) {
        let size = key.len() + html.len();
        if key.len() > MAX_KEY || size > self.max_bytes / 4 {
            return;
        }
        let generation = self.current(extra);
        let Ok(mut pages) = self.pages.lock() else {
            return;
        };
        if let Some(old) = pages.map.remove(key) {
            pages.bytes -= key.len() + old.html.len();
        }
        if pages.map.len() >= CAPACITY || pages.bytes + size > self.max_bytes {
            pages.remove_where(|c| c.generation != generation || c.at.elapsed() >= TTL);
        }
        while pages.map.len() >= CAPACITY || pages.bytes + size > self.max_bytes {
            let Some(oldest) = pages
                .map
                .iter()
                .min_by_key(|(_, c)| c.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(c) = pages.map.remove(&oldest) {
                pages.bytes -= oldest.len() + c.html.len();
            }
        }
        pages.bytes += size;
        pages.map.insert(
            key.to_owned(),
            Cached {
                generation,
                at: Instant::now(),
                html: html.into(),
            },
        );
    }

    /// Drops expired pages and idle render locks; the server calls it on a
    /// timer so memory goes back down after a burst.
    pub fn sweep(&self) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.remove_where(|c| c.at.elapsed() >= TTL);
        }
        if let Ok(mut flights) = self.flights.lock() {
            flights.retain(|_, f| Arc::strong_count(f) > 1);
        }
    }

    /// Bytes of keys and pages held.
    pub fn bytes(&self) -> usize {
        self.pages.lock().map_or(0, |p| p.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_community_version_makes_pages_stale() {
        let cache = PageCache::new(1 << 20);
        cache.observe(7);
        cache.put("/", 0, "<p>old</p>");
        cache.observe(7);
        assert!(
            cache.get("/", 0, "t").is_some(),
            "same version: still fresh"
        );
        cache.observe(8);
        assert!(
            cache.get("/", 0, "t").is_none(),
            "another node changed something"
        );
    }

    fn field(value: &str) -> String {
        format!(r#"<input type="hidden" name="csrf" value="{value}">"#)
    }

    #[test]
    fn pages_are_personalised_and_invalidated() {
        let cache = PageCache::default();
        cache.put("/", 0, &field(cache.placeholder()));
        assert_eq!(cache.get("/", 0, "abc").unwrap(), field("abc"));
        assert!(cache.get("/", 1, "abc").is_none(), "the indexes changed");
        cache.bump();
        assert!(cache.get("/", 0, "abc").is_none(), "the community changed");
        assert!(cache.get("/other", 0, "abc").is_none());
    }

    #[test]
    fn the_placeholder_is_put_in_form_fields_only() {
        // See: #13 (an abstract quoting the placeholder showed each
        // visitor's token).
        let cache = PageCache::default();
        let p = cache.placeholder().to_owned();
        assert_ne!(p, PageCache::default().placeholder(), "random per cache");
        let html = format!("<p>{p}</p>{}", field(&p));
        cache.put("/", 0, &html);
        assert_eq!(
            cache.get("/", 0, "tok").unwrap(),
            format!("<p>{p}</p>{}", field("tok"))
        );
    }

    #[test]
    fn the_cache_is_bounded_by_bytes() {
        let cache = PageCache::new(100_000);
        let page = "x".repeat(10_000);
        for i in 0..100 {
            cache.put(&format!("/{i}"), 0, &page);
            assert!(cache.bytes() <= 100_000, "{}", cache.bytes());
        }
        assert!(cache.get("/99", 0, "t").is_some(), "the newest stays");
        assert!(cache.get("/0", 0, "t").is_none(), "the oldest went");
        cache.put(&"k".repeat(MAX_KEY + 1), 0, "small");
        cache.put("/huge", 0, &"x".repeat(30_000));
        assert!(cache.get("/huge", 0, "t").is_none(), "over a quarter");
        cache.sweep();
        assert!(cache.bytes() <= 100_000);
    }
}
