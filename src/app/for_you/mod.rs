//! "For you": one user's ranking of a period's papers, learned from their
//! library, and why each paper is there. The web page, its Atom feed, the
//! API, the collection pages and the digests all call [`recommend`].
//!
//! The model is [`paperhub_search::recommend::Ranker`]: a linear SVM over
//! tf-idf and embeddings once the library has a few papers, recency-weighted
//! similarity below that (zotero-arxiv-daily's cold start). This module
//! gathers its inputs and explains its output:
//!
//! - **positives**: the library, the most recent [`PROFILE_PAPERS`] saves
//!   (or one collection's papers, for "more like this collection");
//! - **negatives**: papers the user marked "not interested", plus a sample
//!   of the period's papers they did not save, seeded by the user, so a
//!   page ranks the same way on every reload;
//! - **follows**: authors the account follows and the categories of the
//!   digest linked to it lift papers, and carry a user with no library yet;
//! - **reasons**: the two library papers most like each pick, the words the
//!   model weighs most in it, the followed author or category.
//!
//! The features of a period's papers (tf-idf rows with the period's idf,
//! embeddings copied out of the vector index) are the same for every user,
//! so [`PeriodCache`] builds them once per period and index; one user's
//! ranking then costs one training and one pass of scoring
//! (`paperhub bench for-you`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use cache::lock;

mod cache;
pub use cache::{
    CACHED_PAPERS, CACHED_PERIODS, CACHED_RANKINGS, PERIOD_TTL, PaperCache, PeriodCache, PeriodSet,
    RankingCache, RankingKey,
};

use chrono::NaiveDate;
use paperhub_domain::author::author_key;
use paperhub_domain::{ArxivId, InterestKind, Paper, UserId};
use paperhub_search::VectorIndex;
use paperhub_search::recommend::{Doc, Ranker, Settings, TfIdf};
use paperhub_store::{CollectionId, Entry, ListOrder, ListQuery, Store, StoreResult};
use serde::Serialize;

/// Library papers a ranking learns from: the most recent saves.
pub const PROFILE_PAPERS: u32 = 200;
/// How hard one ranking works: unsaved papers of the period sampled as
/// negatives, and passes of the trainer at most. On the tuning half of
/// `paperhub eval recommend` (docs/BENCHMARKS.md) 1,000 negatives raised
/// the mean P@10 from 0.061 (500) to 0.066 and 2,000 only to 0.067; passes
/// beyond 5 changed the third decimal at most. A digest, ranking for every
/// subscriber, does less, to stay within twice the time of a digest run
/// without libraries: 50 negatives and 3 passes (tuning half: mean P@10
/// 0.063, nDCG@10 0.091 against 0.065 and 0.092 with 100 negatives; 3
/// passes scored as 5 did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effort {
    /// Negatives sampled from the period.
    pub negatives: usize,
    /// Trainer passes at most.
    pub epochs: usize,
}

impl Effort {
    /// A page, the feed or the API: one user at a time.
    pub const PAGE: Effort = Effort {
        negatives: 1_000,
        epochs: 5,
    };
    /// A digest run: every linked subscriber in one go.
    pub const DIGEST: Effort = Effort {
        negatives: 50,
        epochs: 3,
    };
}

/// What a caller asks of [`recommend`].
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    /// Fixes the negative sample (the user id), so a page ranks the same
    /// way on every reload.
    pub seed: u64,
    /// Papers wanted at most.
    pub limit: usize,
    /// How hard to work.
    pub effort: Effort,
}
/// "Not interested" marks a ranking learns from: the most recent.
pub const DISMISSED_PAPERS: u32 = 500;
/// What following a paper's author adds to its score.
const AUTHOR_LIFT: f32 = 0.5;
/// What following one of its categories adds.
const CATEGORY_LIFT: f32 = 0.1;
/// A library paper is named as a reason only when at least this similar:
/// by embeddings (MiniLM cosines of unrelated abstracts sit near 0.1)...
const LIKE_DENSE: f32 = 0.35;
/// ... or by tf-idf, when either paper has no vector (far lower cosines).
const LIKE_SPARSE: f32 = 0.1;
/// Papers of one period ranked at most: the first this many in trending
/// order (a month of the 40k catalog has about 3,500; a month of all of
/// arXiv about 24,000, so a month there ranks its most active part).
pub const MAX_PERIOD_PAPERS: u32 = 6_000;
/// Features of papers outside a period kept with it (about 4 kB each).
pub const OTHER_DOCS: usize = 5_000;

/// A period's papers as lists show them (the community part, then the
/// announcement, each by votes), at most `limit`, marked for `viewer`:
/// what For you ranks and digests draw from.
///
/// # Errors
/// A storage error.
pub fn period_entries(
    store: &dyn Store,
    (from, to): (NaiveDate, NaiveDate),
    limit: u32,
    viewer: Option<UserId>,
) -> StoreResult<Vec<Entry>> {
    let listing = store.listing(
        &ListQuery {
            from,
            to,
            categories: Vec::new(),
            offset: 0,
            limit,
            include_hidden: false,
            order: ListOrder::Votes,
        },
        viewer,
    )?;
    Ok(listing
        .community
        .into_iter()
        .chain(listing.announced)
        .collect())
}

/// The text a paper's features are made of.
pub fn text(paper: &Paper) -> String {
    format!("{}. {}", paper.title, paper.abstract_text)
}

/// The features of one period's papers, shared by every user.
#[derive(Debug)]
pub struct PeriodFeatures {
    ids: Vec<String>,
    position: HashMap<String, usize>,
    /// Each paper's author keys and lower-cased categories, for follows.
    author_keys: Vec<Vec<String>>,
    categories: Vec<Vec<String>>,
    /// Features of papers outside the period (library papers), made once
    /// for every user who saved them, at most [`OTHER_DOCS`].
    others: Mutex<HashMap<String, Arc<Doc>>>,
    tfidf: TfIdf,
    docs: Vec<Doc>,
}

impl PeriodFeatures {
    /// Fits tf-idf on `entries` and takes their embeddings from `vectors`.
    pub fn build(entries: &[Entry], vectors: Option<&VectorIndex>) -> PeriodFeatures {
        let texts: Vec<String> = entries.iter().map(|e| text(&e.paper)).collect();
        let tfidf = TfIdf::fit(texts.iter().map(String::as_str));
        let docs = entries
            .iter()
            .zip(&texts)
            .map(|(e, t)| Doc {
                sparse: tfidf.row(t),
                dense: vectors.and_then(|v| {
                    v.vector(e.paper.id.base())
                        .map(std::borrow::Cow::into_owned)
                }),
            })
            .collect();
        let ids: Vec<String> = entries
            .iter()
            .map(|e| e.paper.id.base().to_owned())
            .collect();
        PeriodFeatures {
            position: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
            author_keys: entries
                .iter()
                .map(|e| {
                    e.paper
                        .authors
                        .iter()
                        .map(|a| author_key(&a.name))
                        .collect()
                })
                .collect(),
            categories: entries
                .iter()
                .map(|e| {
                    e.paper
                        .categories
                        .iter()
                        .map(|c| c.to_lowercase())
                        .collect()
                })
                .collect(),
            ids,
            tfidf,
            docs,
            others: Mutex::new(HashMap::new()),
        }
    }

    /// The features of any paper, with this period's idf.
    pub fn doc(&self, paper: &Paper, vectors: Option<&VectorIndex>) -> Doc {
        Doc {
            sparse: self.tfidf.row(&text(paper)),
            dense: vectors
                .and_then(|v| v.vector(paper.id.base()).map(std::borrow::Cow::into_owned)),
        }
    }

    /// The features of a paper outside the period, made once and kept
    /// while fewer than [`OTHER_DOCS`] are.
    pub fn other_doc(&self, paper: &Paper, vectors: Option<&VectorIndex>) -> Arc<Doc> {
        let id = paper.id.base();
        if let Some(doc) = lock(&self.others).get(id).cloned() {
            return doc;
        }
        let doc = Arc::new(self.doc(paper, vectors));
        let mut others = lock(&self.others);
        if others.len() < OTHER_DOCS {
            others.insert(id.to_owned(), Arc::clone(&doc));
        }
        doc
    }

    /// Up to `n` of the period's papers, spread over it (for benchmarks).
    pub fn sample_docs(&self, n: usize) -> Vec<&Doc> {
        sample(self.docs.len(), n, 1)
            .into_iter()
            .map(|i| &self.docs[i])
            .collect()
    }
}

/// What a ranking learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole library, follows and "not interested" marks.
    Library,
    /// One collection's papers ("more like this collection").
    Collection(CollectionId),
}

/// One user's signals, loaded from the store.
#[derive(Debug, Default)]
pub struct Profile {
    /// Library papers, the most recently saved first.
    pub library: Vec<Arc<Paper>>,
    /// Papers marked "not interested", the latest first.
    pub dismissed: Vec<Arc<Paper>>,
    /// Followed authors: (key, name as followed).
    pub authors: Vec<(String, String)>,
    /// Followed categories (of the digest linked to the account).
    pub categories: Vec<String>,
}

/// What a user's ranking depends on, as ids: cheap enough to read on
/// every request, so a cached ranking is reused only while they are the
/// same ([`Signals::fingerprint`]).
#[derive(Debug, Default, Clone, Hash)]
pub struct Signals {
    /// Library paper ids, the most recently saved first.
    pub library: Vec<String>,
    /// "Not interested" paper ids, the latest first.
    pub dismissed: Vec<String>,
    /// Followed authors: (key, name as followed).
    pub authors: Vec<(String, String)>,
    /// Followed categories (of the digest linked to the account).
    pub categories: Vec<String>,
}

impl Signals {
    /// Reads `user`'s signals for `scope`: saves, marks and, for the whole
    /// library, follows.
    ///
    /// # Errors
    /// A storage error.
    pub fn load(store: &dyn Store, user: UserId, scope: Scope) -> StoreResult<Signals> {
        let mut signals = Signals::load_saved(store, user, scope, PROFILE_PAPERS)?;
        if scope == Scope::Library {
            signals.authors = store
                .followed_authors(user)?
                .into_iter()
                .map(|f| (f.key, f.name))
                .collect();
            if let Some(subscriber) = store.subscriber_of_account(user)? {
                signals.categories = store
                    .interests(subscriber.id)?
                    .into_iter()
                    .filter(|i| i.kind == InterestKind::Category)
                    .map(|i| i.value.to_lowercase())
                    .collect();
            }
        }
        Ok(signals)
    }

    /// Reads only what `user` saved for `scope` (at most `limit` papers)
    /// and marked "not interested", without follows (a digest has its own).
    ///
    /// # Errors
    /// A storage error.
    pub fn load_saved(
        store: &dyn Store,
        user: UserId,
        scope: Scope,
        limit: u32,
    ) -> StoreResult<Signals> {
        let library: Vec<String> = match scope {
            Scope::Library => store.recent_saves(user, limit)?,
            Scope::Collection(c) => store
                .saved_papers(c, 0, limit)?
                .0
                .into_iter()
                .map(|s| s.paper)
                .collect(),
        };
        Ok(Signals {
            library,
            dismissed: store.not_interested(user, DISMISSED_PAPERS)?,
            ..Signals::default()
        })
    }

    /// [`Signals::load_saved`] for the whole library of many users in two
    /// reads (a digest run's linked subscribers): users with saves or
    /// marks only.
    ///
    /// # Errors
    /// A storage error.
    pub fn load_saved_of(
        store: &dyn Store,
        users: &[UserId],
        limit: u32,
    ) -> StoreResult<HashMap<UserId, Signals>> {
        let mut out: HashMap<UserId, Signals> = HashMap::new();
        for (user, library) in store.recent_saves_of(users, limit)? {
            out.entry(user).or_default().library = library;
        }
        for (user, dismissed) in store.not_interested_of(users, DISMISSED_PAPERS)? {
            out.entry(user).or_default().dismissed = dismissed;
        }
        Ok(out)
    }

    /// A hash of these signals and of `saved` (the period's papers the user
    /// saved anywhere): equal fingerprints rank a period the same way.
    pub fn fingerprint(&self, saved: &HashSet<String>) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut saved: Vec<&String> = saved.iter().collect();
        saved.sort_unstable();
        let mut h = std::hash::DefaultHasher::new();
        self.hash(&mut h);
        saved.hash(&mut h);
        h.finish()
    }
}

impl Profile {
    /// Reads the papers `signals` name, those in `cache` from there (a
    /// digest run shares one over every subscriber: most saved papers are
    /// saved by many).
    ///
    /// # Errors
    /// A storage error.
    pub fn read(
        store: &dyn Store,
        signals: &Signals,
        cache: Option<&PaperCache>,
    ) -> StoreResult<Profile> {
        let papers = |ids: &[String]| -> StoreResult<Vec<Arc<Paper>>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut found: HashMap<String, Arc<Paper>> = HashMap::new();
            if let Some(cache) = cache {
                found = cache.find(ids);
            }
            let missing: Vec<ArxivId> = ids
                .iter()
                .filter(|id| !found.contains_key(id.as_str()))
                .filter_map(|id| id.parse().ok())
                .collect();
            if !missing.is_empty() {
                for e in store.entries(&missing, None)? {
                    let paper = Arc::new(e.paper);
                    if let Some(cache) = cache {
                        cache.keep(&paper);
                    }
                    found.insert(paper.id.base().to_owned(), paper);
                }
            }
            Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
        };
        Ok(Profile {
            library: papers(&signals.library)?,
            dismissed: papers(&signals.dismissed)?,
            authors: signals.authors.clone(),
            categories: signals.categories.clone(),
        })
    }

    /// Nothing to rank from: no library and no follows.
    pub fn is_empty(&self) -> bool {
        self.library.is_empty() && self.authors.is_empty() && self.categories.is_empty()
    }
}

/// Why a paper was recommended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Like these library papers (id, title), most alike first.
    Like {
        /// The library papers.
        papers: Vec<LibraryPaper>,
    },
    /// Words and word pairs the user's model weighs most in this paper.
    Words {
        /// The words.
        words: Vec<String>,
    },
    /// By an author the user follows.
    Author {
        /// The author's name as followed.
        name: String,
    },
    /// In a category the user follows.
    Category {
        /// The category.
        category: String,
    },
}

/// A library paper named in a reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LibraryPaper {
    /// Its arXiv id.
    pub id: String,
    /// Its title.
    pub title: String,
}

impl Reason {
    /// The reason as one sentence.
    pub fn sentence(&self) -> String {
        let quote = |s: &str| format!("\u{201c}{s}\u{201d}");
        match self {
            Reason::Like { papers } => {
                let titles: Vec<String> = papers.iter().map(|p| quote(&p.title)).collect();
                format!("Like {} in your library", titles.join(" and "))
            }
            Reason::Words { words } => {
                let words: Vec<String> = words.iter().map(|w| quote(w)).collect();
                format!("Mentions {}, which your library is about", words.join(", "))
            }
            Reason::Author { name } => format!("By {name}, whom you follow"),
            Reason::Category { category } => format!("New in {category}, which you follow"),
        }
    }
}

/// One recommended paper.
#[derive(Debug, Clone)]
pub struct Pick {
    /// Its position in the period's entries.
    pub index: usize,
    /// Its score (comparable within one ranking).
    pub score: f32,
    /// Why it is there.
    pub reasons: Vec<Reason>,
}

/// How a ranking was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Nothing to rank from: the page invites the user to save papers or
    /// follow authors.
    Invitation,
    /// Only follows (no library yet).
    Follows,
    /// Recency-weighted similarity to a small library.
    Similarity,
    /// A model learned from the library.
    Learned,
}

/// A user's ranking of a period.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// How it was made.
    pub method: Method,
    /// Library papers it learned from.
    pub library: usize,
    /// "Not interested" marks it learned from.
    pub dismissed: usize,
    /// The best papers first, at most the limit asked for.
    pub picks: Vec<Pick>,
    /// Papers of the period left out because the user saved or dismissed
    /// them.
    pub excluded: usize,
}

/// Ranks `entries` (a period's papers, trending order) for `profile`.
/// `saved` are ids the user has saved anywhere (left out, as dismissed
/// papers are).
pub fn recommend(
    features: &PeriodFeatures,
    entries: &[Entry],
    profile: &Profile,
    saved: &HashSet<String>,
    vectors: Option<&VectorIndex>,
    ask: Ask,
) -> Ranking {
    let mut ranking = Ranking {
        method: Method::Invitation,
        library: profile.library.len(),
        dismissed: profile.dismissed.len(),
        picks: Vec::new(),
        excluded: 0,
    };
    if profile.is_empty() {
        return ranking;
    }
    let position = &features.position;
    // Papers of the period use the shared features; others (older library
    // papers, dismissed ones) get theirs made with the period's idf.
    let doc_of = |paper: &Paper| -> DocRef<'_> {
        match position.get(paper.id.base()) {
            Some(&i) => DocRef::Period(&features.docs[i]),
            None => DocRef::Other(features.other_doc(paper, vectors)),
        }
    };
    let library: Vec<DocRef<'_>> = profile.library.iter().map(|p| doc_of(p)).collect();
    // The period's papers left out: saved, in the library, dismissed (a
    // flag per position, so ranking hashes no id per paper).
    let mut left_out = vec![false; features.ids.len()];
    for id in saved.iter().map(String::as_str).chain(
        profile
            .library
            .iter()
            .chain(&profile.dismissed)
            .map(|p| p.id.base()),
    ) {
        if let Some(&p) = position.get(id) {
            left_out[p] = true;
        }
    }
    let dismissed: Vec<DocRef<'_>> = profile.dismissed.iter().map(|p| doc_of(p)).collect();
    let library_refs: Vec<&Doc> = library.iter().map(AsRef::as_ref).collect();
    let mut negative_refs: Vec<&Doc> = dismissed.iter().map(AsRef::as_ref).collect();
    negative_refs.extend(
        sample(features.ids.len(), ask.effort.negatives, ask.seed)
            .into_iter()
            .filter(|&i| !left_out[i])
            .map(|i| &features.docs[i]),
    );
    let settings = Settings {
        epochs: ask.effort.epochs,
        ..Settings::default()
    };
    let ranker = Ranker::train(&library_refs, &negative_refs, &settings);
    ranking.method = match (library.is_empty(), ranker.is_learned()) {
        (true, _) => Method::Follows,
        (false, true) => Method::Learned,
        (false, false) => Method::Similarity,
    };
    let authors: HashMap<&str, &str> = profile
        .authors
        .iter()
        .map(|(key, name)| (key.as_str(), name.as_str()))
        .collect();
    let categories: HashSet<&str> = profile.categories.iter().map(String::as_str).collect();
    // The entries are the features' own papers in the same order, except
    // when a caller passes others: then each is found by id.
    let aligned = features.ids.len() == entries.len()
        && features
            .ids
            .iter()
            .zip(entries)
            .all(|(id, e)| id == e.paper.id.base());
    let mut scored: Vec<(f32, usize)> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let p = if aligned {
            i
        } else {
            match position.get(entry.paper.id.base()) {
                Some(&p) => p,
                None => continue,
            }
        };
        if left_out[p] {
            ranking.excluded += 1;
            continue;
        }
        let doc = &features.docs[p];
        let lift = follow_lift(features, p, &authors, &categories);
        if library.is_empty() && lift == 0.0 {
            continue;
        }
        let score = if library.is_empty() {
            0.0
        } else {
            ranker.score(doc)
        };
        scored.push((score + lift, i));
    }
    // Best first; ties keep the period's (trending) order.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(ask.limit);
    ranking.picks = scored
        .into_iter()
        .map(|(score, index)| {
            let paper = &entries[index].paper;
            let doc = position.get(paper.id.base()).map(|&p| &features.docs[p]);
            Pick {
                index,
                score,
                reasons: reasons(
                    paper,
                    doc,
                    profile,
                    &library_refs,
                    &ranker,
                    &authors,
                    &categories,
                ),
            }
        })
        .collect();
    ranking
}

/// A paper's features: the period's own, or a cached one of a paper
/// outside it.
enum DocRef<'a> {
    Period(&'a Doc),
    Other(Arc<Doc>),
}

impl AsRef<Doc> for DocRef<'_> {
    fn as_ref(&self) -> &Doc {
        match self {
            DocRef::Period(d) => d,
            DocRef::Other(d) => d,
        }
    }
}

/// What follows add to the score of the period's paper `p`.
fn follow_lift(
    features: &PeriodFeatures,
    p: usize,
    authors: &HashMap<&str, &str>,
    categories: &HashSet<&str>,
) -> f32 {
    let by_author = !authors.is_empty()
        && features.author_keys[p]
            .iter()
            .any(|k| authors.contains_key(k.as_str()));
    let in_category = !categories.is_empty()
        && features.categories[p]
            .iter()
            .any(|c| categories.contains(c.as_str()));
    f32::from(u8::from(by_author)) * AUTHOR_LIFT + f32::from(u8::from(in_category)) * CATEGORY_LIFT
}

fn reasons(
    paper: &Paper,
    doc: Option<&Doc>,
    profile: &Profile,
    library: &[&Doc],
    ranker: &Ranker,
    authors: &HashMap<&str, &str>,
    categories: &HashSet<&str>,
) -> Vec<Reason> {
    let mut out = Vec::new();
    for a in paper.authors.iter().filter(|_| !authors.is_empty()) {
        if let Some(name) = authors.get(author_key(&a.name).as_str()) {
            out.push(Reason::Author {
                name: (*name).to_owned(),
            });
            break;
        }
    }
    if let Some(doc) = doc {
        let mut alike: Vec<(f32, usize)> = library
            .iter()
            .enumerate()
            .map(|(i, l)| (l.similarity(doc), i))
            .filter(|&(s, i)| {
                let dense = doc.dense.is_some() && library[i].dense.is_some();
                s >= if dense { LIKE_DENSE } else { LIKE_SPARSE }
            })
            .collect();
        alike.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if !alike.is_empty() {
            out.push(Reason::Like {
                papers: alike
                    .iter()
                    .take(2)
                    .map(|&(_, i)| LibraryPaper {
                        id: profile.library[i].id.base().to_owned(),
                        title: profile.library[i].title.clone(),
                    })
                    .collect(),
            });
        }
    }
    if let Some(doc) = doc {
        let words = ranker.strongest_grams(&text(paper), doc, 3);
        if !words.is_empty() {
            out.push(Reason::Words { words });
        }
    }
    if let Some(c) = paper
        .categories
        .iter()
        .find(|c| categories.contains(c.to_lowercase().as_str()))
    {
        out.push(Reason::Category {
            category: c.clone(),
        });
    }
    out
}

/// Up to `n` distinct positions below `len`, fixed by `seed`.
fn sample(len: usize, n: usize, seed: u64) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    if n == 0 {
        return Vec::new();
    }
    // A stride coprime with `len` from a seeded start visits distinct
    // positions spread over the whole period.
    let mut stride = (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33) as usize % len;
    while stride == 0 || gcd(stride, len) != 1 {
        stride = (stride + 1) % len;
    }
    let start = (seed as usize).wrapping_mul(31) % len;
    (0..n).map(|k| (start + k * stride) % len).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paperhub_domain::Author;

    fn entry(id: &str, title: &str, abstract_text: &str, author: &str, cat: &str) -> Entry {
        let mut p = Paper::new(id.parse().unwrap(), title.into(), abstract_text.into());
        p.authors = vec![Author::from_display_name(author)];
        p.categories = vec![cat.into()];
        Entry {
            paper: p,
            votes: 0,
            voted: false,
            submitted_by: None,
            submitted_at: None,
            list_date: None,
            featured: false,
            hidden: false,
            comments: 0,
        }
    }

    fn ask(seed: u64, limit: usize) -> Ask {
        Ask {
            seed,
            limit,
            effort: Effort::PAGE,
        }
    }

    fn period() -> Vec<Entry> {
        (0..40)
            .map(|i| {
                if i % 5 == 0 {
                    entry(
                        &format!("2511.{i:05}"),
                        &format!("Graph neural networks for molecules {i}"),
                        "Message passing over molecular graphs predicts properties.",
                        "Ada Lovelace",
                        "cs.LG",
                    )
                } else {
                    entry(
                        &format!("2511.{i:05}"),
                        &format!("Video diffusion sampling {i}"),
                        "Faster samplers for video diffusion models.",
                        "Alan Turing",
                        "cs.CV",
                    )
                }
            })
            .collect()
    }

    #[test]
    fn an_empty_profile_gets_an_invitation_not_an_error() {
        let entries = period();
        let f = PeriodFeatures::build(&entries, None);
        let r = recommend(
            &f,
            &entries,
            &Profile::default(),
            &HashSet::new(),
            None,
            ask(1, 10),
        );
        assert_eq!(r.method, Method::Invitation);
        assert!(r.picks.is_empty());
    }

    #[test]
    fn a_library_ranks_its_topic_first_with_reasons_and_leaves_out_saved_papers() {
        let entries = period();
        let f = PeriodFeatures::build(&entries, None);
        let library: Vec<Arc<Paper>> = [0, 5, 10]
            .iter()
            .map(|&i| Arc::new(entries[i].paper.clone()))
            .collect();
        let saved: HashSet<String> = library.iter().map(|p| p.id.base().to_owned()).collect();
        let profile = Profile {
            library,
            dismissed: vec![Arc::new(entries[15].paper.clone())],
            ..Profile::default()
        };
        let r = recommend(&f, &entries, &profile, &saved, None, ask(7, 4));
        assert_eq!(r.method, Method::Learned);
        assert_eq!(r.excluded, 4);
        let ids: Vec<usize> = r.picks.iter().map(|p| p.index).collect();
        assert!(
            ids.iter()
                .all(|i| i % 5 == 0 && ![0, 5, 10, 15].contains(i)),
            "{ids:?}"
        );
        let why: Vec<String> = r.picks[0].reasons.iter().map(Reason::sentence).collect();
        assert!(
            why[0].starts_with("Like \u{201c}Graph neural networks"),
            "{why:?}"
        );
        assert!(why.iter().any(|w| w.starts_with("Mentions")), "{why:?}");
        // The same user gets the same page on every reload.
        let again = recommend(&f, &entries, &profile, &saved, None, ask(7, 4));
        assert_eq!(ids, again.picks.iter().map(|p| p.index).collect::<Vec<_>>());
    }

    #[test]
    fn follows_alone_carry_a_user_without_a_library() {
        let entries = period();
        let f = PeriodFeatures::build(&entries, None);
        let profile = Profile {
            authors: vec![("alan turing".into(), "Alan Turing".into())],
            ..Profile::default()
        };
        let r = recommend(&f, &entries, &profile, &HashSet::new(), None, ask(1, 100));
        assert_eq!(r.method, Method::Follows);
        assert_eq!(r.picks.len(), 32);
        assert_eq!(
            r.picks[0].reasons[0].sentence(),
            "By Alan Turing, whom you follow"
        );
    }

    #[test]
    fn samples_are_distinct_and_bounded() {
        for len in [1, 7, 200, 201, 1500] {
            for seed in [0, 1, 99, u64::MAX] {
                assert!(sample(len, 0, seed).is_empty());
                let s = sample(len, 200, seed);
                let set: HashSet<usize> = s.iter().copied().collect();
                assert_eq!(set.len(), len.min(200));
                assert!(s.iter().all(|&i| i < len));
            }
        }
    }
}
