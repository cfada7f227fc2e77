//! Your library on the web: saving papers from any list or page without a
//! reload, the library page with its collections and a search over what
//! you saved, one collection's page (notes, read marks, renaming,
//! publishing, deleting), and public collections with their Atom feed.
//!
//! Paths: `POST /papers/{id}/save` (from [`super::paper::act`]),
//! `/library`, `/library/{slug}`, `/library/{slug}/papers/{id}`, and
//! `/users/{name}/collections/{slug}` (`.atom` for the feed). The rules
//! (names, slugs, notes, limits) are in [`crate::app::library`].

use std::collections::HashSet;
use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use paperhub_domain::ArxivId;
use paperhub_store::{
    Collection, CollectionChange, ItemChange, Saved, SavedPaper, StoreError, User,
};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::errors::AppError;
use super::pages::{chrome, render};
use super::session::Viewer;
use super::views::{Card, Chrome};
use crate::app::library::{self as rules, LIMITS};

/// Papers on one page of a collection.
const PAGE: u32 = 50;

/// Saved papers a library search reads at most, over all collections.
const SEARCH_DEPTH: u32 = 5_000;

/// Which of `ids` the viewer saved anywhere (empty for visitors).
///
/// # Errors
/// A storage error.
pub async fn saved_set(
    app: &Arc<AppState>,
    viewer: &Viewer,
    ids: Vec<ArxivId>,
) -> Result<HashSet<String>, AppError> {
    let Some(user) = viewer.user.as_ref().map(|u| u.id) else {
        return Ok(HashSet::new());
    };
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let saved = app.db.run(move |s| s.saved_in(user, &ids)).await?;
    Ok(saved.into_iter().map(|(id, _)| id).collect())
}

/// Marks the cards the viewer saved.
///
/// # Errors
/// A storage error.
pub async fn mark_saved(
    app: &Arc<AppState>,
    viewer: &Viewer,
    cards: &mut [Card],
) -> Result<(), AppError> {
    if viewer.user.is_none() {
        return Ok(());
    }
    let ids = cards.iter().filter_map(|c| c.id.parse().ok()).collect();
    let saved = saved_set(app, viewer, ids).await?;
    for card in cards {
        card.saved = saved.contains(&card.id);
    }
    Ok(())
}

/// One of the viewer's collections, as a paper page offers it.
#[derive(Debug, Clone)]
pub struct Shelf {
    /// Its slug.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// It holds the paper.
    pub holds: bool,
}

/// The viewer's collections and whether each holds `paper` (empty for
/// visitors).
///
/// # Errors
/// A storage error.
pub async fn shelves(
    app: &Arc<AppState>,
    viewer: &Viewer,
    paper: &ArxivId,
) -> Result<Vec<Shelf>, AppError> {
    let Some(user) = viewer.user.as_ref().map(|u| u.id) else {
        return Ok(Vec::new());
    };
    let paper = paper.clone();
    let (collections, holding) = app
        .db
        .run(move |s| {
            let holding = s
                .saved_in(user, std::slice::from_ref(&paper))?
                .into_iter()
                .flat_map(|(_, ids)| ids)
                .collect::<HashSet<_>>();
            Ok::<_, StoreError>((s.collections(user)?, holding))
        })
        .await?;
    Ok(collections
        .into_iter()
        .map(|c| Shelf {
            holds: holding.contains(&c.id),
            slug: c.slug,
            name: c.name,
        })
        .collect())
}

/// `POST /papers/{id}/save`: into the reading list, or the collection
/// the form names; JSON for the page's script, else back to `next`.
///
/// # Errors
/// An unknown collection, a full one, or a storage error.
pub async fn save(
    app: &Arc<AppState>,
    user: &User,
    paper: ArxivId,
    collection: Option<&str>,
    wants_json: bool,
    next: String,
) -> Result<Response, AppError> {
    let uid = user.id;
    let slug = collection
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let outcome = app
        .db
        .run(move |s| {
            let target = match slug {
                Some(slug) => match s.collection(uid, &slug)? {
                    Some(c) => Some(c.id),
                    None => return Ok(Saved::NoSuchCollection),
                },
                None => None,
            };
            s.save_paper(uid, target, &paper, LIMITS, Utc::now())
        })
        .await?;
    match outcome {
        Saved::Added(_) | Saved::AlreadyThere(_) => {}
        Saved::NoSuchPaper => return Err(AppError::not_found("There is no such paper.")),
        Saved::NoSuchCollection => {
            return Err(AppError::not_found("You have no collection of that name."));
        }
        Saved::Full => {
            return Err(AppError::conflict(format!(
                "That collection holds {} papers, its limit; save into another.",
                LIMITS.papers
            )));
        }
    }
    if wants_json {
        return Ok(axum::Json(json!({ "saved": true })).into_response());
    }
    Ok(Redirect::to(&next).into_response())
}

/// The viewer, or a redirect to log in and come back to `path`.
fn signed_in(viewer: &Viewer, path: &str) -> Result<User, Box<Response>> {
    viewer
        .user
        .clone()
        .ok_or_else(|| Box::new(Redirect::to(&format!("/login?next={path}")).into_response()))
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage {
    chrome: Chrome,
    collections: Vec<Collection>,
    q: String,
    results: Vec<Card>,
    searched: bool,
    error: Option<String>,
}

/// `?q=` of the library page.
#[derive(Debug, Deserialize)]
pub struct LibraryParams {
    /// Words to find in one's saved papers.
    pub q: Option<String>,
}

/// `GET /library`: the collections, and a search over every saved paper.
///
/// # Errors
/// A storage error.
pub async fn index(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(params): Query<LibraryParams>,
) -> Result<Response, AppError> {
    let user = match signed_in(&viewer, "/library") {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let q: String = params.q.unwrap_or_default().chars().take(200).collect();
    library_page(&app, &viewer, &uri, &user, q, None).await
}

async fn library_page(
    app: &Arc<AppState>,
    viewer: &Viewer,
    uri: &OriginalUri,
    user: &User,
    q: String,
    error: Option<String>,
) -> Result<Response, AppError> {
    let uid = user.id;
    let query = q.trim().to_owned();
    let (collections, found) = app
        .db
        .run(move |s| {
            let collections = s.collections(uid)?;
            if query.is_empty() {
                return Ok::<_, StoreError>((collections, Vec::new()));
            }
            // Every saved paper once, with its notes from every collection,
            // the newest SEARCH_DEPTH saves of the whole library at most.
            let mut notes: std::collections::BTreeMap<String, String> = Default::default();
            let mut budget = SEARCH_DEPTH;
            for c in &collections {
                let (items, _) = s.saved_papers(c.id, 0, budget)?;
                budget = budget.saturating_sub(u32::try_from(items.len()).unwrap_or(u32::MAX));
                for item in items {
                    let note = notes.entry(item.paper).or_default();
                    note.push(' ');
                    note.push_str(&item.note);
                }
            }
            let ids: Vec<ArxivId> = notes.keys().filter_map(|id| id.parse().ok()).collect();
            let entries = s.entries(&ids, Some(uid))?;
            let found = entries
                .into_iter()
                .filter(|e| {
                    let note = notes.get(e.paper.id.base()).map_or("", String::as_str);
                    rules::matches(e, note, &query)
                })
                .collect();
            Ok((collections, found))
        })
        .await?;
    let mut results: Vec<Card> = found.iter().map(|e| Card::new(e, &[])).collect();
    for card in &mut results {
        card.saved = true;
    }
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let mut response = render(&LibraryPage {
        chrome: chrome(viewer, "Your library", uri),
        collections,
        searched: !q.trim().is_empty(),
        q,
        results,
        error,
    });
    *response.status_mut() = status;
    Ok(response)
}

/// The new-collection form.
#[derive(Debug, Deserialize)]
pub struct NewCollectionForm {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// `on` to make it public.
    pub public: Option<String>,
}

/// `POST /library`: makes a collection.
///
/// # Errors
/// A storage error; a bad name or a taken slug shows the page with why.
pub async fn create(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<NewCollectionForm>,
) -> Result<Response, AppError> {
    let user = match signed_in(&viewer, "/library") {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let (name, slug) = match rules::name_and_slug(&form.name) {
        Ok(pair) => pair,
        Err(e) => return library_page(&app, &viewer, &uri, &user, String::new(), Some(e)).await,
    };
    let (uid, public, s2) = (user.id, form.public.is_some(), slug.clone());
    let made = app
        .db
        .run(move |s| s.create_collection(uid, &s2, &name, public, LIMITS, Utc::now()))
        .await;
    match made {
        Ok(_) => Ok(Redirect::to(&format!("/library/{slug}")).into_response()),
        Err(e) if e.status == axum::http::StatusCode::CONFLICT => {
            library_page(&app, &viewer, &uri, &user, String::new(), Some(e.detail)).await
        }
        Err(e) => Err(e),
    }
}

/// A saved paper as a collection page shows it.
#[derive(Debug, Clone)]
pub struct ItemView {
    /// The card.
    pub card: Card,
    /// The owner's note.
    pub note: String,
    /// Marked read.
    pub read: bool,
    /// When it was saved.
    pub added: String,
}

#[derive(Template)]
#[template(path = "collection.html")]
struct CollectionPage {
    chrome: Chrome,
    collection: Collection,
    owner: String,
    mine: bool,
    items: Vec<ItemView>,
    total: u64,
    prev: Option<String>,
    next: Option<String>,
    feed: Option<String>,
    error: Option<String>,
    /// "More like this collection": the week's best papers against it
    /// (owner only, first page only).
    more: Vec<Card>,
}

/// `?page=` of a collection.
#[derive(Debug, Deserialize)]
pub struct PageParams {
    /// 1-based.
    pub page: Option<String>,
}

impl PageParams {
    fn page(&self) -> u32 {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p| (1..=10_000).contains(p))
            .unwrap_or(1)
    }
}

/// Renders one collection's page for `viewer`.
async fn collection_page(
    app: &Arc<AppState>,
    viewer: &Viewer,
    uri: &OriginalUri,
    owner: &str,
    collection: Collection,
    page: u32,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mine = viewer
        .user
        .as_ref()
        .is_some_and(|u| u.id == collection.owner);
    let (id, me) = (collection.id, viewer.user.as_ref().map(|u| u.id));
    let offset = (page - 1) * PAGE;
    let (items, total, entries) = app
        .db
        .run(move |s| {
            let (items, total) = s.saved_papers(id, offset, PAGE)?;
            let ids: Vec<ArxivId> = items.iter().filter_map(|i| i.paper.parse().ok()).collect();
            let entries = s.entries(&ids, me)?;
            Ok::<(Vec<SavedPaper>, u64, Vec<paperhub_store::Entry>), StoreError>((
                items, total, entries,
            ))
        })
        .await?;
    let mut views = Vec::with_capacity(items.len());
    for item in items {
        let Some(entry) = entries.iter().find(|e| e.paper.id.base() == item.paper) else {
            continue;
        };
        // Others see neither the owner's notes and read marks nor papers
        // the curators hid.
        if entry.hidden && !mine {
            continue;
        }
        let mut card = Card::new(entry, &[]);
        card.saved = mine;
        views.push(ItemView {
            card,
            note: if mine { item.note } else { String::new() },
            read: mine && item.read,
            added: item.added_at.format("%Y-%m-%d").to_string(),
        });
    }
    let base = if mine {
        format!("/library/{}", collection.slug)
    } else {
        format!("/users/{owner}/collections/{}", collection.slug)
    };
    let pages = total.div_ceil(u64::from(PAGE));
    let feed = collection
        .public
        .then(|| format!("/users/{owner}/collections/{}.atom", collection.slug));
    let more = if mine && page == 1 && total > 0 {
        let week = super::lists::Period::Day(app.latest_day().await?)
            .containing()
            .1;
        // The collection page stands without its recommendations: a busy
        // hub or a failed ranking leaves the section out.
        match super::for_you::rank(
            app,
            collection.owner,
            crate::app::for_you::Scope::Collection(collection.id),
            week,
            super::for_you::COLLECTION_PICKS,
        )
        .await
        {
            Ok(ranked) => super::for_you::pick_cards(app, viewer, &ranked, false).await?,
            Err(e) => {
                tracing::warn!(
                    collection = collection.id.0,
                    "more like this collection: {e:?}"
                );
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let mut response = render(&CollectionPage {
        chrome: chrome(viewer, collection.name.clone(), uri),
        owner: owner.to_owned(),
        mine,
        items: views,
        total,
        prev: (page > 1).then(|| format!("{base}?page={}", page - 1)),
        next: (u64::from(page) < pages).then(|| format!("{base}?page={}", page + 1)),
        feed,
        collection,
        error,
        more,
    });
    *response.status_mut() = status;
    Ok(response)
}

/// The viewer's collection `slug`, or a 404.
async fn own_collection(
    app: &Arc<AppState>,
    user: &User,
    slug: &str,
) -> Result<Collection, AppError> {
    if !rules::is_slug(slug) {
        return Err(AppError::not_found("You have no collection of that name."));
    }
    let (uid, slug) = (user.id, slug.to_owned());
    app.db
        .run(move |s| s.collection(uid, &slug))
        .await?
        .ok_or_else(|| AppError::not_found("You have no collection of that name."))
}

/// `GET /library/{slug}`.
///
/// # Errors
/// Not the viewer's collection, or a storage error.
pub async fn show(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(slug): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Response, AppError> {
    let user = match signed_in(&viewer, "/library") {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let collection = own_collection(&app, &user, &slug).await?;
    collection_page(
        &app,
        &viewer,
        &uri,
        &user.username,
        collection,
        params.page(),
        None,
    )
    .await
}

/// The collection settings form.
#[derive(Debug, Deserialize)]
pub struct CollectionForm {
    /// `rename`, `publish`, `unpublish` or `delete`.
    #[serde(default)]
    pub action: String,
    /// The new name (`rename`).
    #[serde(default)]
    pub name: String,
}

/// `POST /library/{slug}`: rename, publish, unpublish or delete.
///
/// # Errors
/// Not the viewer's collection, an unknown action, or a storage error.
pub async fn change(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(slug): Path<String>,
    axum::Form(form): axum::Form<CollectionForm>,
) -> Result<Response, AppError> {
    let user = match signed_in(&viewer, "/library") {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let collection = own_collection(&app, &user, &slug).await?;
    let (uid, id) = (user.id, collection.id);
    let redirect_to = match form.action.as_str() {
        "delete" => {
            app.db.run(move |s| s.delete_collection(uid, id)).await?;
            return Ok(Redirect::to("/library").into_response());
        }
        action @ ("publish" | "unpublish") => {
            let public = action == "publish";
            app.db
                .run(move |s| {
                    let change = CollectionChange {
                        public: Some(public),
                        ..CollectionChange::default()
                    };
                    s.change_collection(uid, id, &change)
                })
                .await?;
            format!("/library/{slug}")
        }
        "rename" => {
            let (name, new_slug) = match rules::name_and_slug(&form.name) {
                Ok(pair) => pair,
                Err(e) => {
                    return collection_page(
                        &app,
                        &viewer,
                        &uri,
                        &user.username,
                        collection,
                        1,
                        Some(e),
                    )
                    .await;
                }
            };
            // The reading list keeps its slug: saves without a collection go there.
            let keep = collection.slug == paperhub_store::READING_LIST.0;
            let s2 = new_slug.clone();
            let renamed = app
                .db
                .run(move |s| {
                    let change = CollectionChange {
                        name: Some(&name),
                        slug: (!keep).then_some(s2.as_str()),
                        public: None,
                    };
                    s.change_collection(uid, id, &change)
                })
                .await;
            match renamed {
                Ok(_) if keep => format!("/library/{slug}"),
                Ok(_) => format!("/library/{new_slug}"),
                Err(e) if e.status == axum::http::StatusCode::CONFLICT => {
                    return collection_page(
                        &app,
                        &viewer,
                        &uri,
                        &user.username,
                        collection,
                        1,
                        Some(e.detail),
                    )
                    .await;
                }
                Err(e) => return Err(e),
            }
        }
        other => {
            return Err(AppError::bad_request(format!(
                "{other:?} is not something a collection form does."
            )));
        }
    };
    Ok(Redirect::to(&redirect_to).into_response())
}

/// The form of one saved paper.
#[derive(Debug, Deserialize)]
pub struct ItemForm {
    /// `note`, `read`, `unread` or `remove`.
    #[serde(default)]
    pub action: String,
    /// The note (`note`).
    #[serde(default)]
    pub note: String,
}

/// `POST /library/{slug}/papers/{id}`: a note, a read mark, or removal.
///
/// # Errors
/// Not the viewer's collection or paper, a bad form, or a storage error.
pub async fn item(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path((slug, rest)): Path<(String, String)>,
    axum::Form(form): axum::Form<ItemForm>,
) -> Result<Response, AppError> {
    let user = match signed_in(&viewer, "/library") {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let paper = super::paper::parse_id(&rest)?;
    let collection = own_collection(&app, &user, &slug).await?;
    let (uid, id) = (user.id, collection.id);
    let note = match form.action.as_str() {
        "note" => Some(rules::check_note(&form.note).map_err(AppError::bad_request)?),
        _ => None,
    };
    let action = form.action.clone();
    let p = paper.clone();
    let done = app
        .db
        .run(move |s| match action.as_str() {
            "remove" => s.remove_paper(uid, id, &p).map(Some),
            "note" | "read" | "unread" => {
                let change = ItemChange {
                    note: note.as_deref(),
                    read: match action.as_str() {
                        "read" => Some(true),
                        "unread" => Some(false),
                        _ => None,
                    },
                };
                s.change_saved(uid, id, &p, &change).map(Some)
            }
            _ => Ok(None),
        })
        .await?;
    match done {
        None => Err(AppError::bad_request(format!(
            "{:?} is not something a saved paper's form does.",
            form.action
        ))),
        Some(false) => Err(AppError::not_found("That paper is not in this collection.")),
        Some(true) => Ok(Redirect::to(&format!(
            "/library/{slug}#p-{}",
            paper.base().replace('/', "-")
        ))
        .into_response()),
    }
}

/// `GET /users/{name}/collections/{slug}` (and `.atom`): a public
/// collection; a private one is a 404 to everyone but its owner.
///
/// # Errors
/// No such public collection, or a storage error.
pub async fn public(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path((name, slug)): Path<(String, String)>,
    Query(params): Query<PageParams>,
) -> Result<Response, AppError> {
    let missing = || AppError::not_found("There is no such public collection.");
    let (slug, atom) = match slug.strip_suffix(".atom") {
        Some(s) => (s.to_owned(), true),
        None => (slug, false),
    };
    if !rules::is_slug(&slug) || super::users::check_username(&name).is_err() {
        return Err(missing());
    }
    let (n, s2) = (name.clone(), slug.clone());
    let found = app
        .db
        .run(move |s| {
            let Some(owner) = s.user_by_name(&n)? else {
                return Ok(None);
            };
            Ok::<_, StoreError>(s.collection(owner.id, &s2)?.map(|c| (owner, c)))
        })
        .await?;
    let Some((owner, collection)) = found else {
        return Err(missing());
    };
    let mine = viewer.user.as_ref().is_some_and(|u| u.id == owner.id);
    // Its owner sees a private collection's page, never its feed.
    let visible = collection.public || (mine && !atom);
    if !visible {
        return Err(missing());
    }
    if atom {
        let id = collection.id;
        let entries = app
            .db
            .run(move |s| {
                let (items, _) = s.saved_papers(id, 0, 100)?;
                let ids: Vec<ArxivId> = items.iter().filter_map(|i| i.paper.parse().ok()).collect();
                s.entries(&ids, None)
                    .map(|all| all.into_iter().filter(|e| !e.hidden).collect::<Vec<_>>())
            })
            .await?;
        let page = format!("/users/{}/collections/{}", owner.username, collection.slug);
        return Ok(super::feeds::papers_atom(
            &app.base_url(),
            format!(
                "{} · {}'s collection on Paperhub",
                collection.name, owner.username
            ),
            &page,
            &format!("{page}.atom"),
            entries,
        ));
    }
    collection_page(
        &app,
        &viewer,
        &uri,
        &owner.username,
        collection,
        params.page(),
        None,
    )
    .await
}

/// Largest bibliography the upload form takes.
pub const MAX_UPLOAD: usize = 8 * 1024 * 1024;

/// New arXiv papers one web import fetches at most (one API request); a
/// second import of the same file fetches the next ones.
pub const WEB_FETCHES: usize = 100;

#[derive(Template)]
#[template(path = "library_import.html")]
struct ImportPage {
    chrome: Chrome,
    report: crate::app::library_import::ImportReport,
}

/// `POST /library/import` (multipart: `file`, optional `collection`):
/// imports a BibTeX, RIS or CSL-JSON file, then shows what matched and
/// why the rest did not.
///
/// # Errors
/// Not signed in, no file, an unknown collection, or a storage error.
pub async fn import(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    mut form: axum::extract::Multipart,
) -> Result<Response, AppError> {
    let user = match signed_in(&viewer, "/library") {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let (mut name, mut text, mut slug) = (String::new(), None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| AppError::bad_request(format!("The upload did not arrive whole: {e}")))?
    {
        match field.name() {
            Some("file") => {
                name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    AppError::bad_request(format!(
                        "The file did not arrive whole (at most {} MB): {e}",
                        MAX_UPLOAD >> 20
                    ))
                })?;
                text = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            Some("collection") => {
                let value = field.text().await.unwrap_or_default();
                let value = value.trim();
                if !value.is_empty() {
                    slug = Some(value.to_owned());
                }
            }
            _ => {}
        }
    }
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return library_page(
            &app,
            &viewer,
            &uri,
            &user,
            String::new(),
            Some("Choose a .bib, .ris or CSL-JSON file to import.".into()),
        )
        .await;
    };
    let target = match slug {
        Some(slug) => Some(own_collection(&app, &user, &slug).await?.id),
        None => None,
    };
    let format = paperhub_domain::bib::Format::detect(&name, &text);
    use crate::app::library_import as lib;
    // One import per account at a time, in the queue submissions use; the
    // place is held to the end, so a second upload meanwhile gets a 429.
    let _place = app.fetches.join(user.id)?;
    // Reading the file is CPU work: on a blocking thread, holding no store
    // connection.
    let started = std::time::Instant::now();
    let parsed = tokio::task::spawn_blocking(move || format.parse(&text))
        .await
        .map_err(AppError::internal)?;
    let mut plan = app
        .db
        .run(move |s| {
            lib::plan_parsed(s, format, parsed, started).map_err(|e| StoreError::Aborted(e.into()))
        })
        .await?;
    // Unknown arXiv papers: at most one API batch per import, fetched in
    // its turn and holding no store connection (see #13).
    let fetched = match (app.arxiv.clone(), plan.missing.is_empty()) {
        (Some(client), false) => {
            let turn = app.fetches.turn().await?;
            let base_url = app.config.harvest.api_base_url.clone();
            tokio::task::spawn_blocking(move || {
                let _turn = turn;
                let fetcher =
                    |ids: &[ArxivId]| crate::harvest::api::fetch_ids(&client, &base_url, ids);
                let fetched = lib::fetch_missing(&mut plan, Some(&fetcher), WEB_FETCHES);
                (plan, fetched)
            })
            .await
            .map_err(AppError::internal)?
        }
        (None, false) => (
            plan,
            lib::Fetched::Failed(
                "fetching from arXiv needs harvest.contact_email in the hub's configuration".into(),
                0,
            ),
        ),
        (_, true) => (plan, lib::Fetched::Papers(Vec::new(), 0)),
    };
    let (plan, fetched) = fetched;
    let uid = user.id;
    let report = app
        .db
        .run(move |s| {
            lib::finish(s, plan, fetched, uid, target, Utc::now())
                .map_err(|e| StoreError::Aborted(e.into()))
        })
        .await?;
    app.pages.bump();
    Ok(render(&ImportPage {
        chrome: chrome(&viewer, "Import", &uri),
        report,
    }))
}

/// `GET /library/{slug}/export.{bib,ris,json}`: the collection as a file.
///
/// # Errors
/// Not the viewer's collection, an unknown format, or a storage error.
pub async fn export(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path((slug, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let user = match signed_in(&viewer, "/library") {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let format = match file.as_str() {
        "export.bib" => paperhub_domain::bib::Format::Bibtex,
        "export.ris" => paperhub_domain::bib::Format::Ris,
        "export.json" => paperhub_domain::bib::Format::CslJson,
        _ => {
            return Err(AppError::not_found(
                "Export as export.bib, export.ris or export.json.",
            ));
        }
    };
    let collection = own_collection(&app, &user, &slug).await?;
    let id = collection.id;
    let refs = app
        .db
        .run(move |s| {
            crate::app::library_import::export(s, id).map_err(|e| StoreError::Aborted(e.into()))
        })
        .await?;
    let body = format.write(&refs);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                format.media_type().to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.{}\"",
                    collection.slug,
                    format.extension()
                ),
            ),
        ],
        body,
    )
        .into_response())
}
