//! The harvest schedule of `paperhub serve`: arXiv announces at 20:00
//! `America/New_York`, Sunday to Thursday; after each announcement (plus a
//! configured delay) one node harvests every configured OAI-PMH set and the
//! RSS announcements of the configured categories, then every node's
//! indexer brings its indexes up to date. A failed run is logged and the
//! schedule carries on. Each run is elected through a lease
//! ([`super::lease`]), so several nodes harvest once between them.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use paperhub_arxiv::SystemClock;

use super::index::Searcher;
use super::lease::{Elected, Wait, run_elected};
use crate::app::store::SharedStore;
use crate::config::{Config, ScheduleConfig};
use crate::harvest::{self, Silent};

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

/// The last scheduled harvest at or before `now`, if the schedule had one
/// in the past week: what `--harvest-now` runs, so nodes started together
/// elect one harvest between them.
///
/// # Errors
/// As [`next_harvest`].
pub fn previous_harvest(
    now: DateTime<Utc>,
    schedule: &ScheduleConfig,
) -> Result<Option<DateTime<Tz>>> {
    let week_ago = now - Duration::days(8);
    let mut last = None;
    let mut t = week_ago;
    loop {
        let next = next_harvest(t, schedule)?;
        if next.with_timezone(&Utc) > now {
            return Ok(last);
        }
        last = Some(next);
        t = next.with_timezone(&Utc);
    }
}

fn harvest_all(store: &SharedStore, config: &Config) -> Result<()> {
    let h = &config.harvest;
    let client = harvest::client(h, Arc::new(SystemClock))?;
    for set in &h.sets {
        let request = harvest::oai::OaiRequest {
            base_url: h.oai_base_url.clone(),
            set: set.clone(),
            metadata_prefix: h.metadata_prefix.clone(),
            from: None,
            until: None,
        };
        let r = harvest::oai::harvest(store.as_ref(), &client, &request, &mut Silent)?;
        tracing::info!(harvest.set = %set, "OAI-PMH harvest of {set}: {} new, {} updated in {} pages", r.new, r.updated, r.pages);
    }
    let r = harvest::rss::harvest(
        store.as_ref(),
        &client,
        &h.rss_base_url,
        &h.categories,
        &mut Silent,
    )?;
    tracing::info!("RSS announcements: {}", r.notes.join("; "));
    eprintln!("harvest done; updating the search indexes");
    Ok(())
}

/// The harvest schedule, forever; every run ends by waking the indexer.
///
/// # Errors
/// The schedule is invalid (config validation rejects that before).
pub fn harvest_loop(
    config: &Config,
    store: &SharedStore,
    searcher: &Searcher,
    now_first: bool,
) -> Result<()> {
    if now_first {
        let slot = previous_harvest(Utc::now(), &config.schedule)?
            .map_or_else(|| "now".to_owned(), |t| t.to_rfc3339());
        harvest_then_index(config, store, searcher, &slot);
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
        harvest_then_index(config, store, searcher, &next.to_rfc3339());
    }
}

/// The harvest of the scheduled slot `slot`, by whichever node wins its
/// lease (the others wait until it is done), then the indexer is woken; a
/// failure is logged and the schedule carries on.
fn harvest_then_index(config: &Config, store: &SharedStore, searcher: &Searcher, slot: &str) {
    match run_elected(store, "harvest", slot, Wait::Yes, || {
        harvest_all(store, config)
    }) {
        Ok(Elected::Ran(())) => searcher.refresh(),
        Ok(Elected::Done | Elected::Busy) => {
            eprintln!("the harvest of {slot} was done by another node");
            searcher.refresh();
        }
        Err(e) => {
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
    fn harvest_now_runs_the_last_slot_so_nodes_agree_on_it() {
        let s = ScheduleConfig::default();
        // Monday noon UTC: the last run was Sunday 20:00 EST + 30 min.
        let last = previous_harvest(at("2025-12-01T12:00:00Z"), &s)
            .unwrap()
            .map(|t| t.with_timezone(&Utc));
        assert_eq!(last, Some(at("2025-12-01T01:30:00Z")));
        // At the slot itself, it is that slot.
        let same = previous_harvest(at("2025-12-02T01:30:00Z"), &s)
            .unwrap()
            .map(|t| t.with_timezone(&Utc));
        assert_eq!(same, Some(at("2025-12-02T01:30:00Z")));
        // Saturday: Thursday evening's run (none on Friday or Saturday).
        let saturday = previous_harvest(at("2025-12-06T12:00:00Z"), &s)
            .unwrap()
            .map(|t| t.with_timezone(&Utc));
        assert_eq!(saturday, Some(at("2025-12-05T01:30:00Z")));
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
