//! End-to-end tests: the `paperhub` binary on temporary data directories,
//! with real fixtures from `tests/fixtures/` (see `data/SOURCES.md`).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod abuse;
mod authors;
mod backfill;
mod bad_input;
mod browser;
mod commands;
mod crash;
mod for_you;
mod harvest;
mod hf_client;
mod import_formats;
mod library;
mod library_files;
mod mail;
mod multinode;
mod notifications;
mod replay;
mod search;
mod store_copy;
mod subscriptions;
mod util;
mod web;
