//! The list pages: today, a day, a week, a month, and trending.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;
use super::lists::{self, ListParams, Period, Window};
use super::session::Viewer;
use super::views::{Card, Chrome, Link, chrome_for};

/// The frame for a page seen by `viewer`.
pub fn chrome(viewer: &Viewer, title: impl Into<String>, uri: &OriginalUri) -> Chrome {
    chrome_for(viewer.user.as_ref(), &viewer.csrf, title, uri.0.path())
}

/// `path` as the request URI a page frame is built from; `uri` if it does
/// not parse (it always does for the paths pages build).
pub fn canonical_uri(path: &str, uri: &OriginalUri) -> OriginalUri {
    path.parse().map_or_else(|_| uri.clone(), OriginalUri)
}

/// Renders a template, or a 500 that says so in the log.
pub fn render(t: &impl Template) -> Response {
    match render_string(t) {
        Ok(html) => Html(html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Renders a template to a string.
///
/// # Errors
/// The template fails (a bug; logged as a 500).
pub fn render_string(t: &impl Template) -> Result<String, AppError> {
    t.render()
        .map_err(|e| AppError::internal(format!("template: {e}")))
}

/// Serves a page anonymous visitors share from the page cache (see
/// [`super::page_cache`]); `build` renders it for the viewer it is given.
///
/// `key` names what the page shows, from the parameters `build` uses (the
/// period, category and page; never the raw query string or path, which a
/// visitor can fill with junk or spell many ways). `canonical` is the
/// page's one spelling, which `build` must use for the page frame; it is
/// part of the key.
///
/// # Errors
/// What `build` returns.
pub async fn cached_page<F, Fut>(
    app: &Arc<AppState>,
    viewer: &Viewer,
    canonical: &OriginalUri,
    key: &str,
    build: F,
) -> Result<Response, AppError>
where
    F: FnOnce(Viewer) -> Fut,
    Fut: std::future::Future<Output = Result<String, AppError>>,
{
    let key = format!("{key}\n{}", canonical.0.path());
    Ok(Html(cached_body(app, viewer, &key, build).await?).into_response())
}

/// The body anonymous visitors share under `key`, from the page cache or
/// built once by `build` (a burst of misses builds it once; the others
/// wait and read the cache). Signed-in viewers get their own, uncached.
/// Used for pages ([`cached_page`]) and for the JSON API's lists.
///
/// # Errors
/// What `build` returns.
pub async fn cached_body<F, Fut>(
    app: &Arc<AppState>,
    viewer: &Viewer,
    key: &str,
    build: F,
) -> Result<String, AppError>
where
    F: FnOnce(Viewer) -> Fut,
    Fut: std::future::Future<Output = Result<String, AppError>>,
{
    if viewer.user.is_some() || key.len() > super::page_cache::MAX_KEY {
        return build(viewer.clone()).await;
    }
    let extra = app.searcher.generation();
    if let Some(body) = app.pages.get(key, extra, &viewer.csrf) {
        return Ok(body);
    }
    let flight = app.pages.flight(key);
    let _building = flight.lock().await;
    if let Some(body) = app.pages.get(key, extra, &viewer.csrf) {
        return Ok(body);
    }
    let mut anonymous = viewer.clone();
    anonymous.csrf = app.pages.placeholder().to_owned();
    let body = build(anonymous).await?;
    app.pages.put(key, extra, &body);
    Ok(app.pages.personalise(&body, &viewer.csrf))
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    chrome: Chrome,
    heading: String,
    prev: Option<Link>,
    next: Option<Link>,
    tabs: Vec<Link>,
    filters: Vec<Link>,
    trending: Vec<Card>,
    community: Vec<Card>,
    announced: Vec<Card>,
    total: u64,
    all: u64,
    shown_from: u64,
    shown_to: u64,
    page_prev: Option<Link>,
    page_next: Option<Link>,
    empty_catalog: bool,
}

fn with_params(path: &str, category: Option<&str>, page: u32) -> String {
    let mut params = Vec::new();
    if let Some(c) = category {
        params.push(format!("category={c}"));
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    if params.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

async fn list_page(
    app: Arc<AppState>,
    viewer: Viewer,
    uri: OriginalUri,
    period: Period,
    params: ListParams,
) -> Result<Response, AppError> {
    // `/` and the period's own path; any other spelling of a date shares it.
    let u = if uri.0.path() == "/" {
        canonical_uri("/", &uri)
    } else {
        canonical_uri(&period.path(), &uri)
    };
    let a = Arc::clone(&app);
    // A bad category is refused before the cache could answer for it.
    let key = format!(
        "list {} {} {}",
        period.path(),
        params.category()?.unwrap_or_default(),
        params.page()
    );
    let canonical = u.clone();
    cached_page(&app, &viewer, &canonical, &key, move |viewer| {
        build_list_page(a, viewer, u, period, params)
    })
    .await
}

/// Trending papers the front page shows above the day's list.
const FRONT_TRENDING: usize = 3;

async fn build_list_page(
    app: Arc<AppState>,
    viewer: Viewer,
    uri: OriginalUri,
    period: Period,
    params: ListParams,
) -> Result<String, AppError> {
    let category = params.category()?;
    let page = params.page();
    let limit = app.config.web.page_size;
    let user = viewer.user.as_ref().map(|u| u.id);
    let is_admin = viewer.user.as_ref().is_some_and(|u| u.is_admin);
    let listing = lists::listing(
        &app,
        lists::ListRequest {
            period,
            category: category.clone(),
            page,
            limit,
            include_hidden: is_admin,
            order: paperhub_store::ListOrder::Votes,
        },
        user,
    )
    .await?;
    let (prev, next) = lists::neighbours(&app, period).await?;
    let path = period.path();
    let (day, week, month) = period.containing();
    let tabs = vec![
        Link::new(day.path(), "Day").current_if(matches!(period, Period::Day(_))),
        Link::new(week.path(), "Week").current_if(matches!(period, Period::Week(_))),
        Link::new(month.path(), "Month").current_if(matches!(period, Period::Month(_))),
    ];
    let mut filters = vec![Link::new(path.clone(), "All").current_if(category.is_none())];
    filters.extend(app.config.harvest.categories.iter().map(|c| {
        Link::new(with_params(&path, Some(c), 1), c.clone())
            .current_if(category.as_deref() == Some(c.as_str()))
    }));
    // The list pages as one sequence, the community part first.
    let all = listing.community_total + listing.announced_total;
    let total = listing.announced_total;
    let shown_from = u64::from((page - 1) * limit) + 1;
    let shown_to =
        (shown_from + (listing.community.len() + listing.announced.len()) as u64).saturating_sub(1);
    let empty_catalog = all == 0 && app.db.run(|s| s.latest_day()).await?.is_none();
    // The front page leads with what the community reads this week.
    let trending = if uri.0.path() == "/" && page == 1 && category.is_none() {
        lists::trending(&app, Window::Week, FRONT_TRENDING, 0, user).await?
    } else {
        Vec::new()
    };
    let title = period.label();
    let cards = |entries: &[paperhub_store::Entry]| -> Vec<Card> {
        entries.iter().map(|e| Card::new(e, &[])).collect()
    };
    let (mut community, mut announced) = (cards(&listing.community), cards(&listing.announced));
    super::library::mark_saved(&app, &viewer, &mut community).await?;
    super::library::mark_saved(&app, &viewer, &mut announced).await?;
    let page = ListPage {
        chrome: chrome(&viewer, format!("Papers: {title}"), &uri),
        heading: title,
        prev: prev.map(|p| Link::new(p.path(), format!("← {}", short_label(p)))),
        next: next.map(|p| Link::new(p.path(), format!("{} →", short_label(p)))),
        tabs,
        filters,
        trending: trending.iter().map(|e| Card::new(e, &[])).collect(),
        community,
        announced,
        total,
        all,
        shown_from,
        shown_to,
        page_prev: (page > 1).then(|| {
            Link::new(
                with_params(&path, category.as_deref(), page - 1),
                "← Previous page",
            )
        }),
        page_next: (shown_to < all).then(|| {
            Link::new(
                with_params(&path, category.as_deref(), page + 1),
                "Next page →",
            )
        }),
        empty_catalog,
    };
    render_string(&page)
}

fn short_label(p: Period) -> String {
    match p {
        Period::Day(d) => d.format("%a %-d %b").to_string(),
        Period::Week(d) => {
            let w = chrono::Datelike::iso_week(&d);
            format!("Week {}", w.week())
        }
        Period::Month(d) => d.format("%B %Y").to_string(),
    }
}

/// `GET /`: the latest announcement day.
///
/// # Errors
/// A storage error.
pub async fn today(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let day = app.latest_day().await?;
    list_page(app, viewer, uri, Period::Day(day), params).await
}

/// `GET /papers/date/{day}`.
///
/// # Errors
/// A bad date or a storage error.
pub async fn day(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(day): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    list_page(app, viewer, uri, Period::day(&day)?, params).await
}

/// `GET /papers/week/{week}`.
///
/// # Errors
/// A bad week or a storage error.
pub async fn week(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(week): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    list_page(app, viewer, uri, Period::week(&week)?, params).await
}

/// `GET /papers/month/{month}`.
///
/// # Errors
/// A bad month or a storage error.
pub async fn month(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(month): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    list_page(app, viewer, uri, Period::month(&month)?, params).await
}

#[derive(Template)]
#[template(path = "trending.html")]
struct TrendingPage {
    chrome: Chrome,
    tabs: Vec<Link>,
    cards: Vec<Card>,
    window: &'static str,
}

/// `?window=day|week|month`.
#[derive(Debug, Deserialize)]
pub struct TrendingParams {
    /// The window.
    pub window: Option<String>,
}

/// `GET /trending`.
///
/// # Errors
/// A bad window or a storage error.
pub async fn trending(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(params): Query<TrendingParams>,
) -> Result<Response, AppError> {
    let window = Window::parse(params.window.as_deref())?;
    let a = Arc::clone(&app);
    let u = canonical_uri("/trending", &uri);
    let key = format!("trending {}", window.name());
    cached_page(&app, &viewer, &u.clone(), &key, move |viewer| async move {
        let entries = lists::trending(
            &a,
            window,
            a.config.web.page_size as usize,
            0,
            viewer.user.as_ref().map(|u| u.id),
        )
        .await?;
        let tabs = [Window::Day, Window::Week, Window::Month]
            .into_iter()
            .map(|w| {
                Link::new(
                    format!("/trending?window={}", w.name()),
                    format!("Past {}", w.name()),
                )
                .current_if(w == window)
            })
            .collect();
        render_string(&TrendingPage {
            chrome: chrome(&viewer, "Trending papers", &u),
            tabs,
            cards: entries.iter().map(|e| Card::new(e, &[])).collect(),
            window: window.name(),
        })
    })
    .await
}

/// Any other path.
pub async fn not_found() -> AppError {
    AppError::not_found("There is no page here. Try the daily list or search.")
}
