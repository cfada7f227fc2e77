//! `paperhub papers show`: one paper from the catalog.

use std::io::Write;

use anyhow::{Context, Result};
use paperhub_domain::{ArxivId, Paper};

use super::Outcome;
use crate::config::Config;
use crate::data_dir::DataDir;

/// Subcommands of `paperhub papers`.
#[derive(Debug, clap::Subcommand)]
pub enum PapersCommand {
    /// Show one paper by arXiv id (2101.00001, hep-th/9901001, arXiv:…, or an abs/pdf URL).
    Show {
        /// The paper's arXiv id or URL.
        id: String,
        /// Print the paper as JSON: {"paper": {...}}.
        #[arg(long)]
        json: bool,
    },
}

/// The JSON shape of a paper: the stored fields plus its links.
pub fn paper_json(paper: &Paper) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(paper)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("abs_url".into(), paper.abs_url().into());
        object.insert("pdf_url".into(), paper.pdf_url().into());
    }
    Ok(value)
}

fn print_paper(paper: &Paper, out: &mut dyn Write) -> std::io::Result<()> {
    let version = paper.version.map(|v| format!("v{v}")).unwrap_or_default();
    writeln!(out, "{}{version}  {}", paper.id, paper.title)?;
    let authors: Vec<&str> = paper.authors.iter().map(|a| a.name.as_str()).collect();
    writeln!(out, "Authors:    {}", authors.join(", "))?;
    writeln!(out, "Categories: {}", paper.categories.join(" "))?;
    let day = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    writeln!(out, "Submitted:  {}", day(paper.submitted))?;
    writeln!(out, "Updated:    {}", day(paper.updated))?;
    if let Some(announced) = paper.announced {
        writeln!(out, "Announced:  {announced}")?;
    }
    let optional = [
        ("Comments:  ", &paper.comments),
        ("Journal:   ", &paper.journal_ref),
        ("DOI:       ", &paper.doi),
        ("Report-no: ", &paper.report_no),
        ("License:   ", &paper.license),
        ("Code:      ", &paper.code_url),
    ];
    for (label, value) in optional {
        if let Some(value) = value {
            writeln!(out, "{label} {value}")?;
        }
    }
    writeln!(out, "Abstract:   {}", paper.abs_url())?;
    writeln!(out, "PDF:        {}", paper.pdf_url())?;
    writeln!(out)?;
    writeln!(out, "{}", paper.abstract_text)
}

/// Runs `paperhub papers …`.
///
/// # Errors
/// The catalog cannot be read.
pub fn run(data_dir: &DataDir, config: &Config, command: &PapersCommand) -> Result<Outcome> {
    match command {
        PapersCommand::Show { id, json } => {
            let id: ArxivId = id.parse().context("not an arXiv id")?;
            let store = crate::app::store::open(data_dir, &config.database)?;
            let Some(paper) = store.paper(&id)? else {
                eprintln!("error: paper {id} is not in the catalog; import it first");
                return Ok(Outcome::Unsuccessful);
            };
            let mut out = std::io::stdout().lock();
            if *json {
                let value = serde_json::json!({ "paper": paper_json(&paper)? });
                serde_json::to_writer_pretty(&mut out, &value)?;
                writeln!(out)?;
            } else {
                print_paper(&paper, &mut out)?;
            }
            Ok(Outcome::Success)
        }
    }
}
