//! Moving a whole hub between stores (`paperhub store copy`): every table
//! as rows of plain values, in the same shape on every backend.
//!
//! [`TABLES`] lists what is copied, parents before children, with each
//! column's kind; a backend reads and writes rows in that shape, converting
//! from and to its own column types. Ids and papers' change numbers are
//! kept, so references hold and a node's search index, which records the
//! change number it reached, stays valid against the copy; the destination
//! skips rows it already has, so a copy that was stopped can simply run
//! again. Job leases
//! and counters are per-database state and are not copied.

use chrono::{DateTime, NaiveDate, Timelike, Utc};

use crate::StoreResult;

/// One value of a copied row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A flag.
    Bool(bool),
    /// An instant.
    Time(DateTime<Utc>),
    /// A day.
    Date(NaiveDate),
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer.
    Int,
    /// Text.
    Text,
    /// Bytes.
    Bytes,
    /// A flag.
    Bool,
    /// An instant kept to the second (catalog times).
    TimeSecs,
    /// An instant kept to the millisecond (community and mail times).
    TimeMillis,
    /// A day.
    Date,
}

/// A copied column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name, the same in every backend.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
}

/// A copied table.
#[derive(Debug)]
pub struct Table {
    /// Its name, the same in every backend.
    pub name: &'static str,
    /// Its columns, in row order.
    pub columns: &'static [Column],
    /// The columns of its primary key, which order the rows.
    pub key: &'static [&'static str],
}

const fn c(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

use Kind::{Bool, Bytes, Date, Int, Text, TimeMillis, TimeSecs};

/// Every copied table, parents before children.
pub const TABLES: &[Table] = &[
    Table {
        name: "papers",
        columns: &[
            c("id", Int),
            c("arxiv_id", Text),
            c("version", Int),
            c("title", Text),
            c("abstract", Text),
            c("authors", Text),
            c("primary_category", Text),
            c("categories", Text),
            c("submitted", TimeSecs),
            c("updated", TimeSecs),
            c("announced", Date),
            c("comments", Text),
            c("journal_ref", Text),
            c("doi", Text),
            c("report_no", Text),
            c("license", Text),
            c("msc_class", Text),
            c("acm_class", Text),
            c("submitter", Text),
            c("versions", Text),
            c("code_url", Text),
            c("created_at", TimeSecs),
            c("modified_at", TimeSecs),
            c("change_seq", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "import_runs",
        columns: &[
            c("id", Int),
            c("source", Text),
            c("started_at", TimeSecs),
            c("finished_at", TimeSecs),
            c("status", Text),
            c("new", Int),
            c("updated", Int),
            c("unchanged", Int),
            c("skipped", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "harvest_state",
        columns: &[
            c("source", Text),
            c("set_spec", Text),
            c("metadata_prefix", Text),
            c("window_from", Text),
            c("window_until", Text),
            c("resumption_token", Text),
            c("pages", Int),
            c("last_complete", Text),
            c("updated_at", TimeSecs),
        ],
        key: &["source", "set_spec", "metadata_prefix"],
    },
    Table {
        name: "users",
        columns: &[
            c("id", Int),
            c("username", Text),
            c("email", Text),
            c("password_hash", Text),
            c("is_admin", Bool),
            c("created_at", TimeMillis),
            c("notify_comments", Bool),
            c("feed_generation", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "sessions",
        columns: &[
            c("token_hash", Bytes),
            c("user_id", Int),
            c("created_at", TimeMillis),
            c("expires_at", TimeMillis),
        ],
        key: &["token_hash"],
    },
    Table {
        name: "api_tokens",
        columns: &[
            c("id", Int),
            c("user_id", Int),
            c("name", Text),
            c("token_hash", Bytes),
            c("created_at", TimeMillis),
            c("last_used_at", TimeMillis),
            c("expires_at", TimeMillis),
        ],
        key: &["id"],
    },
    Table {
        name: "paper_community",
        columns: &[
            c("arxiv_id", Text),
            c("list_date", Date),
            c("submitted_by", Int),
            c("submitted_at", TimeMillis),
            c("first_seen_at", TimeMillis),
            c("last_vote_at", TimeMillis),
            c("votes", Int),
            c("featured", Bool),
            c("hidden", Bool),
        ],
        key: &["arxiv_id"],
    },
    Table {
        name: "votes",
        columns: &[
            c("user_id", Int),
            c("arxiv_id", Text),
            c("created_at", TimeMillis),
        ],
        key: &["user_id", "arxiv_id"],
    },
    Table {
        name: "subscribers",
        columns: &[
            c("id", Int),
            c("email", Text),
            c("status", Text),
            c("frequency", Text),
            c("top_n", Int),
            c("hard_failures", Int),
            c("created_at", TimeMillis),
            c("confirmed_at", TimeMillis),
            c("unsubscribed_at", TimeMillis),
            c("user_id", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "subscriber_interests",
        columns: &[c("subscriber_id", Int), c("kind", Text), c("value", Text)],
        key: &["subscriber_id", "kind", "value"],
    },
    Table {
        name: "comments",
        columns: &[
            c("id", Int),
            c("arxiv_id", Text),
            c("user_id", Int),
            c("parent_id", Int),
            c("body", Text),
            c("created_at", TimeMillis),
            c("edited_at", TimeMillis),
            c("deleted", Bool),
            c("hidden", Bool),
        ],
        key: &["id"],
    },
    Table {
        name: "paper_authors",
        columns: &[c("author_key", Text), c("arxiv_id", Text)],
        key: &["author_key", "arxiv_id"],
    },
    Table {
        name: "paper_titles",
        columns: &[c("title_key", Text), c("arxiv_id", Text)],
        key: &["title_key", "arxiv_id"],
    },
    Table {
        name: "author_follows",
        columns: &[
            c("user_id", Int),
            c("author_key", Text),
            c("name", Text),
            c("created_at", TimeMillis),
        ],
        key: &["user_id", "author_key"],
    },
    Table {
        name: "collections",
        columns: &[
            c("id", Int),
            c("user_id", Int),
            c("slug", Text),
            c("name", Text),
            c("public", Bool),
            c("created_at", TimeMillis),
        ],
        key: &["id"],
    },
    Table {
        name: "collection_papers",
        columns: &[
            c("collection_id", Int),
            c("arxiv_id", Text),
            c("note", Text),
            c("read", Bool),
            c("added_at", TimeMillis),
        ],
        key: &["collection_id", "arxiv_id"],
    },
    Table {
        name: "not_interested",
        columns: &[
            c("user_id", Int),
            c("arxiv_id", Text),
            c("created_at", TimeMillis),
        ],
        key: &["user_id", "arxiv_id"],
    },
    Table {
        name: "outbox",
        columns: &[
            c("id", Int),
            c("dedupe_key", Text),
            c("subscriber_id", Int),
            c("kind", Text),
            c("message_id", Text),
            c("recipient", Text),
            c("subject", Text),
            c("message", Bytes),
            c("status", Text),
            c("attempts", Int),
            c("next_attempt_at", TimeMillis),
            c("last_error", Text),
            c("created_at", TimeMillis),
            c("sent_at", TimeMillis),
            c("lease_owner", Text),
            c("lease_until", TimeMillis),
        ],
        key: &["id"],
    },
];

impl Value {
    /// The value as every backend keeps it: an instant cut to the precision
    /// of its column (SQLite stores seconds or milliseconds), so a value
    /// compares equal after any round trip.
    pub fn canonical(self, kind: Kind) -> Value {
        match (self, kind) {
            (Value::Time(t), Kind::TimeSecs) => Value::Time(t.with_nanosecond(0).unwrap_or(t)),
            (Value::Time(t), Kind::TimeMillis) => {
                let ms = t.nanosecond() / 1_000_000 * 1_000_000;
                Value::Time(t.with_nanosecond(ms).unwrap_or(t))
            }
            (v, _) => v,
        }
    }
}

/// Reading and writing whole tables, for `paperhub store copy`.
pub trait CopyStore: Send + Sync {
    /// Rows `offset..offset + limit` of `table` in key order, one value per
    /// column of [`Table::columns`].
    ///
    /// # Errors
    /// A storage error, or a stored value that does not fit its column.
    fn export_rows(&self, table: &Table, offset: u64, limit: u32) -> StoreResult<Vec<Vec<Value>>>;

    /// Writes `rows` of `table` in one transaction, skipping rows whose key
    /// is already there; returns how many were written. Papers keep their
    /// change numbers, and the store's change counter moves past them.
    ///
    /// # Errors
    /// A storage error, or a row that does not fit; nothing is written then.
    fn import_rows(&self, table: &Table, rows: &[Vec<Value>]) -> StoreResult<u64>;

    /// Rows in `table`.
    ///
    /// # Errors
    /// A storage error.
    fn count_rows(&self, table: &Table) -> StoreResult<u64>;

    /// After an import: moves id sequences past the copied ids, so new rows
    /// do not collide with them.
    ///
    /// # Errors
    /// A storage error.
    fn finish_import(&self) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn instants_are_cut_to_their_columns_precision() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        let v = |k| match Value::Time(t).canonical(k) {
            Value::Time(t) => t.nanosecond(),
            _ => unreachable!(),
        };
        assert_eq!(v(Kind::TimeSecs), 0);
        assert_eq!(v(Kind::TimeMillis), 123_000_000);
        assert_eq!(Value::Int(3).canonical(Kind::TimeSecs), Value::Int(3));
    }

    #[test]
    fn every_key_is_a_column_and_names_are_unique() {
        for t in TABLES {
            for k in t.key {
                assert!(t.columns.iter().any(|c| c.name == *k), "{}.{k}", t.name);
            }
            let mut names: Vec<_> = t.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), t.columns.len(), "{}", t.name);
        }
    }
}
