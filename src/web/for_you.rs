//! "For you" on the web and in the API: the tab beside Daily, its private
//! Atom feed, "not interested" and its reset, "more like this collection",
//! and `GET /api/v1/for-you` and `GET /api/v1/collections/{slug}/recommended`.
//!
//! The ranking itself is [`crate::app::for_you`]; this module loads its
//! inputs in one store call, ranks on a blocking thread outside the store
//! pool, and shows each paper with its reasons. The feed is read by feed
//! readers, which carry no cookie, so its link carries a signed token
//! (purpose `for-you`, a year) naming the account.

use std::collections::HashSet;
use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use paperhub_domain::{ArxivId, UserId};
use paperhub_store::Entry;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::errors::{ApiError, AppError};
use super::lists::Period;
use super::pages::{chrome, render};
use super::session::Viewer;
use super::views::{Card, Chrome, Link, PaperView};
use crate::app::for_you::{self, Method, Profile, Ranking, RankingKey, Reason, Scope, Signals};

/// Papers a page, the feed and the API show at most.
pub const MAX_PICKS: usize = 100;
/// Papers a page shows unless asked for fewer.
const PAGE_PICKS: usize = 30;
/// Papers "more like this collection" shows.
pub const COLLECTION_PICKS: usize = 10;
/// Picks ranked beyond those asked for, to stand in for papers hidden by
/// curators since the period's papers were read (at most a minute ago).
const HIDDEN_SPARE: usize = 10;
/// The feed token's purpose.
const FEED_PURPOSE: &str = "for-you";

/// `?period=day|week|month&date=YYYY-MM-DD&limit=N`.
#[derive(Debug, Default, Deserialize)]
pub struct ForYouParams {
    /// The period kind; the week by default.
    pub period: Option<String>,
    /// A day inside it; the latest announcement day by default.
    pub date: Option<String>,
    /// Papers to show (API), at most [`MAX_PICKS`].
    pub limit: Option<String>,
    /// The feed token.
    pub t: Option<String>,
}

impl ForYouParams {
    async fn period(&self, app: &Arc<AppState>) -> Result<Period, AppError> {
        let day = match self.date.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => Period::day(d)?.range().0,
            None => app.latest_day().await?,
        };
        let (d, w, m) = Period::Day(day).containing();
        match self.period.as_deref().unwrap_or("week") {
            "day" => Ok(d),
            "week" => Ok(w),
            "month" => Ok(m),
            other => Err(AppError::bad_request(format!(
                "{other:?} is not a period; use day, week or month."
            ))),
        }
    }

    fn limit(&self, default: usize) -> Result<usize, AppError> {
        match self.limit.as_deref() {
            None | Some("") => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PICKS).contains(n))
                .ok_or_else(|| {
                    AppError::bad_request(format!("limit must be a number from 1 to {MAX_PICKS}."))
                }),
        }
    }
}

/// A ranking with its picks' entries, as the viewer sees them now.
pub struct Ranked {
    /// The ranking (its picks index the period's papers).
    pub ranking: Arc<Ranking>,
    /// Each pick's entry, read for the viewer, with its reasons, best
    /// first.
    picks: Vec<(Entry, usize)>,
}

impl Ranked {
    /// The picks' entries with their reasons, best first.
    pub fn picks(&self) -> impl Iterator<Item = (&Entry, &[Reason])> {
        self.picks
            .iter()
            .map(|(e, i)| (e, self.ranking.picks[*i].reasons.as_slice()))
    }
}

/// Ranks `period`'s papers for `user` against `scope`.
///
/// The period's papers and features come from [`AppState::for_you`] (read
/// again after [`for_you::PERIOD_TTL`]); the user's signals are read on
/// every call, and the ranking is made again only when they or the
/// period's papers changed ([`for_you::RankingCache`]). The picks are then
/// read for the viewer, so votes and marks on the page are current.
///
/// # Errors
/// A storage error.
pub async fn rank(
    app: &Arc<AppState>,
    user: UserId,
    scope: Scope,
    period: Period,
    limit: usize,
) -> Result<Ranked, AppError> {
    let range = period.range();
    let retriever = app.searcher.get();
    let set = match app.for_you.fresh(range, &retriever) {
        Some(set) => set,
        None => {
            let read_at = std::time::Instant::now();
            let entries = app
                .db
                .run(move |s| for_you::period_entries(s, range, for_you::MAX_PERIOD_PAPERS, None))
                .await?;
            let a = Arc::clone(app);
            let retriever = Arc::clone(&retriever);
            // Building features takes a core: it shares the searches' bound.
            app.searching
                .run(move || {
                    let vectors = retriever.dense.as_ref().map(|d| &d.vectors);
                    a.for_you
                        .build(range, entries, read_at, &retriever, vectors)
                })
                .await?
        }
    };
    let ids: Vec<ArxivId> = set.entries.iter().map(|e| e.paper.id.clone()).collect();
    let (signals, saved) = app
        .db
        .run(move |s| {
            let signals = Signals::load(s, user, scope)?;
            let saved: HashSet<String> = if scope == Scope::Library {
                s.saved_in(user, &ids)?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect()
            } else {
                HashSet::new()
            };
            Ok::<_, paperhub_store::StoreError>((signals, saved))
        })
        .await?;
    let key = RankingKey { user, scope, range };
    let fingerprint = signals.fingerprint(&saved);
    // A few picks more than asked, so papers hidden since the period was
    // read (left out below) do not shorten the list.
    let wanted = limit + HIDDEN_SPARE;
    let ranking = match app.rankings.get(&key, fingerprint, &set, wanted) {
        Some(ranking) => Arc::new(ranking),
        None => {
            let profile = app
                .db
                .run(move |s| Profile::read(s, &signals, None))
                .await?;
            let period_set = Arc::clone(&set);
            // The index the set was built from: a newer one's vectors must
            // not meet this set's.
            let retriever = Arc::clone(&retriever);
            // Ranking takes a core: it shares the searches' bound.
            let ranking = app
                .searching
                .run(move || {
                    let vectors = retriever.dense.as_ref().map(|d| &d.vectors);
                    Arc::new(for_you::recommend(
                        &period_set.features,
                        &period_set.entries,
                        &profile,
                        &saved,
                        vectors,
                        for_you::Ask {
                            seed: user.0.unsigned_abs(),
                            limit: wanted,
                            effort: for_you::Effort::PAGE,
                        },
                    ))
                })
                .await?;
            app.rankings
                .put(key, fingerprint, &set, wanted, Arc::clone(&ranking));
            ranking
        }
    };
    let ids: Vec<ArxivId> = ranking
        .picks
        .iter()
        .map(|p| set.entries[p.index].paper.id.clone())
        .collect();
    let mut fresh: std::collections::HashMap<String, Entry> = app
        .db
        .run(move |s| s.entries(&ids, Some(user)))
        .await?
        .into_iter()
        .filter(|e| !e.hidden)
        .map(|e| (e.paper.id.base().to_owned(), e))
        .collect();
    // A pick hidden by curators since the period was read is left out.
    let picks = ranking
        .picks
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            fresh
                .remove(set.entries[p.index].paper.id.base())
                .map(|e| (e, i))
        })
        .take(limit)
        .collect();
    Ok(Ranked { ranking, picks })
}

#[derive(Template)]
#[template(path = "for_you.html")]
struct ForYouPage {
    chrome: Chrome,
    heading: String,
    tabs: Vec<Link>,
    method: Method,
    library: usize,
    dismissed: usize,
    picks: Vec<Card>,
    feed: Option<String>,
    signed_in: bool,
}

/// Cards with reasons, marked saved where the viewer saved them.
pub async fn pick_cards(
    app: &Arc<AppState>,
    viewer: &Viewer,
    ranked: &Ranked,
    dismissable: bool,
) -> Result<Vec<Card>, AppError> {
    let mut cards: Vec<Card> = ranked
        .picks()
        .map(|(e, reasons)| {
            let mut c = Card::new(e, &[]);
            c.dismissable = dismissable;
            c.reasons = reasons.iter().map(Reason::sentence).collect();
            c
        })
        .collect();
    super::library::mark_saved(app, viewer, &mut cards).await?;
    Ok(cards)
}

/// `GET /for-you`.
///
/// # Errors
/// A bad period or a storage error.
pub async fn page(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(params): Query<ForYouParams>,
) -> Result<Response, AppError> {
    let period = params.period(&app).await?;
    let (d, w, m) = period.containing();
    let date = d.range().0;
    let tab = |p: Period, kind: &str, label: &str| {
        Link::new(format!("/for-you?period={kind}&date={date}"), label).current_if(p == period)
    };
    let tabs = vec![
        tab(d, "day", "Day"),
        tab(w, "week", "Week"),
        tab(m, "month", "Month"),
    ];
    let heading = period.label();
    let Some(user) = viewer.user.clone() else {
        return Ok(render(&ForYouPage {
            chrome: chrome(&viewer, "For you", &uri),
            heading,
            tabs,
            method: Method::Invitation,
            library: 0,
            dismissed: 0,
            picks: Vec::new(),
            feed: None,
            signed_in: false,
        }));
    };
    let ranked = rank(&app, user.id, Scope::Library, period, PAGE_PICKS).await?;
    let picks = pick_cards(&app, &viewer, &ranked, true).await?;
    let id = user.id;
    let generation = app
        .db
        .run(move |s| s.feed_generation(id))
        .await?
        .unwrap_or_default();
    let token = app
        .secrets
        .issue_token(
            FEED_PURPOSE,
            &feed_subject(user.id, generation),
            Utc::now() + Duration::days(365),
        )
        .map_err(|e| AppError::internal(e.to_string()))?;
    Ok(render(&ForYouPage {
        chrome: chrome(&viewer, "For you", &uri),
        heading,
        tabs,
        method: ranked.ranking.method,
        library: ranked.ranking.library,
        dismissed: ranked.ranking.dismissed,
        picks,
        feed: Some(format!("/for-you.atom?t={token}")),
        signed_in: true,
    }))
}

/// A feed token's subject: the account and its feed-link generation.
fn feed_subject(user: UserId, generation: i64) -> String {
    format!("{}-{generation}", user.0)
}

/// The account and generation a feed token's subject names; a subject
/// without a generation (links made before links could be revoked) is
/// generation 0.
fn parse_feed_subject(subject: &str) -> Option<(UserId, i64)> {
    let (id, generation) = subject.split_once('-').unwrap_or((subject, "0"));
    Some((UserId(id.parse().ok()?), generation.parse().ok()?))
}

/// `GET /for-you.atom?t=TOKEN`: the week's recommendations of the account
/// the token names, while the token's generation is the account's current
/// one.
///
/// # Errors
/// A missing, tampered, expired or revoked token (404, so a guess learns
/// nothing), or a storage error.
pub async fn atom(
    State(app): State<Arc<AppState>>,
    Query(params): Query<ForYouParams>,
) -> Result<Response, AppError> {
    let missing =
        || AppError::not_found("This feed link is not valid; copy it again from the For you page.");
    let subject = params
        .t
        .as_deref()
        .and_then(|t| app.secrets.check_token(FEED_PURPOSE, t, Utc::now()).ok())
        .ok_or_else(missing)?;
    let (id, generation) = parse_feed_subject(&subject).ok_or_else(missing)?;
    let (user, current) = app
        .db
        .run(move |s| Ok((s.user_by_id(id)?, s.feed_generation(id)?)))
        .await?;
    let user = user
        .filter(|_| current == Some(generation))
        .ok_or_else(missing)?;
    let period = ForYouParams::default().period(&app).await?;
    let ranked = rank(&app, user.id, Scope::Library, period, PAGE_PICKS).await?;
    let entries: Vec<Entry> = ranked.picks().map(|(e, _)| e.clone()).collect();
    let base = app.base_url();
    Ok(super::feeds::papers_atom(
        &base,
        format!("Paperhub: for {} ({})", user.username, period.label()),
        "/for-you",
        "/for-you.atom",
        entries,
    ))
}

/// `POST /for-you/reset`: forgets every "not interested" mark.
///
/// # Errors
/// A storage error.
pub async fn reset(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    let Some(user) = viewer.user.as_ref().map(|u| u.id) else {
        return Ok(Redirect::to("/login?next=/for-you").into_response());
    };
    app.db.run(move |s| s.reset_not_interested(user)).await?;
    Ok(Redirect::to("/for-you").into_response())
}

/// `POST /for-you/feed-link`: a new private feed link; every link made
/// before stops working (for a link that leaked).
///
/// # Errors
/// A storage error.
pub async fn new_feed_link(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    let Some(user) = viewer.user.as_ref().map(|u| u.id) else {
        return Ok(Redirect::to("/login?next=/for-you").into_response());
    };
    app.db.run(move |s| s.rotate_feed_links(user)).await?;
    Ok(Redirect::to("/for-you").into_response())
}

/// Marks `paper` "not interested" for `user` (or takes it back); JSON for
/// scripts, else back to `next`.
///
/// # Errors
/// A storage error.
pub async fn dismiss(
    app: &Arc<AppState>,
    user: UserId,
    paper: ArxivId,
    on: bool,
    wants_json: bool,
    next: String,
) -> Result<Response, AppError> {
    app.db
        .run(move |s| s.set_not_interested(user, &paper, on, Utc::now()))
        .await?;
    if wants_json {
        return Ok(axum::Json(json!({ "not_interested": on })).into_response());
    }
    Ok(Redirect::to(&next).into_response())
}

fn api_view(ranked: &Ranked, period: Period) -> serde_json::Value {
    let (from, to) = period.range();
    json!({
        "period": { "from": from.to_string(), "to": to.to_string() },
        "method": ranked.ranking.method,
        "library_papers": ranked.ranking.library,
        "not_interested": ranked.ranking.dismissed,
        "papers": ranked.picks().map(|(e, reasons)| json!({
            "paper": PaperView::new(e),
            "reasons": reasons.iter().map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("text".into(), json!(r.sentence()));
                }
                v
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/for-you?period=&date=&limit=`.
///
/// # Errors
/// Not signed in (401), a bad parameter (400) or a storage error.
pub async fn api(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Query(params): Query<ForYouParams>,
) -> Result<Response, ApiError> {
    let user = viewer.user.as_ref().ok_or_else(AppError::unauthorized)?;
    let period = params.period(&app).await?;
    let limit = params.limit(PAGE_PICKS)?;
    let ranked = rank(&app, user.id, Scope::Library, period, limit).await?;
    Ok(axum::Json(api_view(&ranked, period)).into_response())
}

/// `GET /api/v1/collections/{slug}/recommended?period=&date=&limit=`.
///
/// # Errors
/// Not signed in (401), no such collection (404), a bad parameter (400) or
/// a storage error.
pub async fn api_collection(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
    Query(params): Query<ForYouParams>,
) -> Result<Response, ApiError> {
    let user = viewer.user.as_ref().ok_or_else(AppError::unauthorized)?;
    let collection = super::library_api::own(&app, user, &slug).await?;
    let period = params.period(&app).await?;
    let limit = params.limit(COLLECTION_PICKS)?;
    let ranked = rank(
        &app,
        user.id,
        Scope::Collection(collection.id),
        period,
        limit,
    )
    .await?;
    Ok(axum::Json(api_view(&ranked, period)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_subjects_name_an_account_and_a_generation() {
        assert_eq!(
            parse_feed_subject(&feed_subject(UserId(5), 3)),
            Some((UserId(5), 3))
        );
        // Links made before links could be revoked: generation 0.
        assert_eq!(parse_feed_subject("5"), Some((UserId(5), 0)));
        assert_eq!(parse_feed_subject("5-0"), Some((UserId(5), 0)));
        for bad in ["", "-5", "5-", "5--1", "x-1", "5-x", "5-1-2"] {
            assert!(
                parse_feed_subject(bad).is_none_or(|(_, g)| g < 0),
                "{bad:?}"
            );
        }
    }
}
