//! `paperhub bench library`: importing a large bibliography, without arXiv
//! fetches (the target: 5,000 entries in under 10 s).
//!
//! The file is built from the catalog's own papers, as exports look: most
//! entries carry an arXiv eprint, some only an arxiv.org URL, some only a
//! title; a tenth match nothing and a few are broken. It is written in
//! each format, then imported into a scratch collection of a bench account
//! (made once, unable to log in) through the same use case the CLI and
//! the web call, timing reading and matching, and saving, apart.

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;
use paperhub_domain::bib::{Format, Reference};
use paperhub_store::StoreError;

use crate::app::library::LIMITS;
use crate::app::library_import::{self as lib, Fetched};
use crate::config::Config;
use crate::data_dir::DataDir;

/// Arguments of `paperhub bench library`.
#[derive(Debug, clap::Args)]
pub struct LibraryBenchArgs {
    /// Entries in the generated file.
    #[arg(long, default_value_t = 5000)]
    pub entries: usize,
}

const ACCOUNT: &str = "bench-library";
const COLLECTION: &str = "bench-import";

/// Runs the benchmark and prints one line per format.
///
/// # Errors
/// The catalog is too small, or the store fails.
pub fn library(data_dir: &DataDir, config: &Config, args: &LibraryBenchArgs) -> Result<()> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    let papers: Vec<_> = store
        .changed_papers(None, u32::try_from(args.entries).unwrap_or(u32::MAX))?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    anyhow::ensure!(
        papers.len() >= args.entries.min(100),
        "the catalog has {} papers; import some first",
        papers.len()
    );
    let refs: Vec<Reference> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut r = Reference {
                key: format!("e{i}"),
                title: Some(p.title.clone()),
                authors: p.authors.iter().take(5).map(|a| a.name.clone()).collect(),
                year: Some("2025".into()),
                arxiv: Some(p.id.clone()),
                note: (i % 7 == 0).then(|| format!("note {i}")),
                ..Reference::default()
            };
            match i % 20 {
                // Only a URL.
                0..=2 => {
                    r.arxiv = None;
                    r.url = Some(format!("https://arxiv.org/abs/{}", p.id.base()));
                }
                // Only a title.
                3 | 4 => r.arxiv = None,
                // Nothing the catalog has.
                5 | 6 => {
                    r.arxiv = None;
                    r.title = Some(format!("An unpublished work number {i}"));
                }
                _ => {}
            }
            r
        })
        .collect();
    let user = match store.user_by_name(ACCOUNT)? {
        Some(u) => u,
        None => store.create_user(ACCOUNT, None, "!bench account", Utc::now())?,
    };
    println!(
        "Importing {} entries (80% by arXiv id or URL, 10% by title, 10% unmatched) into a scratch collection, no arXiv fetches:",
        refs.len()
    );
    for format in [Format::Bibtex, Format::Ris, Format::CslJson] {
        let mut text = format.write(&refs);
        if format == Format::Bibtex {
            text.push_str("@article{broken,\n  title = {Unclosed\n");
        }
        if let Some(old) = store.collection(user.id, COLLECTION)? {
            store.delete_collection(user.id, old.id)?;
        }
        let target = match store.create_collection(
            user.id,
            COLLECTION,
            "Bench",
            false,
            LIMITS,
            Utc::now(),
        ) {
            Ok(c) => c,
            Err(StoreError::Conflict { .. }) => store
                .collection(user.id, COLLECTION)?
                .context("the bench collection vanished")?,
            Err(e) => return Err(e.into()),
        };
        let t = Instant::now();
        let plan = lib::plan(store.as_ref(), format, &text)?;
        let matched_ms = t.elapsed().as_secs_f64() * 1000.0;
        let t2 = Instant::now();
        let report = lib::finish(
            store.as_ref(),
            plan,
            Fetched::Off,
            user.id,
            Some(target.id),
            Utc::now(),
        )?;
        let saved_ms = t2.elapsed().as_secs_f64() * 1000.0;
        println!(
            "  {:<4} {:>7} bytes: read and matched in {:>7.1} ms, saved in {:>7.1} ms, total {:>6.2} s; {} matched, {} unmatched, {} unreadable, {} added",
            format.extension(),
            text.len(),
            matched_ms,
            saved_ms,
            (matched_ms + saved_ms) / 1000.0,
            report.matched.len(),
            report.unmatched.len(),
            report.bad.len(),
            report.added
        );
    }
    Ok(())
}
