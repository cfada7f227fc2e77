//! Query embeddings kept for repeated searches.
//!
//! Embedding a short query is a forward pass of the model (several
//! milliseconds of a core); looking one up is a hash. Real users repeat
//! queries (the same topic from many readers, the same search paged), so
//! [`QueryVectors`] keeps the most recently used ones, keyed by the exact
//! text the model embeds. Bounded by count (`embedding.query_cache`, 0
//! turns it off): 10,000 MiniLM vectors are about 15 MB.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The most recently used query vectors, at most `capacity`.
#[derive(Debug, Default)]
pub struct QueryVectors {
    capacity: usize,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    vectors: HashMap<String, (Arc<[f32]>, u64)>,
    /// Counts uses, to find the least recently used.
    clock: u64,
}

impl QueryVectors {
    /// A cache of at most `capacity` vectors (0: none kept).
    pub fn new(capacity: usize) -> QueryVectors {
        QueryVectors {
            capacity,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// The vector of `text`, from the cache or made by `embed` (and kept).
    ///
    /// # Errors
    /// What `embed` returns.
    pub fn get_or_embed<E>(
        &self,
        text: &str,
        embed: impl FnOnce(&str) -> Result<Vec<f32>, E>,
    ) -> Result<Arc<[f32]>, E> {
        if self.capacity == 0 {
            return embed(text).map(Arc::from);
        }
        {
            let mut kept = self.lock();
            kept.clock += 1;
            let now = kept.clock;
            if let Some((vector, used)) = kept.vectors.get_mut(text) {
                *used = now;
                return Ok(Arc::clone(vector));
            }
        }
        // Embedded outside the lock: other queries go on meanwhile.
        let vector: Arc<[f32]> = Arc::from(embed(text)?);
        let mut kept = self.lock();
        kept.clock += 1;
        let now = kept.clock;
        if kept.vectors.len() >= self.capacity && !kept.vectors.contains_key(text) {
            // Drop the least recently used tenth at once, so a full cache
            // sorts once per many misses, not on every one.
            let mut ages: Vec<u64> = kept.vectors.values().map(|(_, used)| *used).collect();
            let cut = (self.capacity / 10).max(1).min(ages.len());
            let (_, nth, _) = ages.select_nth_unstable(cut - 1);
            let oldest = *nth;
            kept.vectors.retain(|_, (_, used)| *used > oldest);
        }
        kept.vectors
            .insert(text.to_owned(), (Arc::clone(&vector), now));
        Ok(vector)
    }

    /// Vectors kept.
    pub fn len(&self) -> usize {
        self.lock().vectors.len()
    }

    /// None kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_repeated_query_is_embedded_once() {
        let cache = QueryVectors::new(10);
        let calls = Cell::new(0);
        let embed = |t: &str| -> Result<Vec<f32>, ()> {
            calls.set(calls.get() + 1);
            Ok(vec![t.len() as f32])
        };
        assert_eq!(
            &*cache.get_or_embed("graph neural nets", embed).unwrap(),
            [17.0]
        );
        assert_eq!(
            &*cache.get_or_embed("graph neural nets", embed).unwrap(),
            [17.0]
        );
        assert_eq!(calls.get(), 1);
        cache.get_or_embed("other", embed).unwrap();
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn it_is_bounded_and_keeps_the_recently_used() {
        let cache = QueryVectors::new(100);
        let embed = |_: &str| -> Result<Vec<f32>, ()> { Ok(vec![0.0]) };
        cache.get_or_embed("keep", embed).unwrap();
        for i in 0..500 {
            cache.get_or_embed(&format!("q{i}"), embed).unwrap();
            cache.get_or_embed("keep", embed).unwrap();
        }
        assert!(cache.len() <= 100);
        let calls = Cell::new(0);
        cache
            .get_or_embed("keep", |_| -> Result<Vec<f32>, ()> {
                calls.set(1);
                Ok(vec![0.0])
            })
            .unwrap();
        assert_eq!(calls.get(), 0, "the query used all along stayed");
    }

    #[test]
    fn capacity_zero_keeps_nothing_and_errors_pass_through() {
        let cache = QueryVectors::new(0);
        cache
            .get_or_embed("a", |_| -> Result<Vec<f32>, ()> { Ok(vec![1.0]) })
            .unwrap();
        assert!(cache.is_empty());
        let cache = QueryVectors::new(5);
        assert!(
            cache
                .get_or_embed("a", |_| Err::<Vec<f32>, _>("bad"))
                .is_err()
        );
        assert!(cache.is_empty(), "a failed embedding is not kept");
    }
}
