//! Paperhub, the application: wires the domain, parsers and store together.
//!
//! The library crates each own one concern (`paperhub_domain` the model,
//! `paperhub_arxiv` the formats, `paperhub_store` the storage interface and
//! `paperhub_sqlite` its embedded backend). This crate owns what
//! joins them: where data lives ([`data_dir`]), the import pipeline
//! ([`import`]), the command line ([`cli`], benchmarks included).

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod digest;
pub mod harvest;
pub mod import;
pub mod indexing;
pub mod jobs;
pub mod mail;
pub mod models;
pub mod progress;
pub mod query_vectors;
pub mod retrieval;
pub mod secrets;
pub mod telemetry;
pub mod vectors_transfer;
pub mod web;
