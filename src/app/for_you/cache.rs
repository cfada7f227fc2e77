//! The caches that make For you cheap to reload.
//!
//! - [`PeriodCache`]: a period's papers, as anyone sees them, with their
//!   shared features, built once per period and index and reused for
//!   [`PERIOD_TTL`]: new papers, submissions and curation reach For you
//!   within that, on every node, without any node telling another.
//! - [`RankingCache`]: each user's last ranking of a period, reused while
//!   their signals ([`super::Signals::fingerprint`], read on every request)
//!   and the period's papers stay the same (a set read again with the same
//!   papers is renewed, not replaced, so its rankings live on). A save, an unsave, a "not
//!   interested", a follow, on this node or another, changes the
//!   fingerprint, so the next page ranks again.
//! - [`PaperCache`]: library papers shared by the profiles of one digest
//!   run.
//!
//! Each is bounded (periods by count, rankings by count and by picks), so
//! together at most about 140 MB however users pick periods and limits.

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
/// Rankings kept at most.
pub const CACHED_RANKINGS: usize = 2_000;
/// Picks kept over all rankings at most (each with its reasons, up to
/// about 1 kB): about 40 MB.
pub const CACHED_PICKS: usize = 40_000;
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
    /// When its papers were last read (a rebuild that finds the same
    /// papers renews it and keeps the set, and the rankings made on it).
    read_at: Mutex<Instant>,
}

impl PeriodSet {
    fn is_fresh(&self) -> bool {
        lock(&self.read_at).elapsed() < PERIOD_TTL
    }

    fn same_papers(&self, entries: &[Entry]) -> bool {
        self.entries.len() == entries.len()
            && self
                .entries
                .iter()
                .zip(entries)
                .all(|(a, b)| a.paper.id == b.paper.id)
    }
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
    used: Instant,
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
    /// The set of `range` built from `source`, its papers read less than
    /// [`PERIOD_TTL`] ago.
    pub fn fresh(&self, range: (NaiveDate, NaiveDate), source: &Arc<T>) -> Option<Arc<PeriodSet>> {
        let mut slots = lock(&self.slots);
        let slot = slots.iter_mut().find(|slot| {
            slot.set.range == range
                && Weak::ptr_eq(&slot.source, &Arc::downgrade(source))
                && slot.set.is_fresh()
        })?;
        slot.used = Instant::now();
        Some(Arc::clone(&slot.set))
    }

    /// Builds the features of `entries`, the papers of `range` read at
    /// `read_at`, from `vectors` of `source`, and keeps them; the least
    /// recently used period goes when [`CACHED_PERIODS`] are kept. A set
    /// another caller built while this one waited for the build lock is
    /// returned instead, and so is the expired set when the papers are the
    /// same (renewed: rankings made on it stay valid).
    pub fn build(
        &self,
        range: (NaiveDate, NaiveDate),
        entries: Vec<Entry>,
        read_at: Instant,
        source: &Arc<T>,
        vectors: Option<&VectorIndex>,
    ) -> Arc<PeriodSet> {
        let _building = lock(&self.building);
        if let Some(set) = self.fresh(range, source) {
            return set;
        }
        let expired = lock(&self.slots)
            .iter()
            .find(|slot| {
                slot.set.range == range && Weak::ptr_eq(&slot.source, &Arc::downgrade(source))
            })
            .map(|slot| Arc::clone(&slot.set));
        if let Some(set) = expired.filter(|set| set.same_papers(&entries)) {
            *lock(&set.read_at) = read_at;
            return set;
        }
        let set = Arc::new(PeriodSet {
            range,
            features: PeriodFeatures::build(&entries, vectors),
            entries,
            read_at: Mutex::new(read_at),
        });
        let mut slots = lock(&self.slots);
        slots.retain(|slot| slot.set.range != range && slot.source.strong_count() > 0);
        if slots.len() >= CACHED_PERIODS
            && let Some(oldest) = (0..slots.len()).min_by_key(|&i| slots[i].used)
        {
            slots.remove(oldest);
        }
        slots.push(Slot {
            source: Arc::downgrade(source),
            set: Arc::clone(&set),
            used: Instant::now(),
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
    /// Picks over all kept rankings.
    picks: usize,
    /// Counts uses, to find the least recently used.
    clock: u64,
}

struct Kept {
    fingerprint: u64,
    period: Weak<PeriodSet>,
    ranking: Arc<Ranking>,
    /// Picks asked for when it was made: it serves any request for as
    /// many or fewer, and more when it holds every paper there was.
    limit: usize,
    used: u64,
}

impl RankingCache {
    /// The ranking kept for `key`, if made from `fingerprint` and `period`
    /// with at least `limit` picks (or every paper there was), cut to
    /// `limit`.
    pub fn get(
        &self,
        key: &RankingKey,
        fingerprint: u64,
        period: &Arc<PeriodSet>,
        limit: usize,
    ) -> Option<Ranking> {
        let mut slots = lock(&self.slots);
        slots.clock += 1;
        let now = slots.clock;
        let kept = slots.kept.get_mut(key)?;
        let complete = kept.ranking.picks.len() < kept.limit;
        if kept.fingerprint != fingerprint
            || !Weak::ptr_eq(&kept.period, &Arc::downgrade(period))
            || (kept.limit < limit && !complete)
        {
            return None;
        }
        kept.used = now;
        let mut ranking = Ranking::clone(&kept.ranking);
        ranking.picks.truncate(limit);
        Some(ranking)
    }

    /// Keeps `ranking`, made with `limit` picks at most, for `key`.
    pub fn put(
        &self,
        key: RankingKey,
        fingerprint: u64,
        period: &Arc<PeriodSet>,
        limit: usize,
        ranking: Arc<Ranking>,
    ) {
        let mut slots = lock(&self.slots);
        slots.clock += 1;
        let now = slots.clock;
        if let Some(old) = slots.kept.remove(&key) {
            slots.picks -= old.ranking.picks.len();
        }
        slots.picks += ranking.picks.len();
        slots.kept.insert(
            key,
            Kept {
                fingerprint,
                period: Arc::downgrade(period),
                ranking,
                limit,
                used: now,
            },
        );
        if slots.kept.len() > CACHED_RANKINGS || slots.picks > CACHED_PICKS {
            let gone: Vec<RankingKey> = slots
                .kept
                .iter()
                .filter(|(_, k)| k.period.strong_count() == 0)
                .map(|(key, _)| *key)
                .collect();
            for key in gone {
                slots.forget(&key);
            }
        }
        while slots.kept.len() > CACHED_RANKINGS || slots.picks > CACHED_PICKS {
            let Some(oldest) = slots
                .kept
                .iter()
                .min_by_key(|(_, k)| k.used)
                .map(|(key, _)| *key)
            else {
                break;
            };
            slots.forget(&oldest);
        }
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

impl Rankings {
    fn forget(&mut self, key: &RankingKey) {
        if let Some(kept) = self.kept.remove(key) {
            self.picks -= kept.ranking.picks.len();
        }
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

    fn ranking(picks: usize) -> Arc<Ranking> {
        Arc::new(Ranking {
            method: super::super::Method::Learned,
            library: 3,
            dismissed: 0,
            picks: (0..picks)
                .map(|index| super::super::Pick {
                    index,
                    score: 1.0,
                    reasons: Vec::new(),
                })
                .collect(),
            excluded: 0,
        })
    }

    fn build<T>(
        cache: &PeriodCache<T>,
        range: (NaiveDate, NaiveDate),
        source: &Arc<T>,
    ) -> Arc<PeriodSet> {
        cache.build(range, Vec::new(), Instant::now(), source, None)
    }

    #[test]
    fn a_period_set_is_reused_for_its_source_only_and_built_once() {
        let cache: PeriodCache<u8> = PeriodCache::default();
        let source = Arc::new(1u8);
        let range = (day(3), day(9));
        assert!(cache.fresh(range, &source).is_none());
        let built = build(&cache, range, &source);
        let again = cache.fresh(range, &source).unwrap();
        assert!(Arc::ptr_eq(&built, &again));
        // A second build while fresh returns the first.
        assert!(Arc::ptr_eq(&built, &build(&cache, range, &source)));
        let other = Arc::new(2u8);
        assert!(cache.fresh(range, &other).is_none());
        assert!(cache.fresh((day(10), day(16)), &source).is_none());
        for d in 0..6 {
            build(&cache, (day(d + 10), day(d + 10)), &source);
        }
        assert!(lock(&cache.slots).len() <= CACHED_PERIODS);
    }

    #[test]
    fn an_expired_set_with_the_same_papers_is_renewed_not_rebuilt() {
        let cache: PeriodCache<u8> = PeriodCache::default();
        let source = Arc::new(1u8);
        let range = (day(3), day(9));
        let long_ago = Instant::now()
            .checked_sub(PERIOD_TTL * 2)
            .unwrap_or_else(Instant::now);
        let old = cache.build(range, Vec::new(), long_ago, &source, None);
        assert!(cache.fresh(range, &source).is_none(), "expired");
        let renewed = build(&cache, range, &source);
        assert!(Arc::ptr_eq(&old, &renewed));
        assert!(cache.fresh(range, &source).is_some());
    }

    #[test]
    fn the_least_recently_used_period_goes_first() {
        let cache: PeriodCache<u8> = PeriodCache::default();
        let source = Arc::new(1u8);
        let week = (day(3), day(9));
        build(&cache, week, &source);
        for d in 0..CACHED_PERIODS as u32 - 1 {
            build(&cache, (day(d + 10), day(d + 10)), &source);
        }
        assert!(cache.fresh(week, &source).is_some()); // used: now the newest
        build(&cache, (day(20), day(20)), &source);
        assert!(cache.fresh(week, &source).is_some());
        assert!(cache.fresh((day(10), day(10)), &source).is_none());
    }

    #[test]
    fn a_ranking_is_reused_only_for_the_same_fingerprint_period_and_enough_picks() {
        let cache = RankingCache::default();
        let source = Arc::new(0u8);
        let periods: PeriodCache<u8> = PeriodCache::default();
        let period = build(&periods, (day(3), day(9)), &source);
        let key = RankingKey {
            user: UserId(7),
            scope: Scope::Library,
            range: period.range,
        };
        cache.put(key, 42, &period, 30, ranking(30));
        assert_eq!(cache.get(&key, 42, &period, 30).unwrap().picks.len(), 30);
        assert_eq!(cache.get(&key, 42, &period, 10).unwrap().picks.len(), 10);
        assert!(
            cache.get(&key, 42, &period, 31).is_none(),
            "it may have more"
        );
        assert!(
            cache.get(&key, 43, &period, 30).is_none(),
            "signals changed"
        );
        let other = build(&periods, (day(10), day(16)), &source);
        assert!(
            cache.get(&key, 42, &other, 30).is_none(),
            "another period set"
        );
        let other_user = RankingKey {
            user: UserId(8),
            ..key
        };
        assert!(cache.get(&other_user, 42, &period, 30).is_none());
        // Every paper there was: it serves any limit.
        cache.put(key, 42, &period, 30, ranking(12));
        assert_eq!(cache.get(&key, 42, &period, 100).unwrap().picks.len(), 12);
    }

    #[test]
    fn the_ranking_cache_is_bounded_by_rankings_and_picks_and_drops_the_least_recently_used() {
        let cache = RankingCache::default();
        let source = Arc::new(0u8);
        let periods: PeriodCache<u8> = PeriodCache::default();
        let period = build(&periods, (day(3), day(9)), &source);
        let key = |u: i64| RankingKey {
            user: UserId(u),
            scope: Scope::Library,
            range: period.range,
        };
        for u in 0..CACHED_RANKINGS as i64 {
            cache.put(key(u), 1, &period, 10, ranking(1));
        }
        assert!(cache.get(&key(0), 1, &period, 1).is_some()); // used: now the newest
        cache.put(key(-1), 1, &period, 10, ranking(1));
        assert_eq!(cache.len(), CACHED_RANKINGS);
        assert!(cache.get(&key(0), 1, &period, 1).is_some());
        assert!(
            cache.get(&key(1), 1, &period, 1).is_none(),
            "the oldest went"
        );
        // Big rankings count by their picks.
        for u in 0..(CACHED_PICKS / 100 + 10) as i64 {
            cache.put(key(10_000 + u), 1, &period, 100, ranking(100));
        }
        assert!(lock(&cache.slots).picks <= CACHED_PICKS);
        assert!(cache.len() <= CACHED_PICKS / 100);
    }
}
