//! Importing a bibliography into a library, and exporting a collection:
//! the one use case behind `paperhub library import|export`, the library
//! page's upload form and its export links.
//!
//! Each entry is matched to a catalog paper in this order: its arXiv id
//! (from an eprint field, an arXiv URL or DOI, or a journal line), its DOI,
//! then its title (the normalised title must name exactly one catalog
//! paper; a short or shared title is not trusted). arXiv ids the catalog
//! lacks are fetched through the polite API client in batches of 100,
//! outside any store transaction. Everything matched is saved in one
//! transaction, with the entry's note. The report lists every entry:
//! matched (and how), fetched, unmatched with the reason, and the entries
//! the file itself could not give (by line and key).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Utc};
use paperhub_domain::bib::{BadEntry, Format, Parsed, Reference, title_key};
use paperhub_domain::{ArxivId, Paper};
use paperhub_store::{BulkSaved, CollectionId, Store, UserId};
use serde::Serialize;

use super::library::LIMITS;

/// Fetches papers by id from arXiv; ids arXiv does not know are left out.
pub type Fetch<'a> = &'a dyn Fn(&[ArxivId]) -> Result<Vec<Paper>>;

/// Title keys shorter than this are not matched on (too generic).
const MIN_TITLE_KEY: usize = 16;

/// One entry of the file, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryOutcome {
    /// The line it starts on.
    pub line: usize,
    /// Its key in the file.
    pub key: String,
    /// The catalog paper it became, if any.
    pub paper: Option<String>,
    /// How it matched ("arXiv id", "DOI", "title"), or why it did not.
    pub how: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The format read.
    pub format: String,
    /// The collection it went into.
    pub collection: String,
    /// Entries matched to papers the catalog had.
    pub matched: Vec<EntryOutcome>,
    /// Entries whose arXiv paper was fetched into the catalog.
    pub fetched: Vec<EntryOutcome>,
    /// Entries matched to nothing, each with the reason.
    pub unmatched: Vec<EntryOutcome>,
    /// Entries the file could not give, by line and key.
    pub bad: Vec<BadEntryView>,
    /// What saving did (papers already there are counted, not saved twice).
    pub added: u32,
    /// Papers that were in the collection already.
    pub already: u32,
    /// Papers left out because the collection is full.
    pub over_limit: u32,
    /// Milliseconds the import took, arXiv fetches included.
    pub elapsed_ms: u128,
    /// Milliseconds spent waiting on arXiv.
    pub fetch_ms: u128,
}

/// A [`BadEntry`] for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadEntryView {
    /// Its line.
    pub line: usize,
    /// Its key, when read.
    pub key: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

impl From<BadEntry> for BadEntryView {
    fn from(b: BadEntry) -> BadEntryView {
        BadEntryView {
            line: b.line,
            key: b.key,
            reason: b.reason,
        }
    }
}

/// A note as the library keeps it: checked, and cut to the longest note.
fn clip(note: Option<&str>) -> Option<String> {
    let note = note?;
    let checked = super::library::check_note(note).unwrap_or_else(|_| {
        note.chars()
            .take(super::library::MAX_NOTE)
            .collect::<String>()
            .replace('\0', "")
    });
    (!checked.is_empty()).then_some(checked)
}

fn outcome(r: &Reference, paper: Option<&ArxivId>, how: impl Into<String>) -> EntryOutcome {
    EntryOutcome {
        line: r.line,
        key: r.key.clone(),
        paper: paper.map(|p| p.base().to_owned()),
        how: how.into(),
    }
}

/// An import's first phase: the file read and matched against the catalog,
/// and the arXiv ids to fetch. No store connection is held afterwards, so a
/// slow arXiv never holds one (see #13).
pub struct Plan {
    format: Format,
    references: Vec<Reference>,
    bad: Vec<BadEntryView>,
    known: HashSet<String>,
    by_doi: HashMap<String, ArxivId>,
    by_title: HashMap<String, Vec<ArxivId>>,
    /// arXiv ids the catalog lacks, each once.
    pub missing: Vec<ArxivId>,
    /// Missing ids left for a later import (over the per-import limit).
    deferred: Vec<ArxivId>,
    started: Instant,
}

/// Reads `text` in `format` and matches it against the catalog.
///
/// # Errors
/// A storage error.
pub fn plan(store: &dyn Store, format: Format, text: &str) -> Result<Plan> {
    plan_parsed(store, format, format.parse(text), Instant::now())
}

/// Matches an already read file against the catalog (the web reads it
/// first, outside any store connection); `started` is when reading began.
///
/// # Errors
/// A storage error.
pub fn plan_parsed(
    store: &dyn Store,
    format: Format,
    parsed: Parsed,
    started: Instant,
) -> Result<Plan> {
    let Parsed { references, bad } = parsed;
    let with_id: Vec<ArxivId> = references.iter().filter_map(|r| r.arxiv.clone()).collect();
    let known: HashSet<String> = store
        .entries(&with_id, None)?
        .into_iter()
        .map(|e| e.paper.id.base().to_owned())
        .collect();
    let dois: Vec<String> = references
        .iter()
        .filter(|r| r.arxiv.is_none())
        .filter_map(|r| r.doi.clone())
        .collect();
    let by_doi: HashMap<String, ArxivId> = store.papers_by_doi(&dois)?.into_iter().collect();
    let titles: Vec<String> = references
        .iter()
        .filter(|r| r.arxiv.is_none())
        .filter_map(|r| r.title.as_deref().map(title_key))
        .filter(|k| k.len() >= MIN_TITLE_KEY)
        .collect();
    let mut by_title: HashMap<String, Vec<ArxivId>> = HashMap::new();
    for (key, id) in store.papers_by_title(&titles)? {
        by_title.entry(key).or_default().push(id);
    }
    let mut seen = HashSet::new();
    let missing = with_id
        .iter()
        .filter(|id| !known.contains(id.base()) && seen.insert(id.base().to_owned()))
        .cloned()
        .collect();
    Ok(Plan {
        format,
        references,
        bad: bad.into_iter().map(BadEntryView::from).collect(),
        known,
        by_doi,
        by_title,
        missing,
        deferred: Vec::new(),
        started,
    })
}

/// What fetching the plan's missing ids gave.
pub enum Fetched {
    /// Fetching was off.
    Off,
    /// These papers (arXiv left out the ids it does not know), after this
    /// many milliseconds.
    Papers(Vec<Paper>, u128),
    /// The fetch failed, with why.
    Failed(String, u128),
}

/// Fetches the plan's missing ids with `fetch` (no store involved), the
/// first `at_most` of them; the rest are reported as not fetched, and a
/// second import of the same file fetches the next ones.
pub fn fetch_missing(plan: &mut Plan, fetch: Option<Fetch<'_>>, at_most: usize) -> Fetched {
    let Some(fetch) = fetch else {
        return Fetched::Off;
    };
    if plan.missing.len() > at_most {
        plan.deferred = plan.missing.split_off(at_most);
    }
    if plan.missing.is_empty() {
        return Fetched::Papers(Vec::new(), 0);
    }
    let t = Instant::now();
    match fetch(&plan.missing) {
        Ok(papers) => Fetched::Papers(papers, t.elapsed().as_millis()),
        Err(e) => Fetched::Failed(format!("{e:#}"), t.elapsed().as_millis()),
    }
}

/// Stores what was fetched and saves every matched paper into `user`'s
/// `collection` (the reading list when `None`) in one transaction.
///
/// # Errors
/// A storage error, or the collection is not the user's.
pub fn finish(
    store: &dyn Store,
    plan: Plan,
    fetched: Fetched,
    user: UserId,
    collection: Option<CollectionId>,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let mut report = ImportReport {
        format: plan.format.extension().to_owned(),
        bad: plan.bad,
        ..ImportReport::default()
    };
    let mut got: HashSet<String> = HashSet::new();
    let (fetching, fetch_error) = match fetched {
        Fetched::Off => (false, None),
        Fetched::Papers(papers, ms) => {
            report.fetch_ms = ms;
            let wanted: HashSet<&str> = plan.missing.iter().map(ArxivId::base).collect();
            let papers: Vec<Paper> = papers
                .into_iter()
                .filter(|p| wanted.contains(p.id.base()))
                .collect();
            store.upsert_papers(&papers, now)?;
            got.extend(papers.iter().map(|p| p.id.base().to_owned()));
            (true, None)
        }
        Fetched::Failed(e, ms) => {
            report.fetch_ms = ms;
            (true, Some(e))
        }
    };
    let mut save: Vec<(ArxivId, Option<String>)> = Vec::new();
    for r in &plan.references {
        if let Some(id) = &r.arxiv {
            if plan.known.contains(id.base()) {
                report.matched.push(outcome(r, Some(id), "arXiv id"));
            } else if got.contains(id.base()) {
                report
                    .fetched
                    .push(outcome(r, Some(id), "fetched from arXiv"));
            } else if plan.deferred.iter().any(|d| d.base() == id.base()) {
                let why = format!(
                    "arXiv {} was not fetched: one import fetches at most {} new papers; import the file again for the next ones",
                    id.base(),
                    plan.missing.len()
                );
                report.unmatched.push(outcome(r, None, why));
                continue;
            } else {
                let why = match (&fetch_error, fetching) {
                    (Some(e), _) => format!("arXiv {} could not be fetched: {e}", id.base()),
                    (None, true) => format!("arXiv has no paper {}", id.base()),
                    (None, false) => {
                        format!(
                            "arXiv {} is not in the catalog (fetching is off)",
                            id.base()
                        )
                    }
                };
                report.unmatched.push(outcome(r, None, why));
                continue;
            }
            save.push((id.clone(), r.note.clone()));
            continue;
        }
        if let Some(id) = r
            .doi
            .as_ref()
            .and_then(|d| plan.by_doi.get(&d.to_lowercase()))
        {
            report.matched.push(outcome(r, Some(id), "DOI"));
            save.push((id.clone(), clip(r.note.as_deref())));
            continue;
        }
        let key = r.title.as_deref().map(title_key).unwrap_or_default();
        match plan.by_title.get(&key).map(Vec::as_slice) {
            Some([id]) if key.len() >= MIN_TITLE_KEY => {
                report.matched.push(outcome(r, Some(id), "title"));
                save.push((id.clone(), clip(r.note.as_deref())));
            }
            Some(ids) if ids.len() > 1 => {
                let why = format!("its title names {} catalog papers", ids.len());
                report.unmatched.push(outcome(r, None, why));
            }
            _ => {
                let why = match (&r.title, &r.doi) {
                    (None, None) => "no arXiv id, DOI or title".to_owned(),
                    (_, Some(d)) => {
                        format!("no arXiv id, and no catalog paper has DOI {d} or its title")
                    }
                    (Some(_), None) => {
                        "no arXiv id or DOI, and no catalog paper has its title".to_owned()
                    }
                };
                report.unmatched.push(outcome(r, None, why));
            }
        }
    }
    let (
        id,
        BulkSaved {
            added,
            already,
            over_limit,
            ..
        },
    ) = store.save_papers(user, collection, &save, LIMITS, now)?;
    report.added = added;
    report.already = already;
    report.over_limit = over_limit;
    report.collection = store
        .collections(user)?
        .into_iter()
        .find(|c| c.id == id)
        .map(|c| c.slug)
        .unwrap_or_default();
    report.elapsed_ms = plan.started.elapsed().as_millis();
    Ok(report)
}

/// The whole import in one call (the CLI's): [`plan`], [`fetch_missing`]
/// with `fetch`, [`finish`].
///
/// # Errors
/// A storage error, or the collection is not the user's.
pub fn import(
    store: &dyn Store,
    fetch: Option<Fetch<'_>>,
    user: UserId,
    collection: Option<CollectionId>,
    format: Format,
    text: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let mut plan = plan(store, format, text)?;
    let fetched = fetch_missing(&mut plan, fetch, usize::MAX);
    finish(store, plan, fetched, user, collection, now)
}

/// The references of a collection's papers, with the owner's notes, for
/// export in any [`Format`].
///
/// # Errors
/// A storage error.
pub fn export(store: &dyn Store, collection: CollectionId) -> Result<Vec<Reference>> {
    let (items, _) = store.saved_papers(collection, 0, LIMITS.papers)?;
    let ids: Vec<ArxivId> = items.iter().filter_map(|i| i.paper.parse().ok()).collect();
    let entries = store.entries(&ids, None)?;
    let by_id: HashMap<&str, &paperhub_store::Entry> =
        entries.iter().map(|e| (e.paper.id.base(), e)).collect();
    let mut out = Vec::with_capacity(items.len());
    // Oldest saved first, the order a reader expects in a file.
    for item in items.iter().rev() {
        let Some(e) = by_id.get(item.paper.as_str()) else {
            continue;
        };
        let p = &e.paper;
        let year = p
            .submitted
            .map(|d| d.format("%Y").to_string())
            .or_else(|| p.announced.map(|d| d.format("%Y").to_string()));
        out.push(Reference {
            key: String::new(),
            title: Some(p.title.clone()),
            authors: p.authors.iter().map(|a| a.name.clone()).collect(),
            year,
            doi: p.doi.clone(),
            arxiv: Some(p.id.clone()),
            url: Some(format!("https://arxiv.org/abs/{}", p.id.base())),
            note: (!item.note.is_empty()).then(|| item.note.clone()),
            line: 0,
        });
    }
    Ok(out)
}
