//! Hugging Face's papers API, beside `/api/v1`, so Hugging Face's own
//! client (`huggingface_hub.HfApi(endpoint=…)`) works against a hub:
//! `GET /api/daily_papers`, `/api/papers/{id}`, `/api/papers/search` and
//! the markdown page `/papers/{id}.md` (served by `web::paper`).
//!
//! Field names follow `huggingface_hub`'s `PaperInfo` and Hugging Face's
//! own responses; errors are `{"error": "…"}` as Hugging Face's are. What
//! the hub does not have is null, and `docs/API-DESIGN.md` says which and
//! why. The lists and the search are the same code as `/api/v1`, so the
//! two APIs never disagree.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveTime, Utc};
use paperhub_domain::text::{author_line, one_line};
use paperhub_store::{Comment, Entry, ListOrder};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::errors::{AppError, HfError};
use super::lists::{self, ListRequest, Period};
use super::paper::{find_entry, parse_id};
use super::search::{SearchParams, run_search};

type HfResult = Result<Response, HfError>;

/// Hugging Face's user object, for a hub account name.
fn user(name: &str) -> Value {
    json!({
        "_id": name,
        "user": name,
        "name": name,
        "fullname": name,
        "type": "user",
        "avatarUrl": null,
        "isPro": false,
    })
}

/// An instant as Hugging Face writes it.
fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// When the paper was published: its first version, else its announcement.
fn published(e: &Entry) -> Option<String> {
    e.paper
        .submitted
        .or_else(|| {
            e.paper
                .announced
                .map(|d| d.and_time(NaiveTime::MIN).and_utc())
        })
        .map(instant)
}

/// The GitHub repository among a paper's code links.
fn github_repo(e: &Entry) -> Option<&str> {
    e.paper
        .code_url
        .as_deref()
        .filter(|u| u.starts_with("https://github.com/"))
}

/// Hugging Face's paper object.
fn paper(e: &Entry) -> Value {
    let p = &e.paper;
    let id = p.id.base();
    let authors: Vec<Value> = p
        .authors
        .iter()
        .enumerate()
        .map(|(i, a)| json!({ "_id": format!("{id}-{i}"), "name": a.name, "hidden": false }))
        .collect();
    json!({
        "id": id,
        "authors": authors,
        "publishedAt": published(e),
        "title": p.title,
        "summary": p.abstract_text,
        "upvotes": e.votes,
        "discussionId": id,
        "submittedOnDailyAt": e.submitted_at.map(instant),
        "submittedOnDailyBy": e.submitted_by.as_deref().map(user),
        "githubRepo": github_repo(e),
        "projectPage": p.project_url(),
        "withdrawnAt": p.withdrawn_at().map(instant),
        "numComments": e.comments,
    })
}

/// Hugging Face's daily-papers item: the paper, and its place on the list.
fn item(e: &Entry) -> Value {
    json!({
        "paper": paper(e),
        "publishedAt": e.submitted_at.map(instant).or_else(|| published(e)),
        "title": e.paper.title,
        "summary": e.paper.abstract_text,
        "thumbnail": null,
        "numComments": e.comments,
        "submittedBy": e.submitted_by.as_deref().map(user),
        "isAuthorParticipating": false,
    })
}

/// Query of `/api/daily_papers`, as `HfApi.list_daily_papers` sends it.
#[derive(Debug, Deserialize)]
pub struct DailyParams {
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    /// `YYYY-Www`.
    pub week: Option<String>,
    /// `YYYY-MM`.
    pub month: Option<String>,
    /// Only papers this account submitted.
    pub submitter: Option<String>,
    /// `publishedAt` (default) or `trending`.
    pub sort: Option<String>,
    /// 0-based page.
    pub p: Option<String>,
    /// Papers per page, 1-100 (default 50).
    pub limit: Option<String>,
}

fn number(s: Option<&str>, name: &str, max: u32, default: u32) -> Result<u32, AppError> {
    match s.map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v.parse().ok().filter(|n| *n <= max).ok_or_else(|| {
            AppError::bad_request(format!("{name} must be a whole number from 0 to {max}."))
        }),
    }
}

/// `GET /api/daily_papers`.
///
/// # Errors
/// Bad parameters (400) or a storage error.
pub async fn daily_papers(
    State(app): State<Arc<AppState>>,
    Query(q): Query<DailyParams>,
) -> HfResult {
    let period = match (&q.date, &q.week, &q.month) {
        (Some(d), None, None) => Period::day(d)?,
        (None, Some(w), None) => Period::week(w)?,
        (None, None, Some(m)) => Period::month(m)?,
        (None, None, None) => Period::Day(app.latest_day().await?),
        _ => return Err(AppError::bad_request("Give at most one of date, week and month.").into()),
    };
    let order = match q.sort.as_deref() {
        None | Some("publishedAt" | "") => ListOrder::Newest,
        Some("trending") => ListOrder::Votes,
        Some(other) => {
            return Err(AppError::bad_request(format!(
                "sort {other:?} is not known; use publishedAt or trending."
            ))
            .into());
        }
    };
    let limit = number(q.limit.as_deref(), "limit", 100, 50)?.max(1);
    let page = number(q.p.as_deref(), "p", 10_000, 0)?;
    let entries: Vec<Entry> = match q.submitter.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => {
            let name = name.to_owned();
            let (from, to) = period.range();
            let mut mine = app
                .db
                .run(move |s| match s.user_by_name(&name)? {
                    Some(u) => Ok(s.user_papers(u.id, None)?.0),
                    None => Ok(Vec::new()),
                })
                .await?;
            mine.retain(|e| !e.hidden && e.list_date.is_some_and(|d| d >= from && d <= to));
            if order == ListOrder::Votes {
                mine.sort_by_key(|e| std::cmp::Reverse(e.votes));
            }
            mine.into_iter()
                .skip((page * limit) as usize)
                .take(limit as usize)
                .collect()
        }
        _ => {
            let listing = lists::listing(
                &app,
                ListRequest {
                    period,
                    category: None,
                    page: page + 1,
                    limit,
                    include_hidden: false,
                    order,
                },
                None,
            )
            .await?;
            listing
                .community
                .into_iter()
                .chain(listing.announced)
                .collect()
        }
    };
    Ok(Json(entries.iter().map(item).collect::<Vec<_>>()).into_response())
}

/// `GET /api/papers/{id}`.
///
/// # Errors
/// Not an arXiv id or not in the catalog (404), or a storage error.
pub async fn paper_info(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> HfResult {
    let id = parse_id(&id)?;
    let entry = find_entry(&app, &id, None).await?;
    Ok(Json(paper(&entry)).into_response())
}

/// Query of `/api/papers/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// The query.
    pub q: Option<String>,
    /// At most this many, 1-100 (default 20).
    pub limit: Option<String>,
}

/// `GET /api/papers/search`: hybrid search, as daily-papers items.
///
/// # Errors
/// No query or a bad limit (400), or a failed search.
pub async fn search(State(app): State<Arc<AppState>>, Query(q): Query<SearchQuery>) -> HfResult {
    let limit = number(q.limit.as_deref(), "limit", 100, 20)?.max(1);
    let params = SearchParams {
        q: q.q,
        mode: None,
        category: None,
        since: None,
        until: None,
        page: None,
        limit: Some(limit.to_string()),
    };
    let checked = params.check(20);
    if checked.query.is_empty() {
        return Err(AppError::bad_request("Give a query as q=…").into());
    }
    if let Some(problem) = checked.problems.first() {
        return Err(AppError::bad_request(problem.clone()).into());
    }
    let found = run_search(&app, &checked, None).await?;
    let items: Vec<Value> = found.hits.iter().map(|(e, _, _)| item(e)).collect();
    Ok(Json(items).into_response())
}

/// The paper page as markdown (`/papers/{id}.md`): title, authors,
/// abstract, links and the discussion (visible comments, replies quoted
/// under their thread).
pub fn markdown(e: &Entry, discussion: &[Comment]) -> String {
    let p = &e.paper;
    let id = p.id.base();
    let mut md = format!("# {}\n\n", p.title);
    md.push_str(&format!("**Authors:** {}\n\n", author_line(p, usize::MAX)));
    if let Some(day) = published(e) {
        md.push_str(&format!("**Published:** {}\n\n", &day[..10.min(day.len())]));
    }
    md.push_str(&format!(
        "**Links:** [arXiv](https://arxiv.org/abs/{id}) · [PDF](https://arxiv.org/pdf/{id})"
    ));
    if let Some(code) = &p.code_url {
        md.push_str(&format!(" · [Code]({code})"));
    }
    if let Some(page) = p.project_url() {
        md.push_str(&format!(" · [Project page]({page})"));
    }
    if let Some(at) = p.withdrawn_at() {
        md.push_str(&format!(
            "\n\n**Withdrawn** on {} (arXiv's comments: {})",
            at.format("%Y-%m-%d"),
            p.comments.as_deref().map(one_line).unwrap_or_default()
        ));
    }
    md.push_str(&format!("\n\n**Upvotes:** {}\n\n", e.votes));
    if let Some(by) = &e.submitted_by {
        md.push_str(&format!(
            "**Submitted by:** {}\n\n",
            super::views::Person::plain(Some(by))
        ));
    }
    md.push_str("## Abstract\n\n");
    md.push_str(&p.abstract_text);
    md.push_str("\n\n## Discussion\n\n");
    let shown: Vec<&Comment> = discussion.iter().filter(|c| !c.hidden).collect();
    if shown.is_empty() {
        md.push_str("No comments yet.\n");
    }
    for c in shown {
        let who = super::views::Person::plain(c.author_name.as_deref());
        let when = c.created_at.format("%Y-%m-%d");
        let text = if c.deleted {
            "*Deleted by its author.*".to_owned()
        } else {
            c.body.clone()
        };
        let edited = if c.edited_at.is_some() && !c.deleted {
            " (edited)"
        } else {
            ""
        };
        let block = format!("**{who}** on {when}{edited}:\n\n{text}\n\n");
        if c.parent.is_some() {
            for line in block.lines() {
                md.push_str(&format!("> {line}\n"));
            }
            md.push('\n');
        } else {
            md.push_str(&block);
        }
    }
    md
}
