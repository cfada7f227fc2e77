//! Paperhub's PostgreSQL store, for running several nodes on one database.
//!
//! SQLite serves one node from a file in its data directory. Nodes that share
//! their catalog, accounts, votes and outbox need a database server instead,
//! and this crate is that backend (issue #14; the plan is
//! `docs/design/store-redesign.md`). It is under construction: it holds the
//! schema now, and the store that implements the storage traits on it follows.

#![forbid(unsafe_code)]

/// Every migration, in order, with its version.
///
/// The numbering is PostgreSQL's own, independent of SQLite's: version 1 is
/// the schema SQLite reaches at version 8. The runner applies each file in one
/// transaction behind `pg_advisory_xact_lock`, and records it in
/// `schema_migrations (version, applied_at, sha256)`, a table it creates
/// itself before the first file.
pub const MIGRATIONS: &[(u32, &str)] = &[(1, include_str!("../migrations/0001_initial.sql"))];
