//! RSS 2.0 and Atom feeds of the daily list, trending, and any search.
//!
//! Built by hand with one escaping function: the documents are small and
//! their shapes fixed. Links are absolute, from `web.public_url`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveTime, Utc};
use paperhub_store::{Entry, ListOrder};

use super::AppState;
use super::errors::AppError;
use super::lists::{self, ListRequest, Period, Window};
use super::search::{SearchParams, run_search};
use super::views::{author_line, escape_into, paper_day, rfc3339};

/// Papers in a feed at most.
const FEED_ITEMS: u32 = 100;

/// A feed before rendering.
struct Feed {
    title: String,
    /// The HTML page it mirrors (absolute).
    page: String,
    /// The feed's own URL (absolute).
    own: String,
    entries: Vec<Entry>,
}

/// Escapes text for XML, dropping the control characters XML 1.0 forbids.
fn xml(s: &str) -> String {
    let allowed: String = s
        .chars()
        .filter(|&c| (c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let mut out = String::with_capacity(allowed.len());
    escape_into(&allowed, &mut out);
    out
}

fn entry_time(e: &Entry) -> DateTime<Utc> {
    e.submitted_at
        .or_else(|| paper_day(&e.paper).map(|d| d.and_time(NaiveTime::MIN).and_utc()))
        .unwrap_or_default()
}

fn atom(feed: &Feed, base: &str) -> String {
    let updated = feed
        .entries
        .iter()
        .map(entry_time)
        .max()
        .unwrap_or_default();
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>{}</title>\n<id>{}</id>\n<link rel=\"self\" href=\"{}\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
         <updated>{}</updated>\n<generator>Paperhub</generator>\n",
        xml(&feed.title),
        xml(&feed.own),
        xml(&feed.own),
        xml(&feed.page),
        rfc3339(updated)
    );
    for e in &feed.entries {
        let p = &e.paper;
        let link = format!("{base}/papers/{}", p.id.base());
        let _ = write!(
            out,
            "<entry>\n<title>{}</title>\n<id>{}</id>\n<link href=\"{}\"/>\n<link rel=\"related\" href=\"https://arxiv.org/abs/{}\"/>\n<updated>{}</updated>\n",
            xml(&p.title),
            xml(&link),
            xml(&link),
            xml(p.id.base()),
            rfc3339(entry_time(e))
        );
        for a in &p.authors {
            let _ = writeln!(out, "<author><name>{}</name></author>", xml(&a.name));
        }
        for c in &p.categories {
            let _ = writeln!(out, "<category term=\"{}\"/>", xml(c));
        }
        let _ = write!(
            out,
            "<summary>{}</summary>\n<content type=\"text\">{} upvotes. {}</content>\n</entry>\n",
            xml(&p.abstract_text),
            e.votes,
            xml(&p.abstract_text)
        );
    }
    out.push_str("</feed>\n");
    out
}

fn rss(feed: &Feed, base: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n\
         <title>{}</title>\n<link>{}</link>\n<description>{}</description>\n<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>\n<generator>Paperhub</generator>\n",
        xml(&feed.title),
        xml(&feed.page),
        xml(&feed.title),
        xml(&feed.own)
    );
    for e in &feed.entries {
        let p = &e.paper;
        let link = format!("{base}/papers/{}", p.id.base());
        let _ = write!(
            out,
            "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"true\">{}</guid>\n<pubDate>{}</pubDate>\n<description>{}</description>\n",
            xml(&p.title),
            xml(&link),
            xml(&link),
            entry_time(e).to_rfc2822(),
            xml(&format!(
                "{} — {} ({} upvotes)",
                author_line(p, 10),
                p.abstract_text,
                e.votes
            ))
        );
        for c in &p.categories {
            let _ = writeln!(out, "<category>{}</category>", xml(c));
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn respond(feed: &Feed, base: &str, is_atom: bool) -> Response {
    if is_atom {
        (
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            atom(feed, base),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
            rss(feed, base),
        )
            .into_response()
    }
}

/// An Atom feed of `entries`, titled `title`, mirroring the hub page
/// `page`, served at `own` (both paths under the hub's base URL `base`).
pub fn papers_atom(
    base: &str,
    title: String,
    page: &str,
    own: &str,
    entries: Vec<Entry>,
) -> Response {
    let feed = Feed {
        title,
        page: format!("{base}{page}"),
        own: format!("{base}{own}"),
        entries,
    };
    respond(&feed, base, true)
}

async fn daily(app: Arc<AppState>, is_atom: bool) -> Result<Response, AppError> {
    let period = Period::Day(app.latest_day().await?);
    let listing = lists::listing(
        &app,
        ListRequest {
            period,
            category: None,
            page: 1,
            limit: FEED_ITEMS,
            include_hidden: false,
            order: ListOrder::Votes,
        },
        None,
    )
    .await?;
    let base = app.base_url();
    let mut entries = listing.community;
    entries.extend(listing.announced);
    let feed = Feed {
        title: format!("Paperhub daily papers: {}", period.label()),
        page: format!("{base}/"),
        own: format!("{base}/feed.{}", if is_atom { "atom" } else { "rss" }),
        entries,
    };
    Ok(respond(&feed, &base, is_atom))
}

/// `GET /feed.atom`.
///
/// # Errors
/// A storage error.
pub async fn daily_atom(State(app): State<Arc<AppState>>) -> Result<Response, AppError> {
    daily(app, true).await
}

/// `GET /feed.rss`.
///
/// # Errors
/// A storage error.
pub async fn daily_rss(State(app): State<Arc<AppState>>) -> Result<Response, AppError> {
    daily(app, false).await
}

async fn trending(app: Arc<AppState>, is_atom: bool) -> Result<Response, AppError> {
    let entries = lists::trending(&app, Window::Week, FEED_ITEMS as usize, 0, None).await?;
    let base = app.base_url();
    let feed = Feed {
        title: "Paperhub: trending papers this week".into(),
        page: format!("{base}/trending"),
        own: format!("{base}/trending.{}", if is_atom { "atom" } else { "rss" }),
        entries,
    };
    Ok(respond(&feed, &base, is_atom))
}

/// `GET /trending.atom`.
///
/// # Errors
/// A storage error.
pub async fn trending_atom(State(app): State<Arc<AppState>>) -> Result<Response, AppError> {
    trending(app, true).await
}

/// `GET /trending.rss`.
///
/// # Errors
/// A storage error.
pub async fn trending_rss(State(app): State<Arc<AppState>>) -> Result<Response, AppError> {
    trending(app, false).await
}

async fn search(
    app: Arc<AppState>,
    params: SearchParams,
    is_atom: bool,
) -> Result<Response, AppError> {
    let checked = params.check(50);
    if checked.query.is_empty() {
        return Err(AppError::bad_request(
            "Give a query: /search.atom?q=diffusion+models",
        ));
    }
    let found = run_search(&app, &checked, None).await?;
    let base = app.base_url();
    let q = serde_urlencoded::to_string([("q", checked.query.as_str())]).unwrap_or_default();
    let feed = Feed {
        title: format!("Paperhub search: {}", checked.query),
        page: format!("{base}/search?{q}"),
        own: format!("{base}/search.{}?{q}", if is_atom { "atom" } else { "rss" }),
        entries: found.hits.into_iter().map(|(e, _, _)| e).collect(),
    };
    Ok(respond(&feed, &base, is_atom))
}

/// `GET /search.atom?q=`.
///
/// # Errors
/// No query, or a search or storage error.
pub async fn search_atom(
    State(app): State<Arc<AppState>>,
    Query(p): Query<SearchParams>,
) -> Result<Response, AppError> {
    search(app, p, true).await
}

/// `GET /search.rss?q=`.
///
/// # Errors
/// No query, or a search or storage error.
pub async fn search_rss(
    State(app): State<Arc<AppState>>,
    Query(p): Query<SearchParams>,
) -> Result<Response, AppError> {
    search(app, p, false).await
}

/// The Atom feed of a paper's discussion (`/papers/{id}/comments.atom`):
/// its visible comments, newest first, their HTML rendered and cleaned as
/// on the page.
pub fn discussion_atom(base: &str, entry: &Entry, comments: &[paperhub_store::Comment]) -> String {
    let p = &entry.paper;
    let page = format!("{base}/papers/{}", p.id.base());
    let own = format!("{page}/comments.atom");
    let mut shown: Vec<&paperhub_store::Comment> = comments
        .iter()
        .filter(|c| !c.hidden && !c.deleted)
        .collect();
    shown.sort_by_key(|c| std::cmp::Reverse(c.id));
    let updated = shown
        .iter()
        .map(|c| c.edited_at.unwrap_or(c.created_at))
        .max()
        .unwrap_or_else(|| entry_time(entry));
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>Discussion: {}</title>\n<id>{}</id>\n<link rel=\"self\" href=\"{}\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
         <updated>{}</updated>\n<generator>Paperhub</generator>\n",
        xml(&p.title),
        xml(&own),
        xml(&own),
        xml(&page),
        rfc3339(updated)
    );
    for c in shown {
        let link = format!("{page}#c{}", c.id);
        let who = super::views::Person::plain(c.author_name.as_deref());
        let _ = write!(
            out,
            "<entry>\n<title>{} on {}</title>\n<id>{}</id>\n<link href=\"{}\"/>\n<updated>{}</updated>\n\
             <published>{}</published>\n<author><name>{}</name></author>\n<content type=\"html\">{}</content>\n</entry>\n",
            xml(&who),
            xml(&p.title),
            xml(&link),
            xml(&link),
            rfc3339(c.edited_at.unwrap_or(c.created_at)),
            rfc3339(c.created_at),
            xml(&who),
            xml(&super::discussion::render(&c.body))
        );
    }
    out.push_str("</feed>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(xml("a<b>&\"'\u{1}c"), "a&lt;b&gt;&amp;&quot;&#39;c");
    }
}
