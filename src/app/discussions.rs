//! Discussion use cases beyond storing a comment: telling the paper's
//! submitter, when they asked for it, that someone commented.
//!
//! The mail goes through the outbox like every other mail, at most one per
//! paper per hour (its dedupe key holds the hour), never for one's own
//! comments. A failure to queue it is logged and never loses the comment,
//! which is stored first.

use anyhow::Result;
use chrono::{DateTime, Utc};
use paperhub_store::{Comment, Store};

use super::subscriptions::MailContext;
use crate::digest::render::{CommentNotice, comment_mail};

/// Queues the submitter's mail about `comment`, if they want one; true
/// when a mail was queued (false too when this hour's was queued already).
///
/// # Errors
/// A storage error, or composing the mail fails.
pub fn notify_submitter(
    store: &dyn Store,
    mail: &MailContext<'_>,
    comment: &Comment,
    now: DateTime<Utc>,
) -> Result<bool> {
    let id: paperhub_domain::ArxivId = comment.paper.parse()?;
    let Some(submitter) = store.submitter_to_notify(&id)? else {
        return Ok(false);
    };
    if Some(submitter.id) == comment.author {
        return Ok(false);
    }
    let Some(paper) = store.paper(&id)? else {
        return Ok(false);
    };
    let commenter = comment.author_name.as_deref().unwrap_or("Someone");
    let notice = CommentNotice {
        paper: id.base(),
        title: &paper.title,
        commenter,
        body: &comment.body,
    };
    let queued = comment_mail(
        mail.config,
        mail.hub_url,
        mail.secrets,
        &submitter,
        &notice,
        now,
    )?;
    Ok(store.enqueue_mails(&[queued], now)? > 0)
}
