//! The lists pages, the API and feeds share: a day's, week's or month's
//! papers, and trending.
//!
//! A period's list has two parts: papers submitted to it or featured by
//! curators, and the arXiv announcement of its days for the configured
//! categories, each by votes then recency. Trending ranks papers with
//! community activity (a submission or vote) inside the window by
//! [`paperhub_domain::hot_rank`], with the paper's first activity as its age.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use paperhub_store::{Entry, ListOrder, ListQuery, Listing, UserId};
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;

/// A list's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One announcement day.
    Day(NaiveDate),
    /// An ISO week (Monday first).
    Week(NaiveDate),
    /// A calendar month (its first day).
    Month(NaiveDate),
}

/// Years a list can be asked for. arXiv began in 1991; the bounds also keep
/// every neighbour and range computation far from chrono's limits (a week of
/// year 262143 overflowed, see #13).
const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

fn check_year(year: i32) -> Result<(), AppError> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(AppError::not_found(format!(
            "There are no lists for the year {year}; try one between {} and {}.",
            YEARS.start(),
            YEARS.end()
        )))
    }
}

fn in_range(d: NaiveDate) -> Result<NaiveDate, AppError> {
    check_year(d.year()).map(|()| d)
}

impl Period {
    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    /// Not a date; the message says the expected form.
    pub fn day(s: &str) -> Result<Period, AppError> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| AppError::bad_request(format!("{s:?} is not a date like 2025-11-20.")))
            .and_then(in_range)
            .map(Period::Day)
    }

    /// Parses `YYYY-Www`.
    ///
    /// # Errors
    /// Not an ISO week.
    pub fn week(s: &str) -> Result<Period, AppError> {
        let bad = || AppError::bad_request(format!("{s:?} is not an ISO week like 2025-W47."));
        let (y, w) = s.split_once("-W").ok_or_else(bad)?;
        let (y, w) = (
            y.parse::<i32>().map_err(|_| bad())?,
            w.parse::<u32>().map_err(|_| bad())?,
        );
        check_year(y)?;
        NaiveDate::from_isoywd_opt(y, w, Weekday::Mon)
            .ok_or_else(bad)
            .and_then(in_range)
            .map(Period::Week)
    }

    /// Parses `YYYY-MM`.
    ///
    /// # Errors
    /// Not a month.
    pub fn month(s: &str) -> Result<Period, AppError> {
        NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 7)
            .ok_or_else(|| AppError::bad_request(format!("{s:?} is not a month like 2025-11.")))
            .and_then(in_range)
            .map(Period::Month)
    }

    /// First and last day, inclusive.
    pub fn range(self) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Day(d) => (d, d),
            Period::Week(d) => (d, d + Duration::days(6)),
            Period::Month(d) => {
                let next = next_month(d);
                (d, next - Duration::days(1))
            }
        }
    }

    /// The page path.
    pub fn path(self) -> String {
        match self {
            Period::Day(d) => format!("/papers/date/{d}"),
            Period::Week(d) => {
                let w = d.iso_week();
                format!("/papers/week/{}-W{:02}", w.year(), w.week())
            }
            Period::Month(d) => format!("/papers/month/{}", d.format("%Y-%m")),
        }
    }

    /// A heading, e.g. "Papers of 20 November 2025".
    pub fn label(self) -> String {
        match self {
            Period::Day(d) => d.format("%A, %-d %B %Y").to_string(),
            Period::Week(d) => {
                let w = d.iso_week();
                format!(
                    "Week {} of {} ({} – {})",
                    w.week(),
                    w.year(),
                    d.format("%-d %b"),
                    (d + Duration::days(6)).format("%-d %b %Y")
                )
            }
            Period::Month(d) => d.format("%B %Y").to_string(),
        }
    }

    /// The week and month containing this period's first day, and the day.
    pub fn containing(self) -> (Period, Period, Period) {
        let (first, _) = self.range();
        let monday = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
        (
            Period::Day(first),
            Period::Week(monday),
            Period::Month(first.with_day(1).unwrap_or(first)),
        )
    }
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

fn prev_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 1 {
        (d.year() - 1, 12)
    } else {
        (d.year(), d.month() - 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// The periods before and after `period` (announcement days for days).
///
/// # Errors
/// A storage error.
pub async fn neighbours(
    app: &Arc<AppState>,
    period: Period,
) -> Result<(Option<Period>, Option<Period>), AppError> {
    Ok(match period {
        Period::Day(d) => {
            let (p, n) = app.db.run(move |s| s.days_around(d)).await?;
            (p.map(Period::Day), n.map(Period::Day))
        }
        Period::Week(d) => (
            Some(Period::Week(d - Duration::days(7))),
            Some(Period::Week(d + Duration::days(7))),
        ),
        Period::Month(d) => (
            Some(Period::Month(prev_month(d))),
            Some(Period::Month(next_month(d))),
        ),
    })
}

/// Query parameters of lists: `?category=cs.LG&page=2`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    /// One category to show, else the configured ones.
    pub category: Option<String>,
    /// 1-based page of the announcement part.
    pub page: Option<String>,
}

impl ListParams {
    /// The page number (a bad value means the first page).
    pub fn page(&self) -> u32 {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p| *p >= 1 && *p <= 10_000)
            .unwrap_or(1)
    }

    /// The category asked for, checked.
    ///
    /// # Errors
    /// Not an arXiv category.
    pub fn category(&self) -> Result<Option<String>, AppError> {
        parse_category(self.category.as_deref()).map_err(|c| {
            AppError::bad_request(format!("{c:?} is not an arXiv category such as cs.LG."))
        })
    }
}

/// A category filter as typed: none when absent or blank, else a checked
/// category; `Err` carries the rejected text.
pub fn parse_category(raw: Option<&str>) -> Result<Option<String>, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) if paperhub_domain::is_category(c) => Ok(Some(c.to_owned())),
        Some(c) => Err(c.to_owned()),
    }
}

/// What to list of a period.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// The period.
    pub period: Period,
    /// One category, else the configured ones.
    pub category: Option<String>,
    /// 1-based page of the announcement part.
    pub page: u32,
    /// Its size.
    pub limit: u32,
    /// Curators see hidden papers.
    pub include_hidden: bool,
    /// The announcement's order.
    pub order: ListOrder,
}

/// A period's listing.
///
/// # Errors
/// A storage error.
pub async fn listing(
    app: &Arc<AppState>,
    request: ListRequest,
    viewer: Option<UserId>,
) -> Result<Listing, AppError> {
    let ListRequest {
        period,
        category,
        page,
        limit,
        include_hidden,
        order,
    } = request;
    let (from, to) = period.range();
    let categories = category.map_or_else(|| app.config.harvest.categories.clone(), |c| vec![c]);
    let query = ListQuery {
        from,
        to,
        categories,
        offset: (page - 1) * limit,
        limit,
        include_hidden,
        order,
    };
    app.db.run(move |s| s.listing(&query, viewer)).await
}

/// A trending window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    #[default]
    Week,
    /// The last 30 days.
    Month,
}

impl Window {
    /// Parses `day`, `week` or `month`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: Option<&str>) -> Result<Window, AppError> {
        match s.unwrap_or("week") {
            "day" => Ok(Window::Day),
            "week" | "" => Ok(Window::Week),
            "month" => Ok(Window::Month),
            other => Err(AppError::bad_request(format!(
                "{other:?} is not a trending window: use day, week or month."
            ))),
        }
    }

    /// Its length.
    pub fn length(self) -> Duration {
        match self {
            Window::Day => Duration::days(1),
            Window::Week => Duration::days(7),
            Window::Month => Duration::days(30),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
        }
    }
}

/// Trending papers of `window`, best first.
///
/// # Errors
/// A storage error.
pub async fn trending(
    app: &Arc<AppState>,
    window: Window,
    limit: usize,
    offset: usize,
    viewer: Option<UserId>,
) -> Result<Vec<Entry>, AppError> {
    let now = Utc::now();
    let since = now - window.length();
    app.db
        .run(move |s| {
            let mut candidates = s.trending_candidates(since)?;
            candidates.sort_by(|a, b| {
                let ra = paperhub_domain::hot_rank(a.votes, a.first_seen_at, now);
                let rb = paperhub_domain::hot_rank(b.votes, b.first_seen_at, now);
                rb.total_cmp(&ra)
                    .then(b.votes.cmp(&a.votes))
                    .then(b.arxiv_id.cmp(&a.arxiv_id))
            });
            let ids = super::catalog_ids(
                candidates
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|c| c.arxiv_id.as_str()),
            );
            s.entries(&ids, viewer)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_away_years_are_refused_not_overflowed() {
        // See: #13 (these panicked with a date overflow).
        for (parse, s) in [
            (
                Period::day as fn(&str) -> Result<Period, AppError>,
                "-262143-01-01",
            ),
            (Period::week, "262143-W01"),
            (Period::week, "-262143-W02"),
            (Period::month, "+99999-01"),
            (Period::day, "0000-01-01"),
        ] {
            let e = parse(s).unwrap_err();
            assert!(e.status.is_client_error(), "{s}: {e:?}");
        }
        for p in [
            Period::day("9999-12-31"),
            Period::week("9999-W52"),
            Period::month("1900-01"),
        ] {
            let p = p.unwrap();
            let _ = (p.range(), p.path(), p.label(), p.containing());
        }
    }

    #[test]
    fn periods_parse_and_round_trip_to_paths() {
        let d = Period::day("2025-11-20").unwrap();
        assert_eq!(d.path(), "/papers/date/2025-11-20");
        let w = Period::week("2025-W47").unwrap();
        assert_eq!(w.path(), "/papers/week/2025-W47");
        assert_eq!(
            w.range(),
            (
                NaiveDate::from_ymd_opt(2025, 11, 17).unwrap(),
                NaiveDate::from_ymd_opt(2025, 11, 23).unwrap()
            )
        );
        let m = Period::month("2025-12").unwrap();
        assert_eq!(m.range().1, NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
        assert_eq!(m.path(), "/papers/month/2025-12");
        assert_eq!(d.containing().1, w);
        for bad in ["2025-13-01", "yesterday", "2025-11-20'"] {
            assert!(Period::day(bad).is_err());
        }
        assert!(Period::week("2025-W60").is_err());
        assert!(Period::month("2025-1").is_err());
    }
}
