//! OAI-PMH `ListRecords` harvesting: paged, incremental and crash-safe.
//!
//! A harvest runs over a window (`from`, `until`) of one set. Each page's
//! records are stored together with the resumption token of the next page in
//! one transaction, so a crash at any point resumes at the first page not yet
//! stored and no record is lost or stored twice. When the window completes,
//! the response date is remembered and the next harvest of the set starts
//! from it. OAI errors: `noRecordsMatch` is an empty, complete window;
//! `badResumptionToken` restarts the window (once per run); others fail the
//! run with the server's message, leaving the state where it was.

use anyhow::{Context, Result, bail};
use chrono::Utc;
use paperhub_arxiv::{OaiReader, PoliteClient, ReadError, StreamError};
use paperhub_store::{CatalogStore, HarvestState};

use super::{HarvestObserver, HarvestReport, with_query};

/// What to harvest.
#[derive(Debug, Clone)]
pub struct OaiRequest {
    /// The endpoint.
    pub base_url: String,
    /// The set, e.g. `cs`.
    pub set: String,
    /// `arXiv` or `arXivRaw`.
    pub metadata_prefix: String,
    /// Start of the window; default: the last complete harvest's date.
    pub from: Option<String>,
    /// End of the window.
    pub until: Option<String>,
}

/// Times the same malformed page is fetched again before the run fails.
const MALFORMED_RETRIES: u32 = 3;

/// Runs one harvest of `request` to the end of its window.
///
/// # Errors
/// Network failure after retries, an OAI error other than `noRecordsMatch`,
/// a page that stays malformed, or a storage error. The stored state then
/// points at the first page not stored, and the next run resumes there.
pub fn harvest(
    store: &dyn CatalogStore,
    client: &PoliteClient,
    request: &OaiRequest,
    observer: &mut dyn HarvestObserver,
) -> Result<HarvestReport> {
    let mut report = HarvestReport {
        source: "oai".into(),
        ..HarvestReport::default()
    };
    let mut state = store
        .harvest_state("oai", &request.set, &request.metadata_prefix)?
        .unwrap_or_else(|| HarvestState::new("oai", &request.set, &request.metadata_prefix));
    let explicit_window = request.from.is_some() || request.until.is_some();
    let resuming = state.resumption_token.is_some()
        && (!explicit_window
            || (state.window_from == request.from && state.window_until == request.until));
    if resuming {
        report.notes.push(format!(
            "resuming the window from {} after {} stored pages",
            state.window_from.as_deref().unwrap_or("the beginning"),
            state.pages
        ));
    } else {
        state.window_from = request.from.clone().or_else(|| state.last_complete.clone());
        state.window_until = request.until.clone();
        state.resumption_token = None;
        state.pages = 0;
    }
    let mut restarted = false;
    let mut malformed = 0;
    loop {
        let url = match &state.resumption_token {
            Some(token) => with_query(
                &request.base_url,
                &[("verb", "ListRecords"), ("resumptionToken", token)],
            ),
            None => {
                let mut params = vec![
                    ("verb", "ListRecords"),
                    ("metadataPrefix", request.metadata_prefix.as_str()),
                    ("set", request.set.as_str()),
                ];
                if let Some(from) = &state.window_from {
                    params.push(("from", from));
                }
                if let Some(until) = &state.window_until {
                    params.push(("until", until));
                }
                with_query(&request.base_url, &params)
            }
        };
        let fetched = client.get(&url)?;
        if fetched.status != 200 {
            bail!("{url}: HTTP {} from the OAI-PMH server", fetched.status);
        }
        let page = match read_page(&fetched.body) {
            Ok(page) => page,
            Err(PageError::Malformed(reason)) => {
                malformed += 1;
                if malformed > MALFORMED_RETRIES {
                    bail!(
                        "{url}: the page stayed malformed after {MALFORMED_RETRIES} retries: {reason}"
                    );
                }
                report
                    .notes
                    .push(format!("malformed page, fetching it again: {reason}"));
                continue;
            }
            Err(PageError::Oai { code, message }) => match code.as_str() {
                "badResumptionToken" if !restarted => {
                    restarted = true;
                    report.notes.push(format!(
                        "badResumptionToken ({message}); restarting the window"
                    ));
                    state.resumption_token = None;
                    state.pages = 0;
                    continue;
                }
                _ => bail!("{url}: OAI-PMH error {code}: {message}"),
            },
        };
        malformed = 0;
        report.pages += 1;
        report.records += page.papers.len() as u64;
        report.skipped += page.skipped.len() as u64;
        for skipped in &page.skipped {
            observer.skipped(&format!("{url}: {skipped}"));
        }
        state.pages += 1;
        state.resumption_token = page.next_token;
        if state.resumption_token.is_none() {
            // Window complete: the next harvest starts from this response's day.
            state.last_complete = page
                .response_day
                .or_else(|| Some(Utc::now().format("%Y-%m-%d").to_string()));
            state.window_from = None;
            state.window_until = None;
            state.pages = 0;
        }
        let counts = store
            .save_harvest_page(&page.papers, &state, Utc::now())
            .context("storing a harvested page failed; the next run resumes at this page")?;
        report.add(counts);
        observer.page(&report);
        if state.resumption_token.is_none() {
            if page.no_records {
                report
                    .notes
                    .push("noRecordsMatch: nothing new in this window".into());
            }
            return Ok(report);
        }
    }
}

/// One parsed page.
struct Page {
    papers: Vec<paperhub_domain::Paper>,
    skipped: Vec<String>,
    next_token: Option<String>,
    response_day: Option<String>,
    no_records: bool,
}

enum PageError {
    Malformed(String),
    Oai { code: String, message: String },
}

fn read_page(body: &[u8]) -> Result<Page, PageError> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    if !text.contains("<OAI-PMH") {
        return Err(PageError::Malformed(
            "the response is not an OAI-PMH document".into(),
        ));
    }
    let mut reader = OaiReader::new(body);
    let mut papers = Vec::new();
    let mut skipped = Vec::new();
    for item in reader.by_ref() {
        match item {
            Ok(paper) => papers.push(paper),
            Err(ReadError::Record(e)) => skipped.push(e.to_string()),
            Err(ReadError::Stream(StreamError::Oai { code, message })) => {
                return Err(PageError::Oai { code, message });
            }
            Err(ReadError::Stream(e)) => return Err(PageError::Malformed(e.to_string())),
        }
    }
    let envelope = reader.envelope().cloned().unwrap_or_default();
    let Some(response_date) = envelope.response_date else {
        return Err(PageError::Malformed(
            "no responseDate: the page is truncated or not a complete OAI-PMH response".into(),
        ));
    };
    let no_records = envelope
        .error
        .as_ref()
        .is_some_and(|(code, _)| code == "noRecordsMatch");
    Ok(Page {
        papers,
        skipped,
        next_token: envelope.resumption_token.map(|t| t.token),
        response_day: response_date.get(..10).map(str::to_owned),
        no_records,
    })
}
