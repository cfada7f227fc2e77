//! Trending: upvotes with time decay.
//!
//! The same shape as lemmy's and Hacker News' "hot" rank: votes count
//! logarithmically (the tenth vote matters less than the first) and age
//! divides with gravity 1.8, so a fresh paper with a few votes overtakes an
//! older one with many within a day or two. `now` is an argument, so the
//! function is pure and tested on its own.

use chrono::{DateTime, Utc};

/// Exponent of the age penalty.
const GRAVITY: f64 = 1.8;

/// The hot rank of a paper with `votes` upvotes that reached the hub at
/// `date`, seen at `now`: `log10(max(2, votes + 2)) / (age_hours + 2)^1.8`.
///
/// A date in the future ranks 0 (a clock skew must not pin a paper to the
/// top). There is no age cut-off here: the trending windows (day, week,
/// month) choose which papers are ranked at all.
pub fn hot_rank(votes: u32, date: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let age_hours = (now - date).num_seconds() as f64 / 3600.0;
    if age_hours < 0.0 {
        return 0.0;
    }
    let score = (f64::from(votes) + 2.0).max(2.0).log10();
    score / (age_hours + 2.0).powf(GRAVITY)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn known_values() {
        // 0 votes, 0 hours: log10(2) / 2^1.8.
        let r = hot_rank(0, now(), now());
        assert!((r - 2f64.log10() / 2f64.powf(1.8)).abs() < 1e-12);
        // 8 votes, 10 hours old: log10(10) / 12^1.8 = 1 / 12^1.8.
        let r = hot_rank(8, now() - Duration::hours(10), now());
        assert!((r - 1.0 / 12f64.powf(1.8)).abs() < 1e-12);
    }

    #[test]
    fn future_dates_rank_zero() {
        assert_eq!(hot_rank(100, now() + Duration::hours(1), now()), 0.0);
    }

    #[test]
    fn a_fresh_paper_overtakes_an_older_popular_one() {
        let old = hot_rank(50, now() - Duration::hours(48), now());
        let fresh = hot_rank(5, now() - Duration::hours(2), now());
        assert!(fresh > old, "{fresh} <= {old}");
    }

    proptest! {
        #[test]
        fn decreases_with_age(votes in 0u32..100_000, hours in 0i64..10_000, later in 1i64..1_000) {
            let t = now() - Duration::hours(hours);
            let a = hot_rank(votes, t, now());
            let b = hot_rank(votes, t - Duration::hours(later), now());
            prop_assert!(b < a);
        }

        #[test]
        fn increases_with_votes(votes in 0u32..100_000, more in 1u32..1_000, hours in 0i64..10_000) {
            let t = now() - Duration::hours(hours);
            prop_assert!(hot_rank(votes + more, t, now()) > hot_rank(votes, t, now()));
        }
    }
}
