//! End-to-end tests: the `paperhub` binary on temporary data directories,
//! with real fixtures from `tests/fixtures/` (see `data/SOURCES.md`).

mod bad_input;
mod commands;
mod crash;
mod import_formats;
mod util;
