//! The mail thread of `paperhub serve`: runs digests when their period
//! comes (on one node, through a lease) and keeps the outbox drained.
//!
//! It wakes when a handler queues a mail ([`Mailer::wake`]), when the next
//! queued retry falls due, or once a minute. Each time it first checks the
//! digest schedule: the daily digest of the latest announcement day once
//! the indexer is idle and the search index holds every paper of the period
//! (a harvest stores papers before the indexer takes them in; saved searches
//! must see them), the weekly one on `mail.weekly_day`. Both
//! are idempotent in the store, so a restart simply finishes a half-done
//! run. Then it sends whatever is due.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{Datelike, Utc};
use paperhub_store::{Frequency, Store};

use crate::app::store::SharedStore;
use crate::config::Config;
use crate::digest::{self, Period};
use crate::jobs::HubUrl;
use crate::jobs::index::Searcher;
use crate::jobs::lease::{Elected, Wait, run_elected};
use crate::mail::sender::send_due;
use crate::mail::transport::Transport;
use crate::secrets::Secrets;

/// The longest sleep between two looks at the outbox and the schedule.
const TICK: Duration = Duration::from_secs(60);
/// How soon to look again while a digest waits for the indexer.
const WAITING_FOR_INDEX: Duration = Duration::from_secs(2);

/// Wakes the mail thread; a no-op when none runs.
#[derive(Debug, Default)]
pub struct Mailer {
    wake: Mutex<Option<Sender<()>>>,
}

impl Mailer {
    /// Asks the mail thread to look at the outbox now.
    pub fn wake(&self) {
        if let Ok(wake) = self.wake.lock()
            && let Some(tx) = wake.as_ref()
        {
            let _ = tx.send(());
        }
    }

    /// Starts the mail thread of `job`, woken through this handle; digests
    /// run only when `digests`.
    ///
    /// # Errors
    /// The transport is misconfigured or the thread cannot start.
    pub fn start(&self, job: MailJob, digests: bool) -> Result<std::thread::JoinHandle<()>> {
        let transport = Transport::from_config(&job.config.mail, &job.outbox_dir)?;
        let (tx, rx) = channel();
        if let Ok(mut wake) = self.wake.lock() {
            *wake = Some(tx);
        }
        let app = job;
        std::thread::Builder::new()
            .name("mail".into())
            .spawn(move || {
                if let Err(e) = run(&app, &transport, &rx, digests) {
                    tracing::error!("the mail thread stopped: {e:#}");
                    eprintln!("the mail thread stopped: {e:#}");
                }
            })
            .context("starting the mail thread")
    }
}

/// What the mail thread works with.
pub struct MailJob {
    /// The store (digests read it; the outbox is in it).
    pub store: SharedStore,
    /// The hub's configuration.
    pub config: Config,
    /// Signs the links in digests.
    pub secrets: Secrets,
    /// The search indexes, for saved searches (digests wait until they hold
    /// the period's papers).
    pub searcher: Arc<Searcher>,
    /// The hub's address, for links.
    pub hub: Arc<HubUrl>,
    /// Where the file transport writes.
    pub outbox_dir: std::path::PathBuf,
}

/// Which digest periods this process already ran.
#[derive(Debug, Default)]
struct Schedule {
    daily: Option<String>,
    weekly: Option<String>,
}

impl Schedule {
    /// Runs the digests that are due; returns true when one had to wait
    /// for the indexer (look again soon).
    fn tick(&mut self, app: &MailJob, store: &SharedStore) -> Result<bool> {
        if !app.config.mail.digests_enabled {
            return Ok(false);
        }
        let Some(latest) = store.latest_day()? else {
            return Ok(false);
        };
        let tz: chrono_tz::Tz = app
            .config
            .schedule
            .timezone
            .parse()
            .unwrap_or(chrono_tz::UTC);
        let weekly_day: chrono::Weekday = app
            .config
            .mail
            .weekly_day
            .parse()
            .unwrap_or(chrono::Weekday::Fri);
        let today = Utc::now().with_timezone(&tz).weekday();
        let due = [
            (Frequency::Daily, true),
            (Frequency::Weekly, today == weekly_day),
        ];
        for (frequency, today_is_the_day) in due {
            let key = Period::of(frequency, latest).key;
            let last = match frequency {
                Frequency::Daily => &mut self.daily,
                Frequency::Weekly => &mut self.weekly,
            };
            if !today_is_the_day || last.as_deref() == Some(key.as_str()) {
                continue;
            }
            let retriever = app.searcher.get();
            if app.searcher.is_busy() || !indexed(store.as_ref(), &retriever, frequency, latest)? {
                return Ok(true);
            }
            let hub = app.hub.get();
            let cx = digest::Context {
                config: &app.config,
                secrets: &app.secrets,
                retriever: Some(&retriever),
                hub_url: &hub,
            };
            // One node renders a period's digests; the outbox's dedupe keys
            // would keep a second run from queueing anything anyway.
            let job = format!("digest:{}", frequency.as_str());
            let run = || digest::run(store.as_ref(), cx, frequency, false, Utc::now());
            match run_elected(store, &job, &key, Wait::No, run)? {
                Elected::Ran(report) => eprintln!(
                    "{} digests for {}: {} queued, {} already queued, {} empty",
                    frequency.as_str(),
                    key,
                    report.queued,
                    report.already_queued,
                    report.empty
                ),
                Elected::Done => {}
                // Another node is at it; look again on the next tick, and
                // take over if its lease runs out.
                Elected::Busy => continue,
            }
            *last = Some(key);
        }
        Ok(false)
    }
}

/// Whether the search index holds every paper announced in the period, so
/// saved searches see them (a harvest stores papers before the indexer
/// takes them in).
fn indexed(
    store: &dyn Store,
    retriever: &crate::retrieval::Retriever,
    frequency: Frequency,
    latest: chrono::NaiveDate,
) -> Result<bool> {
    let period = Period::of(frequency, latest);
    let announced = store
        .listing(
            &paperhub_store::ListQuery {
                from: period.from,
                to: period.to,
                categories: Vec::new(),
                offset: 0,
                limit: 0,
                include_hidden: true,
                order: paperhub_store::ListOrder::Votes,
            },
            None,
        )?
        .announced_total;
    let in_index = retriever
        .lexical
        .filtered_ids(&paperhub_search::SearchRequest {
            since: Some(period.from),
            until: Some(period.to),
            ..Default::default()
        })?
        .map_or(0, |ids| ids.len() as u64);
    Ok(in_index >= announced)
}

fn run(app: &MailJob, transport: &Transport, rx: &Receiver<()>, digests: bool) -> Result<()> {
    let store = Arc::clone(&app.store);
    let mut schedule = Schedule::default();
    let never = AtomicBool::new(false);
    loop {
        let waiting = digests
            && schedule.tick(app, &store).unwrap_or_else(|e| {
                tracing::error!("running digests failed; will try again: {e:#}");
                false
            });
        match send_due(store.as_ref(), transport, &app.config.mail, &never) {
            Ok(r) if r != Default::default() => tracing::info!(
                sent = r.sent,
                deferred = r.deferred,
                failed = r.failed,
                disabled = r.disabled,
                lost = r.lost,
                "outbox drained"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("sending mail failed; will try again: {e:#}"),
        }
        let wait = match store.next_due() {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or_default()
                .clamp(Duration::from_millis(200), TICK),
            _ => TICK,
        };
        let wait = if waiting {
            wait.min(WAITING_FOR_INDEX)
        } else {
            wait
        };
        match rx.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}
