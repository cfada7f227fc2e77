//! Daily announcement feeds: which papers arXiv announced on which day.
//!
//! One request fetches the feed for all configured categories
//! (`<base>/cs.AI+cs.LG`). New and cross-listed papers get the feed's day as
//! their announcement date, which the daily lists show; the merge rules keep
//! the earliest date, so re-reading a feed changes nothing. An empty feed
//! (weekends, holidays) is a normal, empty result.

use anyhow::{Result, bail};
use chrono::Utc;
use paperhub_arxiv::{AnnounceType, PoliteClient, ReadError, RssReader};
use paperhub_store::CatalogStore;

use super::{HarvestObserver, HarvestReport};

/// Fetches and stores the announcement feed for `categories`.
///
/// # Errors
/// Network failure after retries, a non-200 answer, a feed that is not RSS,
/// or a storage error.
pub fn harvest(
    store: &dyn CatalogStore,
    client: &PoliteClient,
    base_url: &str,
    categories: &[String],
    observer: &mut dyn HarvestObserver,
) -> Result<HarvestReport> {
    if categories.is_empty() {
        bail!("no categories configured (harvest.categories)");
    }
    let url = format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        categories.join("+")
    );
    let fetched = client.get(&url)?;
    if fetched.status != 200 {
        bail!("{url}: HTTP {}", fetched.status);
    }
    if !String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(4096)]).contains("<rss") {
        bail!("{url}: the response is not an RSS feed");
    }
    let mut report = HarvestReport {
        source: "rss".into(),
        pages: 1,
        ..HarvestReport::default()
    };
    let mut reader = RssReader::new(&fetched.body[..]);
    let mut papers = Vec::new();
    let mut by_type = [0u64; 4];
    for item in reader.by_ref() {
        match item {
            Ok(announcement) => {
                let slot = match announcement.announce_type {
                    AnnounceType::New => 0,
                    AnnounceType::Cross => 1,
                    AnnounceType::Replace => 2,
                    AnnounceType::ReplaceCross => 3,
                };
                by_type[slot] += 1;
                papers.push(announcement.paper);
            }
            Err(ReadError::Record(e)) => {
                report.skipped += 1;
                observer.skipped(&format!("{url}: {e}"));
            }
            Err(ReadError::Stream(e)) => bail!("{url}: {e}"),
        }
    }
    let day = reader.announcement_day();
    report.records = papers.len() as u64;
    if papers.is_empty() {
        report.notes.push(format!(
            "no announcements for {} (weekend or holiday)",
            day.map_or_else(|| "this day".to_owned(), |d| d.to_string())
        ));
    } else {
        report.notes.push(format!(
            "announced {}: {} new, {} cross-lists, {} replacements, {} cross-list replacements",
            day.map_or_else(|| "(no date)".to_owned(), |d| d.to_string()),
            by_type[0],
            by_type[1],
            by_type[2],
            by_type[3]
        ));
    }
    let counts = store.upsert_papers(&papers, Utc::now())?;
    report.add(counts);
    observer.page(&report);
    Ok(report)
}
