//! `paperhub serve`: the long-running process.
//!
//! It serves the web hub and the JSON API (see [`crate::web`]) and, when a
//! contact email is configured, runs the harvest schedule on its own thread
//! ([`crate::jobs::harvest`]); the indexer ([`crate::jobs::index`]) brings
//! the BM25 and vector indexes up to date while requests keep being served.
//! The mail thread ([`crate::jobs::mail`]) runs the daily
//! digests once the indexer has caught up, the weekly ones on their day, and
//! sends the outbox. SIGTERM or Ctrl-C stops accepting connections, finishes the
//! requests in flight, and closes the store.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use paperhub_arxiv::SystemClock;

use super::Outcome;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::harvest;
use crate::jobs::harvest::harvest_loop;
use crate::jobs::index::IndexerOptions;
use crate::web::{self, AppState};

/// Arguments of `paperhub serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Harvest once right away, then follow the schedule.
    #[arg(long)]
    pub harvest_now: bool,
    /// Listen on this address [default: web.addr, 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
}

/// Serves `data_dir` until SIGTERM or Ctrl-C: the web hub, the indexer, and
/// (when configured) the harvest schedule.
///
/// # Errors
/// The store, indexes or address cannot be opened, or the schedule is invalid.
pub fn serve(
    data_dir: &DataDir,
    config: &Config,
    addr: Option<&str>,
    harvest_now: bool,
    indexer: IndexerOptions,
) -> Result<Outcome> {
    let app = AppState::open(data_dir, config)?;
    app.mailer.start(
        crate::jobs::mail::MailJob {
            store: Arc::clone(app.db.store()),
            config: config.clone(),
            secrets: app.secrets.clone(),
            searcher: Arc::clone(&app.searcher),
            hub: Arc::clone(&app.hub),
            outbox_dir: data_dir.outbox_dir(),
        },
        config.mail.digests_enabled,
    )?;
    let indexer = app
        .searcher
        .start_indexer(data_dir.clone(), config.clone(), indexer)?;
    let harvesting =
        config.schedule.enabled && harvest::client(&config.harvest, Arc::new(SystemClock)).is_ok();
    if harvest_now && !harvesting {
        // Say why instead of silently not harvesting.
        harvest::client(&config.harvest, Arc::new(SystemClock))?;
        anyhow::bail!("--harvest-now needs schedule.enabled = true");
    }
    if harvesting {
        let (cfg, store, searcher) = (
            config.clone(),
            Arc::clone(app.db.store()),
            Arc::clone(&app.searcher),
        );
        std::thread::Builder::new()
            .name("harvest".into())
            .spawn(move || {
                if let Err(e) = harvest_loop(&cfg, &store, &searcher, harvest_now) {
                    tracing::error!("the harvest schedule stopped: {e:#}");
                    eprintln!("the harvest schedule stopped: {e:#}");
                }
            })
            .context("starting the harvest thread")?;
    } else {
        eprintln!(
            "scheduled harvesting is off (it needs schedule.enabled and harvest.contact_email); serving the catalog as it is"
        );
    }
    let addr = addr.unwrap_or(&config.web.addr).to_owned();
    web::run(Arc::clone(&app), &addr, |local| {
        tracing::info!("serving on http://{local}");
        eprintln!("Paperhub is serving on http://{local}/ (Ctrl-C to stop)");
    })?;
    drop(indexer);
    eprintln!("Paperhub stopped.");
    Ok(Outcome::Success)
}

/// Runs `paperhub serve`.
///
/// # Errors
/// See [`serve`].
pub fn run(data_dir: &DataDir, config: &Config, args: &ServeArgs) -> Result<Outcome> {
    if config.schedule.enabled {
        // A schedule that can never run is a configuration error; say so now.
        crate::jobs::harvest::next_harvest(Utc::now(), &config.schedule)?;
    }
    serve(
        data_dir,
        config,
        args.addr.as_deref(),
        args.harvest_now,
        IndexerOptions {
            build_now: true,
            progress_bar: false,
            embed: true,
        },
    )
}
