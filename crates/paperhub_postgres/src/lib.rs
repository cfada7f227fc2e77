//! Paperhub's PostgreSQL backend, for several hub nodes sharing one
//! database. Under construction: this crate holds the migrations now; the
//! store implementation follows.

#![forbid(unsafe_code)]

/// The schema migrations, in order, with their version numbers.
pub const MIGRATIONS: &[(u32, &str)] = &[(1, include_str!("../migrations/0001_initial.sql"))];
