//! Author pages: `/authors/{name}` lists the catalog's papers by one
//! author, newest first, and lets a signed-in reader follow them.
//!
//! An author is their name's key ([`author_key`]), so any spelling that
//! differs only in case, spaces or punctuation opens the same page; the
//! page's heading is the name as the newest paper prints it. Followed
//! authors are listed on the settings page and feed the email digest of
//! the follower's address (see [`crate::digest`]).

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use paperhub_domain::author::{MAX_KEY_BYTES, author_key};
use paperhub_store::{AuthorPapers, Entry, StoreError};
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;
use super::lists::ListParams;
use super::pages::{chrome, render};
use super::session::Viewer;
use super::views::{Card, Chrome, Link, author_href};

/// Authors one account may follow.
pub const MAX_FOLLOWS: u32 = 500;

#[derive(Template)]
#[template(path = "author.html")]
struct AuthorPage {
    chrome: Chrome,
    name: String,
    href: String,
    login: String,
    total: u64,
    cards: Vec<Card>,
    following: bool,
    prev: Option<Link>,
    next: Option<Link>,
}

/// The log-in link that returns to `href` (an author page, whose `%`
/// escapes must survive the query's own decoding).
fn login_href(href: &str) -> String {
    format!("/login?next={}", href.replace('%', "%25"))
}

/// The key of the author in a path, or a 404 for one no paper can have.
fn key_of(name: &str) -> Result<String, AppError> {
    let key = author_key(name);
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(AppError::not_found("There is no such author."));
    }
    Ok(key)
}

/// The name as the newest paper spells it, else as the path does.
fn display_name(key: &str, entries: &[Entry], fallback: &str) -> String {
    entries
        .iter()
        .flat_map(|e| e.paper.authors.iter())
        .find(|a| author_key(&a.name) == key)
        .map_or_else(|| fallback.trim().to_owned(), |a| a.name.clone())
}

/// One page of an author's papers, as the page and the API show it.
pub struct AuthorListing {
    /// The name as the newest paper on the page spells it.
    pub name: String,
    /// Papers listing the author, all pages.
    pub total: u64,
    /// This page, newest first, seen by the viewer.
    pub entries: Vec<Entry>,
    /// The viewer follows the author.
    pub following: bool,
}

/// The papers of the author `name`, `limit` from `offset`, for `viewer`.
///
/// # Errors
/// A name no paper can list (404), no paper listing it (404), or a
/// storage error.
pub async fn listing(
    app: &Arc<AppState>,
    name: &str,
    offset: u32,
    limit: u32,
    viewer: Option<&paperhub_store::User>,
) -> Result<AuthorListing, AppError> {
    let key = key_of(name)?;
    let k = key.clone();
    let curator = viewer.is_some_and(|u| u.is_admin);
    let viewer = viewer.map(|u| u.id);
    let (found, entries, following) = app
        .db
        .run(move |s| {
            let found = s.author_papers(&k, offset, limit, curator)?;
            let entries = s.entries(&found.ids, viewer)?;
            let following = match viewer {
                Some(me) => s.followed_authors(me)?.iter().any(|f| f.key == k),
                None => false,
            };
            Ok::<(AuthorPapers, Vec<Entry>, bool), StoreError>((found, entries, following))
        })
        .await?;
    if found.total == 0 {
        return Err(AppError::not_found(
            "No paper in the catalog lists this author.",
        ));
    }
    Ok(AuthorListing {
        name: display_name(&key, &entries, name),
        total: found.total,
        entries,
        following,
    })
}

/// `GET /authors/{name}`.
///
/// # Errors
/// An author with no papers in the catalog, or a storage error.
pub async fn show(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(name): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let size = app.config.web.page_size;
    let page = params.page();
    let offset = (page - 1).saturating_mul(size);
    let found = listing(&app, &name, offset, size, viewer.user.as_ref()).await?;
    let href = author_href(&found.name);
    let pages = found.total.div_ceil(u64::from(size.max(1)));
    let link = |p: u32, label: &str| Link::new(format!("{href}?page={p}"), label.to_owned());
    let mut cards: Vec<Card> = found.entries.iter().map(|e| Card::new(e, &[])).collect();
    super::library::mark_saved(&app, &viewer, &mut cards).await?;
    Ok(render(&AuthorPage {
        chrome: chrome(&viewer, found.name.clone(), &uri),
        total: found.total,
        cards,
        following: found.following,
        prev: (page > 1).then(|| link(page - 1, "Newer")),
        next: (u64::from(page) < pages).then(|| link(page + 1, "Older")),
        name: found.name,
        login: login_href(&href),
        href,
    }))
}

/// The follow form.
#[derive(Debug, Deserialize)]
pub struct FollowForm {
    /// `follow` or `unfollow`.
    pub action: Option<String>,
    /// Where to go afterwards (a local path), else the author's page.
    pub next: Option<String>,
}

/// `POST /authors/{name}/follow`.
///
/// # Errors
/// Not signed in (a redirect to log in), an unknown author or action, the
/// follow limit, or a storage error.
pub async fn follow(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<FollowForm>,
) -> Result<Response, AppError> {
    let key = key_of(&name)?;
    let href = author_href(&name);
    let Some(user) = viewer.user else {
        return Ok(Redirect::to(&login_href(&href)).into_response());
    };
    let follow = match form.action.as_deref() {
        Some("follow") => true,
        Some("unfollow") => false,
        _ => return Err(AppError::bad_request("Choose follow or unfollow.")),
    };
    let k = key.clone();
    let shown = name.trim().chars().take(200).collect::<String>();
    let known = app
        .db
        .run(move |s| {
            if !follow {
                s.unfollow_author(user.id, &k)?;
                return Ok(true);
            }
            if s.author_papers(&k, 0, 1, true)?.total == 0 {
                return Ok(false);
            }
            s.follow_author(user.id, &k, &shown, MAX_FOLLOWS, Utc::now())?;
            Ok::<_, StoreError>(true)
        })
        .await?;
    if !known {
        return Err(AppError::not_found(
            "No paper in the catalog lists this author.",
        ));
    }
    let next = super::paper::local_next(form.next.as_deref(), &href);
    Ok(Redirect::to(&next).into_response())
}
