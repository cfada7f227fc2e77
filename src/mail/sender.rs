//! The sender worker: drains the outbox through a transport.
//!
//! It takes due mails oldest first and, for each, delivers it and then
//! records the outcome: sent; a temporary failure, retried after
//! `retry_base_secs · 2^attempts` (capped at six hours) until
//! `max_attempts`; or a permanent failure, which counts against the address
//! and disables it after `disable_after_hard_failures` in a row. Sends are
//! paced to `rate_per_minute`.
//!
//! Delivery is at-least-once with a window of one mail: a mail is marked
//! sent right after the server accepted it, so only a crash between those
//! two steps can send it again, and then with the same Message-ID, which
//! receivers use to drop duplicates. Every other crash (before sending,
//! between mails, while rendering) loses and repeats nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use paperhub_db::MailStore;
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
}

/// The longest wait between two attempts of one mail.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 60 * 60);

/// When attempt `attempts + 1` of a mail that failed `attempts` times may run.
pub fn backoff(base_secs: u64, attempts: u32) -> Duration {
    let factor = 1u64 << attempts.min(20);
    Duration::from_secs(base_secs.saturating_mul(factor)).min(MAX_BACKOFF)
}

/// Sends every mail due now, and those that fall due while it runs, until
/// none is due or `stop` is set.
///
/// # Errors
/// A storage error; the mail in hand stays queued.
pub fn send_due(
    store: &mut dyn MailStore,
    transport: &Transport,
    config: &MailConfig,
    stop: &AtomicBool,
) -> Result<SendReport> {
    let mut report = SendReport::default();
    let gap = Duration::from_secs(60) / config.rate_per_minute.max(1);
    let mut last_send: Option<Instant> = None;
    loop {
        let due = store.due_mails(Utc::now(), 100)?;
        if due.is_empty() {
            return Ok(report);
        }
        for mail in due {
            if stop.load(Ordering::Relaxed) {
                return Ok(report);
            }
            if let Some(last) = last_send {
                let wait = gap.saturating_sub(last.elapsed());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
            }
            last_send = Some(Instant::now());
            match transport.deliver(&mail.message_id, &mail.recipient, &mail.message) {
                Ok(()) => {
                    store.mark_sent(mail.id, Utc::now())?;
                    report.sent += 1;
                    tracing::info!(outbox.id = mail.id, mail.message_id = %mail.message_id, "mail sent");
                }
                Err(Failure::Temporary(error)) if mail.attempts + 1 < config.max_attempts => {
                    let wait = backoff(config.retry_base_secs, mail.attempts);
                    let retry_at =
                        Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    store.mark_retry(mail.id, &error, retry_at)?;
                    report.deferred += 1;
                    tracing::warn!(
                        outbox.id = mail.id, mail.message_id = %mail.message_id,
                        attempt = mail.attempts + 1, retry_in_secs = wait.as_secs(),
                        "temporary delivery failure: {error}"
                    );
                }
                Err(failure) => {
                    let (error, permanent) = match failure {
                        Failure::Permanent(e) => (e, true),
                        Failure::Temporary(e) => (
                            format!("gave up after {} attempts: {e}", mail.attempts + 1),
                            false,
                        ),
                    };
                    let disabled = store.mark_failed(
                        mail.id,
                        &error,
                        permanent,
                        config.disable_after_hard_failures,
                    )?;
                    report.failed += 1;
                    report.disabled += u64::from(disabled);
                    tracing::warn!(
                        outbox.id = mail.id, mail.message_id = %mail.message_id, permanent, disabled,
                        "delivery failed: {error}"
                    );
                }
            }
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
