//! The library in the JSON API (`/api/v1/collections…`): list, make,
//! read, change and delete one's collections, and save, annotate and
//! remove papers in them. Every route needs the caller's account (a
//! personal token, or the session with its CSRF header); collections are
//! addressed by slug, papers by arXiv id. The rules are those of the web
//! pages ([`crate::app::library`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use paperhub_domain::ArxivId;
use paperhub_store::{Collection, CollectionChange, ItemChange, Saved, StoreError, User};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::errors::{ApiError, AppError};
use super::session::Viewer;
use super::views::{PaperView, rfc3339};
use crate::app::library::{self as rules, LIMITS};
use axum::Extension;

type ApiResult = Result<Response, ApiError>;

fn view(c: &Collection) -> Value {
    json!({
        "slug": c.slug,
        "name": c.name,
        "public": c.public,
        "papers": c.papers,
        "created_at": rfc3339(c.created_at),
    })
}

fn body(bytes: &[u8], example: &str) -> Result<Value, AppError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| AppError::bad_request(format!("The body must be JSON like {example}: {e}")))?;
    if !value.is_object() {
        return Err(AppError::bad_request(format!(
            "The body must be a JSON object like {example}."
        )));
    }
    Ok(value)
}

/// An optional field of `kind` ("string", "boolean"), or a 400 naming it.
fn field<'a, T>(
    v: &'a Value,
    name: &str,
    get: impl Fn(&'a Value) -> Option<T>,
    kind: &str,
) -> Result<Option<T>, AppError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => get(x)
            .map(Some)
            .ok_or_else(|| AppError::bad_request(format!("\"{name}\" must be a {kind}."))),
    }
}

/// The caller's collection `slug`, or a 404.
///
/// # Errors
/// No such collection of the caller's, or a storage error.
pub(super) async fn own(
    app: &Arc<AppState>,
    user: &User,
    slug: &str,
) -> Result<Collection, AppError> {
    let missing = || AppError::not_found("You have no collection with that slug.");
    if !rules::is_slug(slug) {
        return Err(missing());
    }
    let (uid, slug) = (user.id, slug.to_owned());
    app.db
        .run(move |s| s.collection(uid, &slug))
        .await?
        .ok_or_else(missing)
}

/// `GET /api/v1/collections`.
///
/// # Errors
/// No account, or a storage error.
pub async fn list(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
) -> ApiResult {
    let uid = viewer.require()?.id;
    let collections = app.db.run(move |s| s.collections(uid)).await?;
    let items: Vec<Value> = collections.iter().map(view).collect();
    Ok(Json(json!({ "collections": items })).into_response())
}

/// `POST /api/v1/collections` `{"name": …, "public": false}`.
///
/// # Errors
/// No account, a bad name, a taken slug, the limit, or a storage error.
pub async fn create(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    bytes: Bytes,
) -> ApiResult {
    let user = viewer.require()?.clone();
    let v = body(&bytes, r#"{"name": "Graph neural networks"}"#)?;
    let raw = field(&v, "name", Value::as_str, "string")?.unwrap_or_default();
    let public = field(&v, "public", Value::as_bool, "boolean")?.unwrap_or(false);
    let (name, slug) = rules::name_and_slug(raw).map_err(AppError::bad_request)?;
    let uid = user.id;
    let made = app
        .db
        .run(move |s| s.create_collection(uid, &slug, &name, public, LIMITS, Utc::now()))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "collection": view(&made) })),
    )
        .into_response())
}

/// Paging of a collection's papers.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// 1-100.
    pub limit: Option<String>,
    /// 0-based page.
    pub p: Option<String>,
}

/// `GET /api/v1/collections/{slug}`: the collection and a page of its
/// papers, newest saved first, each with its note and read mark.
///
/// # Errors
/// No account, no such collection, bad paging, or a storage error.
pub async fn show(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult {
    let user = viewer.require()?.clone();
    let collection = own(&app, &user, &slug).await?;
    let limit = super::api::number(q.limit.as_deref(), "limit", 1..=100, 50)?;
    let page = super::api::number(q.p.as_deref(), "p", 0..=100_000, 0)?;
    let (id, uid) = (collection.id, user.id);
    let (items, total, entries) = app
        .db
        .run(move |s| {
            let (items, total) = s.saved_papers(id, page.saturating_mul(limit), limit)?;
            let ids: Vec<ArxivId> = items.iter().filter_map(|i| i.paper.parse().ok()).collect();
            let entries = s.entries(&ids, Some(uid))?;
            Ok::<_, StoreError>((items, total, entries))
        })
        .await?;
    let papers: Vec<Value> = items
        .iter()
        .filter_map(|item| {
            let entry = entries.iter().find(|e| e.paper.id.base() == item.paper)?;
            Some(json!({
                "paper": PaperView::new(entry),
                "note": item.note,
                "read": item.read,
                "saved_at": rfc3339(item.added_at),
            }))
        })
        .collect();
    let shown = u64::from(page.saturating_mul(limit)) + items.len() as u64;
    Ok(Json(json!({
        "collection": view(&collection),
        "papers": papers,
        "meta": {
            "total": total,
            "next_page": (shown < total).then(|| format!("?p={}&limit={limit}", page + 1)),
        },
    }))
    .into_response())
}

/// `PATCH /api/v1/collections/{slug}` `{"name": …, "public": …}`.
///
/// # Errors
/// No account, no such collection, a bad field, a taken slug, or a
/// storage error.
pub async fn change(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let user = viewer.require()?.clone();
    let collection = own(&app, &user, &slug).await?;
    let v = body(&bytes, r#"{"name": "GNNs", "public": true}"#)?;
    let renamed = field(&v, "name", Value::as_str, "string")?
        .map(rules::name_and_slug)
        .transpose()
        .map_err(AppError::bad_request)?;
    let public = field(&v, "public", Value::as_bool, "boolean")?;
    // The reading list keeps its slug: saves without a collection go there.
    let keep = collection.slug == paperhub_store::READING_LIST.0;
    let (uid, id) = (user.id, collection.id);
    let changed = app
        .db
        .run(move |s| {
            let change = CollectionChange {
                name: renamed.as_ref().map(|(n, _)| n.as_str()),
                slug: renamed.as_ref().filter(|_| !keep).map(|(_, s)| s.as_str()),
                public,
            };
            s.change_collection(uid, id, &change)?;
            s.collections(uid)
                .map(|all| all.into_iter().find(|c| c.id == id))
        })
        .await?
        .ok_or_else(|| AppError::not_found("You have no collection with that slug."))?;
    Ok(Json(json!({ "collection": view(&changed) })).into_response())
}

/// `DELETE /api/v1/collections/{slug}`.
///
/// # Errors
/// No account, no such collection, or a storage error.
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
) -> ApiResult {
    let user = viewer.require()?.clone();
    let collection = own(&app, &user, &slug).await?;
    let (uid, id) = (user.id, collection.id);
    app.db.run(move |s| s.delete_collection(uid, id)).await?;
    Ok(Json(json!({ "deleted": true })).into_response())
}

/// `POST /api/v1/collections/{slug}/papers` `{"id": "2503.15667"}`: 201
/// when saved, 200 when it was there.
///
/// # Errors
/// No account, no such collection or paper, a full collection, or a
/// storage error.
pub async fn save(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let user = viewer.require()?.clone();
    let collection = own(&app, &user, &slug).await?;
    let v = body(&bytes, r#"{"id": "2503.15667"}"#)?;
    let raw = field(&v, "id", Value::as_str, "string")?
        .ok_or_else(|| AppError::bad_request("The body needs an \"id\": an arXiv id."))?;
    let paper = super::submit::parse_input(raw)?;
    let (uid, id) = (user.id, collection.id);
    let outcome = app
        .db
        .run(move |s| s.save_paper(uid, Some(id), &paper, LIMITS, Utc::now()))
        .await?;
    let (status, saved) = match outcome {
        Saved::Added(_) => (StatusCode::CREATED, true),
        Saved::AlreadyThere(_) => (StatusCode::OK, false),
        Saved::NoSuchPaper => {
            return Err(AppError::not_found(
                "That paper is not in the catalog; submit it first (POST /api/v1/papers).",
            )
            .into());
        }
        Saved::NoSuchCollection => {
            return Err(AppError::not_found("You have no collection with that slug.").into());
        }
        Saved::Full => {
            return Err(AppError::conflict(format!(
                "That collection holds {} papers, its limit.",
                LIMITS.papers
            ))
            .into());
        }
    };
    Ok((status, Json(json!({ "saved": saved }))).into_response())
}

/// `PATCH` and `DELETE /api/v1/collections/{slug}/papers/{id}`.
///
/// # Errors
/// No account, no such collection or saved paper, a bad field, or a
/// storage error.
pub async fn item(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    method: axum::http::Method,
    Path((slug, rest)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let user = viewer.require()?.clone();
    let paper = super::paper::parse_id(&rest)?;
    let collection = own(&app, &user, &slug).await?;
    let (uid, id) = (user.id, collection.id);
    let done = if method == axum::http::Method::DELETE {
        app.db.run(move |s| s.remove_paper(uid, id, &paper)).await?
    } else {
        let v = body(&bytes, r#"{"note": "…", "read": true}"#)?;
        let note = field(&v, "note", Value::as_str, "string")?
            .map(rules::check_note)
            .transpose()
            .map_err(AppError::bad_request)?;
        let read = field(&v, "read", Value::as_bool, "boolean")?;
        app.db
            .run(move |s| {
                let change = ItemChange {
                    note: note.as_deref(),
                    read,
                };
                s.change_saved(uid, id, &paper, &change)
            })
            .await?
    };
    if !done {
        return Err(AppError::not_found("That paper is not in this collection.").into());
    }
    Ok(Json(json!({ "ok": true })).into_response())
}
