//! `paperhub import`: progress bar, warnings and the summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Outcome;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::import::{self, ImportObserver, ImportOptions, ImportReport, SkippedRecord};

/// Arguments of `paperhub import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files or directories to import; - reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 if any record or input was skipped.
    #[arg(long)]
    pub strict: bool,
    /// Papers written per transaction.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub batch_size: usize,
}

/// Warnings printed before the rest are only counted.
const MAX_WARNINGS: u64 = 1000;

struct CliObserver {
    bar: ProgressBar,
    total: Option<u64>,
    warnings: u64,
}

impl CliObserver {
    fn new(total: Option<u64>) -> CliObserver {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = match total {
            Some(total) => {
                let bar = ProgressBar::with_draw_target(Some(total), target);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {msg} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, target);
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        CliObserver {
            bar,
            total,
            warnings: 0,
        }
    }

    fn warn(&mut self, message: &str) {
        self.warnings += 1;
        if self.warnings <= MAX_WARNINGS {
            self.bar.suspend(|| eprintln!("warning: {message}"));
        }
    }
}

impl ImportObserver for CliObserver {
    fn progress(&mut self, bytes: u64, records: u64) {
        if self.total.is_some() {
            self.bar.set_position(bytes);
        }
        let secs = self.bar.elapsed().as_secs_f64().max(0.001);
        self.bar.set_message(format!(
            "{records} records, {:.0} records/s",
            records as f64 / secs
        ));
    }

    fn skipped(&mut self, record: &SkippedRecord) {
        self.warn(&format!("{record}; skipped"));
    }

    fn input_failed(&mut self, source: &str, error: &str) {
        self.warn(&format!("{source}: {error}; moving on to the next input"));
    }
}

fn print_summary(report: &ImportReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Imported {} papers in {:.1} s ({:.0} records/s): {} new, {} updated, {} unchanged, {} skipped.",
        report.accepted(),
        report.elapsed_ms as f64 / 1000.0,
        report.records_per_sec,
        report.new,
        report.updated,
        report.unchanged,
        report.skipped,
    )?;
    for (reason, n) in &report.skipped_by_reason {
        writeln!(out, "  skipped {n:>8}  {reason}")?;
    }
    for input in report.inputs.iter().filter(|i| i.error.is_some()) {
        writeln!(
            out,
            "  failed input: {}: {}",
            input.source,
            input.error.as_deref().unwrap_or_default()
        )?;
    }
    Ok(())
}

/// Runs `paperhub import`.
///
/// # Errors
/// A path cannot be read, or the catalog cannot be written.
pub fn run(data_dir: &DataDir, config: &Config, args: &ImportArgs) -> Result<Outcome> {
    let inputs = import::input::expand(&args.paths)?;
    let store = crate::app::store::open(data_dir, &config.database)?;
    let mut observer = CliObserver::new(import::input::total_size(&inputs));
    let options = ImportOptions {
        batch_size: args.batch_size,
    };
    let report = import::run_import(store.as_ref(), &inputs, &options, &mut observer);
    observer.bar.finish_and_clear();
    let report = report?;
    if observer.warnings > MAX_WARNINGS {
        eprintln!(
            "warning: {} more problems not shown",
            observer.warnings - MAX_WARNINGS
        );
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        print_summary(&report, &mut stdout)?;
    }
    if inputs.is_empty() {
        eprintln!("error: no metadata files found in the given paths");
        return Ok(Outcome::Unsuccessful);
    }
    if report.accepted() == 0 {
        eprintln!("error: nothing could be imported");
        return Ok(Outcome::Unsuccessful);
    }
    if args.strict && (report.skipped > 0 || report.failed_inputs > 0) {
        eprintln!(
            "error: --strict: {} records and {} inputs were skipped",
            report.skipped, report.failed_inputs
        );
        return Ok(Outcome::Unsuccessful);
    }
    Ok(Outcome::Success)
}
