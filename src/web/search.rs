//! The search page, and the search the API and feeds share.
//!
//! Input is checked before it reaches the index: dates must parse, a
//! category must look like one, the query is cut at 1,000 characters (the
//! BM25 parser is lenient, so any text is a query). A bad filter is shown as
//! a notice and ignored rather than failing the page.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use paperhub_search::SearchRequest;
use paperhub_store::{Entry, UserId};
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;
use super::lists::parse_category;
use super::pages::{chrome, render};
use super::session::Viewer;
use super::views::{Card, Chrome, Link, highlight, query_terms};
use crate::retrieval::Mode;

/// Results per page of the search page: each costs a snippet and a row.
pub const SEARCH_PAGE: usize = 20;

/// Longest query searched; the rest is dropped.
pub const MAX_QUERY_CHARS: usize = 1000;

/// `?q=&mode=&category=&since=&until=&page=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchParams {
    /// The query.
    pub q: Option<String>,
    /// hybrid, lexical or semantic.
    pub mode: Option<String>,
    /// One arXiv category.
    pub category: Option<String>,
    /// First day, YYYY-MM-DD.
    pub since: Option<String>,
    /// Last day, YYYY-MM-DD.
    pub until: Option<String>,
    /// 1-based page.
    pub page: Option<String>,
    /// Results per page (API).
    pub limit: Option<String>,
}

/// A checked search.
#[derive(Debug, Clone)]
pub struct CheckedSearch {
    /// The query, trimmed and cut.
    pub query: String,
    /// The mode asked for.
    pub mode: Mode,
    /// Category filter.
    pub category: Option<String>,
    /// Date filters.
    pub since: Option<NaiveDate>,
    /// Date filters.
    pub until: Option<NaiveDate>,
    /// 1-based page.
    pub page: usize,
    /// Results per page.
    pub limit: usize,
    /// Problems with the filters, for the user.
    pub problems: Vec<String>,
}

fn date(s: Option<&str>, name: &str, problems: &mut Vec<String>) -> Option<NaiveDate> {
    let s = s.map(str::trim).filter(|s| !s.is_empty())?;
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            problems.push(format!("Ignored {name} {s:?}: dates look like 2025-11-20."));
            None
        }
    }
}

impl SearchParams {
    /// Checks the parameters; `default_limit` applies when none is given.
    pub fn check(&self, default_limit: usize) -> CheckedSearch {
        let mut problems = Vec::new();
        let query: String = self
            .q
            .as_deref()
            .unwrap_or("")
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUERY_CHARS)
            .collect();
        let mode = match self.mode.as_deref().unwrap_or("") {
            "" => Mode::Hybrid,
            name if let Ok(mode) = <Mode as clap::ValueEnum>::from_str(name, false) => mode,
            other => {
                problems.push(format!(
                    "Unknown mode {other:?}; used hybrid (the others are lexical and semantic)."
                ));
                Mode::Hybrid
            }
        };
        let category = parse_category(self.category.as_deref()).unwrap_or_else(|c| {
            problems.push(format!(
                "Ignored category {c:?}: categories look like cs.LG."
            ));
            None
        });
        let since = date(self.since.as_deref(), "since", &mut problems);
        let until = date(self.until.as_deref(), "until", &mut problems);
        let page = self
            .page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p| (1..=100).contains(p))
            .unwrap_or(1);
        let limit = self
            .limit
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p| (1..=100).contains(p))
            .unwrap_or(default_limit);
        CheckedSearch {
            query,
            mode,
            category,
            since,
            until,
            page,
            limit,
            problems,
        }
    }
}

/// What a search found, with the paper records.
#[derive(Debug, Clone)]
pub struct Found {
    /// Papers in rank order, with scores and the index's abstract snippet.
    pub hits: Vec<(Entry, f32, Option<String>)>,
    /// The mode that ran.
    pub mode: Mode,
    /// Why it differs from the one asked for.
    pub note: Option<String>,
}

/// Runs a checked search and loads the papers.
///
/// # Errors
/// A search or storage error.
pub async fn run_search(
    app: &Arc<AppState>,
    search: &CheckedSearch,
    viewer: Option<UserId>,
) -> Result<Found, AppError> {
    let request = SearchRequest {
        query: search.query.clone(),
        limit: search.limit,
        offset: (search.page - 1) * search.limit,
        categories: search.category.iter().cloned().collect(),
        since: search.since,
        until: search.until,
        snippets: true,
        ..SearchRequest::default()
    };
    let retriever = app.searcher.get();
    let mode = search.mode;
    let answer = app
        .searching
        .run(move || retriever.search(&request, mode))
        .await??;
    let ids = super::catalog_ids(answer.hits.iter().map(|h| h.id.as_str()));
    let entries = app.db.run(move |s| s.entries(&ids, viewer)).await?;
    let mut by_id: std::collections::HashMap<String, Entry> = entries
        .into_iter()
        .map(|e| (e.paper.id.base().to_owned(), e))
        .collect();
    let hits = answer
        .hits
        .into_iter()
        .filter_map(|h| {
            let e = by_id.remove(&h.id)?;
            (!e.hidden).then_some((e, h.score, h.snippet_html))
        })
        .collect();
    Ok(Found {
        hits,
        mode: answer.mode,
        note: answer.note,
    })
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    query: String,
    modes: Vec<(&'static str, &'static str, bool)>,
    category: String,
    since: String,
    until: String,
    categories: Vec<String>,
    cards: Vec<Card>,
    searched: bool,
    problems: Vec<String>,
    page_prev: Option<Link>,
    page_next: Option<Link>,
    feed: String,
    mode_used: &'static str,
}

fn query_string(s: &CheckedSearch, page: usize) -> String {
    let mut pairs = vec![("q", s.query.clone()), ("mode", s.mode.as_str().to_owned())];
    if let Some(c) = &s.category {
        pairs.push(("category", c.clone()));
    }
    if let Some(d) = s.since {
        pairs.push(("since", d.to_string()));
    }
    if let Some(d) = s.until {
        pairs.push(("until", d.to_string()));
    }
    if page > 1 {
        pairs.push(("page", page.to_string()));
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// `GET /search`.
///
/// # Errors
/// A search or storage error.
pub async fn search_page(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(params): Query<SearchParams>,
) -> Result<Response, AppError> {
    let checked = params.check(SEARCH_PAGE);
    let mut chrome = chrome(
        &viewer,
        if checked.query.is_empty() {
            "Search".to_owned()
        } else {
            format!("{} – search", checked.query)
        },
        &uri,
    );
    chrome.q = checked.query.clone();
    let mut problems = checked.problems.clone();
    let mut cards = Vec::new();
    let mut mode_used = checked.mode.as_str();
    if !checked.query.is_empty() {
        let found = run_search(&app, &checked, viewer.user.as_ref().map(|u| u.id)).await?;
        let terms = query_terms(&checked.query);
        mode_used = found.mode.as_str();
        if let Some(note) = found.note
            && app.searcher.notice().is_none()
        {
            problems.push(format!("Showing {mode_used} results: {note}."));
        }
        cards = found
            .hits
            .iter()
            .map(|(e, _, snippet)| {
                let mut card = Card::new(e, &terms);
                if let Some(s) = snippet.as_deref().filter(|s| s.contains("<b>")) {
                    card.excerpt_html = s.to_owned();
                }
                card.title_html = highlight(&e.paper.title, &terms);
                card
            })
            .collect();
    }
    super::library::mark_saved(&app, &viewer, &mut cards).await?;
    chrome.notice = app.searcher.notice();
    let page = checked.page;
    let page_next = (cards.len() == checked.limit).then(|| {
        Link::new(
            format!("/search?{}", query_string(&checked, page + 1)),
            "Next page →",
        )
    });
    let page_prev = (page > 1).then(|| {
        Link::new(
            format!("/search?{}", query_string(&checked, page - 1)),
            "← Previous page",
        )
    });
    let modes = [
        ("hybrid", "Hybrid"),
        ("lexical", "Keyword"),
        ("semantic", "Semantic"),
    ]
    .into_iter()
    .map(|(v, l)| (v, l, v == checked.mode.as_str()))
    .collect();
    let feed = format!(
        "/search.atom?{}",
        serde_urlencoded::to_string([("q", checked.query.as_str())]).unwrap_or_default()
    );
    Ok(render(&SearchPage {
        chrome,
        query: checked.query.clone(),
        modes,
        category: checked.category.clone().unwrap_or_default(),
        since: checked.since.map(|d| d.to_string()).unwrap_or_default(),
        until: checked.until.map(|d| d.to_string()).unwrap_or_default(),
        categories: app.config.harvest.categories.clone(),
        searched: !checked.query.is_empty(),
        cards,
        problems,
        page_prev,
        page_next,
        feed,
        mode_used,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_filters_become_notices_not_errors() {
        let p = SearchParams {
            q: Some("  attention\u{0} ".into()),
            mode: Some("quantum".into()),
            category: Some("<script>".into()),
            since: Some("last week".into()),
            page: Some("-3".into()),
            ..SearchParams::default()
        };
        let c = p.check(20);
        assert_eq!(c.query, "attention");
        assert_eq!(c.mode, Mode::Hybrid);
        assert_eq!((c.category, c.since, c.page), (None, None, 1));
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
        let long = SearchParams {
            q: Some("x".repeat(5000)),
            ..SearchParams::default()
        };
        assert_eq!(long.check(20).query.len(), MAX_QUERY_CHARS);
    }
}
