//! `paperhub store`: moving a hub between stores.

use anyhow::{Result, bail};
use clap::Subcommand;

use super::Outcome;
use crate::app::copy::{self, CopyReport};
use crate::app::store::open_url;
use crate::config::Config;

/// `paperhub store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every table from one store to another, then verify counts and
    /// checksums. Stores are `sqlite:PATH` or `postgres://user@host/db`.
    /// The destination should be new or a copy stopped earlier (rows it
    /// has are skipped, so the command can simply run again); no hub may
    /// write to either store meanwhile.
    Copy {
        /// Where the hub is now.
        #[arg(long)]
        from: String,
        /// Where it goes.
        #[arg(long)]
        to: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `paperhub store`.
///
/// # Errors
/// A store cannot be opened, or the copy fails or does not verify.
pub fn run(config: &Config, command: &StoreCommand) -> Result<Outcome> {
    match command {
        StoreCommand::Copy { from, to, json } => {
            if from == to {
                bail!("--from and --to are the same store");
            }
            let pool = config.database.pool_size;
            let source = open_url(from, pool)?;
            let destination = open_url(to, pool)?;
            let mut last = String::new();
            let report = copy::copy(
                source.as_ref(),
                destination.as_ref(),
                copy::Ends { from, to },
                &mut |table, rows| {
                    if !*json && table != last {
                        eprintln!("copying {table}");
                        last = table.to_owned();
                    }
                    tracing::debug!(table, rows, "copied a batch");
                },
            )?;
            print(&report, *json)?;
            Ok(Outcome::Success)
        }
    }
}

fn print(report: &CopyReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!(
        "{:<22} {:>10} {:>10} {:>10}  checksum",
        "table", "rows", "copied", "had"
    );
    for t in &report.tables {
        println!(
            "{:<22} {:>10} {:>10} {:>10}  {} (equal)",
            t.table,
            t.source_rows,
            t.copied,
            t.already_there,
            &t.source_sha256[..16]
        );
    }
    println!("signing key: {}", report.signing_key);
    Ok(())
}
