//! Digest subscriptions on the web: the subscribe box, the confirmation
//! link, the preferences page and unsubscribe (with RFC 8058 one-click).
//!
//! Subscribing answers the same page whatever the address's state, so the
//! box cannot be used to learn who subscribes: a new or lapsed address gets
//! a confirmation mail, an active one a mail with its manage link. Requests
//! are limited per client address, and mails per address per day. Every
//! other page here is reached through a signed link from a mail
//! ([`crate::digest::render::Links`]); the token is the only credential.
//! `POST /email/unsubscribe` needs no cookie and no CSRF token (mail
//! clients send it bare, RFC 8058); the signed token is what authorizes it.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::{OriginalUri, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use paperhub_store::{InterestKind, Preferences, Subscriber, SubscriberId, SubscriberStatus};
use serde::Deserialize;

use super::AppState;
use super::errors::AppError;
use super::pages::{chrome, render};
use super::session::Viewer;
use super::views::Chrome;
use crate::app::subscriptions::{self, MailContext, PreferenceInput, parse_preferences as parse};
use crate::digest::render::{self as mails, CONFIRM, MANAGE, UNSUBSCRIBE};

/// The preferences form's current values.
#[derive(Debug, Clone)]
pub struct PrefsForm {
    /// The manage token, carried along.
    pub token: String,
    /// A fresh unsubscribe token.
    pub unsubscribe_token: String,
    /// The address (the link's holder has the mail anyway).
    pub email: String,
    /// `daily` or `weekly`.
    pub frequency: String,
    /// Trending papers per digest.
    pub top_n: u32,
    /// Saved searches, one per line.
    pub queries: String,
    /// Categories, space separated.
    pub categories: String,
    /// Authors, one per line.
    pub authors: String,
    /// The account whose followed authors the digest includes, by name
    /// when the viewer is that account, else empty.
    pub account: Option<String>,
    /// The signed-in viewer, when their account has the digest's address
    /// and so may link it.
    pub viewer: Option<String>,
    /// How many authors the viewer follows.
    pub viewer_follows: usize,
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct SubscriptionPage {
    chrome: Chrome,
    heading: String,
    paragraphs: Vec<String>,
    error: Option<String>,
    unsubscribe_token: Option<String>,
    confirm_token: Option<String>,
    form: Option<PrefsForm>,
}

fn page(
    viewer: &Viewer,
    uri: &OriginalUri,
    heading: &str,
    paragraphs: &[&str],
) -> SubscriptionPage {
    SubscriptionPage {
        chrome: chrome(viewer, heading, uri),
        heading: heading.to_owned(),
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        error: None,
        unsubscribe_token: None,
        confirm_token: None,
        form: None,
    }
}

fn with_status(status: axum::http::StatusCode, page: &SubscriptionPage) -> Response {
    let mut response = render(page);
    *response.status_mut() = status;
    response
}

/// The subscribe box.
#[derive(Debug, Deserialize)]
pub struct SubscribeForm {
    /// The address.
    #[serde(default)]
    pub email: String,
}

/// `POST /subscribe`: see the module docs.
///
/// # Errors
/// A storage or rendering error.
pub async fn subscribe(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<SubscribeForm>,
) -> Result<Response, AppError> {
    let Some(email) = subscriptions::valid_address(&form.email) else {
        let mut p = page(&viewer, &uri, "Subscribe to the digest", &[]);
        p.error = Some(format!(
            "{:?} is not an email address we can write to; check it and try again.",
            form.email.trim()
        ));
        return Ok(with_status(axum::http::StatusCode::BAD_REQUEST, &p));
    };
    let limits = &app.config.mail;
    if let Err(wait) = app.limiter.hit(
        &format!("subscribe:{}", viewer.ip),
        limits.subscribe_per_ip_per_hour,
        Duration::from_secs(3600),
    ) {
        return Err(AppError::too_many(wait));
    }
    // Over the per-address limit, the page is the same but no mail goes out.
    let address_key = format!(
        "subscribe-address:{}",
        crate::secrets::hex(&crate::secrets::token_hash(&email.to_lowercase()))
    );
    let may_mail = app
        .limiter
        .hit(
            &address_key,
            limits.subscribe_per_address_per_day,
            Duration::from_secs(24 * 3600),
        )
        .is_ok();
    if may_mail {
        let hub_url = app.base_url();
        let state = Arc::clone(&app);
        app.db
            .run(move |s| {
                let mail = MailContext {
                    config: &state.config,
                    hub_url: &hub_url,
                    secrets: &state.secrets,
                };
                subscriptions::subscribe(s, &mail, &email, None, false, Utc::now())
                    .map_err(|e| paperhub_store::StoreError::Aborted(e.into()))
            })
            .await?;
        app.mailer.wake();
    } else {
        tracing::info!("subscribe: per-address mail limit reached; no mail sent");
    }
    Ok(render(&page(
        &viewer,
        &uri,
        "Check your inbox",
        &[
            "If this address can receive our digest, a mail is on its way with a link to confirm (or, if it is already subscribed, to change what it receives).",
            "The confirmation link works for 7 days. Nothing is sent until you follow it.",
        ],
    )))
}

/// `?t=` on every link from a mail.
#[derive(Debug, Deserialize)]
pub struct TokenParam {
    /// The signed token.
    #[serde(default)]
    pub t: String,
}

/// The subscriber a `purpose` token names, or the page that explains why not.
async fn subscriber_for(
    app: &Arc<AppState>,
    viewer: &Viewer,
    uri: &OriginalUri,
    purpose: &'static str,
    token: &str,
) -> Result<Subscriber, Response> {
    let refuse = |message: String| {
        let mut p = page(
            viewer,
            uri,
            "This link does not work",
            &["Subscribe again with the box below to get a fresh link."],
        );
        p.error = Some(message);
        with_status(axum::http::StatusCode::BAD_REQUEST, &p)
    };
    let id = match app.secrets.check_token(purpose, token, Utc::now()) {
        Ok(subject) => subject,
        Err(e) => return Err(refuse(e.to_string())),
    };
    let Ok(id) = id.parse::<i64>() else {
        return Err(refuse("the link is not valid".into()));
    };
    match app.db.run(move |s| s.subscriber(SubscriberId(id))).await {
        Ok(Some(subscriber)) => Ok(subscriber),
        Ok(None) => Err(refuse("this subscription no longer exists".into())),
        Err(e) => Err(e.into_response()),
    }
}

/// `GET /email/confirm?t=`: the page the confirmation link opens.
///
/// It changes nothing: mail scanners and link previews fetch every link in
/// a mail (GET and HEAD), and must not confirm on the reader's behalf (see
/// #13). The page holds a button that POSTs the token.
pub async fn confirm_page(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(q): Query<TokenParam>,
) -> Response {
    if let Err(page) = subscriber_for(&app, &viewer, &uri, CONFIRM, &q.t).await {
        return page;
    }
    let mut p = page(
        &viewer,
        &uri,
        "Confirm your subscription",
        &["One click and the digest starts arriving after each arXiv announcement."],
    );
    p.confirm_token = Some(q.t);
    render(&p)
}

/// `POST /email/confirm` with `t`: double opt-in.
pub async fn confirm(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(q): axum::Form<TokenParam>,
) -> Response {
    let subscriber = match subscriber_for(&app, &viewer, &uri, CONFIRM, &q.t).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let id = subscriber.id;
    if let Err(e) = app
        .db
        .run(move |s| s.confirm_subscriber(id, Utc::now()))
        .await
    {
        return e.into_response();
    }
    let token = match mails::link_token(&app.secrets, MANAGE, subscriber.id, Utc::now()) {
        Ok(t) => t,
        Err(e) => return AppError::internal(e).into_response(),
    };
    match manage_form(&app, &viewer, &subscriber, &token).await {
        Ok(form) => {
            let mut p = page(
                &viewer,
                &uri,
                "You are subscribed",
                &[
                    "Your digest will arrive after each arXiv announcement. Choose below what it brings: trending papers, and papers that match your searches, categories and authors.",
                ],
            );
            p.form = Some(form);
            render(&p)
        }
        Err(e) => e.into_response(),
    }
}

async fn manage_form(
    app: &Arc<AppState>,
    viewer: &Viewer,
    subscriber: &Subscriber,
    token: &str,
) -> Result<PrefsForm, AppError> {
    let id = subscriber.id;
    let (account, me) = (subscriber.account, viewer.user.as_ref().map(|u| u.id));
    let (interests, account, viewer_follows) = app
        .db
        .run(move |s| {
            // Whose account it is shows only to that account.
            let account = match account {
                Some(a) if Some(a) == me => s.user_by_id(a)?.map(|u| u.username),
                Some(_) => Some(String::new()),
                None => None,
            };
            let follows = match me {
                Some(me) => s.followed_authors(me)?.len(),
                None => 0,
            };
            Ok::<_, paperhub_store::StoreError>((s.interests(id)?, account, follows))
        })
        .await?;
    let of = |kind: InterestKind, sep: &str| {
        interests
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.value.as_str())
            .collect::<Vec<_>>()
            .join(sep)
    };
    Ok(PrefsForm {
        token: token.to_owned(),
        unsubscribe_token: mails::link_token(&app.secrets, UNSUBSCRIBE, subscriber.id, Utc::now())
            .map_err(AppError::internal)?,
        email: subscriber.email.clone(),
        frequency: subscriber.frequency.as_str().to_owned(),
        top_n: subscriber.top_n,
        queries: of(InterestKind::Query, "\n"),
        categories: of(InterestKind::Category, " "),
        authors: of(InterestKind::Author, "\n"),
        account,
        viewer: viewer
            .user
            .as_ref()
            .filter(|u| same_address(u.email.as_deref(), &subscriber.email))
            .map(|u| u.username.clone()),
        viewer_follows,
    })
}

/// `GET /email/manage?t=`: the preferences page.
pub async fn manage(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(q): Query<TokenParam>,
) -> Response {
    let subscriber = match subscriber_for(&app, &viewer, &uri, MANAGE, &q.t).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let paragraph = match subscriber.status {
        SubscriberStatus::Active => "Choose what your digest brings.",
        _ => {
            "This address does not receive the digest now. Saving preferences subscribes it again."
        }
    };
    match manage_form(&app, &viewer, &subscriber, &q.t).await {
        Ok(form) => {
            let mut p = page(&viewer, &uri, "Your digest", &[paragraph]);
            p.form = Some(form);
            render(&p)
        }
        Err(e) => e.into_response(),
    }
}

/// The preferences form as posted.
#[derive(Debug, Deserialize)]
pub struct ManageForm {
    /// The manage token.
    #[serde(default)]
    pub t: String,
    /// `daily` or `weekly`.
    #[serde(default)]
    pub frequency: String,
    /// Trending papers per digest.
    #[serde(default)]
    pub top_n: String,
    /// One per line.
    #[serde(default)]
    pub queries: String,
    /// Space or comma separated.
    #[serde(default)]
    pub categories: String,
    /// One per line.
    #[serde(default)]
    pub authors: String,
}

/// Checks the posted preferences with the rules every sign-up shares
/// (`app::subscriptions`), or says what is wrong, naming the field.
///
/// # Errors
/// A message naming the field.
pub fn parse_preferences(form: &ManageForm) -> Result<Preferences, String> {
    parse(&PreferenceInput {
        frequency: &form.frequency,
        top_n: &form.top_n,
        queries: form.queries.lines().collect(),
        categories: form
            .categories
            .split(|c: char| c == ',' || c.is_whitespace())
            .collect(),
        authors: form.authors.lines().collect(),
    })
}

/// `POST /email/manage`: saves preferences (and re-activates a lapsed address).
pub async fn save_manage(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<ManageForm>,
) -> Response {
    let subscriber = match subscriber_for(&app, &viewer, &uri, MANAGE, &form.t).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let parsed = parse_preferences(&form);
    let current = match &parsed {
        Ok(preferences) => {
            let (id, preferences) = (subscriber.id, preferences.clone());
            let saved = app
                .db
                .run(move |s| s.save_preferences(id, &preferences, Utc::now()))
                .await;
            match saved {
                Ok(Some(s)) => s,
                Ok(None) => {
                    return AppError::not_found("This subscription no longer exists.")
                        .into_response();
                }
                Err(e) => return e.into_response(),
            }
        }
        // Nothing was saved; show the stored preferences with the error.
        Err(_) => subscriber,
    };
    match manage_form(&app, &viewer, &current, &form.t).await {
        Ok(mut prefs) => {
            let mut p = page(&viewer, &uri, "Your digest", &[]);
            match parsed {
                Ok(_) => p
                    .paragraphs
                    .push("Saved. The next digest follows these preferences.".into()),
                Err(message) => {
                    p.error = Some(message);
                    // Show what was typed, so nothing is lost.
                    prefs.frequency = form.frequency.clone();
                    prefs.queries = form.queries.clone();
                    prefs.categories = form.categories.clone();
                    prefs.authors = form.authors.clone();
                }
            }
            let failed = p.error.is_some();
            p.form = Some(prefs);
            if failed {
                with_status(axum::http::StatusCode::BAD_REQUEST, &p)
            } else {
                render(&p)
            }
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /email/unsubscribe?t=`: a page with one button (link scanners in
/// mail systems follow GET links, so GET alone never unsubscribes).
pub async fn unsubscribe_page(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(q): Query<TokenParam>,
) -> Response {
    if let Err(page) = subscriber_for(&app, &viewer, &uri, UNSUBSCRIBE, &q.t).await {
        return page;
    }
    let mut p = page(
        &viewer,
        &uri,
        "Unsubscribe",
        &["Stop sending the Paperhub digest to this address?"],
    );
    p.unsubscribe_token = Some(q.t);
    render(&p)
}

/// `POST /email/unsubscribe?t=`: RFC 8058 one-click; no cookie needed.
pub async fn unsubscribe(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    Query(q): Query<TokenParam>,
) -> Response {
    let subscriber = match subscriber_for(&app, &viewer, &uri, UNSUBSCRIBE, &q.t).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let id = subscriber.id;
    if let Err(e) = app.db.run(move |s| s.unsubscribe(id, Utc::now())).await {
        return e.into_response();
    }
    tracing::info!(subscriber.id = id.0, "unsubscribed");
    render(&page(
        &viewer,
        &uri,
        "You are unsubscribed",
        &[
            "No more digests will be sent to this address. Changed your mind? Subscribe again with the box below.",
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paperhub_store::{Frequency, Interest};

    fn form(frequency: &str, top_n: &str, categories: &str) -> ManageForm {
        ManageForm {
            t: String::new(),
            frequency: frequency.into(),
            top_n: top_n.into(),
            queries: "  diffusion   models \n\n graph neural networks\n".into(),
            categories: categories.into(),
            authors: "Ada Lovelace".into(),
        }
    }

    #[test]
    fn preferences_parse_and_name_the_bad_field() {
        let p = parse_preferences(&form("weekly", "5", "cs.LG, cs.CL")).unwrap();
        assert_eq!(
            (p.frequency, p.top_n, p.interests.len()),
            (Frequency::Weekly, 5, 5)
        );
        assert!(p.interests.contains(&Interest {
            kind: InterestKind::Query,
            value: "diffusion models".into()
        }));
        let e = parse_preferences(&form("hourly", "5", "")).unwrap_err();
        assert!(e.starts_with("frequency"), "{e}");
        let e = parse_preferences(&form("daily", "500", "")).unwrap_err();
        assert!(e.starts_with("trending"), "{e}");
        let e = parse_preferences(&form("daily", "5", "cs.LG cs_LG")).unwrap_err();
        assert!(e.contains("\"cs_LG\""), "{e}");
    }
}

/// The account-link form of the preferences page.
#[derive(Debug, Deserialize)]
pub struct LinkForm {
    /// The manage token.
    #[serde(default)]
    pub t: String,
    /// `link` or `unlink`.
    #[serde(default)]
    pub action: String,
}

/// Whether an account's address is the digest's (ignoring case).
fn same_address(account: Option<&str>, digest: &str) -> bool {
    account.is_some_and(|a| a.trim().eq_ignore_ascii_case(digest.trim()))
}

/// `POST /email/manage/account`: includes the signed-in viewer's followed
/// authors in the digest, or stops including an account's.
///
/// Linking needs three things at once: the manage link (it proves the
/// address), the session of an account, and that account having the
/// digest's address. So a forwarded digest is not enough to push one's
/// follows into someone else's mail. Unlinking needs the manage link only.
pub async fn link_account(
    State(app): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    uri: OriginalUri,
    axum::Form(form): axum::Form<LinkForm>,
) -> Response {
    let subscriber = match subscriber_for(&app, &viewer, &uri, MANAGE, &form.t).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let account = match form.action.as_str() {
        "link" => match &viewer.user {
            Some(u) if same_address(u.email.as_deref(), &subscriber.email) => Some(u.id),
            Some(_) => {
                return AppError::forbidden(
                    "Only an account with this digest's address can include its authors here.",
                )
                .into_response();
            }
            None => return AppError::unauthorized().into_response(),
        },
        "unlink" => None,
        _ => return AppError::bad_request("Choose link or unlink.").into_response(),
    };
    let id = subscriber.id;
    // The token passed the check trimmed; the redirect takes it that way.
    let token = form.t.trim().to_owned();
    match app.db.run(move |s| s.link_account(id, account)).await {
        Ok(true) => {
            axum::response::Redirect::to(&format!("/email/manage?t={token}")).into_response()
        }
        Ok(false) => AppError::not_found("This subscription no longer exists.").into_response(),
        Err(e) => e.into_response(),
    }
}
