//! `paperhub vectors export|import`: see [`crate::vectors_transfer`].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::Outcome;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::retrieval::open_vectors;
use crate::{models, vectors_transfer};

/// What `paperhub vectors` does.
#[derive(Debug, Subcommand)]
pub enum VectorsCommand {
    /// Write the model's vectors to FILE (docs/VECTORS-FORMAT.md).
    Export {
        /// The file to write.
        file: PathBuf,
    },
    /// Add the vectors in FILE (from `export`, made by the same model);
    /// `paperhub index` then skips those papers.
    Import {
        /// The file to read.
        file: PathBuf,
    },
}

/// Runs `paperhub vectors …`.
///
/// # Errors
/// No model, a file that is not a vectors file or is another model's, or
/// the catalog or index cannot be read or written.
pub fn run(data_dir: &DataDir, config: &Config, command: &VectorsCommand) -> Result<Outcome> {
    let dir = models::locate(&config.embedding, data_dir).context(
        "no embedding model yet: `paperhub model fetch` fetches the default one (vectors belong to a model)",
    )?;
    let embedder = models::load(&config.embedding, &dir)?;
    let mut vectors = open_vectors(data_dir, &embedder)?;
    match command {
        VectorsCommand::Export { file } => {
            let done = vectors_transfer::export(&vectors, file)?;
            println!(
                "Exported {} vectors of model {} ({} dimensions) to {} ({} bytes).",
                done.rows,
                vectors.model(),
                vectors.dims(),
                file.display(),
                done.bytes
            );
        }
        VectorsCommand::Import { file } => {
            let store = crate::app::store::open(data_dir, &config.database)?;
            let bar = crate::progress::progress_bar(0, "{pos}/{len} vectors read, ETA {eta}");
            let done =
                vectors_transfer::import(store.as_ref(), &mut vectors, file, &mut |read, rows| {
                    bar.set_length(rows);
                    bar.set_position(read);
                })?;
            bar.finish_and_clear();
            println!(
                "Imported {} of {} vectors in {:.1} s ({:.1} s adding them to the HNSW graph); \
                 {} for papers not in the catalog, {} already current here and {} invalid were \
                 skipped. {} vectors in total.",
                done.stored,
                done.rows,
                done.seconds,
                done.graph_seconds,
                done.not_in_catalog,
                done.already_current,
                done.invalid,
                vectors.len()
            );
            if done.stored == 0 && done.rows > done.already_current {
                return Ok(Outcome::Unsuccessful);
            }
        }
    }
    Ok(Outcome::Success)
}
