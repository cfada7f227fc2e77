//! The import pipeline: inputs → parsers → batches → store.
//!
//! Parsing runs on its own thread and hands batches of papers to the calling
//! thread, which writes them to the store, one transaction per batch. On two
//! cores this overlaps JSON/XML parsing with SQLite work. Malformed records
//! are reported through a callback with their file and line and counted;
//! inputs that cannot be read at all (empty, binary, truncated compression)
//! are reported and the import moves on to the next input. A killed import
//! leaves whole batches only, and running it again completes it: upserts are
//! idempotent.

pub mod input;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use paperhub_arxiv::{ReadError, RecordError, RecordErrorKind};
use paperhub_domain::Paper;
use paperhub_store::{CatalogStore, ImportStatus, UpsertCounts};
use serde::Serialize;

pub use input::Input;

/// How to run an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Papers per transaction.
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { batch_size: 2000 }
    }
}

/// A record that was skipped, with where it was.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRecord {
    /// The input it came from.
    pub source: String,
    /// Line number, when the format has lines.
    pub line: Option<u64>,
    /// Record index in the input.
    pub record: u64,
    /// Why it was skipped, one sentence.
    pub reason: String,
}

impl std::fmt::Display for SkippedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.source, self.reason),
            None => write!(
                f,
                "{}: record {}: {}",
                self.source, self.record, self.reason
            ),
        }
    }
}

/// What happened to one input.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    /// The input's name.
    pub source: String,
    /// The detected format, once known.
    pub format: Option<String>,
    /// Papers read from it.
    pub records: u64,
    /// Records skipped in it.
    pub skipped: u64,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Papers not in the catalog before.
    pub new: u64,
    /// Papers whose record changed.
    pub updated: u64,
    /// Papers already stored as read.
    pub unchanged: u64,
    /// Records skipped as malformed.
    pub skipped: u64,
    /// Skipped records by reason class.
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// Inputs read.
    pub files: u64,
    /// Papers read from all inputs.
    pub records: u64,
    /// Per-input results for inputs with skipped records or errors.
    pub inputs: Vec<InputReport>,
    /// Inputs that could not be read to the end.
    pub failed_inputs: u64,
    /// Wall time.
    pub elapsed_ms: u64,
    /// Papers read per second.
    pub records_per_sec: f64,
    /// The import run recorded in the store.
    pub import_run: i64,
}

impl ImportReport {
    /// Papers accepted into the catalog (new, updated or unchanged).
    pub fn accepted(&self) -> u64 {
        self.new + self.updated + self.unchanged
    }
}

/// A short class for a skip reason, for the summary table.
fn reason_class(kind: &RecordErrorKind) -> String {
    match kind {
        RecordErrorKind::Json(_) => "invalid JSON".into(),
        RecordErrorKind::Xml(_) => "malformed XML".into(),
        RecordErrorKind::MissingField(field) => format!("missing {field}"),
        RecordErrorKind::InvalidId { .. } => "invalid arXiv id".into(),
        RecordErrorKind::TooLarge { .. } => "record too large".into(),
        RecordErrorKind::Deleted(_) => "deleted record".into(),
    }
}

enum Event {
    Started {
        source: String,
    },
    Batch(Vec<Paper>),
    Skipped(SkippedRecord, String),
    Finished {
        format: Option<String>,
        records: u64,
        error: Option<String>,
    },
}

/// Progress callbacks; the CLI draws a bar, tests and benchmarks pass no-ops.
pub trait ImportObserver {
    /// Bytes of raw input read so far, and papers read so far.
    fn progress(&mut self, bytes: u64, records: u64);
    /// A record was skipped.
    fn skipped(&mut self, record: &SkippedRecord);
    /// An input stopped early.
    fn input_failed(&mut self, source: &str, error: &str);
}

/// An observer that ignores everything.
pub struct Quiet;

impl ImportObserver for Quiet {
    fn progress(&mut self, _: u64, _: u64) {}
    fn skipped(&mut self, _: &SkippedRecord) {}
    fn input_failed(&mut self, _: &str, _: &str) {}
}

fn parse_inputs(
    inputs: &[Input],
    batch_size: usize,
    bytes: &Arc<AtomicU64>,
    tx: &SyncSender<Event>,
) {
    let mut batch = Vec::with_capacity(batch_size);
    for input in inputs {
        let source = input.display();
        if tx
            .send(Event::Started {
                source: source.clone(),
            })
            .is_err()
        {
            return;
        }
        let mut records = 0u64;
        let mut format = None;
        let error = match input::open(input, Arc::clone(bytes)) {
            Err(e) => Some(format!("cannot read: {e}")),
            Ok(reader) => match paperhub_arxiv::open(reader, &input.hint()) {
                Err(e) => Some(e.to_string()),
                Ok(mut stream) => {
                    let mut error = None;
                    for item in stream.by_ref() {
                        match item {
                            Ok(paper) => {
                                records += 1;
                                batch.push(paper);
                                if batch.len() >= batch_size {
                                    let full = std::mem::replace(
                                        &mut batch,
                                        Vec::with_capacity(batch_size),
                                    );
                                    if tx.send(Event::Batch(full)).is_err() {
                                        return;
                                    }
                                }
                            }
                            Err(ReadError::Record(RecordError { location, kind })) => {
                                let skipped = SkippedRecord {
                                    source: source.clone(),
                                    line: location.line,
                                    record: location.record,
                                    reason: kind.to_string(),
                                };
                                if tx
                                    .send(Event::Skipped(skipped, reason_class(&kind)))
                                    .is_err()
                                {
                                    return;
                                }
                            }
                            Err(ReadError::Stream(e)) => {
                                error = Some(e.to_string());
                                break;
                            }
                        }
                    }
                    format = Some(stream.format().to_string());
                    error
                }
            },
        };
        // Flush at each input's end so a failing input never holds back good records.
        if !batch.is_empty() {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            if tx.send(Event::Batch(full)).is_err() {
                return;
            }
        }
        if tx
            .send(Event::Finished {
                format,
                records,
                error,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Imports `inputs` into `store`, recording the run.
///
/// # Errors
/// Only storage failures are errors (the run is then recorded as failed);
/// bad records and unreadable inputs are reported in the [`ImportReport`].
pub fn run_import(
    store: &dyn CatalogStore,
    inputs: &[Input],
    options: &ImportOptions,
    observer: &mut dyn ImportObserver,
) -> Result<ImportReport> {
    let started = Instant::now();
    let source = match inputs {
        [] => "(no inputs)".to_owned(),
        [one] => one.display(),
        [first, rest @ ..] => format!("{} and {} more", first.display(), rest.len()),
    };
    let run = store.begin_import_run(&source, Utc::now())?;
    let bytes = Arc::new(AtomicU64::new(0));
    let (tx, rx) = sync_channel::<Event>(4);
    let mut report = ImportReport {
        import_run: run.0,
        ..ImportReport::default()
    };
    let mut counts = UpsertCounts::default();
    let result = std::thread::scope(|scope| {
        let parser_bytes = Arc::clone(&bytes);
        let batch_size = options.batch_size.max(1);
        scope.spawn(move || parse_inputs(inputs, batch_size, &parser_bytes, &tx));
        consume(store, rx, &bytes, &mut report, &mut counts, observer)
    });
    report.new = counts.new;
    report.updated = counts.updated;
    report.unchanged = counts.unchanged;
    let status = match &result {
        Ok(()) if report.accepted() > 0 || inputs.is_empty() => ImportStatus::Completed,
        _ => ImportStatus::Failed,
    };
    // Finishing writes the index rows the run deferred: part of the time.
    store.finish_import_run(run, counts, report.skipped, status, Utc::now())?;
    let elapsed = started.elapsed();
    report.elapsed_ms = elapsed.as_millis() as u64;
    report.records_per_sec =
        report.records as f64 / elapsed.max(Duration::from_millis(1)).as_secs_f64();
    result?;
    Ok(report)
}

fn consume(
    store: &dyn CatalogStore,
    rx: Receiver<Event>,
    bytes: &AtomicU64,
    report: &mut ImportReport,
    counts: &mut UpsertCounts,
    observer: &mut dyn ImportObserver,
) -> Result<()> {
    let mut records = 0u64;
    let mut current: Option<InputReport> = None;
    for event in rx {
        match event {
            Event::Started { source } => {
                current = Some(InputReport {
                    source,
                    format: None,
                    records: 0,
                    skipped: 0,
                    error: None,
                });
            }
            Event::Batch(papers) => {
                *counts += store
                    .upsert_papers(&papers, Utc::now())
                    .context("writing a batch to the catalog failed; earlier batches are kept")?;
                records += papers.len() as u64;
                observer.progress(bytes.load(Ordering::Relaxed), records);
            }
            Event::Skipped(record, class) => {
                report.skipped += 1;
                *report.skipped_by_reason.entry(class).or_default() += 1;
                if let Some(current) = current.as_mut() {
                    current.skipped += 1;
                }
                observer.skipped(&record);
            }
            Event::Finished {
                format,
                records: n,
                error,
            } => {
                if let Some(mut input) = current.take() {
                    input.format = format;
                    input.records = n;
                    report.files += 1;
                    report.records += n;
                    if let Some(e) = &error {
                        observer.input_failed(&input.source, e);
                        report.failed_inputs += 1;
                    }
                    input.error = error;
                    if input.error.is_some() || input.skipped > 0 {
                        report.inputs.push(input);
                    }
                }
                observer.progress(bytes.load(Ordering::Relaxed), records);
            }
        }
    }
    Ok(())
}
