//! Comment notifications: the settings switch, the double opt-in, and the
//! signed link in each such mail that turns them off.
//!
//! Ticking the box does not turn them on: it mails the account's address a
//! link ([`COMMENTS_ON`], a week) whose page's button does, so nobody can
//! have comment mails sent to an address that is not theirs (account
//! addresses are not otherwise confirmed). Unticking turns them off at once.
//!
//! `POST /email/comments/off?t=` is RFC 8058 one-click: mail clients send
//! it with no cookie and no CSRF token, so, like digest unsubscribe, the
//! signed token (purpose [`COMMENTS_OFF`], subject the account id) is its
//! only credential, and GET only shows a button (link scanners follow GET).

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use paperhub_store::UserId;
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;
use super::pages::{chrome, render};
use super::session::Viewer;
use super::subscriptions::TokenParam;
use super::views::Chrome;
use crate::digest::render::{COMMENTS_OFF, COMMENTS_ON, comments_on_mail};

#[derive(Template)]
#[template(path = "comments_off.html")]
struct OffPage {
    chrome: Chrome,
    token: String,
    done: bool,
    turn_on: bool,
}

/// The account a `purpose` token names.
fn account_of(app: &AppState, purpose: &str, token: &str) -> Result<UserId, AppError> {
    let subject = app
        .secrets
        .check_token(purpose, token, Utc::now())
        .map_err(|e| AppError::bad_request(format!("This link does not work: {e}.")))?;
    subject
        .parse()
        .map(UserId)
        .map_err(|_| AppError::bad_request("This link does not work."))
}

/// `GET /email/comments/off?t=`: one button.
///
/// # Errors
/// A bad or expired token.
pub async fn off_page(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(q): Query<TokenParam>,
) -> Result<Response, AppError> {
    account_of(&app, COMMENTS_OFF, &q.t)?;
    Ok(render(&OffPage {
        chrome: chrome(&viewer, "Comment notifications", &uri),
        token: q.t,
        done: false,
        turn_on: false,
    }))
}

/// `POST /email/comments/off?t=`: turns them off (one-click).
///
/// # Errors
/// A bad or expired token, or a storage error.
pub async fn off(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(q): Query<TokenParam>,
) -> Result<Response, AppError> {
    let user = account_of(&app, COMMENTS_OFF, &q.t)?;
    app.db
        .run(move |s| s.set_comment_notifications(user, false))
        .await?;
    tracing::info!(user.id = %user, "comment notifications turned off by link");
    Ok(render(&OffPage {
        chrome: chrome(&viewer, "Comment notifications", &uri),
        token: String::new(),
        done: true,
        turn_on: false,
    }))
}

/// The settings switch.
#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    /// Present (`on`) when the box is ticked.
    pub comments: Option<String>,
}

/// `POST /settings/notifications`: unticked turns them off; ticked mails
/// the confirmation link (they start when it is followed).
///
/// # Errors
/// Not signed in, no address to mail, or a storage error.
pub async fn switch(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<SwitchForm>,
) -> Result<Response, AppError> {
    let user = viewer.require()?.clone();
    let id = user.id;
    if form.comments.is_none() {
        app.db
            .run(move |s| s.set_comment_notifications(id, false))
            .await?;
        return Ok(Redirect::to("/settings").into_response());
    }
    let Some(address) = user.email.clone() else {
        return Err(AppError::bad_request(
            "Your account has no email address to send notifications to.",
        ));
    };
    let hub_url = app.base_url();
    let state = Arc::clone(&app);
    let queued = app
        .db
        .run(move |s| {
            if s.comment_notifications(id)? {
                return Ok(0);
            }
            let mail = comments_on_mail(&state.config, &hub_url, &state.secrets, &user, Utc::now())
                .map_err(|e| paperhub_store::StoreError::Aborted(e.into()))?;
            s.enqueue_mails(&[mail], Utc::now())
        })
        .await?;
    if queued > 0 {
        app.mailer.wake();
    }
    super::users::settings_with(
        &app,
        &viewer,
        &uri,
        None,
        Some(format!(
            "We sent a link to {address}: comment notifications start when you follow it."
        )),
        None,
    )
    .await
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    /// The signed token.
    #[serde(default)]
    pub t: String,
}

/// `GET /email/comments/on?t=`: one button (link scanners follow GET).
///
/// # Errors
/// A bad or expired token.
pub async fn on_page(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(q): Query<TokenParam>,
) -> Result<Response, AppError> {
    account_of(&app, COMMENTS_ON, &q.t)?;
    Ok(render(&OffPage {
        chrome: chrome(&viewer, "Comment notifications", &uri),
        token: q.t,
        done: false,
        turn_on: true,
    }))
}

/// `POST /email/comments/on`: turns them on.
///
/// # Errors
/// A bad or expired token, or a storage error.
pub async fn on(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<ConfirmForm>,
) -> Result<Response, AppError> {
    let user = account_of(&app, COMMENTS_ON, &form.t)?;
    let found = app
        .db
        .run(move |s| s.set_comment_notifications(user, true))
        .await?;
    if !found {
        return Err(AppError::not_found("This account no longer exists."));
    }
    Ok(render(&OffPage {
        chrome: chrome(&viewer, "Comment notifications", &uri),
        token: String::new(),
        done: true,
        turn_on: true,
    }))
}
