//! The time-boxed property-test loop every fuzz target shares.
//!
//! cargo-fuzz needs a nightly compiler, which Paperhub does not use, so its
//! fuzz targets are proptest strategies driven by [`fuzz_for`]: it runs
//! batches of cases with fresh random seeds until `PAPERHUB_FUZZ_SECS`
//! (default [`DEFAULT_SECS`], enough for CI to keep a short run of every
//! target) have passed, then prints one summary line that `scripts/fuzz`
//! collects. A failure is shrunk by proptest and reported with its minimal
//! input, and its seed is saved next to the test file
//! (`*.proptest-regressions`) so the next run replays it first.
//!
//! A stack overflow aborts the whole process and cannot be caught, so a
//! [`Target::trace`] target writes each input to
//! `$CARGO_TARGET_TMPDIR/fuzz-<name>.last` before running it; after an abort
//! that file holds the input that killed the process.
//!
//! This file lives in the app crate's `tests/fuzz/` and the library crates'
//! fuzz tests include it with `#[path]`, so every target behaves the same.

use std::cell::Cell;
use std::fmt::Debug;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, PersistedSeed, TestCaseError,
    TestCaseResult, TestError, TestRunner,
};

/// Seconds each target runs when `PAPERHUB_FUZZ_SECS` is not set.
pub const DEFAULT_SECS: f64 = 2.0;

/// Most cases per proptest run; each run starts from a fresh random seed.
/// Slow targets get smaller runs, so a short budget is not overrun.
const BATCH: u32 = 32;

/// How much of a failing input the report prints.
const MAX_REPORT_CHARS: usize = 4000;

/// One fuzz target: its name and how it is checked.
pub struct Target {
    /// The name the summary line and `scripts/fuzz` use.
    pub name: &'static str,
    /// `file!()` of the test, where proptest keeps the regressions file.
    pub source: &'static str,
    /// Every case must finish within this time, or the case fails.
    pub time_limit: Option<Duration>,
    /// Write each input to a file first, to name the input after an abort.
    pub trace: bool,
}

/// How long each target runs: `PAPERHUB_FUZZ_SECS`, else [`DEFAULT_SECS`].
pub fn budget() -> Duration {
    let secs = std::env::var("PAPERHUB_FUZZ_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(DEFAULT_SECS);
    Duration::from_secs_f64(secs)
}

/// The file a traced target writes each input to before running it.
pub fn trace_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{name}.last"))
}

/// Runs `property` on inputs from `strategy` until the budget is spent.
///
/// With `PAPERHUB_FUZZ_KEEP_GOING=1` (what `scripts/fuzz` sets) a failure is
/// reported and the run goes on with new seeds, so a long run finds every
/// distinct bug, not just the first; otherwise the first failure ends it.
///
/// # Panics
/// When a case fails or panics, with the minimal failing input; this is how
/// the calling `#[test]` fails.
pub fn fuzz_for<S>(target: Target, strategy: S, property: impl Fn(S::Value) -> TestCaseResult)
where
    S: Strategy,
    S::Value: Debug,
{
    let budget = budget();
    let started = Instant::now();
    let cases = Cell::new(0u64);
    let slowest = Cell::new(Duration::ZERO);
    let trace = target.trace.then(|| trace_path(target.name));
    let check = |value: S::Value| {
        if let Some(path) = &trace {
            // Best effort: a failed write only loses the crash report.
            let _ = std::fs::write(path, format!("{value:#?}"));
        }
        cases.set(cases.get() + 1);
        let start = Instant::now();
        let result = property(value);
        let took = start.elapsed();
        slowest.set(slowest.get().max(took));
        match target.time_limit {
            Some(limit) if took > limit && result.is_ok() => Err(TestCaseError::fail(format!(
                "the case took {} ms, over the {} ms limit",
                took.as_millis(),
                limit.as_millis()
            ))),
            _ => result,
        }
    };
    let keep_going = std::env::var_os("PAPERHUB_FUZZ_KEEP_GOING").is_some_and(|v| v == "1");
    if keep_going {
        // Shrinking runs a failing case a hundred times; one report is enough.
        std::panic::set_hook(Box::new(|_| {}));
    }
    let mut failures: Vec<(String, String)> = Vec::new();
    loop {
        let spent = started.elapsed();
        let per_case = spent.as_secs_f64() / cases.get().max(1) as f64;
        let left = budget.saturating_sub(spent).as_secs_f64();
        let batch = if cases.get() == 0 {
            1
        } else {
            (left / per_case.max(1e-6)).clamp(1.0, f64::from(BATCH)) as u32
        };
        // Going on after a failure means not replaying the saved ones, which
        // would fail every batch at once.
        let file = FileFailurePersistence::WithSource("proptest-regressions");
        let persistence: Box<dyn FailurePersistence> = if keep_going {
            Box::new(SaveOnly(file))
        } else {
            Box::new(file)
        };
        let config = Config {
            cases: batch,
            source_file: Some(target.source),
            failure_persistence: Some(persistence),
            max_global_rejects: BATCH * 64,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        match runner.run(&strategy, check) {
            Ok(()) => {}
            Err(TestError::Abort(reason)) => {
                let _ = std::panic::take_hook();
                panic!("fuzz target {}: aborted: {reason}", target.name)
            }
            Err(TestError::Fail(reason, value)) => {
                let reason = reason.to_string();
                // The same bug with other numbers in its message counts once.
                let kind: String = reason.chars().filter(|c| !c.is_ascii_digit()).collect();
                if !failures.iter().any(|(k, _)| *k == kind) {
                    let report = format!(
                        "FAILED after {} cases: {reason}\nminimal input: {}",
                        cases.get(),
                        shorten(format!("{value:#?}"))
                    );
                    if keep_going {
                        println!("fuzz target {}: {report}", target.name);
                    }
                    failures.push((kind, report));
                }
                if !keep_going {
                    break;
                }
            }
        }
        if started.elapsed() >= budget {
            break;
        }
    }
    if keep_going {
        let _ = std::panic::take_hook();
    }
    if let Some(path) = &trace {
        let _ = std::fs::remove_file(path);
    }
    if !failures.is_empty() {
        let reports: Vec<&str> = failures.iter().map(|(_, r)| r.as_str()).collect();
        panic!(
            "fuzz target {}: {} cases in {:.1} s, {} failures\n{}",
            target.name,
            cases.get(),
            started.elapsed().as_secs_f64(),
            failures.len(),
            reports.join("\n")
        );
    }
    println!(
        "fuzz target {}: {} cases in {:.1} s, 0 failures (slowest case {} ms)",
        target.name,
        cases.get(),
        started.elapsed().as_secs_f64(),
        slowest.get().as_millis()
    );
}

/// A failing input's `Debug` text, cut to [`MAX_REPORT_CHARS`].
fn shorten(mut shown: String) -> String {
    if shown.len() > MAX_REPORT_CHARS {
        let total = shown.len();
        let mut cut = MAX_REPORT_CHARS;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push_str(&format!("... ({total} chars in all)"));
    }
    shown
}

/// Saves failures to the regressions file but does not replay them, for a
/// run that goes on after a failure.
#[derive(Debug, Clone, PartialEq)]
struct SaveOnly(FileFailurePersistence);

impl FailurePersistence for SaveOnly {
    fn load_persisted_failures2(&self, _source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        Vec::new()
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn Debug,
    ) {
        self.0
            .save_persisted_failure2(source_file, seed, shrunken_value);
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other
            .as_any()
            .downcast_ref::<SaveOnly>()
            .is_some_and(|o| o == self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
