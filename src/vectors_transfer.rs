//! Moving one model's vectors between hubs (`paperhub vectors export` and
//! `import`), so an operator can embed on a bigger machine and ship the
//! result: embedding all of arXiv takes days on two cores.
//!
//! The file is [`paperhub_search::vectors_file`]'s (format described in
//! docs/VECTORS-FORMAT.md). An import refuses another model's vectors or
//! another dimension before reading a row. Each imported row is recorded
//! as embedding its paper's current catalog change, so `paperhub index`
//! skips those papers afterwards; rows for papers the catalog lacks, and
//! rows that are not finite or are all zero, are skipped and counted.

use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use paperhub_search::VectorIndex;
use paperhub_search::vectors_file::{Reader, Writer};
use paperhub_store::CatalogStore;

/// Rows between commits of an import: a kill loses at most this many.
const IMPORT_COMMIT: usize = 100_000;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Rows written.
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// Writes every current vector of `vectors` to `path` (through a
/// temporary file renamed into place, so a reader never sees half a file).
///
/// # Errors
/// The file cannot be written.
pub fn export(vectors: &VectorIndex, path: &Path) -> Result<Exported> {
    let keys: Vec<&str> = vectors.live_keys().collect();
    let tmp = path.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut writer = Writer::start(
        BufWriter::with_capacity(1 << 20, file),
        vectors.model(),
        vectors.dims(),
        &keys,
    )
    .with_context(|| format!("writing {}", tmp.display()))?;
    for (_, row) in vectors.live_rows() {
        writer
            .row(&row)
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    let file = writer
        .finish()
        .with_context(|| format!("writing {}", tmp.display()))?
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", tmp.display(), e.error()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Exported {
        rows: keys.len() as u64,
        bytes: std::fs::metadata(path)?.len(),
    })
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    /// Rows in the file.
    pub rows: u64,
    /// Rows stored.
    pub stored: u64,
    /// Rows for papers the catalog does not have.
    pub not_in_catalog: u64,
    /// Rows with a value that is not finite, or all zeros.
    pub invalid: u64,
    /// Rows for papers whose vector here already embeds their current text.
    pub already_current: u64,
    /// Seconds spent adding the rows to the HNSW graph (in the commits).
    pub graph_seconds: f64,
    /// Seconds in all.
    pub seconds: f64,
}

/// Reads `path` into `vectors`, which must be the index of the model that
/// made the file. `progress` is called after each commit with (rows read,
/// rows in the file).
///
/// # Errors
/// The file is not a valid vectors file, is another model's or dimension,
/// or the catalog or the index cannot be read or written.
pub fn import(
    store: &dyn CatalogStore,
    vectors: &mut VectorIndex,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Imported> {
    let started = Instant::now();
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata()?.len();
    // The model is checked on the header, before a key is read.
    let (model, dims) = (vectors.model().to_owned(), vectors.dims());
    let other_model = std::cell::Cell::new(false);
    let mut reader = Reader::open_expecting(
        BufReader::with_capacity(1 << 20, file),
        Some(len),
        |header| {
            if header.model == model && header.dims == dims {
                return Ok(());
            }
            other_model.set(true);
            Err(format!(
                "it holds vectors of model {} with {} dimensions, but this hub's model is {model} \
                 with {dims} dimensions: vectors of different models cannot be compared. Export \
                 them again with the same model (`paperhub model info` shows its fingerprint)",
                header.model, header.dims
            ))
        },
    )
    .with_context(|| {
        if other_model.get() {
            format!("{} cannot be imported", path.display())
        } else {
            format!("{} is not a paperhub vectors file", path.display())
        }
    })?;
    let header = reader.header().clone();
    let positions = catalog_positions(store)?;
    let mut report = Imported {
        rows: header.count,
        ..Imported::default()
    };
    let payload = vectors.payload().map(str::to_owned);
    let mut row = vec![0.0f32; header.dims];
    let mut since_commit = 0usize;
    let commit = |vectors: &mut VectorIndex, report: &mut Imported| -> Result<()> {
        let t = Instant::now();
        vectors.commit(payload.as_deref())?;
        report.graph_seconds += t.elapsed().as_secs_f64();
        Ok(())
    };
    let mut read = 0u64;
    while let Some(key) = reader
        .next_row(&mut row)
        .with_context(|| format!("reading {}", path.display()))?
    {
        read += 1;
        let Some(&position) = positions.get(key) else {
            report.not_in_catalog += 1;
            continue;
        };
        // A vector this hub made of the paper's current text stays: the
        // file's may embed an older version.
        if vectors.seq(key).is_some_and(|seq| seq >= position) {
            report.already_current += 1;
            continue;
        }
        let norm = row
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if !norm.is_finite() || norm == 0.0 {
            report.invalid += 1;
            continue;
        }
        // Unit length, as the index's inner products assume.
        row.iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
        if row.iter().any(|x| !x.is_finite()) {
            report.invalid += 1;
            continue;
        }
        vectors.upsert(key, &row, position)?;
        report.stored += 1;
        since_commit += 1;
        if since_commit == IMPORT_COMMIT {
            commit(vectors, &mut report)?;
            since_commit = 0;
            progress(read, header.count);
        }
    }
    commit(vectors, &mut report)?;
    vectors.save_graph()?;
    progress(read, header.count);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Every paper's key (as the vector index writes it) and latest change.
fn catalog_positions(store: &dyn CatalogStore) -> Result<std::collections::HashMap<String, i64>> {
    let mut out = std::collections::HashMap::new();
    crate::indexing::for_each_changed_day(store, None, |c| {
        out.insert(c.id.to_string(), c.position.0);
    })?;
    Ok(out)
}
