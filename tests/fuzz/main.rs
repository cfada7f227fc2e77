//! Fuzz targets for the app crate's parsers of outside input: every route's
//! path and query parameters through the real router, the config file, and
//! the signed link tokens; and for the BibTeX entries it writes. The
//! library crates keep their own targets (`crates/*/tests/fuzz_*.rs`); all
//! of them share `harness.rs` and run for longer under `scripts/fuzz`. See docs/RELIABILITY.md.

mod bibtex_export;
mod config_file;
mod harness;
mod link_tokens;
mod web_routes;
