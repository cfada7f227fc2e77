//! Comment notifications: the settings switch, and the signed link in each
//! such mail that turns them off.
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
use crate::digest::render::COMMENTS_OFF;

#[derive(Template)]
#[template(path = "comments_off.html")]
struct OffPage {
    chrome: Chrome,
    token: String,
    done: bool,
}

/// The account a comments-off token names.
fn account_of(app: &AppState, token: &str) -> Result<UserId, AppError> {
    let subject = app
        .secrets
        .check_token(COMMENTS_OFF, token, Utc::now())
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
    account_of(&app, &q.t)?;
    Ok(render(&OffPage {
        chrome: chrome(&viewer, "Comment notifications", &uri),
        token: q.t,
        done: false,
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
    let user = account_of(&app, &q.t)?;
    app.db
        .run(move |s| s.set_comment_notifications(user, false))
        .await?;
    tracing::info!(user.id = %user, "comment notifications turned off by link");
    Ok(render(&OffPage {
        chrome: chrome(&viewer, "Comment notifications", &uri),
        token: String::new(),
        done: true,
    }))
}

/// The settings switch.
#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    /// Present (`on`) when the box is ticked.
    pub comments: Option<String>,
}

/// `POST /settings/notifications`.
///
/// # Errors
/// Not signed in, no address to mail, or a storage error.
pub async fn switch(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    axum::Form(form): axum::Form<SwitchForm>,
) -> Result<Response, AppError> {
    let user = viewer.require()?.clone();
    let on = form.comments.is_some();
    if on && user.email.is_none() {
        return Err(AppError::bad_request(
            "Your account has no email address to send notifications to.",
        ));
    }
    let id = user.id;
    app.db
        .run(move |s| s.set_comment_notifications(id, on))
        .await?;
    Ok(Redirect::to("/settings").into_response())
}
