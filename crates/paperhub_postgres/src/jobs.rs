//! Job leases on PostgreSQL; see `paperhub_store::JobStore`.
//!
//! Acquiring is one upsert whose `WHERE` lets it take the row only when the
//! run is not done and nobody else holds an unexpired lease; when it takes
//! nothing, a second read says whether the run is busy or done.

use chrono::{DateTime, Utc};
use paperhub_store::{Acquire, JobLease, JobStore, StoreResult};

use crate::PgStore;
use crate::rows::text;

impl JobStore for PgStore {
    fn acquire(
        &self,
        job: &str,
        run_key: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Acquire> {
        let (job, run_key, owner) = (text(job), text(run_key), text(owner));
        self.write(|tx| {
            let took = tx
                .query_opt(
                    "INSERT INTO job_leases (job, run_key, owner, lease_until, started_at) \
                     VALUES ($1, $2, $3, $5, $4) \
                     ON CONFLICT (job) DO UPDATE SET run_key = $2, owner = $3, \
                       lease_until = $5, started_at = $4 \
                     WHERE job_leases.done_key IS DISTINCT FROM $2 \
                       AND (job_leases.owner IS NULL OR job_leases.lease_until <= $4 \
                            OR job_leases.owner = $3) \
                     RETURNING owner",
                    &[&job, &run_key, &owner, &now, &until],
                )?
                .is_some();
            if took {
                return Ok(Acquire::Acquired);
            }
            let row = tx.query_one(
                "SELECT owner, lease_until, done_key, done_at FROM job_leases WHERE job = $1",
                &[&job],
            )?;
            let done_key: Option<String> = row.try_get(2)?;
            if done_key.as_deref() == Some(&*run_key) {
                let at: Option<DateTime<Utc>> = row.try_get(3)?;
                return Ok(Acquire::Done {
                    at: at.unwrap_or(now),
                });
            }
            let holder: Option<String> = row.try_get(0)?;
            let held_until: Option<DateTime<Utc>> = row.try_get(1)?;
            Ok(Acquire::Busy {
                owner: holder.unwrap_or_default(),
                until: held_until.unwrap_or(now),
            })
        })
    }

    fn renew(&self, job: &str, owner: &str, until: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE job_leases SET lease_until = $3 WHERE job = $1 AND owner = $2",
                &[&text(job), &text(owner), &until],
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
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE job_leases SET done_key = run_key, done_at = $4, owner = NULL, \
                   lease_until = NULL \
                 WHERE job = $1 AND owner = $3 AND run_key = $2",
                &[&text(job), &text(run_key), &text(owner), &now],
            )? > 0)
        })
    }

    fn release(&self, job: &str, owner: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE job_leases SET owner = NULL, lease_until = NULL \
                 WHERE job = $1 AND owner = $2",
                &[&text(job), &text(owner)],
            )?;
            Ok(())
        })
    }

    fn leases(&self) -> StoreResult<Vec<JobLease>> {
        self.read(|c| {
            c.query(
                "SELECT job, run_key, owner, lease_until, done_key, done_at FROM job_leases \
                 ORDER BY job",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(JobLease {
                    job: r.try_get(0)?,
                    run_key: r.try_get(1)?,
                    owner: r.try_get(2)?,
                    lease_until: r.try_get(3)?,
                    done_key: r.try_get(4)?,
                    done_at: r.try_get(5)?,
                })
            })
            .collect()
        })
    }
}
