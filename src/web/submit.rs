//! Submissions: a user brings a paper to the current daily list.
//!
//! The paper is found by id or URL. One not yet in the catalog is fetched
//! through the arXiv API client (the polite one the harvester uses), stored
//! with the usual merge rules, and handed to the indexer. A submission joins
//! the current daily list: the latest announcement day in the catalog. A
//! second submission of the same paper is a friendly no-op.
//!
//! Submissions must never starve the rest of the hub (see #13): an account
//! has a daily quota (`web.submissions_per_user_per_day`, curators exempt,
//! counting fetches that found nothing), arXiv is asked without holding a
//! store connection, and fetches wait in a bounded [`FetchQueue`], one per
//! account; when it is full the submission is told to come back later
//! instead of queueing without end.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use paperhub_domain::ArxivId;
use paperhub_store::{Entry, Quota, Submission, SubmitRequest, User, UserId};
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;
use super::pages::{chrome, render};
use super::session::Viewer;
use super::views::Chrome;
use crate::harvest;

/// Fetches of unknown papers: one runs at a time (the polite client spaces
/// requests anyway), at most `capacity` wait, one per account, and the rest
/// are refused.
pub struct FetchQueue {
    running: Arc<tokio::sync::Semaphore>,
    waiting: std::sync::Mutex<std::collections::HashSet<UserId>>,
    capacity: usize,
}

/// A place in the [`FetchQueue`]; leaving it frees the place.
pub struct Place<'a> {
    queue: &'a FetchQueue,
    user: UserId,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.queue
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.user);
    }
}

impl FetchQueue {
    /// A queue where at most `capacity` fetches wait or run.
    pub fn new(capacity: usize) -> FetchQueue {
        FetchQueue {
            running: Arc::new(tokio::sync::Semaphore::new(1)),
            waiting: std::sync::Mutex::new(std::collections::HashSet::new()),
            capacity: capacity.max(1),
        }
    }

    /// Waits for the one fetch turn; holding it, a fetch runs.
    ///
    /// # Errors
    /// The queue was closed (the hub is stopping).
    pub async fn turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(AppError::internal)
    }

    /// Joins the queue for `user`.
    ///
    /// # Errors
    /// 503 when the queue is full, 429 when `user` already has a place.
    pub fn join(&self, user: UserId) -> Result<Place<'_>, AppError> {
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if waiting.contains(&user) {
            return Err(AppError::too_many(60).with_detail(
                "A paper you submitted is still being fetched from arXiv; wait for it, then submit the next.",
            ));
        }
        if waiting.len() >= self.capacity {
            return Err(AppError {
                retry_after: Some(60),
                ..AppError::unavailable(
                    "Many papers are being fetched from arXiv right now; try again in a minute.",
                )
            });
        }
        waiting.insert(user);
        Ok(Place { queue: self, user })
    }
}

/// What a submission did, with the paper.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The paper as it now stands.
    pub entry: Entry,
    /// Added now, or already there.
    pub outcome: Submission,
    /// Fetched from arXiv for this submission.
    pub fetched: bool,
}

/// The answer to a submission beyond the daily quota.
fn over_quota(quota: u32) -> AppError {
    AppError::too_many(3600).with_detail(format!(
        "You have submitted {quota} papers in the last 24 hours, this hub's daily limit; try again tomorrow."
    ))
}

/// Parses what a user typed: an id, `arXiv:` id or arxiv.org URL.
///
/// # Errors
/// Anything else, with an example.
pub fn parse_input(input: &str) -> Result<ArxivId, AppError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(AppError::bad_request(
            "Enter an arXiv id such as 2511.01234 or a link to its arxiv.org page.",
        ));
    }
    input.parse::<ArxivId>().map_err(|_| {
        AppError::bad_request(format!(
            "{:?} is not an arXiv id or arxiv.org link; try 2511.01234 or https://arxiv.org/abs/2511.01234.",
            input.chars().take(100).collect::<String>()
        ))
    })
}

/// Submits `id` for `user`; see the module docs.
///
/// # Errors
/// arXiv unreachable or without the paper, no contact email configured for
/// fetching, or a storage error.
pub async fn submit_paper(
    app: &Arc<AppState>,
    user: &User,
    id: ArxivId,
) -> Result<Submitted, AppError> {
    let lookup = id.clone();
    let quota = app.config.web.submissions_per_user_per_day;
    let (user_id, is_admin) = (user.id, user.is_admin);
    let since = Utc::now() - chrono::Duration::days(1);
    let (known, today) = app
        .db
        .run(move |s| {
            Ok((
                s.entry(&lookup, None)?.is_some(),
                s.submissions_since(user_id, since)?,
            ))
        })
        .await?;
    if !is_admin {
        let over = || over_quota(quota);
        // A first look, so a user over the quota costs no arXiv fetch; the
        // store checks again in the transaction that adds the paper.
        if today >= quota {
            return Err(over());
        }
        // This node's attempt counter also limits fetches that found
        // nothing, which the store never counts.
        app.limiter
            .hit(
                &format!("submit:{user_id}"),
                quota,
                std::time::Duration::from_secs(24 * 3600),
            )
            .map_err(|_| over())?;
    }
    let mut fetched = false;
    if !known {
        let Some(client) = app.arxiv.clone() else {
            return Err(AppError::unavailable(format!(
                "Paper {} is not in this hub's catalog, and fetching it from arXiv needs harvest.contact_email in the hub's configuration.",
                id.base()
            )));
        };
        let base_url = app.config.harvest.api_base_url.clone();
        let want = id.clone();
        let _place = app.fetches.join(user_id)?;
        let turn = Arc::clone(&app.fetches.running)
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        // The fetch runs on a blocking thread that keeps the turn until it
        // ends, even when this request gives up waiting.
        let papers = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            harvest::api::fetch_ids(&client, &base_url, &[want])
        })
        .await
        .map_err(AppError::internal)?;
        let papers = match papers {
            Ok(papers) => papers,
            Err(e) => {
                tracing::warn!(arxiv.id = %id.base(), "fetching {} from the arXiv API failed: {e:#}", id.base());
                return Err(AppError::upstream(format!(
                    "arXiv could not be asked about {} just now; try again in a minute.",
                    id.base()
                )));
            }
        };
        app.db
            .run(move |s| s.upsert_papers(&papers, Utc::now()))
            .await?;
        fetched = true;
    }
    let request_quota = (!is_admin).then_some(Quota { max: quota, since });
    let pid = id.clone();
    let submitted = app
        .db
        .run(move |s| {
            let request = SubmitRequest {
                user: user_id,
                id: &pid,
                quota: request_quota,
            };
            s.submit(&request, Utc::now())
        })
        .await?;
    let outcome = submitted.outcome;
    let entry = match (&outcome, submitted.entry) {
        (Submission::OverQuota { .. }, _) => return Err(over_quota(quota)),
        (Submission::NotInCatalog, _) | (_, None) => {
            return Err(AppError::not_found(format!(
                "arXiv has no paper {}.",
                id.base()
            )));
        }
        (_, Some(entry)) => entry,
    };
    app.pages.bump();
    if fetched {
        app.searcher.refresh();
    }
    if matches!(outcome, Submission::Added { .. }) {
        tracing::info!(arxiv.id = %id.base(), user.id = %user.id, "paper {} submitted", id.base());
    }
    Ok(Submitted {
        entry,
        outcome,
        fetched,
    })
}

#[derive(Template)]
#[template(path = "submit.html")]
struct SubmitPage {
    chrome: Chrome,
    value: String,
    message: Option<String>,
    error: Option<String>,
    paper: Option<(String, String)>,
}

/// `?id=` to prefill.
#[derive(Debug, Deserialize)]
pub struct SubmitParams {
    /// A paper id.
    pub id: Option<String>,
}

/// `GET /submit`.
pub async fn form(
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(params): Query<SubmitParams>,
) -> Response {
    if viewer.user.is_none() {
        return Redirect::to("/login?next=/submit").into_response();
    }
    render(&SubmitPage {
        chrome: chrome(&viewer, "Submit a paper", &uri),
        value: params.id.unwrap_or_default(),
        message: None,
        error: None,
        paper: None,
    })
}

/// The submit form.
#[derive(Debug, Deserialize)]
pub struct SubmitForm {
    /// An id or URL.
    pub paper: String,
}

/// `POST /submit`.
///
/// # Errors
/// Storage errors; user mistakes are shown on the form.
pub async fn submit_form(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<SubmitForm>,
) -> Result<Response, AppError> {
    let Some(user) = viewer.user.clone() else {
        return Ok(Redirect::to("/login?next=/submit").into_response());
    };
    let mut page = SubmitPage {
        chrome: chrome(&viewer, "Submit a paper", &uri),
        value: form.paper.clone(),
        message: None,
        error: None,
        paper: None,
    };
    let result = match parse_input(&form.paper) {
        Ok(id) => submit_paper(&app, &user, id).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(s) => {
            let id = s.entry.paper.id.base().to_owned();
            page.message = Some(match s.outcome {
                Submission::Added { list_date } => {
                    format!("Thanks! It is on the list of {list_date}.")
                }
                Submission::AlreadySubmitted { by, list_date } => format!(
                    "Already submitted{}{}; nothing changed.",
                    by.map(|b| format!(" by {b}")).unwrap_or_default(),
                    list_date
                        .map(|d| format!(" to the list of {d}"))
                        .unwrap_or_default()
                ),
                // submit_paper answers these with an error.
                Submission::OverQuota { .. } | Submission::NotInCatalog => String::new(),
            });
            page.paper = Some((id, s.entry.paper.title.clone()));
            page.value.clear();
            Ok(render(&page))
        }
        Err(e)
            if e.status.is_client_error()
                || e.status.as_u16() == 502
                || e.status.as_u16() == 503 =>
        {
            let status = e.status;
            page.error = Some(e.detail);
            Ok((status, render(&page)).into_response())
        }
        Err(e) => Err(e),
    }
}
