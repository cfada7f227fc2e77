//! Accounts: sign up, log in, log out, a user's page, settings and personal
//! API tokens.
//!
//! Passwords are hashed with argon2id (the argon2 crate's defaults: 19 MiB,
//! 2 passes) on a blocking thread. Log-in is limited per client address and
//! per account name, sign-up per address. The first account of a hub is its
//! curator (admin): whoever installed it.

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use paperhub_store::{ApiToken, ApiTokenId, StoreError, User};
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;
use super::pages::{chrome, render};
use super::paper::local_next;
use super::session::{SESSION_COOKIE, Viewer, set_cookie};
use super::views::{Card, Chrome};
use crate::secrets;

/// Shortest password accepted.
const MIN_PASSWORD: usize = 8;
/// Longest password hashed (argon2 takes any length; this bounds the work).
const MAX_PASSWORD: usize = 1024;
/// The wait before each log-in attempt on an account that failed more than
/// its hourly budget.
const LOGIN_BACKOFF: Duration = Duration::from_secs(1);

/// Checks a username: 3 to 32 of `A-Z a-z 0-9 _ -`.
///
/// # Errors
/// A sentence saying what is allowed.
pub fn check_username(name: &str) -> Result<(), AppError> {
    let ok = (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_request(
            "Usernames are 3 to 32 letters, digits, '_' or '-'.",
        ))
    }
}

/// Hashes a password with argon2id.
///
/// # Errors
/// The hasher fails (no randomness for the salt).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("password hashing: {e}")))
}

/// Checks `password` against a stored PHC string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the account does not exist, so a wrong
/// username takes as long as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not a real password").unwrap_or_default());

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    signup: bool,
    username: String,
    email: String,
    next: String,
    error: Option<String>,
}

/// `?next=`.
#[derive(Debug, Deserialize)]
pub struct NextParams {
    /// Where to go after logging in.
    pub next: Option<String>,
}

fn account_page(viewer: &Viewer, uri: &OriginalUri, signup: bool, next: &str) -> AccountPage {
    AccountPage {
        chrome: chrome(viewer, if signup { "Sign up" } else { "Log in" }, uri),
        signup,
        username: String::new(),
        email: String::new(),
        next: next.to_owned(),
        error: None,
    }
}

/// `GET /signup`.
pub async fn signup_form(
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(p): Query<NextParams>,
) -> Response {
    account_form(&viewer, &uri, true, &p)
}

/// `GET /login`.
pub async fn login_form(
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(p): Query<NextParams>,
) -> Response {
    account_form(&viewer, &uri, false, &p)
}

fn account_form(viewer: &Viewer, uri: &OriginalUri, signup: bool, p: &NextParams) -> Response {
    render(&account_page(
        viewer,
        uri,
        signup,
        &local_next(p.next.as_deref(), ""),
    ))
}

/// The sign-up and log-in forms.
#[derive(Debug, Deserialize)]
pub struct AccountForm {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Email (sign-up, optional).
    pub email: Option<String>,
    /// Where to go next.
    pub next: Option<String>,
}

/// Starts a session for `user` and redirects to `next` with its cookie.
async fn start_session(app: &Arc<AppState>, user: &User, next: &str) -> Result<Response, AppError> {
    let token = secrets::new_token()?;
    let hash = secrets::token_hash(&token);
    let days = i64::from(app.config.web.session_days.max(1));
    let now = Utc::now();
    let id = user.id;
    app.db
        .run(move |s| s.create_session(&hash, id, now, now + chrono::Duration::days(days)))
        .await?;
    let mut response = Redirect::to(next).into_response();
    let cookie = set_cookie(SESSION_COOKIE, &token, days * 86_400, app.secure_cookies());
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(AppError::internal)?,
    );
    Ok(response)
}

fn form_error(
    viewer: &Viewer,
    uri: &OriginalUri,
    signup: bool,
    form: &AccountForm,
    e: AppError,
) -> Response {
    let mut page = account_page(viewer, uri, signup, &local_next(form.next.as_deref(), ""));
    // What was typed comes back, cut to what a valid field can hold.
    page.username = form.username.chars().take(64).collect();
    page.email = form
        .email
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(254)
        .collect();
    let status = e.status;
    page.error = Some(e.detail);
    let mut response = (status, render(&page)).into_response();
    if let Some(secs) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// `POST /signup`.
///
/// # Errors
/// Storage errors; user mistakes are shown on the form.
pub async fn signup(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<AccountForm>,
) -> Result<Response, AppError> {
    let limits = &app.config.web;
    if let Err(wait) = app.limiter.hit(
        &format!("signup:{}", viewer.ip),
        limits.signups_per_ip_per_hour,
        Duration::from_secs(3600),
    ) {
        return Ok(form_error(
            &viewer,
            &uri,
            true,
            &form,
            AppError::too_many(wait),
        ));
    }
    let username = form.username.trim().to_owned();
    if let Err(e) = check_username(&username) {
        return Ok(form_error(&viewer, &uri, true, &form, e));
    }
    if paperhub_domain::account::is_demo_name(&username) {
        let e = AppError::bad_request("Names starting with 'demo-' are kept for demo data.");
        return Ok(form_error(&viewer, &uri, true, &form, e));
    }
    let email = form
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    if let Some(e) = &email
        && (e.len() > 254 || !e.contains('@') || e.contains(char::is_whitespace))
    {
        return Ok(form_error(
            &viewer,
            &uri,
            true,
            &form,
            AppError::bad_request("That email address does not look right."),
        ));
    }
    if form.password.chars().count() < MIN_PASSWORD || form.password.len() > MAX_PASSWORD {
        return Ok(form_error(
            &viewer,
            &uri,
            true,
            &form,
            AppError::bad_request(format!(
                "Passwords need at least {MIN_PASSWORD} characters."
            )),
        ));
    }
    let password = form.password.clone();
    let hash = app.hashing.run(move || hash_password(&password)).await??;
    let name = username.clone();
    let created = app
        .db
        // The store makes the first account the hub's curator.
        .run(move |s| s.create_user(&name, email.as_deref(), &hash, Utc::now()))
        .await;
    let user = match created {
        Ok(user) => user,
        Err(e) if e.status.is_client_error() => {
            return Ok(form_error(&viewer, &uri, true, &form, e));
        }
        Err(e) => return Err(e),
    };
    tracing::info!(user.id = %user.id, "account {} created", user.id);
    start_session(
        &app,
        &user,
        &local_next(form.next.as_deref(), &format!("/users/{username}")),
    )
    .await
}

/// `POST /login`.
///
/// # Errors
/// Storage errors; wrong passwords are shown on the form.
pub async fn login(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<AccountForm>,
) -> Result<Response, AppError> {
    let limits = &app.config.web;
    let username = form.username.trim().to_lowercase();
    // The account is part of the key only together with the address, so
    // nobody can lock someone else out by failing on purpose (see #13);
    // a name that cannot exist is refused before it becomes a key.
    let valid_name = check_username(&username).is_ok();
    let mut checks = vec![(
        format!("login-ip:{}", viewer.ip),
        limits.login_per_ip_per_minute,
        Duration::from_secs(60),
    )];
    if valid_name {
        checks.push((
            format!("login:{username}:{}", viewer.ip),
            limits.login_per_account_per_hour,
            Duration::from_secs(3600),
        ));
    }
    for (key, max, window) in checks {
        if let Err(wait) = app.limiter.hit(&key, max, window) {
            tracing::warn!("log-in attempts over the limit ({key}); refused");
            return Ok(form_error(
                &viewer,
                &uri,
                false,
                &form,
                AppError::too_many(wait),
            ));
        }
    }
    // Guessing one account from many addresses is slowed, not refused: past
    // the hourly budget of failures every attempt on it waits a second.
    let failures_key = format!("login-failed:{username}");
    if valid_name && app.limiter.count(&failures_key) >= limits.login_per_account_per_hour {
        tokio::time::sleep(LOGIN_BACKOFF).await;
    }
    let name = username.clone();
    let found = app
        .db
        .run(move |s| {
            if valid_name {
                s.user_credentials(&name)
            } else {
                Ok(None)
            }
        })
        .await?;
    let password = form.password.chars().take(MAX_PASSWORD).collect::<String>();
    let user = app
        .hashing
        .run(move || match found {
            Some((user, hash)) => verify_password(&password, &hash).then_some(user),
            None => {
                let _ = verify_password(&password, &DUMMY_HASH);
                None
            }
        })
        .await?;
    let Some(user) = user else {
        if valid_name {
            let _ = app
                .limiter
                .hit(&failures_key, u32::MAX, Duration::from_secs(3600));
        }
        return Ok(form_error(
            &viewer,
            &uri,
            false,
            &form,
            AppError::forbidden("That username and password do not match. Try again."),
        ));
    };
    start_session(&app, &user, &local_next(form.next.as_deref(), "/")).await
}

/// `POST /logout`.
///
/// # Errors
/// A storage error.
pub async fn logout(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    if let Some(token) = viewer.session_token {
        let hash = secrets::token_hash(&token);
        app.db
            .run(move |s| s.delete_session(&hash, Utc::now()))
            .await?;
    }
    let mut response = Redirect::to("/").into_response();
    let cookie = set_cookie(SESSION_COOKIE, "", 0, app.secure_cookies());
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(AppError::internal)?,
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    name: String,
    demo: bool,
    since: String,
    is_admin: bool,
    submitted: Vec<Card>,
    upvoted: Vec<Card>,
    comments: Vec<UserComment>,
}

/// A comment on a user's page.
struct UserComment {
    paper: String,
    id: i64,
    when: String,
    html: String,
}

/// `GET /users/{name}`.
///
/// # Errors
/// Unknown user or a storage error.
pub async fn show_user(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    check_username(&name).map_err(|_| AppError::not_found("There is no such user."))?;
    let me = viewer.user.as_ref().map(|u| u.id);
    let found = app
        .db
        .run(move |s| {
            let Some(user) = s.user_by_name(&name)? else {
                return Ok(None);
            };
            let (submitted, upvoted) = s.user_papers(user.id, me)?;
            let comments = s.user_comments(user.id, 50)?;
            Ok::<_, StoreError>(Some((user, submitted, upvoted, comments)))
        })
        .await?;
    let Some((user, submitted, upvoted, comments)) = found else {
        return Err(AppError::not_found("There is no such user."));
    };
    Ok(render(&UserPage {
        chrome: chrome(&viewer, user.username.clone(), &uri),
        name: user.username.clone(),
        demo: paperhub_domain::account::is_demo_name(&user.username),
        since: user.created_at.format("%B %Y").to_string(),
        is_admin: user.is_admin,
        submitted: submitted
            .iter()
            .filter(|e| !e.hidden)
            .map(|e| Card::new(e, &[]))
            .collect(),
        upvoted: upvoted
            .iter()
            .filter(|e| !e.hidden)
            .map(|e| Card::new(e, &[]))
            .collect(),
        comments: comments
            .iter()
            .filter(|c| !c.hidden || viewer.user.as_ref().is_some_and(|u| u.is_admin))
            .map(|c| UserComment {
                paper: c.paper.clone(),
                id: c.id.0,
                when: c.created_at.format("%Y-%m-%d").to_string(),
                html: super::discussion::render(&c.body),
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    email: String,
    tokens: Vec<ApiToken>,
    followed: Vec<super::views::AuthorLink>,
    notify_comments: bool,
    new_token: Option<String>,
    message: Option<String>,
    error: Option<String>,
}

async fn settings_page(
    app: &Arc<AppState>,
    viewer: &Viewer,
    uri: &OriginalUri,
    new_token: Option<String>,
) -> Result<Response, AppError> {
    settings_with(app, viewer, uri, new_token, None, None).await
}

pub(super) async fn settings_with(
    app: &Arc<AppState>,
    viewer: &Viewer,
    uri: &OriginalUri,
    new_token: Option<String>,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let user = viewer.require()?.clone();
    let id = user.id;
    let (tokens, followed, notify_comments) = app
        .db
        .run(move |s| {
            Ok::<_, StoreError>((
                s.api_tokens(id)?,
                s.followed_authors(id)?,
                s.comment_notifications(id)?,
            ))
        })
        .await?;
    Ok(render(&SettingsPage {
        chrome: chrome(viewer, "Settings", uri),
        email: user.email.unwrap_or_default(),
        tokens,
        followed: followed
            .iter()
            .map(|f| super::views::AuthorLink {
                name: f.name.clone(),
                href: super::views::author_href(&f.name),
            })
            .collect(),
        notify_comments,
        new_token,
        message,
        error,
    }))
}

/// The change-password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    /// The password now.
    pub current: String,
    /// The new one.
    pub new: String,
}

/// `POST /settings/password`: checks the current password, sets the new
/// one and ends every other session of the account.
///
/// # Errors
/// Not logged in, or a storage error; wrong input is shown on the page.
pub async fn change_password(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, AppError> {
    let user = viewer.require()?.clone();
    if let Err(wait) = app.limiter.hit(
        &format!("password:{}", user.id),
        app.config.web.login_per_account_per_hour,
        Duration::from_secs(3600),
    ) {
        return Err(AppError::too_many(wait));
    }
    if form.new.chars().count() < MIN_PASSWORD || form.new.len() > MAX_PASSWORD {
        let error = format!("New passwords need at least {MIN_PASSWORD} characters.");
        return settings_with(&app, &viewer, &uri, None, None, Some(error)).await;
    }
    let name = user.username.clone();
    let stored = app.db.run(move |s| s.user_credentials(&name)).await?;
    let (current, new) = (form.current.clone(), form.new.clone());
    let hashes = app
        .hashing
        .run(move || {
            let old = stored
                .map(|(_, h)| h)
                .filter(|h| verify_password(&current, h));
            old.map(|old| hash_password(&new).map(|new| (old, new)))
                .transpose()
        })
        .await??;
    let Some((old_hash, hash)) = hashes else {
        let error = "The current password is not right.".to_owned();
        return settings_with(&app, &viewer, &uri, None, None, Some(error)).await;
    };
    let keep = viewer.session_token.as_deref().map(secrets::token_hash);
    app.db
        .run(move |s| {
            s.change_password(
                user.id,
                &old_hash,
                &hash,
                keep.as_ref().map(|k| k.as_slice()),
            )
        })
        .await?;
    tracing::info!(user.id = %user.id, "password of {} changed", user.id);
    let message =
        "Password changed; every other session is logged out and your API tokens are revoked."
            .to_owned();
    settings_with(&app, &viewer, &uri, None, Some(message), None).await
}

/// `GET /settings`.
///
/// # Errors
/// A storage error.
pub async fn settings(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
) -> Result<Response, AppError> {
    if viewer.user.is_none() {
        return Ok(Redirect::to("/login?next=/settings").into_response());
    }
    settings_page(&app, &viewer, &uri, None).await
}

/// The new-token form.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    /// A label.
    pub name: Option<String>,
    /// Days until it expires (30, 90 or 365), or `never`; 90 when absent.
    pub expires: Option<String>,
}

/// Token lifetimes the settings page offers, in days.
const TOKEN_DAYS: [i64; 3] = [30, 90, 365];

/// When a token made now should expire, from the form's `expires` choice.
///
/// # Errors
/// A choice the form does not offer.
fn token_expiry(
    choice: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<Option<chrono::DateTime<Utc>>, AppError> {
    match choice.map(str::trim) {
        None | Some("") => Ok(Some(now + chrono::Duration::days(90))),
        Some("never") => Ok(None),
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| TOKEN_DAYS.contains(d))
            .map(|d| Some(now + chrono::Duration::days(d)))
            .ok_or_else(|| {
                AppError::bad_request(
                    "Choose when the token expires: 30, 90 or 365 days, or never.",
                )
            }),
    }
}

/// `POST /settings/tokens`: makes a token and shows it once.
///
/// # Errors
/// Not logged in, or a storage error.
pub async fn create_token(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, AppError> {
    let user = viewer.require()?.clone();
    let name: String = form
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("API token")
        .chars()
        .take(64)
        .collect();
    let now = Utc::now();
    let expires = token_expiry(form.expires.as_deref(), now)?;
    let token = format!("ph_{}", secrets::new_token()?);
    let hash = secrets::token_hash(&token);
    app.db
        .run(move |s| s.create_api_token(user.id, &name, &hash, now, expires))
        .await?;
    settings_page(&app, &viewer, &uri, Some(token)).await
}

/// `POST /settings/tokens/{id}/delete`.
///
/// # Errors
/// Not logged in, or a storage error.
pub async fn delete_token(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = viewer.require()?.clone();
    let id = id
        .parse()
        .map(ApiTokenId)
        .map_err(|_| AppError::not_found("There is no such token."))?;
    app.db.run(move |s| s.delete_api_token(user.id, id)).await?;
    Ok(Redirect::to("/settings").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn token_expiry_choices() {
        let now = Utc::now();
        assert_eq!(
            token_expiry(None, now).unwrap(),
            Some(now + chrono::Duration::days(90))
        );
        assert_eq!(token_expiry(Some("never"), now).unwrap(), None);
        assert_eq!(
            token_expiry(Some("365"), now).unwrap(),
            Some(now + chrono::Duration::days(365))
        );
        for bad in ["7", "-1", "99999999999999999999", "soon"] {
            assert!(token_expiry(Some(bad), now).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames() {
        assert!(check_username("ada_l-1").is_ok());
        for bad in ["ab", "a b", "<script>", &"x".repeat(33), "ädä"] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }
}
