//! Live harvesting: keeps the catalog current from arXiv's interfaces.
//!
//! Three sources, all through one [`PoliteClient`] so arXiv's rules hold
//! whatever runs: [`oai`] pages through OAI-PMH `ListRecords` (the complete
//! record, incremental and crash-safe), [`rss`] reads the daily announcement
//! feeds (which papers were announced which day), and [`api`] fetches single
//! papers by id. Parsing reuses `paperhub_arxiv`; storing reuses the same
//! merge rules as `paperhub import`.

pub mod api;
pub mod oai;
pub mod rss;

use std::sync::Arc;

use anyhow::{Result, bail};
use paperhub_arxiv::{Clock, PoliteClient, Politeness};
use serde::Serialize;

use crate::config::HarvestConfig;

/// Builds the polite client from the configuration.
///
/// # Errors
/// No contact email is configured: arXiv asks every harvester to give one.
pub fn client(config: &HarvestConfig, clock: Arc<dyn Clock>) -> Result<PoliteClient> {
    if config.contact_email.trim().is_empty() {
        bail!(
            "set harvest.contact_email in paperhub.toml (or PAPERHUB__HARVEST__CONTACT_EMAIL): \
             arXiv asks harvesters to name a contact in their User-Agent"
        );
    }
    Ok(PoliteClient::new(
        Politeness {
            min_interval: config.min_interval(),
            timeout: std::time::Duration::from_secs(config.request_timeout_secs),
            max_retries: config.max_retries,
            max_backoff: std::time::Duration::from_secs(config.max_backoff_secs),
            user_agent: Politeness::user_agent_for(config.contact_email.trim()),
        },
        clock,
    ))
}

/// What a harvest did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HarvestReport {
    /// Which source ran.
    pub source: String,
    /// Requests that returned a page.
    pub pages: u64,
    /// Records read.
    pub records: u64,
    /// New papers.
    pub new: u64,
    /// Papers whose record changed.
    pub updated: u64,
    /// Papers already stored as read.
    pub unchanged: u64,
    /// Records skipped as malformed.
    pub skipped: u64,
    /// Human-readable notes (restarts, empty results).
    pub notes: Vec<String>,
}

impl HarvestReport {
    fn add(&mut self, counts: paperhub_store::UpsertCounts) {
        self.new += counts.new;
        self.updated += counts.updated;
        self.unchanged += counts.unchanged;
    }
}

/// Progress callbacks for the CLI.
pub trait HarvestObserver {
    /// A page was stored.
    fn page(&mut self, report: &HarvestReport);
    /// A record was skipped.
    fn skipped(&mut self, what: &str);
}

/// Ignores progress.
pub struct Silent;

impl HarvestObserver for Silent {
    fn page(&mut self, _: &HarvestReport) {}
    fn skipped(&mut self, _: &str) {}
}

/// Appends `key=value` query parameters, percent-encoding the values.
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = base.to_owned();
    for (i, (k, v)) in params.iter().enumerate() {
        url.push(if i == 0 && !base.contains('?') {
            '?'
        } else {
            '&'
        });
        url.push_str(k);
        url.push('=');
        for b in v.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                url.push(b as char);
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            with_query(
                "http://h/oai",
                &[("verb", "ListRecords"), ("resumptionToken", "436115|5001")]
            ),
            "http://h/oai?verb=ListRecords&resumptionToken=436115%7C5001"
        );
        assert_eq!(
            with_query("http://h/q?a=1", &[("set", "cs:cs:LG")]),
            "http://h/q?a=1&set=cs%3Acs%3ALG"
        );
    }
}
