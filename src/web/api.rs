//! The JSON API under `/api/v1`, close in spirit to Hugging Face's papers
//! API: `daily_papers`, `papers/{id}`, `papers/search`, `papers/{id}/similar`,
//! and writes (`POST papers`, `PUT`/`DELETE papers/{id}/vote` and
//! `papers/{id}/not-interested`) with a session (plus CSRF header) or a
//! personal API token. Every error is `{"errors":[{"detail":"..."}]}`. The OpenAPI document
//! (`openapi.json`, next to this file) lists exactly [`API_ROUTES`]; a test
//! keeps the two, and the live responses, in sync.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use paperhub_store::{ListOrder, Submission};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::errors::{ApiError, AppError};
use super::lists::{self, ListRequest, Period, Window};
use super::paper::{cast_vote, find_entry, parse_id, similar_entries, split_action};
use super::search::{SearchParams, run_search};
use super::session::Viewer;
use super::submit::{parse_input, submit_paper};
use super::views::PaperView;

/// Every API route as (method, path), as the OpenAPI document lists them:
/// `/api/v1` and the Hugging Face-compatible routes of `web::hf_api`.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/daily_papers"),
    ("get", "/api/v1/trending"),
    ("get", "/api/v1/papers/search"),
    ("get", "/api/v1/papers/{id}"),
    ("get", "/api/v1/papers/{id}/similar"),
    ("get", "/api/v1/authors/{name}"),
    ("get", "/api/v1/collections"),
    ("post", "/api/v1/collections"),
    ("get", "/api/v1/collections/{slug}"),
    ("get", "/api/v1/collections/{slug}/recommended"),
    ("get", "/api/v1/for-you"),
    ("patch", "/api/v1/collections/{slug}"),
    ("post", "/api/v1/collections/{slug}/papers"),
    ("patch", "/api/v1/collections/{slug}/papers/{id}"),
    ("delete", "/api/v1/collections/{slug}/papers/{id}"),
    ("delete", "/api/v1/collections/{slug}"),
    ("post", "/api/v1/papers"),
    ("put", "/api/v1/papers/{id}/vote"),
    ("delete", "/api/v1/papers/{id}/vote"),
    ("put", "/api/v1/papers/{id}/not-interested"),
    ("delete", "/api/v1/papers/{id}/not-interested"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/daily_papers"),
    ("get", "/api/papers/search"),
    ("get", "/api/papers/{id}"),
    ("get", "/papers/{id}.md"),
];

/// The OpenAPI document.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The API router (nested under `/api/v1`).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/daily_papers", get(daily_papers))
        .route("/trending", get(trending))
        .route("/papers", post(create_paper))
        .route("/papers/search", get(search_papers))
        .route(
            "/papers/{*rest}",
            get(find_paper).put(update_vote).delete(delete_vote),
        )
        .route("/authors/{name}", get(author_papers))
        .route(
            "/collections",
            get(super::library_api::list).post(super::library_api::create),
        )
        .route(
            "/collections/{slug}",
            get(super::library_api::show)
                .patch(super::library_api::change)
                .delete(super::library_api::delete),
        )
        .route("/collections/{slug}/papers", post(super::library_api::save))
        .route(
            "/collections/{slug}/recommended",
            get(super::for_you::api_collection),
        )
        .route("/for-you", get(super::for_you::api))
        .route(
            "/collections/{slug}/papers/{*rest}",
            axum::routing::patch(super::library_api::item).delete(super::library_api::item),
        )
        .route("/openapi.json", get(openapi))
        .fallback(|| async {
            ApiError(AppError::not_found(
                "There is no such API endpoint; see /api/v1/openapi.json.",
            ))
        })
}

type ApiResult = Result<Response, ApiError>;

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Query of `daily_papers`.
#[derive(Debug, Deserialize)]
pub struct DailyParams {
    /// YYYY-MM-DD.
    pub date: Option<String>,
    /// YYYY-Www.
    pub week: Option<String>,
    /// YYYY-MM.
    pub month: Option<String>,
    /// trending (votes) or published (newest).
    pub sort: Option<String>,
    /// Page size, 1-100.
    pub limit: Option<String>,
    /// 0-based page.
    pub p: Option<String>,
    /// One category.
    pub category: Option<String>,
}

/// A whole-number parameter in `range`, `default` when absent, or a 400
/// that names it.
///
/// # Errors
/// A value that is not a whole number in `range`.
pub fn number(
    s: Option<&str>,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
) -> Result<u32, AppError> {
    match s {
        None | Some("") => Ok(default),
        Some(v) => v.parse().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            AppError::bad_request(format!(
                "{name} must be a whole number from {} to {}.",
                range.start(),
                range.end()
            ))
        }),
    }
}

/// `GET /api/v1/daily_papers`.
///
/// # Errors
/// Bad parameters or a storage error.
pub async fn daily_papers(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<DailyParams>,
) -> ApiResult {
    let period = match (&q.date, &q.week, &q.month) {
        (Some(d), None, None) => Period::day(d)?,
        (None, Some(w), None) => Period::week(w)?,
        (None, None, Some(m)) => Period::month(m)?,
        (None, None, None) => Period::Day(app.latest_day().await?),
        _ => {
            return Err(AppError::bad_request("Give at most one of date, week and month.").into());
        }
    };
    let order = match q.sort.as_deref() {
        None | Some("trending" | "") => ListOrder::Votes,
        Some("published") => ListOrder::Newest,
        Some(other) => {
            return Err(AppError::bad_request(format!(
                "sort {other:?} is not known; use trending or published."
            ))
            .into());
        }
    };
    let limit = number(q.limit.as_deref(), "limit", 1..=100, 50)?;
    let page = number(q.p.as_deref(), "p", 0..=10_000, 0)?;
    let category = lists::parse_category(q.category.as_deref()).map_err(|c| {
        AppError::bad_request(format!("{c:?} is not an arXiv category such as cs.LG."))
    })?;
    // Anonymous callers share one answer per list (the page cache's rules):
    // the key is built from the parsed parameters only.
    let (from, to) = period.range();
    let key = format!(
        "api daily\n{from}\n{to}\n{order:?}\n{limit}\n{page}\n{}",
        category.as_deref().unwrap_or("")
    );
    let shared = Arc::clone(&app);
    let body = super::pages::cached_body(&app, &viewer, &key, |viewer| async move {
        let user = viewer.user.as_ref().map(|u| u.id);
        let listing = lists::listing(
            &shared,
            ListRequest {
                period,
                category,
                page: page + 1,
                limit,
                include_hidden: false,
                order,
            },
            user,
        )
        .await?;
        // One sequence, the community part first, paged as a whole: `limit`
        // holds however many papers were submitted (see #13).
        let papers: Vec<PaperView> = listing
            .community
            .iter()
            .chain(&listing.announced)
            .map(PaperView::new)
            .collect();
        let shown = u64::from((page + 1) * limit);
        let all = listing.community_total + listing.announced_total;
        let body = json!({
            "papers": papers,
            "meta": {
                "from": from.to_string(),
                "to": to.to_string(),
                "community": listing.community_total,
                "total": all,
                "next_page": (shown < all).then(|| format!("?p={}&limit={limit}", page + 1)),
            }
        });
        serde_json::to_string(&body).map_err(|e| AppError::internal(format!("json: {e}")))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Query of `trending`.
#[derive(Debug, Deserialize)]
pub struct TrendingParams {
    /// day, week or month.
    pub window: Option<String>,
    /// At most this many.
    pub limit: Option<String>,
}

/// `GET /api/v1/trending`.
///
/// # Errors
/// Bad parameters or a storage error.
pub async fn trending(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<TrendingParams>,
) -> ApiResult {
    let window = Window::parse(q.window.as_deref())?;
    let limit = number(q.limit.as_deref(), "limit", 1..=100, 50)?;
    let entries = lists::trending(
        &app,
        window,
        limit as usize,
        0,
        viewer.user.as_ref().map(|u| u.id),
    )
    .await?;
    let papers: Vec<PaperView> = entries.iter().map(PaperView::new).collect();
    Ok(Json(json!({ "papers": papers, "meta": { "window": window.name() } })).into_response())
}

/// Query of `authors/{name}`.
#[derive(Debug, Deserialize)]
pub struct AuthorParams {
    /// Page size, 1-100.
    pub limit: Option<String>,
    /// 0-based page.
    pub p: Option<String>,
}

/// `GET /api/v1/authors/{name}`: an author's papers, newest first.
///
/// # Errors
/// Bad parameters, an author no paper lists, or a storage error.
pub async fn author_papers(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    axum::extract::Path(name): axum::extract::Path<String>,
    Query(q): Query<AuthorParams>,
) -> ApiResult {
    let limit = number(q.limit.as_deref(), "limit", 1..=100, 50)?;
    let page = number(q.p.as_deref(), "p", 0..=10_000, 0)?;
    let found =
        super::authors::listing(&app, &name, page * limit, limit, viewer.user.as_ref()).await?;
    let papers: Vec<PaperView> = found.entries.iter().map(PaperView::new).collect();
    let shown = u64::from(page * limit) + papers.len() as u64;
    Ok(Json(json!({
        "papers": papers,
        "meta": {
            "author": found.name,
            "total": found.total,
            "following": found.following,
            "next_page": (shown < found.total).then(|| format!("?p={}&limit={limit}", page + 1)),
        }
    }))
    .into_response())
}

/// `GET /api/v1/papers/search`.
///
/// # Errors
/// An empty query, or a search or storage error.
pub async fn search_papers(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Query(params): Query<SearchParams>,
) -> ApiResult {
    let checked = params.check(20);
    if checked.query.is_empty() {
        return Err(AppError::bad_request("Give a query as q=…").into());
    }
    if let Some(problem) = checked.problems.first() {
        return Err(AppError::bad_request(problem.clone()).into());
    }
    let found = run_search(&app, &checked, viewer.user.as_ref().map(|u| u.id)).await?;
    let papers: Vec<PaperView> = found
        .hits
        .iter()
        .map(|(e, score, _)| PaperView {
            score: Some(*score),
            ..PaperView::new(e)
        })
        .collect();
    let next = (papers.len() == checked.limit).then(|| {
        serde_urlencoded::to_string([
            ("q", checked.query.as_str()),
            ("page", &(checked.page + 1).to_string()),
            ("limit", &checked.limit.to_string()),
        ])
        .map(|s| format!("?{s}"))
        .unwrap_or_default()
    });
    Ok(Json(json!({
        "papers": papers,
        "meta": {
            "mode": found.mode.as_str(),
            "note": found.note.or_else(|| app.searcher.notice()),
            "next_page": next,
        }
    }))
    .into_response())
}

/// Query of `papers/{id}/similar`.
#[derive(Debug, Deserialize)]
pub struct SimilarParams {
    /// At most this many, 1-50.
    pub limit: Option<String>,
}

/// `GET /api/v1/papers/{id}` and `GET /api/v1/papers/{id}/similar`.
///
/// # Errors
/// Unknown paper or a storage error.
pub async fn find_paper(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(rest): Path<String>,
    Query(q): Query<SimilarParams>,
) -> ApiResult {
    let (id, action) = split_action(&rest);
    let id = parse_id(id)?;
    let entry = find_entry(&app, &id, viewer.user.as_ref()).await?;
    match action {
        None => Ok(Json(json!({ "paper": PaperView::new(&entry) })).into_response()),
        Some("similar") => {
            let limit = number(q.limit.as_deref(), "limit", 1..=50, 10)?;
            let similar = similar_entries(
                &app,
                &entry,
                limit as usize,
                viewer.user.as_ref().map(|u| u.id),
            )
            .await?;
            let papers: Vec<PaperView> = similar.iter().map(PaperView::new).collect();
            Ok(Json(json!({ "papers": papers })).into_response())
        }
        Some(_) => Err(AppError::not_found(
            "There is no such API endpoint; see /api/v1/openapi.json.",
        )
        .into()),
    }
}

/// `POST /api/v1/papers` with `{"id": "2511.01234"}` (an id or URL).
///
/// # Errors
/// Not authenticated, a bad body or id, arXiv unreachable, storage.
pub async fn create_paper(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    body: Bytes,
) -> ApiResult {
    let user = viewer.require()?.clone();
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_request(format!(
            "The body must be JSON like {{\"id\": \"2511.01234\"}}: {e}"
        ))
    })?;
    let Some(input) = body.get("id").and_then(Value::as_str) else {
        return Err(AppError::bad_request(
            "The body needs an \"id\": an arXiv id or arxiv.org link.",
        )
        .into());
    };
    let id = parse_input(input)?;
    let submitted = submit_paper(&app, &user, id).await?;
    let (status, added) = match submitted.outcome {
        Submission::Added { .. } => (StatusCode::CREATED, true),
        // submit_paper answers the others with an error.
        _ => (StatusCode::OK, false),
    };
    Ok((
        status,
        Json(json!({
            "paper": PaperView::new(&submitted.entry),
            "submitted": added,
            "fetched_from_arxiv": submitted.fetched,
        })),
    )
        .into_response())
}

/// `PUT`/`DELETE` on a paper's `vote` or `not-interested`: sets or takes
/// back the caller's mark.
async fn set_mark(app: Arc<AppState>, viewer: Viewer, rest: String, on: bool) -> ApiResult {
    let (id, action) = split_action(&rest);
    if !matches!(action, Some("vote" | "not-interested")) {
        return Err(AppError::not_found(
            "There is no such API endpoint; see /api/v1/openapi.json.",
        )
        .into());
    }
    let user = viewer.require()?.clone();
    let id = parse_id(id)?;
    let entry = find_entry(&app, &id, Some(&user)).await?;
    if action == Some("vote") {
        let votes = cast_vote(&app, &user, &entry, on).await?;
        return Ok(
            Json(json!({ "id": id.base(), "upvotes": votes, "upvoted": on })).into_response(),
        );
    }
    let paper = entry.paper.id.clone();
    let user_id = user.id;
    app.db
        .run(move |s| s.set_not_interested(user_id, &paper, on, chrono::Utc::now()))
        .await?;
    Ok(Json(json!({ "id": id.base(), "not_interested": on })).into_response())
}

/// `PUT /api/v1/papers/{id}/vote` (upvote) and
/// `PUT /api/v1/papers/{id}/not-interested` (mark), both idempotent.
///
/// # Errors
/// Not authenticated, unknown paper, storage.
pub async fn update_vote(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(rest): Path<String>,
) -> ApiResult {
    set_mark(app, viewer, rest, true).await
}

/// `DELETE` on the same: takes the upvote or the mark back (idempotent).
///
/// # Errors
/// Not authenticated, unknown paper, storage.
pub async fn delete_vote(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(rest): Path<String>,
) -> ApiResult {
    set_mark(app, viewer, rest, false).await
}
