//! `paperhub digest`: preview, run, send and inspect email digests, and add
//! subscribers from the command line.
//!
//! `run` renders and queues the current period's digests (idempotent: a
//! second run queues nothing new) and then sends the outbox; `send` only
//! sends. Both stop cleanly on Ctrl-C between two mails. Output never
//! contains subscribers' addresses except where one was given.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use chrono::Utc;
use paperhub_store::{Frequency, Store, SubscriberStatus};

use super::Outcome;
use crate::app::subscriptions::{self, MailContext, PreferenceInput};
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::digest;
use crate::mail::sender::{SendReport, send_due};
use crate::mail::transport::Transport;
use crate::retrieval::Retriever;

/// `paperhub digest ...`.
#[derive(Debug, clap::Subcommand)]
pub enum DigestCommand {
    /// Print the next digest of a subscriber (subject and text part).
    Preview {
        /// The subscriber's address.
        #[arg(long)]
        email: String,
    },
    /// Render and queue the current period's digests, then send the outbox.
    Run {
        /// Which digests.
        #[arg(long, value_enum, default_value = "daily")]
        period: PeriodArg,
        /// Count what would be queued; queue and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Queue only; leave sending to `paperhub serve` or `digest send`.
        #[arg(long)]
        no_send: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send every queued mail that is due.
    Send {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the outbox: queued, sent and failed mails, and subscribers.
    Status {
        /// Recent mails to list.
        #[arg(long, default_value_t = 10)]
        recent: u32,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a subscriber (a confirmation mail is queued unless --confirmed).
    Subscribe {
        /// The address.
        #[arg(long)]
        email: String,
        /// Daily or weekly.
        #[arg(long, value_enum, default_value = "daily")]
        frequency: PeriodArg,
        /// Trending papers per digest (0-50).
        #[arg(long, default_value_t = 10)]
        top: u32,
        /// A saved search (repeatable).
        #[arg(long = "query", value_name = "QUERY")]
        queries: Vec<String>,
        /// A category such as cs.LG (repeatable).
        #[arg(long = "category", value_name = "CATEGORY")]
        categories: Vec<String>,
        /// A followed author (repeatable).
        #[arg(long = "author", value_name = "NAME")]
        authors: Vec<String>,
        /// The address owner agreed elsewhere: skip the confirmation mail.
        #[arg(long)]
        confirmed: bool,
    },
}

/// `--period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeriodArg {
    /// After each announcement.
    Daily,
    /// Once a week.
    Weekly,
}

impl From<PeriodArg> for Frequency {
    fn from(p: PeriodArg) -> Frequency {
        match p {
            PeriodArg::Daily => Frequency::Daily,
            PeriodArg::Weekly => Frequency::Weekly,
        }
    }
}

/// Opens search for saved searches; without indexes, digests carry
/// trending, category and author sections only.
fn open_retriever(data_dir: &DataDir, config: &Config) -> Option<Retriever> {
    match Retriever::open(data_dir, config) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!(
                "warning: search indexes unavailable ({e:#}); saved searches will not match. Run `paperhub index`."
            );
            None
        }
    }
}

/// Sends the outbox until it is empty of due mail or Ctrl-C.
fn send(store: &dyn Store, data_dir: &DataDir, config: &Config) -> Result<SendReport> {
    let transport = Transport::from_config(&config.mail, &data_dir.outbox_dir())?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // A second handler registration fails harmlessly (e.g. in tests).
    let _ = ctrlc_flag(move || flag.store(true, Ordering::Relaxed));
    send_due(store, &transport, &config.mail, &stop)
}

fn ctrlc_flag(on_signal: impl Fn() + Send + 'static) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            runtime.block_on(crate::web::shutdown_signal());
            on_signal();
        })?;
    Ok(())
}

fn print_send(report: &SendReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!(
            "sent {}, deferred {} (will retry), failed {}, addresses disabled {}",
            report.sent, report.deferred, report.failed, report.disabled
        );
        if report.lost > 0 {
            println!(
                "{} mails were taken over by another sender during delivery; see the log",
                report.lost
            );
        }
    }
    Ok(())
}

/// Runs `paperhub digest`.
///
/// # Errors
/// The store, indexes, templates or transport fail.
pub fn run(data_dir: &DataDir, config: &Config, command: &DigestCommand) -> Result<Outcome> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    let secrets = crate::app::store::signing_secrets(store.as_ref(), data_dir)?;
    let hub = config.web.base_url();
    let context = |retriever| digest::Context {
        config,
        secrets: &secrets,
        retriever,
        hub_url: &hub,
    };
    match command {
        DigestCommand::Preview { email } => {
            let Some(subscriber) = store.subscriber_by_email(email.trim())? else {
                eprintln!("no subscriber with that address");
                return Ok(Outcome::Unsuccessful);
            };
            let retriever = open_retriever(data_dir, config);
            match digest::preview(
                store.as_ref(),
                context(retriever.as_ref()),
                &subscriber,
                Utc::now(),
            )? {
                Some((subject, text)) => {
                    println!("Subject: {subject}\n\n{text}");
                    Ok(Outcome::Success)
                }
                None => {
                    eprintln!("the next digest would be empty, so it would not be sent");
                    Ok(Outcome::Unsuccessful)
                }
            }
        }
        DigestCommand::Run {
            period,
            dry_run,
            no_send,
            json,
        } => {
            let retriever = open_retriever(data_dir, config);
            let cx = context(retriever.as_ref());
            let report = digest::run(store.as_ref(), cx, (*period).into(), *dry_run, Utc::now())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                match &report.period {
                    Some(p) => println!(
                        "{} digest {} ({} papers): {} subscribers, {} {}, {} already queued, {} empty (not sent), {} ms",
                        period_name(*period),
                        p.key,
                        report.papers,
                        report.subscribers,
                        report.queued,
                        if *dry_run {
                            "would be queued"
                        } else {
                            "queued"
                        },
                        report.already_queued,
                        report.empty,
                        report.elapsed_ms
                    ),
                    None => println!("the catalog has no announcements yet; nothing to send"),
                }
            }
            if !*dry_run && !*no_send {
                let sent = send(store.as_ref(), data_dir, config)?;
                print_send(&sent, *json)?;
            }
            Ok(Outcome::Success)
        }
        DigestCommand::Send { json } => {
            let report = send(store.as_ref(), data_dir, config)?;
            print_send(&report, *json)?;
            Ok(if report.failed > 0 {
                Outcome::Unsuccessful
            } else {
                Outcome::Success
            })
        }
        DigestCommand::Status { recent, json } => {
            let counts = store.outbox_counts()?;
            let rows = store.outbox_recent(*recent)?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "counts": counts,
                        "recent": rows,
                    }))?
                );
            } else {
                println!(
                    "outbox: {} queued, {} sent, {} failed\nsubscribers: {} active, {} awaiting confirmation\ntransport: {}",
                    counts.queued,
                    counts.sent,
                    counts.failed,
                    counts.active_subscribers,
                    counts.pending_subscribers,
                    config.mail.transport
                );
                for r in rows {
                    println!(
                        "{:>6}  {:<7} {:<6} attempts {}  {}  <{}>{}",
                        r.id,
                        r.kind,
                        r.status,
                        r.attempts,
                        r.created_at.format("%Y-%m-%d %H:%M"),
                        r.message_id,
                        r.last_error
                            .map(|e| format!("  last error: {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(Outcome::Success)
        }
        DigestCommand::Subscribe {
            email,
            frequency,
            top,
            queries,
            categories,
            authors,
            confirmed,
        } => {
            let Some(email) = subscriptions::valid_address(email) else {
                bail!("{email:?} is not an email address");
            };
            let frequency = Frequency::from(*frequency);
            let top = top.to_string();
            let input = PreferenceInput {
                frequency: frequency.as_str(),
                top_n: &top,
                queries: queries.iter().map(String::as_str).collect(),
                categories: categories.iter().map(String::as_str).collect(),
                authors: authors.iter().map(String::as_str).collect(),
            };
            let preferences =
                subscriptions::parse_preferences(&input).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mail = MailContext {
                config,
                hub_url: &hub,
                secrets: &secrets,
            };
            let done = subscriptions::subscribe(
                store.as_ref(),
                &mail,
                &email,
                Some(&preferences),
                *confirmed,
                Utc::now(),
            )?;
            let id = done.subscriber.id;
            if *confirmed {
                println!("subscriber {id} is active");
            } else {
                let report = send(store.as_ref(), data_dir, config)?;
                let what = match done.subscriber.status {
                    SubscriberStatus::Active => "is already active; a link to its preferences",
                    _ => "awaits confirmation; confirmation mail",
                };
                let how = if report.sent > 0 { "sent" } else { "queued" };
                println!("subscriber {id} {what}: {how}");
            }
            Ok(Outcome::Success)
        }
    }
}

fn period_name(p: PeriodArg) -> &'static str {
    match p {
        PeriodArg::Daily => "daily",
        PeriodArg::Weekly => "weekly",
    }
}
