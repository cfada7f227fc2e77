//! Whole tables in and out of SQLite, for `paperhub store copy`; see
//! `paperhub_store::copy`.

use chrono::SecondsFormat;
use paperhub_store::StoreResult;
use paperhub_store::copy::{CopyStore, Kind, Table, Value};
use rusqlite::types::Value as Sql;
use rusqlite::{Row, TransactionBehavior, params_from_iter};

use crate::SqliteStore;
use crate::error::DbError;
use crate::rows::{parse_day, parse_ts};

fn corrupt(table: &Table, column: &str, reason: impl ToString) -> DbError {
    DbError::Corrupt {
        what: "row",
        key: format!("{}.{column}", table.name),
        reason: reason.to_string(),
    }
}

fn read(table: &Table, row: &Row<'_>) -> Result<Vec<Value>, DbError> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let raw: Sql = row.get(i)?;
            Ok(match (raw, col.kind) {
                (Sql::Null, _) => Value::Null,
                (Sql::Integer(n), Kind::Int) => Value::Int(n),
                (Sql::Integer(n), Kind::Bool) => Value::Bool(n != 0),
                (Sql::Text(s), Kind::Text) => Value::Text(s),
                (Sql::Blob(b), Kind::Bytes) => Value::Bytes(b),
                (Sql::Text(s), Kind::TimeSecs | Kind::TimeMillis) => Value::Time(
                    parse_ts(&s).ok_or_else(|| corrupt(table, col.name, format!("time {s:?}")))?,
                ),
                (Sql::Text(s), Kind::Date) => Value::Date(
                    parse_day(&s).ok_or_else(|| corrupt(table, col.name, format!("day {s:?}")))?,
                ),
                (other, kind) => {
                    return Err(corrupt(
                        table,
                        col.name,
                        format!("{other:?} is no {kind:?}"),
                    ));
                }
            })
        })
        .collect()
}

/// A value as this backend writes it into a column of `kind`.
fn write(value: &Value, kind: Kind) -> Sql {
    match value {
        Value::Null => Sql::Null,
        Value::Int(n) => Sql::Integer(*n),
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Text(s) => Sql::Text(s.clone()),
        Value::Bytes(b) => Sql::Blob(b.clone()),
        Value::Time(t) => Sql::Text(t.to_rfc3339_opts(
            if kind == Kind::TimeSecs {
                SecondsFormat::Secs
            } else {
                SecondsFormat::Millis
            },
            true,
        )),
        Value::Date(d) => Sql::Text(d.format("%Y-%m-%d").to_string()),
    }
}

fn names(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CopyStore for SqliteStore {
    fn export_rows(&self, table: &Table, offset: u64, limit: u32) -> StoreResult<Vec<Vec<Value>>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {} LIMIT ?1 OFFSET ?2",
                names(table),
                table.name,
                table.key.join(", ")
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params![
                i64::from(limit),
                i64::try_from(offset).unwrap_or(i64::MAX)
            ])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(read(table, row)?);
            }
            Ok(out)
        })
    }

    fn import_rows(&self, table: &Table, rows: &[Vec<Value>]) -> StoreResult<u64> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = table.columns.len();
            let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                table.name,
                names(table),
                marks.join(", ")
            );
            let mut written = 0;
            {
                let mut insert = tx.prepare_cached(&sql)?;
                for row in rows {
                    if row.len() != n {
                        return Err(corrupt(
                            table,
                            "*",
                            format!("{} values for {n} columns", row.len()),
                        ));
                    }
                    let values = row.iter().zip(table.columns).map(|(v, c)| write(v, c.kind));
                    written += insert.execute(params_from_iter(values))? as u64;
                }
            }
            if table.name == "papers" {
                // New papers must be numbered after the copied ones.
                tx.execute(
                    "UPDATE change_counter SET last_seq = \
                     max(last_seq, (SELECT coalesce(max(change_seq), 0) FROM papers)) WHERE id = 1",
                    [],
                )?;
            }
            tx.commit()?;
            Ok(written)
        })
    }

    fn count_rows(&self, table: &Table) -> StoreResult<u64> {
        self.read(|conn| {
            Ok(
                conn.query_row(&format!("SELECT count(*) FROM {}", table.name), [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    fn finish_import(&self) -> StoreResult<()> {
        // INTEGER PRIMARY KEY takes max(id) + 1 by itself.
        Ok(())
    }
}
