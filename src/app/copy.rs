//! `paperhub store copy`: moves a whole hub from one store to another
//! (SQLite to PostgreSQL when a hub grows to several nodes, and back), and
//! proves the copy is whole.
//!
//! Every table of `paperhub_store::copy::TABLES` is read in key order in
//! batches and written in one transaction per batch; rows the destination
//! already has are skipped, so a copy that was stopped simply runs again.
//! Then both sides are read once more and compared: row counts, and a
//! SHA-256 over every row's values (instants at their column's precision).
//! The signing key goes along, so sessions, CSRF tokens and the links in
//! mails already sent keep working.

use std::path::Path;

use anyhow::{Context, Result, bail};
use paperhub_store::Store;
use paperhub_store::copy::{TABLES, Table, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::secrets::Secrets;

/// Rows per batch.
const BATCH: u32 = 2_000;

/// What happened to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows written now.
    pub copied: u64,
    /// Rows the destination had already (a resumed copy).
    pub already_there: u64,
    /// Rows in the destination afterwards.
    pub destination_rows: u64,
    /// SHA-256 of the source's rows.
    pub source_sha256: String,
    /// SHA-256 of the destination's rows; equal to the source's.
    pub destination_sha256: String,
}

/// The whole copy.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    /// Per table, in copy order.
    pub tables: Vec<TableReport>,
    /// Whether the signing key went along (or the destination had the same).
    pub signing_key: &'static str,
}

/// Where a store is, as `paperhub store copy` names it.
#[derive(Debug, Clone, Copy)]
pub struct Ends<'a> {
    /// The source's URL.
    pub from: &'a str,
    /// The destination's URL.
    pub to: &'a str,
}

/// Copies every table of `from` into `to` and verifies the result, then
/// gives the destination the source's signing key; `on_batch` hears of
/// each batch (table, rows so far).
///
/// # Errors
/// A store fails; the destination does not match the source after the
/// copy (a row the destination refused); or the destination already signs
/// with another key.
pub fn copy(
    from: &dyn Store,
    to: &dyn Store,
    ends: Ends<'_>,
    on_batch: &mut dyn FnMut(&str, u64),
) -> Result<CopyReport> {
    let mut tables = Vec::new();
    for table in TABLES {
        let mut offset = 0;
        let (mut copied, mut seen) = (0, 0);
        loop {
            let rows = from
                .export_rows(table, offset, BATCH)
                .with_context(|| format!("reading {} from the source", table.name))?;
            if rows.is_empty() {
                break;
            }
            offset += rows.len() as u64;
            seen += rows.len() as u64;
            copied += to
                .import_rows(table, &rows)
                .with_context(|| format!("writing {} to the destination", table.name))?;
            on_batch(table.name, seen);
        }
        tables.push(TableReport {
            table: table.name,
            source_rows: seen,
            copied,
            already_there: seen - copied,
            destination_rows: 0,
            source_sha256: String::new(),
            destination_sha256: String::new(),
        });
    }
    to.finish_import()
        .context("moving the destination's id sequences")?;
    for (table, report) in TABLES.iter().zip(&mut tables) {
        report.source_sha256 = checksum(from, table)?;
        report.destination_sha256 = checksum(to, table)?;
        report.destination_rows = to.count_rows(table)?;
        if report.destination_rows != report.source_rows
            || report.destination_sha256 != report.source_sha256
        {
            bail!(
                "{}: the destination differs from the source after the copy ({} rows there, {} here); \
                 was it written to meanwhile, or did it refuse a row?",
                table.name,
                report.source_rows,
                report.destination_rows
            );
        }
    }
    let signing_key = move_signing_key(from, to, ends)?;
    Ok(CopyReport {
        tables,
        signing_key,
    })
}

/// SHA-256 over every row of `table` in key order.
fn checksum(store: &dyn Store, table: &Table) -> Result<String> {
    let mut digest = Sha256::new();
    let mut offset = 0;
    loop {
        let rows = store.export_rows(table, offset, BATCH)?;
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as u64;
        for row in rows {
            for (value, column) in row.into_iter().zip(table.columns) {
                hash_value(&mut digest, &value.canonical(column.kind));
            }
            digest.update(b"\n");
        }
    }
    Ok(crate::secrets::hex(&digest.finalize()))
}

fn hash_value(digest: &mut Sha256, value: &Value) {
    let (tag, bytes): (u8, Vec<u8>) = match value {
        Value::Null => (0, Vec::new()),
        Value::Int(n) => (1, n.to_le_bytes().to_vec()),
        Value::Text(s) => (2, s.as_bytes().to_vec()),
        Value::Bytes(b) => (3, b.clone()),
        Value::Bool(b) => (4, vec![u8::from(*b)]),
        Value::Time(t) => (5, t.timestamp_micros().to_le_bytes().to_vec()),
        Value::Date(d) => (6, d.to_string().into_bytes()),
    };
    digest.update([tag]);
    digest.update((bytes.len() as u64).to_le_bytes());
    digest.update(&bytes);
}

/// The directory of a `sqlite:PATH` store, where its `secret.key` lives.
fn sqlite_dir(url: &str) -> Option<&Path> {
    let path = Path::new(url.strip_prefix("sqlite:")?);
    Some(path.parent().unwrap_or(Path::new(".")))
}

/// The source's signing key goes with its data: read from `secret.key`
/// beside a SQLite file, or from a shared database; stored in the
/// destination database, or written beside the destination SQLite file.
fn move_signing_key(from: &dyn Store, to: &dyn Store, ends: Ends<'_>) -> Result<&'static str> {
    let source = match sqlite_dir(ends.from) {
        Some(dir) if dir.join("secret.key").exists() => Some(Secrets::load_or_create(dir)?),
        Some(_) => None,
        // A shared database keeps its key; one no node ever used gets this
        // random one, which is as good as none.
        None => from
            .shared_signing_key(&crate::secrets::random_bytes::<32>()?)?
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            .map(Secrets::from_key),
    };
    let Some(source) = source else {
        return Ok("not copied: the source has no signing key");
    };
    let kept = match to.shared_signing_key(source.key())? {
        Some(stored) => stored == source.key(),
        None => match sqlite_dir(ends.to) {
            Some(dir) => Secrets::load_or_adopt(dir, *source.key())?.key() == source.key(),
            None => bail!("the destination keeps no signing key"),
        },
    };
    if !kept {
        bail!(
            "the destination has a signing key of its own: sessions and the links in mails \
             already sent would stop working after the move. Copy into a new, empty database"
        );
    }
    Ok("copied")
}
