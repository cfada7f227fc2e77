//! The arXiv API: single papers by id, and searches.
//!
//! Ids are fetched in batches of 100 (`id_list`), which is how a submitted
//! paper that is not in the catalog yet gets its metadata. Both Atom formats
//! parse through `paperhub_arxiv`; the error feed arXiv sends with HTTP 400
//! becomes an error carrying arXiv's own message.

use anyhow::{Result, bail};
use chrono::Utc;
use paperhub_arxiv::{AtomReader, PoliteClient, ReadError};
use paperhub_domain::{ArxivId, Paper};
use paperhub_store::CatalogStore;

use super::{HarvestObserver, HarvestReport, with_query};

/// Ids per `id_list` request.
const BATCH: usize = 100;

/// What to ask the API for.
#[derive(Debug, Clone)]
pub enum ApiQuery {
    /// These papers.
    Ids(Vec<ArxivId>),
    /// A `search_query`, newest first, up to `max` results.
    Search {
        /// The query, e.g. `cat:cs.LG AND ti:diffusion`.
        query: String,
        /// Results to fetch at most.
        max: u64,
    },
}

/// Runs `query` against the API at `base_url` and stores the papers.
///
/// # Errors
/// Network failure after retries, an API error feed, or a storage error.
pub fn harvest(
    store: &dyn CatalogStore,
    client: &PoliteClient,
    base_url: &str,
    query: &ApiQuery,
    observer: &mut dyn HarvestObserver,
) -> Result<HarvestReport> {
    let mut report = HarvestReport {
        source: "api".into(),
        ..HarvestReport::default()
    };
    match query {
        ApiQuery::Ids(ids) => {
            for chunk in ids.chunks(BATCH) {
                fetch_page(
                    store,
                    client,
                    &ids_url(base_url, chunk),
                    &mut report,
                    observer,
                )?;
            }
        }
        ApiQuery::Search { query, max } => {
            let mut start = 0u64;
            while start < *max {
                let size = (*max - start).min(BATCH as u64).to_string();
                let url = with_query(
                    base_url,
                    &[
                        ("search_query", query),
                        ("start", &start.to_string()),
                        ("max_results", &size),
                        ("sortBy", "submittedDate"),
                        ("sortOrder", "descending"),
                    ],
                );
                let (got, total) = fetch_page(store, client, &url, &mut report, observer)?;
                start += BATCH as u64;
                if got == 0 || total.is_some_and(|t| start >= t) {
                    break;
                }
            }
        }
    }
    Ok(report)
}

/// Fetches papers by id without a store: for callers that must not hold a
/// store connection while arXiv is asked (a submission waits seconds on
/// the polite client; see #13). Ids arXiv does not know are left out.
///
/// # Errors
/// Network failure after retries, or an API error feed.
pub fn fetch_ids(client: &PoliteClient, base_url: &str, ids: &[ArxivId]) -> Result<Vec<Paper>> {
    let mut report = HarvestReport::default();
    let mut papers = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let url = ids_url(base_url, chunk);
        papers.extend(read_page(client, &url, &mut report, &mut super::Silent)?.0);
    }
    Ok(papers)
}

/// The API request for one batch of ids.
fn ids_url(base_url: &str, ids: &[ArxivId]) -> String {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    with_query(
        base_url,
        &[
            ("id_list", &list.join(",")),
            ("max_results", &ids.len().to_string()),
        ],
    )
}

/// Fetches one feed page; returns entries read and `totalResults`.
fn fetch_page(
    store: &dyn CatalogStore,
    client: &PoliteClient,
    url: &str,
    report: &mut HarvestReport,
    observer: &mut dyn HarvestObserver,
) -> Result<(u64, Option<u64>)> {
    let (papers, total) = read_page(client, url, report, observer)?;
    report.pages += 1;
    report.records += papers.len() as u64;
    report.add(store.upsert_papers(&papers, Utc::now())?);
    observer.page(report);
    Ok((papers.len() as u64, total))
}

/// Fetches and parses one feed page; skipped records are counted in `report`.
fn read_page(
    client: &PoliteClient,
    url: &str,
    report: &mut HarvestReport,
    observer: &mut dyn HarvestObserver,
) -> Result<(Vec<Paper>, Option<u64>)> {
    let fetched = client.get(url)?;
    let mut reader = AtomReader::new(&fetched.body[..]);
    let mut papers = Vec::new();
    for item in reader.by_ref() {
        match item {
            Ok(paper) => papers.push(paper),
            Err(ReadError::Record(e)) => {
                report.skipped += 1;
                observer.skipped(&format!("{url}: {e}"));
            }
            Err(ReadError::Stream(e)) => bail!("{e}"),
        }
    }
    if fetched.status != 200 {
        bail!("{url}: HTTP {} from the arXiv API", fetched.status);
    }
    let total = reader.envelope().and_then(|e| e.total_results);
    Ok((papers, total))
}
