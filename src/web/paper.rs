//! A paper's page, and the forms posted from it: upvote and curation.
//!
//! Paths are `/papers/{id}` and `/papers/{id}/vote|curate`, where old-style
//! ids contain a slash (`/papers/hep-th/9901001`), so one wildcard route
//! takes them all and [`split_action`] tells them apart.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use paperhub_domain::ArxivId;
use paperhub_search::SearchRequest;
use paperhub_store::{Entry, UserId};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::errors::AppError;
use super::pages::{cached_page, canonical_uri, chrome, render_string};
use super::session::Viewer;
use super::views::{Card, Chrome, bibtex};

/// Similar papers shown on a paper page.
const SIMILAR: usize = 6;

/// Splits `rest` into the paper id and an action (`vote`, `curate`, `similar`).
pub fn split_action(rest: &str) -> (&str, Option<&str>) {
    for action in [
        "vote",
        "curate",
        "similar",
        "comments",
        "save",
        "not-interested",
    ] {
        if let Some(id) = rest.strip_suffix(action).and_then(|r| r.strip_suffix('/')) {
            return (id, Some(action));
        }
    }
    (rest, None)
}

/// Parses a paper id from a path, or 404 (a typo in a URL is not a 500).
///
/// # Errors
/// Not an arXiv id.
pub fn parse_id(s: &str) -> Result<ArxivId, AppError> {
    s.parse::<ArxivId>().map_err(|_| {
        AppError::not_found(format!(
            "{s:?} is not an arXiv id; ids look like 2511.01234 or hep-th/9901001."
        ))
    })
}

/// A paper with its community state, or 404 (also for hidden papers, unless
/// the viewer is a curator).
///
/// # Errors
/// Unknown or hidden paper, or a storage error.
pub async fn find_entry(
    app: &Arc<AppState>,
    id: &ArxivId,
    viewer: Option<&paperhub_store::User>,
) -> Result<Entry, AppError> {
    let lookup = id.clone();
    let user = viewer.map(|u| u.id);
    let entry = app.db.run(move |s| s.entry(&lookup, user)).await?;
    match entry {
        Some(e) if !e.hidden || viewer.is_some_and(|u| u.is_admin) => Ok(e),
        _ => Err(AppError::not_found(format!(
            "Paper {} is not in this hub's catalog. Submit it at /submit to fetch it from arXiv.",
            id.base()
        ))),
    }
}

/// Papers similar to `id`: nearest embeddings, else BM25 on its title.
///
/// # Errors
/// A search or storage error.
pub async fn similar_entries(
    app: &Arc<AppState>,
    entry: &Entry,
    limit: usize,
    viewer: Option<UserId>,
) -> Result<Vec<Entry>, AppError> {
    let retriever = app.searcher.get();
    let id = entry.paper.id.base().to_owned();
    let title = entry.paper.title.clone();
    let ids = app
        .searching
        .run(move || -> anyhow::Result<Vec<String>> {
            if let Some(hits) = retriever.similar(&id, limit) {
                return Ok(hits.into_iter().map(|h| h.key).collect());
            }
            let request = SearchRequest {
                query: title,
                plain: true,
                limit: limit + 1,
                ..SearchRequest::default()
            };
            Ok(retriever
                .lexical
                .search(&request)?
                .into_iter()
                .map(|h| h.id)
                .filter(|h| *h != id)
                .take(limit)
                .collect())
        })
        .await??;
    let ids = super::catalog_ids(ids.iter().map(String::as_str));
    let entries = app.db.run(move |s| s.entries(&ids, viewer)).await?;
    Ok(entries.into_iter().filter(|e| !e.hidden).collect())
}

#[derive(Template)]
#[template(path = "paper.html")]
struct PaperPage {
    chrome: Chrome,
    id: String,
    title: String,
    authors: Vec<super::views::AuthorLink>,
    abstract_text: String,
    categories: Vec<String>,
    dates: String,
    version: String,
    comments: Option<String>,
    journal_ref: Option<String>,
    doi: Option<String>,
    code_url: Option<String>,
    project_url: Option<String>,
    withdrawn_on: Option<String>,
    abs_url: String,
    pdf_url: String,
    submitted_by: Option<super::views::Person>,
    submitted_at: Option<String>,
    featured: bool,
    hidden: bool,
    bibtex: String,
    discussion: Vec<super::discussion::CommentView>,
    similar: Vec<Card>,
    shelves: Vec<super::library::Shelf>,
    held: Vec<super::library::Shelf>,
    c: Card,
}

/// `GET /papers/{id}`.
///
/// # Errors
/// Unknown paper or a storage error.
pub async fn show(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(rest): Path<String>,
) -> Result<Response, AppError> {
    if let Some(id) = rest.strip_suffix("/comments.atom") {
        let id = parse_id(id)?;
        let entry = find_entry(&app, &id, None).await?;
        let paper = entry.paper.id.clone();
        let discussion = app.db.run(move |s| s.comments(&paper, false)).await?;
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "application/atom+xml; charset=utf-8",
            )],
            super::feeds::discussion_atom(&app.base_url(), &entry, &discussion),
        )
            .into_response());
    }
    if let Some(id) = rest.strip_suffix(".md") {
        // Hugging Face's `read_paper`: the page as markdown.
        let id = parse_id(id)?;
        let entry = find_entry(&app, &id, viewer.user.as_ref()).await?;
        let paper = entry.paper.id.clone();
        let discussion = app.db.run(move |s| s.comments(&paper, false)).await?;
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            super::hf_api::markdown(&entry, &discussion),
        )
            .into_response());
    }
    let (id, action) = split_action(&rest);
    if action.is_some() {
        return Err(AppError::not_found("There is no page here."));
    }
    let id = parse_id(id)?;
    // One entry per paper however its id was spelled (`arXiv:`, a URL,
    // padding): the key and the frame use the canonical id.
    let (a, u) = (
        Arc::clone(&app),
        canonical_uri(&format!("/papers/{id}"), &uri),
    );
    let key = format!("paper {id}");
    cached_page(&app, &viewer, &u.clone(), &key, move |viewer| async move {
        let (app, uri) = (a, u);
        let entry = find_entry(&app, &id, viewer.user.as_ref()).await?;
        let user = viewer.user.as_ref().map(|u| u.id);
        let discussion = super::discussion::thread(&app, &entry, viewer.user.as_ref()).await?;
        let similar = similar_entries(&app, &entry, SIMILAR, user).await?;
        let shelves = super::library::shelves(&app, &viewer, &entry.paper.id).await?;
        let p = &entry.paper;
        let fmt = |d: Option<chrono::DateTime<Utc>>| {
            d.map(|d| d.format("%-d %B %Y").to_string())
                .unwrap_or_default()
        };
        let page = PaperPage {
            chrome: chrome(&viewer, p.title.clone(), &uri),
            id: p.id.base().to_owned(),
            title: p.title.clone(),
            authors: p
                .authors
                .iter()
                .map(|a| super::views::AuthorLink {
                    name: a.name.clone(),
                    href: super::views::author_href(&a.name),
                })
                .collect(),
            abstract_text: p.abstract_text.clone(),
            categories: p.categories.clone(),
            dates: [
                ("Submitted", p.submitted),
                ("updated", p.updated.filter(|u| Some(*u) != p.submitted)),
                (
                    "announced",
                    p.announced
                        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()),
                ),
            ]
            .into_iter()
            .filter(|(_, d)| d.is_some())
            .map(|(label, d)| format!("{label} {}", fmt(d)))
            .collect::<Vec<_>>()
            .join(" · "),
            version: p.version.map(|v| format!("v{v}")).unwrap_or_default(),
            comments: p.comments.clone(),
            journal_ref: p.journal_ref.clone(),
            doi: p.doi.clone(),
            code_url: p.code_url.clone(),
            project_url: p.project_url(),
            withdrawn_on: p.withdrawn_at().map(|d| d.format("%-d %B %Y").to_string()),
            abs_url: format!("https://arxiv.org/abs/{}", p.id.base()),
            pdf_url: format!("https://arxiv.org/pdf/{}", p.id.base()),
            submitted_by: entry.submitted_by.as_deref().map(super::views::Person::new),
            submitted_at: entry
                .submitted_at
                .map(|d| d.format("%-d %B %Y, %H:%M UTC").to_string()),
            featured: entry.featured,
            hidden: entry.hidden,
            bibtex: bibtex(p),
            discussion,
            similar: similar.iter().map(|e| Card::new(e, &[])).collect(),
            c: Card::new(&entry, &[]),
            held: shelves.iter().filter(|s| s.holds).cloned().collect(),
            shelves,
        };
        render_string(&page)
    })
    .await
}

/// Sets `user`'s vote on `entry` (idempotent) and returns its count.
///
/// # Errors
/// A storage error.
pub async fn cast_vote(
    app: &Arc<AppState>,
    user: &paperhub_store::User,
    entry: &Entry,
    up: bool,
) -> Result<u32, AppError> {
    let (pid, uid) = (entry.paper.id.clone(), user.id);
    let votes = app
        .db
        .run(move |s| s.set_vote(uid, &pid, up, Utc::now()))
        .await?;
    app.pages.bump();
    let id = entry.paper.id.base();
    tracing::info!(paper.id = %id, user.id = %uid, "vote {} on {id}", if up { "up" } else { "withdrawn" });
    Ok(votes)
}

/// The fields of the vote and curation forms.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    /// `1` to upvote, `0` to take it back.
    pub up: Option<String>,
    /// Curation: feature, unfeature, hide, unhide; comments: post, edit,
    /// delete, hide, show.
    pub action: Option<String>,
    /// Where to go afterwards (a local path).
    pub next: Option<String>,
    /// A comment's markdown.
    pub body: Option<String>,
    /// The comment a reply answers.
    pub parent: Option<String>,
    /// The comment acted on.
    pub comment: Option<String>,
    /// The collection to save into (its slug); the reading list if none.
    pub collection: Option<String>,
}

/// A local path to return to, never another site.
pub fn local_next(next: Option<&str>, default: &str) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => default.to_owned(),
    }
}

/// Longest `next` path kept; a longer one falls back to the default.
const MAX_NEXT: usize = 2048;

/// Whether `n` is a path on this site that every browser reads the same way.
///
/// Browsers strip tabs and newlines from a `Location` and read `\` as `/`, so
/// `/\t/evil.example` becomes `//evil.example`, another site (see #13); and a
/// newline cannot go into a header at all. Only printable, space-free paths
/// that start with one `/` pass.
fn is_local_path(n: &str) -> bool {
    n.len() <= MAX_NEXT
        && n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && !n.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// `POST /papers/{id}/vote` and `/papers/{id}/curate`.
///
/// # Errors
/// Unknown paper or action, not logged in (JSON), not a curator, storage.
pub async fn act(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(rest): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, AppError> {
    let (id, action) = split_action(&rest);
    let id = parse_id(id)?;
    let page = format!("/papers/{}", id.base());
    let Some(user) = viewer.user.clone() else {
        if wants_json(&headers) {
            return Err(AppError::unauthorized());
        }
        return Ok(Redirect::to(&format!("/login?next={page}")).into_response());
    };
    let entry = find_entry(&app, &id, Some(&user)).await?;
    let next = local_next(form.next.as_deref(), &page);
    match action {
        Some("save") => {
            super::library::save(
                &app,
                &user,
                entry.paper.id.clone(),
                form.collection.as_deref(),
                wants_json(&headers),
                next,
            )
            .await
        }
        Some("not-interested") => {
            let on = form.action.as_deref() != Some("undo");
            super::for_you::dismiss(
                &app,
                user.id,
                entry.paper.id.clone(),
                on,
                wants_json(&headers),
                next,
            )
            .await
        }
        Some("vote") => {
            let up = form.up.as_deref() != Some("0");
            let votes = cast_vote(&app, &user, &entry, up).await?;
            if wants_json(&headers) {
                return Ok(axum::Json(json!({ "upvotes": votes, "upvoted": up })).into_response());
            }
            Ok(Redirect::to(&next).into_response())
        }
        Some("curate") => {
            if !user.is_admin {
                return Err(AppError::forbidden(
                    "Only curators can feature or hide papers.",
                ));
            }
            let (featured, hidden) = match form.action.as_deref() {
                Some("feature") => (Some(true), None),
                Some("unfeature") => (Some(false), None),
                Some("hide") => (None, Some(true)),
                Some("unhide") => (None, Some(false)),
                _ => {
                    return Err(AppError::bad_request(
                        "Choose feature, unfeature, hide or unhide.",
                    ));
                }
            };
            let pid = entry.paper.id.clone();
            app.db
                .run(move |s| s.set_curation(&pid, featured, hidden, Utc::now()))
                .await?;
            app.pages.bump();
            Ok(Redirect::to(&next).into_response())
        }
        Some("comments") => {
            let form = super::discussion::CommentForm {
                action: form.action,
                body: form.body,
                parent: form.parent,
                comment: form.comment,
            };
            super::discussion::act(&app, &user, &entry, form).await
        }
        _ => Err(AppError::not_found("There is no such action.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_split_from_old_and_new_ids() {
        assert_eq!(split_action("2511.00001"), ("2511.00001", None));
        assert_eq!(
            split_action("2511.00001/vote"),
            ("2511.00001", Some("vote"))
        );
        assert_eq!(
            split_action("hep-th/9901001/curate"),
            ("hep-th/9901001", Some("curate"))
        );
        assert_eq!(split_action("hep-th/9901001"), ("hep-th/9901001", None));
    }

    #[test]
    fn next_is_always_local() {
        assert_eq!(local_next(Some("/trending"), "/"), "/trending");
        assert_eq!(local_next(Some("//evil.example"), "/"), "/");
        assert_eq!(local_next(Some("https://evil.example"), "/"), "/");
        assert_eq!(local_next(Some("/\\evil"), "/"), "/");
        assert_eq!(local_next(None, "/x"), "/x");
        // See: #13. Browsers strip the tab and go to //evil.example.
        for bad in [
            "/\t/evil.example",
            "/\n/x",
            "/\r\nSet-Cookie:x",
            "/ /x",
            "/\u{0}",
        ] {
            assert_eq!(local_next(Some(bad), "/"), "/", "{bad:?}");
        }
        assert_eq!(
            local_next(Some(&format!("/{}", "a".repeat(3000))), "/"),
            "/"
        );
        assert_eq!(local_next(Some("/search?q=a%20b"), "/"), "/search?q=a%20b");
    }
}
