//! Discussions on paper pages: comments in CommonMark, one level of
//! replies, edits and deletes by their authors, hiding by curators.
//!
//! Markdown is rendered with `pulldown-cmark` and the HTML is then cleaned
//! by `ammonia`, so nothing a commenter types runs in a reader's browser:
//! raw HTML, `javascript:` links and event attributes are dropped, images
//! are not shown (no tracking pixels), and links get `rel="nofollow ugc
//! noopener"`. Size and rate are bounded: a comment has at most
//! [`MAX_CHARS`] characters, and an account may write
//! [`PER_HOUR`] comments an hour ([`PER_HOUR_NEW`] in its first day),
//! counted in the store so the limit holds on every node.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use paperhub_store::{Comment, CommentId, Commented, Entry, NewComment, User};

use super::AppState;
use super::errors::AppError;

/// Longest comment, in characters.
pub const MAX_CHARS: usize = 10_000;
/// Comments an account may write an hour.
pub const PER_HOUR: u32 = 20;
/// Comments an account in its first day may write an hour.
pub const PER_HOUR_NEW: u32 = 5;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.rm_tags(["img"])
        .link_rel(Some("nofollow ugc noopener"))
        .url_schemes(HashSet::from(["http", "https", "mailto"]));
    b
});

/// `markdown` as safe HTML.
pub fn render(markdown: &str) -> String {
    let mut options = pulldown_cmark::Options::empty();
    options.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    options.insert(pulldown_cmark::Options::ENABLE_TABLES);
    let parser = pulldown_cmark::Parser::new_ext(markdown, options);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    CLEANER.clean(&html).to_string()
}

/// A comment as the paper page shows it.
#[derive(Debug, Clone)]
pub struct CommentView {
    /// Its id, for anchors and forms.
    pub id: i64,
    /// Its author, if the account still exists.
    pub author: Option<super::views::Person>,
    /// Rendered, cleaned HTML; empty when deleted.
    pub html: String,
    /// A reply (indented, no reply form).
    pub reply: bool,
    /// `2025-03-21 14:02 UTC`.
    pub when: String,
    /// Edited after it was written (not counting a delete).
    pub edited: bool,
    /// Deleted by its author.
    pub deleted: bool,
    /// Hidden by a curator (only curators see it).
    pub hidden: bool,
    /// The viewer wrote it: they may edit or delete it.
    pub mine: bool,
    /// Its markdown, for the edit form of its author.
    pub source: String,
}

impl CommentView {
    /// The view of `c` for `viewer`.
    pub fn new(c: &Comment, viewer: Option<&User>) -> CommentView {
        let mine = viewer.is_some_and(|u| Some(u.id) == c.author) && !c.deleted;
        CommentView {
            id: c.id.0,
            author: c.author_name.as_deref().map(super::views::Person::new),
            html: if c.deleted {
                String::new()
            } else {
                render(&c.body)
            },
            reply: c.parent.is_some(),
            when: c.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            edited: c.edited_at.is_some() && !c.deleted,
            deleted: c.deleted,
            hidden: c.hidden,
            mine,
            source: if mine { c.body.clone() } else { String::new() },
        }
    }
}

/// The comments of `entry`'s paper for `viewer` (curators see hidden ones).
///
/// # Errors
/// A storage error.
pub async fn thread(
    app: &Arc<AppState>,
    entry: &Entry,
    viewer: Option<&User>,
) -> Result<Vec<CommentView>, AppError> {
    let id = entry.paper.id.clone();
    let curator = viewer.is_some_and(|u| u.is_admin);
    let comments = app.db.run(move |s| s.comments(&id, curator)).await?;
    Ok(comments
        .iter()
        .map(|c| CommentView::new(c, viewer))
        .collect())
}

/// What a comment form posted.
#[derive(Debug, Default)]
pub struct CommentForm {
    /// `post` (default), `edit`, `delete`, `hide` or `show`.
    pub action: Option<String>,
    /// The markdown.
    pub body: Option<String>,
    /// The comment answered (`post`).
    pub parent: Option<String>,
    /// The comment acted on (`edit`, `delete`, `hide`, `show`).
    pub comment: Option<String>,
}

fn comment_id(raw: Option<&str>, what: &str) -> Result<CommentId, AppError> {
    raw.and_then(|s| s.trim().parse().ok())
        .map(CommentId)
        .ok_or_else(|| AppError::bad_request(format!("Say which comment to {what}.")))
}

fn checked_body(raw: Option<&str>) -> Result<String, AppError> {
    let body = raw.unwrap_or("").trim();
    if body.is_empty() {
        return Err(AppError::bad_request("Write something first."));
    }
    if body.chars().count() > MAX_CHARS {
        return Err(AppError::bad_request(format!(
            "Comments are at most {MAX_CHARS} characters."
        )));
    }
    Ok(body.replace('\0', ""))
}

/// The hourly limit of `user` at `now`: lower in the account's first day.
fn hourly_limit(user: &User, now: DateTime<Utc>) -> u32 {
    if now - user.created_at < Duration::days(1) {
        PER_HOUR_NEW
    } else {
        PER_HOUR
    }
}

/// Queues the submitter's mail about `comment` (see
/// [`crate::app::discussions`]); a failure is logged, the comment stays.
async fn notify_submitter(app: &Arc<AppState>, comment: Comment, now: DateTime<Utc>) {
    let hub_url = app.base_url();
    let state = Arc::clone(app);
    let outcome = app
        .db
        .run(move |s| {
            let mail = crate::app::subscriptions::MailContext {
                config: &state.config,
                hub_url: &hub_url,
                secrets: &state.secrets,
            };
            crate::app::discussions::notify_submitter(s, &mail, &comment, now)
                .map_err(|e| paperhub_store::StoreError::Aborted(e.into()))
        })
        .await;
    match outcome {
        Ok(true) => app.mailer.wake(),
        Ok(false) => {}
        Err(e) => tracing::warn!("could not queue the comment notification: {e:?}"),
    }
}

/// Carries out a comment form on `entry`'s page, then back to the page.
///
/// # Errors
/// A bad form (400), someone else's comment (403), the rate limit (429),
/// or a storage error.
pub async fn act(
    app: &Arc<AppState>,
    user: &User,
    entry: &Entry,
    form: CommentForm,
) -> Result<Response, AppError> {
    let page = format!("/papers/{}", entry.paper.id.base());
    let now = Utc::now();
    let (uid, paper) = (user.id, entry.paper.id.clone());
    let anchor = match form.action.as_deref().unwrap_or("post") {
        "post" => {
            let body = checked_body(form.body.as_deref())?;
            let parent = match form.parent.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(_) => Some(comment_id(form.parent.as_deref(), "answer")?),
            };
            let limit = hourly_limit(user, now);
            let since = now - Duration::hours(1);
            let used = app.db.run(move |s| s.comments_since(uid, since)).await?;
            if used >= limit {
                return Err(AppError::too_many(3600).with_detail(format!(
                    "You have written {used} comments in the last hour, the limit for your account; try again later."
                )));
            }
            let added = app
                .db
                .run(move |s| {
                    s.add_comment(
                        &NewComment {
                            paper: &paper,
                            author: uid,
                            parent,
                            body: &body,
                        },
                        now,
                    )
                })
                .await?;
            match added {
                Commented::Added(c) => {
                    notify_submitter(app, c.clone(), now).await;
                    format!("#c{}", c.id)
                }
                Commented::NoSuchPaper => {
                    return Err(AppError::not_found("There is no such paper."));
                }
                Commented::NoSuchParent => {
                    return Err(AppError::bad_request(
                        "That comment cannot be answered here.",
                    ));
                }
                Commented::ReplyToReply => {
                    return Err(AppError::bad_request(
                        "Replies go one level deep: answer the first comment of the thread.",
                    ));
                }
            }
        }
        "edit" => {
            let id = comment_id(form.comment.as_deref(), "edit")?;
            let body = checked_body(form.body.as_deref())?;
            let done = app
                .db
                .run(move |s| s.edit_comment(id, uid, &body, now))
                .await?;
            if !done {
                return Err(AppError::forbidden("You can edit only your own comments."));
            }
            format!("#c{id}")
        }
        "delete" => {
            let id = comment_id(form.comment.as_deref(), "delete")?;
            let done = app.db.run(move |s| s.delete_comment(id, uid, now)).await?;
            if !done {
                return Err(AppError::forbidden(
                    "You can delete only your own comments.",
                ));
            }
            "#discussion".to_owned()
        }
        action @ ("hide" | "show") => {
            if !user.is_admin {
                return Err(AppError::forbidden("Only curators can hide comments."));
            }
            let id = comment_id(form.comment.as_deref(), "hide")?;
            let hidden = action == "hide";
            app.db
                .run(move |s| s.set_comment_hidden(id, hidden))
                .await?;
            format!("#c{id}")
        }
        other => {
            return Err(AppError::bad_request(format!(
                "{other:?} is not something a comment form does."
            )));
        }
    };
    app.pages.bump();
    Ok(Redirect::to(&format!("{page}{anchor}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_hostile_html_is_inert() {
        assert_eq!(
            render("**bold** text").trim(),
            "<p><strong>bold</strong> text</p>"
        );
        for payload in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "![pixel](https://evil.example/t.gif)",
            "<a href=\"https://x\" onclick=\"alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
        ] {
            let html = render(payload);
            for bad in [
                "<script",
                "onerror",
                "javascript:",
                "<img",
                "onclick",
                "<iframe",
                "data:",
            ] {
                assert!(!html.contains(bad), "{payload} -> {html}");
            }
        }
        let link = render("[paper](https://arxiv.org/abs/2503.15621)");
        assert!(link.contains("rel=\"nofollow ugc noopener\""), "{link}");
    }
}
