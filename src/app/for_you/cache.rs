//! The caches that make For you cheap to reload.
//!
//! - [`PeriodCache`]: a period's papers, as anyone sees them, with their
//!   shared features, built once per period and index and reused for
//!   [`PERIOD_TTL`]: new papers, submissions and curation reach For you
//!   within that, on every node, without any node telling another.
//! - [`RankingCache`]: each user's last ranking of a period, reused while
//!   their signals ([`super::Signals::fingerprint`], read on every request)
//!   and the period's papers stay the same. A save, an unsave, a "not
//!   interested", a follow, on this node or another, changes the
//!   fingerprint, so the next page ranks again.
//! - [`PaperCache`]: library papers shared by the profiles of one digest
//!   run.
//!
//! Each is bounded; together at most about 130 MB however users pick
//! periods.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use paperhub_domain::{Paper, UserId};
use paperhub_search::VectorIndex;
use paperhub_store::Entry;

use super::{PeriodFeatures, Ranking, Scope};

/// Periods kept: with [`super::MAX_PERIOD_PAPERS`] and
/// [`super::OTHER_DOCS`], at most about 100 MB.
pub const CACHED_PERIODS: usize = 4;
/// How long a period's papers are reused before they are read again.
pub const PERIOD_TTL: Duration = Duration::from_secs(60);
/// Rankings kept (at most 100 picks with reasons each, a few kB; about
/// 20 MB at worst).
pub const CACHED_RANKINGS: usize = 2_000;
/// Papers a [`PaperCache`] keeps at most (a few kB each).
pub const CACHED_PAPERS: usize = 20_000;

/// Locks a cache's mutex; a panic elsewhere leaves only a cache behind,
/// so a poisoned lock is used as it is.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A period's papers (trending order, no viewer's marks) and their
/// features.
#[derive(Debug)]
pub struct PeriodSet {
    /// The period's first and last day.
    pub range: (NaiveDate, NaiveDate),
    /// Its papers, as [`super::period_entries`] reads them for no viewer.
    pub entries: Vec<Entry>,
    /// Their features.
    pub features: PeriodFeatures,
    read_at: Instant,
}

/// Period sets, reused while younger than [`PERIOD_TTL`] and built from
/// the same index (`source`, e.g. the current retriever).
pub struct PeriodCache<T> {
    slots: Mutex<Vec<Slot<T>>>,
    /// Held while building, so many first visitors of a period build its
    /// features once, not once each.
    building: Mutex<()>,
}

struct Slot<T> {
    source: Weak<T>,
    set: Arc<PeriodSet>,
}

impl<T> Default for PeriodCache<T> {
    fn default() -> Self {
        PeriodCache {
            slots: Mutex::new(Vec::new()),
            building: Mutex::new(()),
        }
    }
}

impl<T> PeriodCache<T> {
    /// The set of `range` built from `source` less than [`PERIOD_TTL`] ago.
    pub fn fresh(&self, range: (NaiveDate, NaiveDate), source: &Arc<T>) -> Option<Arc<PeriodSet>> {
        lock(&self.slots).iter().find_map(|slot| {
            (slot.set.range == range
                && Weak::ptr_eq(&slot.source, &Arc::downgrade(source))
                && slot.set.read_at.elapsed() < PERIOD_TTL)
                .then(|| Arc::clone(&slot.set))
        })
    }

    /// Builds the features of `entries`, just read as the papers of
    /// `range`, from `vectors` of `source`, and keeps them. A set another
    /// caller built while this one waited for the build lock is returned
    /// instead.
    pub fn build(
        &self,
        range: (NaiveDate, NaiveDate),
        entries: Vec<Entry>,
        source: &Arc<T>,
        vectors: Option<&VectorIndex>,
    ) -> Arc<PeriodSet> {
        let _building = lock(&self.building);
        if let Some(set) = self.fresh(range, source) {
            return set;
        }
        let set = Arc::new(PeriodSet {
            range,
            features: PeriodFeatures::build(&entries, vectors),
            entries,
            read_at: Instant::now(),
        });
        let mut slots = lock(&self.slots);
        slots.retain(|slot| slot.set.range != range && slot.source.strong_count() > 0);
        if slots.len() >= CACHED_PERIODS {
            slots.remove(0);
        }
        slots.push(Slot {
            source: Arc::downgrade(source),
            set: Arc::clone(&set),
        });
        set
    }
}

/// Which ranking: whose, learned from what, of which period, how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RankingKey {
    /// The user.
    pub user: UserId,
    /// Their library or one collection.
    pub scope: Scope,
    /// The period's first and last day.
    pub range: (NaiveDate, NaiveDate),
    /// Picks asked for.
    pub limit: usize,
}

/// Users' rankings, each valid for one fingerprint of their signals and
/// one [`PeriodSet`]; the least recently used goes first when full.
#[derive(Default)]
pub struct RankingCache {
    slots: Mutex<Rankings>,
}

#[derive(Default)]
struct Rankings {
    kept: HashMap<RankingKey, Kept>,
    /// Counts uses, to find the least recently used.
    clock: u64,
}

struct Kept {
    fingerprint: u64,
    period: Weak<PeriodSet>,
    ranking: Arc<Ranking>,
    used: u64,
}

impl RankingCache {
    /// The ranking kept for `key`, if made from `fingerprint` and `period`.
    pub fn get(
        &self,
        key: &RankingKey,
        fingerprint: u64,
        period: &Arc<PeriodSet>,
    ) -> Option<Arc<Ranking>> {
        let mut slots = lock(&self.slots);
        slots.clock += 1;
        let now = slots.clock;
        let kept = slots.kept.get_mut(key)?;
        if kept.fingerprint != fingerprint || !Weak::ptr_eq(&kept.period, &Arc::downgrade(period)) {
            return None;
        }
        kept.used = now;
        Some(Arc::clone(&kept.ranking))
    }

    /// Keeps `ranking` for `key`.
    pub fn put(
        &self,
        key: RankingKey,
        fingerprint: u64,
        period: &Arc<PeriodSet>,
        ranking: Arc<Ranking>,
    ) {
        let mut slots = lock(&self.slots);
        slots.clock += 1;
        let now = slots.clock;
        let kept = &mut slots.kept;
        if kept.len() >= CACHED_RANKINGS && !kept.contains_key(&key) {
            kept.retain(|_, k| k.period.strong_count() > 0);
            if kept.len() >= CACHED_RANKINGS
                && let Some(oldest) = kept.iter().min_by_key(|(_, k)| k.used).map(|(k, _)| *k)
            {
                kept.remove(&oldest);
            }
        }
        kept.insert(
            key,
            Kept {
                fingerprint,
                period: Arc::downgrade(period),
                ranking,
                used: now,
            },
        );
    }

    /// Rankings kept.
    pub fn len(&self) -> usize {
        lock(&self.slots).kept.len()
    }

    /// Nothing kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Papers read for rankings, shared by the profiles of one digest run
/// (bounded: at most [`CACHED_PAPERS`]).
#[derive(Debug, Default)]
pub struct PaperCache {
    papers: Mutex<HashMap<String, Arc<Paper>>>,
}

impl PaperCache {
    pub(super) fn find(&self, ids: &[String]) -> HashMap<String, Arc<Paper>> {
        let papers = lock(&self.papers);
        ids.iter()
            .filter_map(|id| papers.get(id).map(|p| (id.clone(), Arc::clone(p))))
            .collect()
    }

    pub(super) fn keep(&self, paper: &Arc<Paper>) {
        let mut papers = lock(&self.papers);
        if papers.len() < CACHED_PAPERS {
            papers.insert(paper.id.base().to_owned(), Arc::clone(paper));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, d).unwrap()
    }

    fn ranking() -> Arc<Ranking> {
        Arc::new(Ranking {
            method: super::super::Method::Learned,
            library: 3,
            dismissed: 0,
            picks: Vec::new(),
            excluded: 0,
        })
    }

    #[test]
    fn a_period_set_is_reused_for_its_source_only_and_built_once() {
        let cache: PeriodCache<u8> = PeriodCache::default();
        let source = Arc::new(1u8);
        let range = (day(3), day(9));
        assert!(cache.fresh(range, &source).is_none());
        let built = cache.build(range, Vec::new(), &source, None);
        let again = cache.fresh(range, &source).unwrap();
        assert!(Arc::ptr_eq(&built, &again));
        // A second build while fresh returns the first.
        assert!(Arc::ptr_eq(
            &built,
            &cache.build(range, Vec::new(), &source, None)
        ));
        let other = Arc::new(2u8);
        assert!(cache.fresh(range, &other).is_none());
        assert!(cache.fresh((day(10), day(16)), &source).is_none());
        for d in 0..6 {
            cache.build((day(d + 10), day(d + 10)), Vec::new(), &source, None);
        }
        assert!(lock(&cache.slots).len() <= CACHED_PERIODS);
    }

    #[test]
    fn a_ranking_is_reused_only_for_the_same_fingerprint_and_period() {
        let cache = RankingCache::default();
        let source = Arc::new(0u8);
        let periods: PeriodCache<u8> = PeriodCache::default();
        let period = periods.build((day(3), day(9)), Vec::new(), &source, None);
        let key = RankingKey {
            user: UserId(7),
            scope: Scope::Library,
            range: period.range,
            limit: 30,
        };
        cache.put(key, 42, &period, ranking());
        assert!(cache.get(&key, 42, &period).is_some());
        assert!(cache.get(&key, 43, &period).is_none(), "signals changed");
        let other = periods.build((day(10), day(16)), Vec::new(), &source, None);
        assert!(cache.get(&key, 42, &other).is_none(), "another period set");
        let key2 = RankingKey { limit: 10, ..key };
        assert!(cache.get(&key2, 42, &period).is_none());
    }

    #[test]
    fn the_ranking_cache_is_bounded_and_drops_the_least_recently_used() {
        let cache = RankingCache::default();
        let source = Arc::new(0u8);
        let periods: PeriodCache<u8> = PeriodCache::default();
        let period = periods.build((day(3), day(9)), Vec::new(), &source, None);
        let key = |u: i64| RankingKey {
            user: UserId(u),
            scope: Scope::Library,
            range: period.range,
            limit: 30,
        };
        for u in 0..CACHED_RANKINGS as i64 {
            cache.put(key(u), 1, &period, ranking());
        }
        assert!(cache.get(&key(0), 1, &period).is_some()); // used: now the newest
        cache.put(key(-1), 1, &period, ranking());
        assert_eq!(cache.len(), CACHED_RANKINGS);
        assert!(cache.get(&key(0), 1, &period).is_some());
        assert!(cache.get(&key(1), 1, &period).is_none(), "the oldest went");
    }
}
