//! Conversions between Rust values and PostgreSQL rows, shared by every
//! aggregate's module.

use std::borrow::Cow;
use std::str::FromStr;

use chrono::NaiveDate;
use paperhub_domain::{ArxivId, Paper, User, UserId};
use postgres::Row;

use crate::error::DbError;

/// The catalog columns, in the order [`paper_from_row`] reads them.
pub(crate) const PAPER_COLUMNS: &str = "arxiv_id, version, title, abstract, authors, \
     primary_category, categories, submitted, updated, announced, comments, journal_ref, doi, \
     report_no, license, msc_class, acm_class, submitter, versions, code_url";

/// [`PAPER_COLUMNS`] with the `p.` alias, for joins.
pub(crate) fn paper_columns_p() -> String {
    PAPER_COLUMNS
        .split(", ")
        .map(|c| format!("p.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL text cannot hold NUL, which arXiv metadata never means; it
/// becomes U+FFFD so a stray one costs a character, not the whole write.
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`text`] of an optional value.
pub(crate) fn opt_text(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// A count the code holds as u32 or u64, as PostgreSQL's signed integer.
pub(crate) fn int8(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A u32 as PostgreSQL's `integer`.
pub(crate) fn int4(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A stored non-negative count.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A stored non-negative `integer`.
pub(crate) fn count4(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Reads the [`PAPER_COLUMNS`] starting at column `at`.
pub(crate) fn paper_from_row(row: &Row, at: usize) -> Result<Paper, DbError> {
    let arxiv_id: String = row.try_get(at)?;
    let corrupt = |reason: String| DbError::corrupt_paper(&arxiv_id, reason);
    let id = ArxivId::parse_bare(&arxiv_id).map_err(|e| corrupt(e.to_string()))?;
    let mut paper = Paper::new(id, row.try_get(at + 2)?, row.try_get(at + 3)?);
    paper.version = row
        .try_get::<_, Option<i32>>(at + 1)?
        .and_then(|v| u32::try_from(v).ok());
    let authors: String = row.try_get(at + 4)?;
    paper.authors = serde_json::from_str(&authors).map_err(|e| corrupt(format!("authors: {e}")))?;
    paper.primary_category = row.try_get(at + 5)?;
    let categories: String = row.try_get(at + 6)?;
    paper.categories = categories.split_whitespace().map(str::to_owned).collect();
    paper.submitted = row.try_get(at + 7)?;
    paper.updated = row.try_get(at + 8)?;
    paper.announced = row.try_get::<_, Option<NaiveDate>>(at + 9)?;
    paper.comments = row.try_get(at + 10)?;
    paper.journal_ref = row.try_get(at + 11)?;
    paper.doi = row.try_get(at + 12)?;
    paper.report_no = row.try_get(at + 13)?;
    paper.license = row.try_get(at + 14)?;
    paper.msc_class = row.try_get(at + 15)?;
    paper.acm_class = row.try_get(at + 16)?;
    paper.submitter = row.try_get(at + 17)?;
    let versions: String = row.try_get(at + 18)?;
    paper.versions =
        serde_json::from_str(&versions).map_err(|e| corrupt(format!("versions: {e}")))?;
    paper.code_url = row.try_get(at + 19)?;
    Ok(paper)
}

/// The user columns, in the order [`user_from_row`] reads them.
pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.is_admin, u.created_at";

/// Reads [`USER_COLUMNS`] starting at column `at`.
pub(crate) fn user_from_row(row: &Row, at: usize) -> Result<User, DbError> {
    Ok(User {
        id: UserId(row.try_get(at)?),
        username: row.try_get(at + 1)?,
        email: row.try_get(at + 2)?,
        is_admin: row.try_get(at + 3)?,
        created_at: row.try_get(at + 4)?,
    })
}

/// Column `at` as text, parsed; a value no build wrote is corrupt.
pub(crate) fn parsed<T>(row: &Row, at: usize, what: &'static str) -> Result<T, DbError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s: String = row.try_get(at)?;
    s.parse().map_err(|e: T::Err| DbError::Corrupt {
        what,
        key: s.clone(),
        reason: e.to_string(),
    })
}
