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

fn outcome(r: &Reference, paper: Option<&ArxivId>, how: impl Into<String>) -> EntryOutcome {
    EntryOutcome {
        line: r.line,
        key: r.key.clone(),
        paper: paper.map(|p| p.base().to_owned()),
        how: how.into(),
    }
}

/// Imports `text` (in `format`) into `user`'s `collection` (the reading
/// list when `None`), fetching unknown arXiv papers with `fetch` when
/// given.
///
/// # Errors
/// A storage error, or the collection is not the user's. A failed fetch is
/// not an error: its entries are reported unmatched with the reason.
pub fn import(
    store: &dyn Store,
    fetch: Option<Fetch<'_>>,
    user: UserId,
    collection: Option<CollectionId>,
    format: Format,
    text: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let started = Instant::now();
    let Parsed { references, bad } = format.parse(text);
    let mut report = ImportReport {
        format: format.extension().to_owned(),
        bad: bad.into_iter().map(BadEntryView::from).collect(),
        ..ImportReport::default()
    };
    // 1. arXiv ids, as far as the catalog has them.
    let with_id: Vec<ArxivId> = references.iter().filter_map(|r| r.arxiv.clone()).collect();
    let known: HashSet<String> = store
        .entries(&with_id, None)?
        .into_iter()
        .map(|e| e.paper.id.base().to_owned())
        .collect();
    // 2. DOIs and 3. titles of the entries without an arXiv id.
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
    // 4. Fetch what the catalog lacks, in one go.
    let missing: Vec<ArxivId> = {
        let mut seen = HashSet::new();
        with_id
            .iter()
            .filter(|id| !known.contains(id.base()) && seen.insert(id.base().to_owned()))
            .cloned()
            .collect()
    };
    let mut fetched: HashSet<String> = HashSet::new();
    let mut fetch_error = None;
    if let (Some(fetch), false) = (fetch, missing.is_empty()) {
        let t = Instant::now();
        match fetch(&missing) {
            Ok(papers) => {
                let wanted: HashSet<&str> = missing.iter().map(ArxivId::base).collect();
                let papers: Vec<Paper> = papers
                    .into_iter()
                    .filter(|p| wanted.contains(p.id.base()))
                    .collect();
                store.upsert_papers(&papers, now)?;
                fetched.extend(papers.iter().map(|p| p.id.base().to_owned()));
            }
            Err(e) => fetch_error = Some(format!("{e:#}")),
        }
        report.fetch_ms = t.elapsed().as_millis();
    }
    // The outcome of every entry, and what to save.
    let mut save: Vec<(ArxivId, Option<String>)> = Vec::new();
    for r in &references {
        if let Some(id) = &r.arxiv {
            if known.contains(id.base()) {
                report.matched.push(outcome(r, Some(id), "arXiv id"));
            } else if fetched.contains(id.base()) {
                report
                    .fetched
                    .push(outcome(r, Some(id), "fetched from arXiv"));
            } else {
                let why = match (&fetch_error, fetch.is_some()) {
                    (Some(e), _) => format!("arXiv {} could not be fetched: {e}", id.base()),
                    (None, true) => format!("arXiv has no paper {}", id.base()),
                    (None, false) => format!(
                        "arXiv {} is not in the catalog (fetching is off)",
                        id.base()
                    ),
                };
                report.unmatched.push(outcome(r, None, why));
                continue;
            }
            save.push((id.clone(), r.note.clone()));
            continue;
        }
        if let Some(id) = r.doi.as_ref().and_then(|d| by_doi.get(&d.to_lowercase())) {
            report.matched.push(outcome(r, Some(id), "DOI"));
            save.push((id.clone(), r.note.clone()));
            continue;
        }
        let key = r.title.as_deref().map(title_key).unwrap_or_default();
        match by_title.get(&key).map(Vec::as_slice) {
            Some([id]) if key.len() >= MIN_TITLE_KEY => {
                report.matched.push(outcome(r, Some(id), "title"));
                save.push((id.clone(), r.note.clone()));
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
    report.elapsed_ms = started.elapsed().as_millis();
    Ok(report)
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
    let mut out = Vec::with_capacity(items.len());
    // Oldest saved first, the order a reader expects in a file.
    for item in items.iter().rev() {
        let Some(e) = entries.iter().find(|e| e.paper.id.base() == item.paper) else {
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
