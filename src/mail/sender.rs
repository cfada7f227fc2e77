//! The sender worker: drains the outbox through a transport.
//!
//! It takes due mails oldest first and, for each, delivers it and then
//! records the outcome: sent; a temporary failure, retried after
//! `retry_base_secs · 2^attempts` (capped at six hours) until
//! `max_attempts`; or a permanent failure, which counts against the address
//! and disables it after `disable_after_hard_failures` in a row. Sends are
//! paced to `rate_per_minute`.
//!
//! Several senders may drain one outbox at once (`paperhub serve`'s mail
//! thread and a `paperhub digest send`, or hubs on one database). Each
//! [`send_due`] run is a sender with its own random id, and claims one mail
//! at a time with a lease ([`OutboxStore::claim_due_mails`]) just before
//! delivering it, so no two senders hold the same mail; the lease covers one
//! delivery (see [`lease_for`]), and the outcome is recorded only while the
//! sender still holds it.
//!
//! Delivery is at-least-once with a window of one mail: a mail is marked
//! sent right after the server accepted it, so only a crash between those
//! two steps can send it again, and then with the same Message-ID, which
//! receivers use to drop duplicates. A crash while a mail is claimed leaves
//! it to be sent again once the lease expires. Every other crash (before
//! sending, between mails, while rendering) loses and repeats nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use paperhub_store::{OutboxStore, Settled};
use serde::Serialize;

use super::transport::{Failure, Transport};
use crate::config::MailConfig;

/// What one drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// Accepted by the server (or written).
    pub sent: u64,
    /// Failed temporarily; queued again for later.
    pub deferred: u64,
    /// Given up.
    pub failed: u64,
    /// Addresses disabled after repeated permanent failures.
    pub disabled: u64,
    /// Mails whose outcome was not recorded because this sender had lost
    /// them: the lease ran out and another sender claimed the mail, or it
    /// was cancelled (its subscriber left) while being delivered.
    pub lost: u64,
}

/// The longest wait between two attempts of one mail.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 60 * 60);

/// When attempt `attempts + 1` of a mail that failed `attempts` times may run.
pub fn backoff(base_secs: u64, attempts: u32) -> Duration {
    let factor = 1u64 << attempts.min(20);
    Duration::from_secs(base_secs.saturating_mul(factor)).min(MAX_BACKOFF)
}

/// How long a claimed mail stays this sender's: one delivery, which is
/// several SMTP exchanges (connect, greeting, envelope, data, reply) each
/// bounded by `smtp_timeout_secs`, plus a minute's margin. Too short a lease
/// lets a second sender take a mail still being delivered; too long delays
/// the mail a crashed sender held.
pub fn lease_for(config: &MailConfig) -> Duration {
    Duration::from_secs(60 + 10 * config.smtp_timeout_secs.max(1))
}

/// A sender's id for its leases: host, process and a random part, so two
/// senders never share one, and an operator can tell where a lease came from.
///
/// # Errors
/// The system's random source fails.
pub fn sender_id() -> Result<String> {
    let host = fs_err::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let random = crate::secrets::hex(&crate::secrets::random_bytes::<6>()?);
    Ok(format!("{host}:{}:{random}", std::process::id()))
}

/// Sends every mail due now, and those that fall due while it runs, until
/// none is due or `stop` is set. Other senders may drain the same outbox at
/// the same time; each mail goes out once (see the module docs).
///
/// # Errors
/// A storage error; the mail in hand stays queued, and claimable again
/// when its lease expires.
pub fn send_due(
    store: &dyn OutboxStore,
    transport: &Transport,
    config: &MailConfig,
    stop: &AtomicBool,
) -> Result<SendReport> {
    let owner = sender_id()?;
    let lease = chrono::Duration::from_std(lease_for(config))
        .context("the mail lease does not fit a date")?;
    let mut report = SendReport::default();
    let gap = Duration::from_secs(60) / config.rate_per_minute.max(1);
    let mut last_send: Option<Instant> = None;
    loop {
        if let Some(last) = last_send {
            let wait = gap.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(report);
        }
        // One mail at a time, claimed after the pacing wait: the lease then
        // only has to cover one delivery, and a stopped or killed sender
        // holds at most the mail it was delivering.
        let now = Utc::now();
        let Some(mail) = store.claim_due_mails(&owner, now, now + lease, 1)?.pop() else {
            return Ok(report);
        };
        last_send = Some(Instant::now());
        let settled = match transport.deliver(&mail.message_id, &mail.recipient, &mail.message) {
            Ok(()) => {
                let settled = store.mark_sent(mail.id, &owner, Utc::now())?;
                if settled != Settled::LeaseLost {
                    report.sent += 1;
                    tracing::info!(outbox.id = mail.id.0, mail.message_id = %mail.message_id, "mail sent");
                }
                settled
            }
            Err(Failure::Temporary(error)) if mail.attempts + 1 < config.max_attempts => {
                let wait = backoff(config.retry_base_secs, mail.attempts);
                let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                let settled = store.mark_retry(mail.id, &owner, &error, retry_at)?;
                if settled != Settled::LeaseLost {
                    report.deferred += 1;
                    tracing::warn!(
                        outbox.id = mail.id.0, mail.message_id = %mail.message_id,
                        attempt = mail.attempts + 1, retry_in_secs = wait.as_secs(),
                        "temporary delivery failure: {error}"
                    );
                }
                settled
            }
            Err(failure) => {
                let (error, permanent) = match failure {
                    Failure::Permanent(e) => (e, true),
                    Failure::Temporary(e) => (
                        format!("gave up after {} attempts: {e}", mail.attempts + 1),
                        false,
                    ),
                };
                let settled = store.mark_failed(
                    mail.id,
                    &owner,
                    &error,
                    permanent,
                    config.disable_after_hard_failures,
                )?;
                if settled != Settled::LeaseLost {
                    let disabled = settled == Settled::Disabled;
                    report.failed += 1;
                    report.disabled += u64::from(disabled);
                    tracing::warn!(
                        outbox.id = mail.id.0, mail.message_id = %mail.message_id, permanent, disabled,
                        "delivery failed: {error}"
                    );
                }
                settled
            }
        };
        if settled == Settled::LeaseLost {
            report.lost += 1;
            tracing::warn!(
                outbox.id = mail.id.0, mail.message_id = %mail.message_id, sender.id = %owner,
                "the mail's lease was lost during delivery (it expired and another sender took \
                 the mail, or the mail was cancelled); its outcome is not recorded"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(60, 0), Duration::from_secs(60));
        assert_eq!(backoff(60, 3), Duration::from_secs(480));
        assert_eq!(backoff(60, 30), MAX_BACKOFF);
        assert_eq!(backoff(0, 5), Duration::ZERO);
    }
}
