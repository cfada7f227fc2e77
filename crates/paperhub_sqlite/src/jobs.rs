//! Job leases in SQLite; see `paperhub_store::JobStore`.
//!
//! One node per SQLite file is the rule, but `paperhub digest run` beside
//! `serve` is two processes: the lease keeps them from running one job
//! twice. Each decision is one `IMMEDIATE` transaction.

use chrono::{DateTime, Utc};
use paperhub_store::{Acquire, JobLease, JobStore, StoreResult};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::SqliteStore;
use crate::error::DbError;
use crate::rows::{parse_ts, ts};

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref().and_then(parse_ts)
}

impl JobStore for SqliteStore {
    fn acquire(
        &self,
        job: &str,
        run_key: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Acquire> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            type Row = (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let row: Option<Row> = tx
                .query_row(
                    "SELECT owner, lease_until, done_key, done_at FROM job_leases WHERE job = ?1",
                    [job],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            if let Some((held_by, held_until, done_key, done_at)) = row {
                if done_key.as_deref() == Some(run_key) {
                    return Ok(Acquire::Done {
                        at: time(done_at).unwrap_or(now),
                    });
                }
                if let (Some(other), Some(until)) = (held_by, time(held_until))
                    && other != owner
                    && until > now
                {
                    return Ok(Acquire::Busy {
                        owner: other,
                        until,
                    });
                }
            }
            tx.execute(
                "INSERT INTO job_leases (job, run_key, owner, lease_until, started_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (job) DO UPDATE SET run_key = ?2, owner = ?3, lease_until = ?4, \
                   started_at = ?5",
                params![job, run_key, owner, ts(until), ts(now)],
            )?;
            tx.commit()?;
            Ok(Acquire::Acquired)
        })
    }

    fn renew(&self, job: &str, owner: &str, until: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "UPDATE job_leases SET lease_until = ?3 WHERE job = ?1 AND owner = ?2",
                params![job, owner, ts(until)],
            )? > 0)
        })
    }

    fn complete(
        &self,
        job: &str,
        run_key: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "UPDATE job_leases SET done_key = run_key, done_at = ?4, owner = NULL, \
                   lease_until = NULL \
                 WHERE job = ?1 AND owner = ?3 AND run_key = ?2",
                params![job, run_key, owner, ts(now)],
            )? > 0)
        })
    }

    fn release(&self, job: &str, owner: &str) -> StoreResult<()> {
        self.write(|conn| {
            conn.execute(
                "UPDATE job_leases SET owner = NULL, lease_until = NULL \
                 WHERE job = ?1 AND owner = ?2",
                params![job, owner],
            )?;
            Ok(())
        })
    }

    fn leases(&self) -> StoreResult<Vec<JobLease>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT job, run_key, owner, lease_until, done_key, done_at FROM job_leases \
                 ORDER BY job",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(JobLease {
                        job: r.get(0)?,
                        run_key: r.get(1)?,
                        owner: r.get(2)?,
                        lease_until: time(r.get(3)?),
                        done_key: r.get(4)?,
                        done_at: time(r.get(5)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, DbError>(rows)
        })
    }
}
