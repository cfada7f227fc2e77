//! Whole tables in and out of PostgreSQL, for `paperhub store copy`; see
//! `paperhub_store::copy`.
//!
//! Rows go in as one `INSERT … SELECT FROM unnest(…)` per batch, one typed
//! array per column; integers travel as `int8` and PostgreSQL narrows them
//! where a column is `integer`.

use chrono::{DateTime, NaiveDate, Utc};
use paperhub_store::StoreResult;
use paperhub_store::copy::{CopyStore, Kind, Table, Value};
use postgres::types::ToSql;

use crate::PgStore;
use crate::error::DbError;
use crate::rows::{count, text};

fn corrupt(table: &Table, column: &str, reason: impl ToString) -> DbError {
    DbError::Corrupt {
        what: "row",
        key: format!("{}.{column}", table.name),
        reason: reason.to_string(),
    }
}

fn select_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| match c.kind {
            Kind::Int => format!("{0}::int8 AS {0}", c.name),
            _ => c.name.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The PostgreSQL array type of a column of `kind`.
fn array_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Int => "int8[]",
        Kind::Text => "text[]",
        Kind::Bytes => "bytea[]",
        Kind::Bool => "bool[]",
        Kind::TimeSecs | Kind::TimeMillis => "timestamptz[]",
        Kind::Date => "date[]",
    }
}

/// One column of a batch, typed for its array parameter.
fn column_param(
    table: &Table,
    index: usize,
    rows: &[Vec<Value>],
) -> Result<Box<dyn ToSql + Sync>, DbError> {
    let col = table.columns[index];
    let bad = |v: &Value| corrupt(table, col.name, format!("{v:?} is no {:?}", col.kind));
    macro_rules! gather {
        ($ty:ty, $pat:pat => $out:expr) => {{
            let mut out: Vec<Option<$ty>> = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(match &row[index] {
                    Value::Null => None,
                    $pat => Some($out),
                    other => return Err(bad(other)),
                });
            }
            Box::new(out) as Box<dyn ToSql + Sync>
        }};
    }
    Ok(match col.kind {
        Kind::Int => gather!(i64, Value::Int(n) => *n),
        Kind::Text => gather!(String, Value::Text(s) => text(s).into_owned()),
        Kind::Bytes => gather!(Vec<u8>, Value::Bytes(b) => b.clone()),
        Kind::Bool => gather!(bool, Value::Bool(b) => *b),
        Kind::TimeSecs | Kind::TimeMillis => gather!(DateTime<Utc>, Value::Time(t) => *t),
        Kind::Date => gather!(NaiveDate, Value::Date(d) => *d),
    })
}

fn read(table: &Table, row: &postgres::Row) -> Result<Vec<Value>, DbError> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let value = match col.kind {
                Kind::Int => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
                Kind::Text => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
                Kind::Bytes => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
                Kind::Bool => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
                Kind::TimeSecs | Kind::TimeMillis => {
                    row.try_get::<_, Option<DateTime<Utc>>>(i)?.map(Value::Time)
                }
                Kind::Date => row.try_get::<_, Option<NaiveDate>>(i)?.map(Value::Date),
            };
            Ok(value.unwrap_or(Value::Null))
        })
        .collect()
}

impl CopyStore for PgStore {
    fn export_rows(&self, table: &Table, offset: u64, limit: u32) -> StoreResult<Vec<Vec<Value>>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {} LIMIT $1 OFFSET $2",
                select_list(table),
                table.name,
                table.key.join(", ")
            );
            c.query(
                &sql,
                &[
                    &i64::from(limit),
                    &i64::try_from(offset).unwrap_or(i64::MAX),
                ],
            )?
            .iter()
            .map(|row| read(table, row))
            .collect()
        })
    }

    fn import_rows(&self, table: &Table, rows: &[Vec<Value>]) -> StoreResult<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        self.write(|tx| {
            let n = table.columns.len();
            if let Some(row) = rows.iter().find(|r| r.len() != n) {
                return Err(corrupt(
                    table,
                    "*",
                    format!("{} values for {n} columns", row.len()),
                ));
            }
            let params: Vec<Box<dyn ToSql + Sync>> = (0..n)
                .map(|i| column_param(table, i, rows))
                .collect::<Result<_, _>>()?;
            let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            let arrays: Vec<String> = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("${}::{}", i + 1, array_type(c.kind)))
                .collect();
            let sql = format!(
                "INSERT INTO {table} ({cols}) \
                 SELECT {u_cols} FROM unnest({arrays}) WITH ORDINALITY AS u({cols}, n) \
                 ORDER BY u.n ON CONFLICT DO NOTHING",
                table = table.name,
                cols = names.join(", "),
                u_cols = names
                    .iter()
                    .map(|c| format!("u.{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                arrays = arrays.join(", "),
            );
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(AsRef::as_ref).collect();
            if table.name == "papers" {
                // Paper writers lock the counter first; so does this.
                tx.execute("SELECT 1 FROM change_counter WHERE id = 1 FOR UPDATE", &[])?;
            }
            let written = tx.execute(&sql, &refs)?;
            if table.name == "papers" {
                // New papers must be numbered after the copied ones.
                tx.execute(
                    "UPDATE change_counter SET last_seq = greatest(last_seq, \
                       (SELECT coalesce(max(change_seq), 0) FROM papers)) WHERE id = 1",
                    &[],
                )?;
            }
            Ok(written)
        })
    }

    fn count_rows(&self, table: &Table) -> StoreResult<u64> {
        self.read(|c| {
            Ok(count(
                c.query_one(&format!("SELECT count(*) FROM {}", table.name), &[])?
                    .try_get(0)?,
            ))
        })
    }

    fn finish_import(&self) -> StoreResult<()> {
        self.write(|tx| {
            for table in [
                "papers",
                "import_runs",
                "users",
                "api_tokens",
                "subscribers",
                "outbox",
                "comments",
                "collections",
            ] {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                    ),
                    &[],
                )?;
            }
            Ok(())
        })
    }
}
