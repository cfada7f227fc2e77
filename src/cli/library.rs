//! `paperhub library`: import a BibTeX, RIS or CSL-JSON file into a user's
//! library, and export a collection in any of those formats. The rules are
//! the web's ([`crate::app::library_import`]).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Subcommand, ValueEnum};
use paperhub_domain::bib::Format;
use paperhub_store::{Collection, Store, User};

use super::Outcome;
use crate::app::library_import::{self, ImportReport};
use crate::config::Config;
use crate::data_dir::DataDir;

/// A bibliography format on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// BibTeX / BibLaTeX.
    Bib,
    /// RIS.
    Ris,
    /// CSL-JSON.
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Bib => Format::Bibtex,
            FormatArg::Ris => Format::Ris,
            FormatArg::Json => Format::CslJson,
        }
    }
}

/// `paperhub library` subcommands.
#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// Import a bibliography (a Zotero, Mendeley or JabRef export) into a
    /// user's library: entries are matched by arXiv id, then DOI, then
    /// title; unknown arXiv ids are fetched from arXiv. Prints every entry
    /// that did not match, with its line and why.
    Import {
        /// The account.
        #[arg(long)]
        user: String,
        /// The collection's slug [default: the reading list].
        #[arg(long)]
        collection: Option<String>,
        /// The format [default: from the file name or its first bytes].
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Do not ask arXiv for papers the catalog lacks.
        #[arg(long)]
        no_fetch: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The file (- for stdin).
        file: PathBuf,
    },
    /// Export a collection, with notes.
    Export {
        /// The account.
        #[arg(long)]
        user: String,
        /// The collection's slug [default: the reading list].
        #[arg(long)]
        collection: Option<String>,
        /// The format.
        #[arg(long, value_enum, default_value = "bib")]
        format: FormatArg,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn account(store: &dyn Store, name: &str) -> Result<User> {
    store
        .user_by_name(name)?
        .with_context(|| format!("there is no account named {name:?}"))
}

fn collection(store: &dyn Store, user: &User, slug: Option<&str>) -> Result<Option<Collection>> {
    let Some(slug) = slug else {
        return Ok(None);
    };
    match store.collection(user.id, slug)? {
        Some(c) => Ok(Some(c)),
        None => bail!("{} has no collection {slug:?}", user.username),
    }
}

/// Runs `paperhub library`.
///
/// # Errors
/// The account, collection or file does not exist, or the store fails.
pub fn run(data_dir: &DataDir, config: &Config, command: &LibraryCommand) -> Result<Outcome> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    match command {
        LibraryCommand::Import {
            user,
            collection: slug,
            format,
            no_fetch,
            json,
            file,
        } => {
            let user = account(store.as_ref(), user)?;
            let target = collection(store.as_ref(), &user, slug.as_deref())?;
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s)
                    .context("reading stdin")?;
                s
            } else {
                let bytes = fs_err::read(file)?;
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let format = format.map_or_else(
                || Format::detect(&file.to_string_lossy(), &text),
                Format::from,
            );
            let client = if *no_fetch {
                None
            } else {
                Some(crate::harvest::client(
                    &config.harvest,
                    Arc::new(paperhub_arxiv::SystemClock),
                )?)
            };
            let base_url = config.harvest.api_base_url.clone();
            let fetcher =
                |ids: &[paperhub_domain::ArxivId]| -> Result<Vec<paperhub_domain::Paper>> {
                    match &client {
                        Some(c) => crate::harvest::api::fetch_ids(c, &base_url, ids),
                        None => Ok(Vec::new()),
                    }
                };
            let fetch: Option<library_import::Fetch<'_>> = client
                .as_ref()
                .map(|_| &fetcher as library_import::Fetch<'_>);
            let report = library_import::import(
                store.as_ref(),
                fetch,
                user.id,
                target.map(|c| c.id),
                format,
                &text,
                Utc::now(),
            )?;
            print_report(&report, *json)?;
            let usable = report.matched.len() + report.fetched.len();
            Ok(
                if usable == 0 && (!report.unmatched.is_empty() || !report.bad.is_empty()) {
                    Outcome::Unsuccessful
                } else {
                    Outcome::Success
                },
            )
        }
        LibraryCommand::Export {
            user,
            collection: slug,
            format,
            output,
        } => {
            let user = account(store.as_ref(), user)?;
            let target = match collection(store.as_ref(), &user, slug.as_deref())? {
                Some(c) => c,
                None => store
                    .collection(user.id, paperhub_store::READING_LIST.0)?
                    .with_context(|| format!("{} has saved nothing yet", user.username))?,
            };
            let refs = library_import::export(store.as_ref(), target.id)?;
            let text = Format::from(*format).write(&refs);
            match output {
                Some(path) => fs_err::write(path, text)?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
            eprintln!("Exported {} papers from {}.", refs.len(), target.slug);
            Ok(Outcome::Success)
        }
    }
}

fn print_report(report: &ImportReport, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "Imported into {}: {} matched, {} fetched from arXiv, {} unmatched, {} unreadable; {} added, {} already there{} in {:.1} s ({:.1} s waiting on arXiv).",
        report.collection,
        report.matched.len(),
        report.fetched.len(),
        report.unmatched.len(),
        report.bad.len(),
        report.added,
        report.already,
        if report.over_limit > 0 {
            format!(", {} left out (the collection is full)", report.over_limit)
        } else {
            String::new()
        },
        report.elapsed_ms as f64 / 1000.0,
        report.fetch_ms as f64 / 1000.0,
    )?;
    for u in &report.unmatched {
        writeln!(out, "line {}: {}: unmatched: {}", u.line, u.key, u.how)?;
    }
    for b in &report.bad {
        writeln!(
            out,
            "line {}: {}: skipped: {}",
            b.line,
            b.key.as_deref().unwrap_or("(no key)"),
            b.reason
        )?;
    }
    Ok(())
}
