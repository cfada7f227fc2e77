//! `paperhub serve`: the long-running process.
//!
//! For now it runs the harvest schedule: arXiv announces at 20:00
//! `America/New_York`, Sunday to Thursday; after each announcement (plus a
//! configured delay) it harvests every configured OAI-PMH set and the RSS
//! announcements of the configured categories, logs the result, and sleeps
//! until the next one. A failed run is logged and the schedule carries on.
//! The web UI joins this process with the web issue.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use paperhub_arxiv::SystemClock;

use super::Outcome;
use crate::config::{Config, ScheduleConfig};
use crate::data_dir::DataDir;
use crate::harvest::{self, Silent};
use crate::indexing;
use paperhub_search::LexicalIndex;

/// Arguments of `paperhub serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Harvest once right away, then follow the schedule.
    #[arg(long)]
    pub harvest_now: bool,
}

/// The first scheduled harvest strictly after `now`.
///
/// # Errors
/// The schedule's time zone, time or days are invalid (config validation
/// rejects those before this runs).
pub fn next_harvest(now: DateTime<Utc>, schedule: &ScheduleConfig) -> Result<DateTime<Tz>> {
    let tz: Tz = schedule
        .timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown time zone {}", schedule.timezone))?;
    let time = NaiveTime::parse_from_str(&schedule.announce_time, "%H:%M")
        .with_context(|| format!("bad announce_time {}", schedule.announce_time))?;
    let days: Vec<Weekday> = schedule
        .days
        .iter()
        .map(|d| d.parse().map_err(|_| anyhow::anyhow!("bad weekday {d}")))
        .collect::<Result<_>>()?;
    let local_today = now.with_timezone(&tz).date_naive();
    for offset in 0..=7 {
        let day = local_today + Duration::days(offset);
        if !days.contains(&day.weekday()) {
            continue;
        }
        // `earliest` picks the first of two instants when clocks fall back.
        let Some(announce) = tz.from_local_datetime(&day.and_time(time)).earliest() else {
            continue; // the time does not exist that day (spring forward)
        };
        // In the schedule's zone, so callers can show the local time too.
        let run = announce + Duration::minutes(i64::from(schedule.delay_minutes));
        if run > now {
            return Ok(run);
        }
    }
    anyhow::bail!("schedule.days is empty: there is never a next harvest")
}

fn harvest_all(data_dir: &DataDir, config: &Config) -> Result<()> {
    let h = &config.harvest;
    let client = harvest::client(h, Arc::new(SystemClock))?;
    let mut store = data_dir.open_store()?;
    for set in &h.sets {
        let request = harvest::oai::OaiRequest {
            base_url: h.oai_base_url.clone(),
            set: set.clone(),
            metadata_prefix: h.metadata_prefix.clone(),
            from: None,
            until: None,
        };
        let r = harvest::oai::harvest(&mut store, &client, &request, &mut Silent)?;
        tracing::info!(harvest.set = %set, "OAI-PMH harvest of {set}: {} new, {} updated in {} pages", r.new, r.updated, r.pages);
    }
    let r = harvest::rss::harvest(
        &mut store,
        &client,
        &h.rss_base_url,
        &h.categories,
        &mut Silent,
    )?;
    tracing::info!("RSS announcements: {}", r.notes.join("; "));
    // Hand the new papers to the search index. This runs on the harvest
    // thread, so it never blocks anything that serves requests.
    let index = LexicalIndex::open_or_create(&indexing::lexical_dir(data_dir))?;
    let indexed = indexing::update_lexical(&store, &index, &mut |_| {})?;
    tracing::info!("indexed {indexed} new or changed papers");
    eprintln!("harvest done; indexed {indexed} new or changed papers");
    // And to the vector index, when a model is there (serve never downloads one).
    if let Some(dir) = crate::models::locate(&config.embedding, data_dir) {
        let embedder = paperhub_embed::Embedder::load(&dir)?;
        let mut vectors = crate::retrieval::open_vectors(data_dir, &embedder)?;
        let embedded = indexing::update_vectors(
            &store,
            &mut vectors,
            &embedder,
            config.embedding.threads,
            &mut |_, _| {},
        )?;
        tracing::info!("embedded {embedded} new or changed papers");
        eprintln!("embedded {embedded} new or changed papers");
    }
    Ok(())
}

/// Runs `paperhub serve` until the process is stopped.
///
/// # Errors
/// The contact email is missing (checked up front) or the schedule is invalid.
pub fn run(data_dir: &DataDir, config: &Config, args: &ServeArgs) -> Result<Outcome> {
    // Fail at start-up, not at 20:30 on Sunday.
    harvest::client(&config.harvest, Arc::new(SystemClock))?;
    if !config.schedule.enabled {
        eprintln!("scheduled harvesting is disabled (schedule.enabled = false); nothing to do");
        return Ok(Outcome::Success);
    }
    if args.harvest_now
        && let Err(e) = harvest_all(data_dir, config)
    {
        tracing::error!("harvest failed: {e:#}");
        eprintln!("harvest failed: {e:#}");
    }
    loop {
        let now = Utc::now();
        let next = next_harvest(now, &config.schedule)?;
        let wait = (next.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or_default();
        tracing::info!(
            "next harvest at {} (in {} minutes)",
            next.with_timezone(&Utc),
            wait.as_secs() / 60
        );
        eprintln!(
            "next harvest at {} ({} in {}), in {} minutes",
            next.with_timezone(&Utc).format("%Y-%m-%d %H:%M UTC"),
            next.format("%H:%M %Z"),
            config.schedule.timezone,
            wait.as_secs() / 60
        );
        std::thread::sleep(wait);
        if let Err(e) = harvest_all(data_dir, config) {
            tracing::error!("harvest failed, will try again at the next announcement: {e:#}");
            eprintln!("harvest failed: {e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn next_announcement_follows_new_york_time_and_weekdays() {
        let s = ScheduleConfig::default();
        // Monday 2025-12-01 12:00 UTC -> Monday 20:00 EST = 01:00 UTC Tuesday, plus 30 min.
        assert_eq!(
            next_harvest(at("2025-12-01T12:00:00Z"), &s).unwrap(),
            at("2025-12-02T01:30:00Z")
        );
        // Just after that run: the next is Tuesday evening.
        assert_eq!(
            next_harvest(at("2025-12-02T01:30:00Z"), &s).unwrap(),
            at("2025-12-03T01:30:00Z")
        );
        // Friday: no announcements Friday or Saturday; next is Sunday 20:00 EST.
        assert_eq!(
            next_harvest(at("2025-12-05T12:00:00Z"), &s).unwrap(),
            at("2025-12-08T01:30:00Z")
        );
        // Summer time: 20:00 EDT = 00:00 UTC.
        assert_eq!(
            next_harvest(at("2025-07-01T12:00:00Z"), &s).unwrap(),
            at("2025-07-02T00:30:00Z")
        );
    }

    #[test]
    fn empty_days_is_an_error() {
        let s = ScheduleConfig {
            days: vec![],
            ..ScheduleConfig::default()
        };
        assert!(next_harvest(Utc::now(), &s).is_err());
    }
}
