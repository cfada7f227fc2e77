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

/// Copies every table of `from` into `to` and verifies the result;
/// `on_batch` hears of each batch (table, rows so far).
///
/// # Errors
/// A store fails, or the destination does not match the source after the
/// copy (a row the destination refused, such as two addresses that differ
/// only in case where one store ignores case and the other does not).
pub fn copy(
    from: &dyn Store,
    to: &dyn Store,
    signing_key: Option<&Secrets>,
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
    let signing_key = match signing_key {
        None => "not copied: the source's key is not at hand",
        Some(secrets) => match to.shared_signing_key(secrets.key())? {
            None => "not copied: the destination keeps its key in its data directory",
            Some(stored) if stored == secrets.key() => "copied",
            Some(_) => bail!(
                "the destination has a signing key of its own: sessions and the links in mails \
                 already sent would stop working after the move. Copy into a new, empty database"
            ),
        },
    };
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

/// The signing key of the hub whose store `url` names, when it is at hand:
/// for `sqlite:PATH`, the `secret.key` beside the database file.
///
/// # Errors
/// The key file exists but cannot be read.
pub fn local_signing_key(url: &str) -> Result<Option<Secrets>> {
    let Some(path) = url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let dir = Path::new(path).parent().unwrap_or(Path::new("."));
    if !dir.join("secret.key").exists() {
        return Ok(None);
    }
    Secrets::load_or_create(dir).map(Some)
}
