//! Conversions between Rust values and SQLite's text columns, shared by
//! every aggregate's module.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// A timestamp as stored: RFC 3339 in UTC with milliseconds.
pub(crate) fn ts(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A stored timestamp; `None` when it cannot be read.
pub(crate) fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A stored `YYYY-MM-DD` day.
pub(crate) fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Column `idx` read as text and parsed, for the enums the domain writes
/// as text; a value no build wrote is a conversion error, not a default.
pub(crate) fn parsed<T>(idx: usize, s: &str) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}
