//! Turning digests and notices into mails: the templates under
//! `templates/email/<name>/{subject.txt,body.txt,body.html}`, the signed
//! links every mail carries, and [`crate::mail::compose`].
//!
//! Links are signed tokens ([`crate::secrets::Secrets::issue_token`]) whose
//! subject is the subscriber id: `confirm` lasts a week, `manage` and
//! `unsubscribe` a year, so an old digest's footer still works.

use anyhow::{Context, Result};
use askama::Template;
use chrono::{DateTime, Duration, Utc};
use paperhub_store::{Entry, NewMail, Subscriber, SubscriberId, User};

use crate::config::Config;
use crate::mail::{Parts, compose};
use crate::secrets::Secrets;

/// Token purposes.
pub const CONFIRM: &str = "digest-confirm";
/// Token purpose of the manage page.
pub const MANAGE: &str = "digest-manage";
/// Token purpose of one-click unsubscribe.
pub const UNSUBSCRIBE: &str = "digest-unsubscribe";

/// Token purpose of the one-click link that stops comment notifications;
/// its subject is the account id.
pub const COMMENTS_OFF: &str = "comments-off";

/// Token purpose of the link that confirms an account's address before
/// comment notifications start; its subject is the account id.
pub const COMMENTS_ON: &str = "comments-on";

/// How long a confirmation link works.
pub const CONFIRM_DAYS: i64 = 7;
/// How long manage and unsubscribe links work.
pub const LINK_DAYS: i64 = 365;

/// The signed token of a `purpose` link for `subscriber`, issued at `now`:
/// confirmation links last [`CONFIRM_DAYS`], the others [`LINK_DAYS`].
///
/// # Errors
/// Signing fails (it cannot for a numeric subject).
pub fn link_token(
    secrets: &Secrets,
    purpose: &str,
    subscriber: SubscriberId,
    now: DateTime<Utc>,
) -> Result<String> {
    let days = if purpose == CONFIRM {
        CONFIRM_DAYS
    } else {
        LINK_DAYS
    };
    secrets.issue_token(purpose, &subscriber.to_string(), now + Duration::days(days))
}

/// The signed links of one subscriber.
#[derive(Debug, Clone)]
pub struct Links {
    /// The hub's base URL.
    pub hub: String,
    /// Confirms the subscription.
    pub confirm: String,
    /// Opens the preferences.
    pub manage: String,
    /// Unsubscribes (GET shows a button, POST is RFC 8058 one-click).
    pub unsubscribe: String,
}

impl Links {
    /// Signs the links of `subscriber` at `now`, under the hub URL `hub`.
    ///
    /// # Errors
    /// Signing fails (it cannot for a numeric subject).
    pub fn new(
        hub: &str,
        secrets: &Secrets,
        subscriber: &Subscriber,
        now: DateTime<Utc>,
    ) -> Result<Links> {
        let hub = hub.trim_end_matches('/').to_owned();
        let token = |purpose| link_token(secrets, purpose, subscriber.id, now);
        Ok(Links {
            confirm: format!("{hub}/email/confirm?t={}", token(CONFIRM)?),
            manage: format!("{hub}/email/manage?t={}", token(MANAGE)?),
            unsubscribe: format!("{hub}/email/unsubscribe?t={}", token(UNSUBSCRIBE)?),
            hub,
        })
    }
}

/// One paper in a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestPaper {
    /// Title.
    pub title: String,
    /// Its hub page.
    pub url: String,
    /// "A, B, C, D et al."
    pub authors: String,
    /// The first sentences of the abstract.
    pub summary: String,
    /// Upvotes.
    pub votes: u32,
    /// Primary category.
    pub category: String,
    /// Why it is in the personal section.
    pub why: Vec<String>,
}

impl DigestPaper {
    /// The digest view of `entry`; links point into `hub`.
    pub fn new(entry: &Entry, hub: &str, why: Vec<String>) -> DigestPaper {
        let p = &entry.paper;
        DigestPaper {
            title: paperhub_domain::text::one_line(&p.title),
            url: format!("{hub}/papers/{}", p.id),
            authors: paperhub_domain::text::author_line(p, 4),
            summary: first_sentences(&p.abstract_text, 2, 320),
            votes: entry.votes,
            category: p.primary_category.clone().unwrap_or_default(),
            why,
        }
    }
}

/// A digest's content.
#[derive(Debug, Clone)]
pub struct DigestMail {
    /// "Paperhub daily digest".
    pub title: String,
    /// `daily` or `weekly`.
    pub frequency: &'static str,
    /// "Fri 21 Mar 2025" or "week of 17 Mar 2025".
    pub period_label: String,
    /// Papers in the mail.
    pub count: usize,
    /// Personal matches with reasons.
    pub personal: Vec<DigestPaper>,
    /// "Recommended for you": learned from the linked account's library.
    pub recommended: Vec<DigestPaper>,
    /// The top trending papers.
    pub trending: Vec<DigestPaper>,
    /// The period's list on the hub.
    pub list_url: String,
    /// The hub.
    pub hub_url: String,
    /// Preferences.
    pub manage_url: String,
    /// Unsubscribe.
    pub unsubscribe_url: String,
}

#[derive(Template)]
#[template(path = "email/digest/subject.txt")]
struct DigestSubject<'a> {
    m: &'a DigestMail,
}

#[derive(Template)]
#[template(path = "email/digest/body.txt")]
struct DigestText<'a> {
    m: &'a DigestMail,
}

#[derive(Template)]
#[template(path = "email/digest/body.html")]
struct DigestHtml<'a> {
    m: &'a DigestMail,
}

/// A one-off mail with one action: confirm, or manage.
#[derive(Debug, Clone)]
pub struct NoticeMail {
    /// Subject line.
    pub subject: String,
    /// First line.
    pub heading: String,
    /// What happened.
    pub intro: String,
    /// The button's label.
    pub action_label: String,
    /// The button's link.
    pub action_url: String,
    /// Small print.
    pub note: String,
    /// For an active subscriber.
    pub unsubscribe_url: Option<String>,
    /// The hub.
    pub hub_url: String,
}

#[derive(Template)]
#[template(path = "email/confirm/subject.txt")]
struct ConfirmSubject<'a> {
    m: &'a NoticeMail,
}
#[derive(Template)]
#[template(path = "email/confirm/body.txt")]
struct ConfirmText<'a> {
    m: &'a NoticeMail,
}
#[derive(Template)]
#[template(path = "email/confirm/body.html")]
struct ConfirmHtml<'a> {
    m: &'a NoticeMail,
}
#[derive(Template)]
#[template(path = "email/manage/subject.txt")]
struct ManageSubject<'a> {
    m: &'a NoticeMail,
}
#[derive(Template)]
#[template(path = "email/manage/body.txt")]
struct ManageText<'a> {
    m: &'a NoticeMail,
}
#[derive(Template)]
#[template(path = "email/manage/body.html")]
struct ManageHtml<'a> {
    m: &'a NoticeMail,
}

/// Rendered subject, text and HTML.
struct Rendered {
    subject: String,
    text: String,
    html: String,
}

fn rendered(
    subject: &impl Template,
    text: &impl Template,
    html: &impl Template,
) -> Result<Rendered> {
    Ok(Rendered {
        subject: one_line_subject(&subject.render().context("rendering the subject")?),
        text: tidy_text(&text.render().context("rendering the text part")?),
        html: html.render().context("rendering the HTML part")?,
    })
}

fn one_line_subject(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Collapses runs of blank lines the template logic leaves.
fn tidy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_start_matches('\n').to_owned()
}

fn queue(
    config: &Config,
    subscriber: &Subscriber,
    dedupe_key: String,
    kind: &str,
    r: &Rendered,
    unsubscribe: Option<&str>,
) -> Result<NewMail> {
    let composed = compose(&Parts {
        from: &config.mail.from,
        to: &subscriber.email,
        subject: &r.subject,
        text: &r.text,
        html: &r.html,
        unsubscribe_url: unsubscribe,
        kind,
    })?;
    Ok(NewMail {
        dedupe_key,
        subscriber: Some(subscriber.id),
        kind: kind.to_owned(),
        message_id: composed.message_id,
        recipient: subscriber.email.clone(),
        subject: composed.subject,
        message: composed.bytes,
    })
}

/// The digest mail for `subscriber`, queued under `dedupe_key`.
///
/// # Errors
/// A template or the message cannot be built.
pub fn digest_mail(
    config: &Config,
    subscriber: &Subscriber,
    mail: &DigestMail,
    dedupe_key: String,
) -> Result<NewMail> {
    let r = rendered(
        &DigestSubject { m: mail },
        &DigestText { m: mail },
        &DigestHtml { m: mail },
    )?;
    queue(
        config,
        subscriber,
        dedupe_key,
        "digest",
        &r,
        Some(&mail.unsubscribe_url),
    )
}

/// The rendered text part of a digest (for `digest preview`).
///
/// # Errors
/// A template fails.
pub fn digest_text(mail: &DigestMail) -> Result<(String, String)> {
    let subject = one_line_subject(&DigestSubject { m: mail }.render()?);
    Ok((subject, tidy_text(&DigestText { m: mail }.render()?)))
}

/// Which one-action mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The double opt-in mail, with the confirmation link.
    Confirm,
    /// For an address that is already subscribed and was entered again:
    /// a link to the preferences (the page never says it was subscribed).
    Manage,
}

/// A one-action mail for `subscriber`, at most one of each kind per hour.
///
/// # Errors
/// Signing, a template or the message fails.
pub fn notice_mail(
    config: &Config,
    hub: &str,
    secrets: &Secrets,
    subscriber: &Subscriber,
    notice: Notice,
    now: DateTime<Utc>,
) -> Result<NewMail> {
    let links = Links::new(hub, secrets, subscriber, now)?;
    let (kind, m) = match notice {
        Notice::Confirm => (
            "confirm",
            NoticeMail {
                subject: "Confirm your Paperhub digest subscription".into(),
                heading: "One more step".into(),
                intro: format!(
                    "Someone, hopefully you, asked for Paperhub's paper digest at {} to be sent to this address. Confirm to start receiving it.",
                    links.hub
                ),
                action_label: "Confirm my subscription".into(),
                action_url: links.confirm.clone(),
                note: format!(
                    "The link works for {CONFIRM_DAYS} days. If you did not ask for this, ignore this mail: nothing will be sent."
                ),
                unsubscribe_url: None,
                hub_url: links.hub.clone(),
            },
        ),
        Notice::Manage => (
            "manage",
            NoticeMail {
                subject: "Your Paperhub digest subscription".into(),
                heading: "You are already subscribed".into(),
                intro: format!(
                    "Someone asked to subscribe this address to Paperhub's digest at {}. It already receives it, so nothing changed.",
                    links.hub
                ),
                action_label: "Change what you receive".into(),
                action_url: links.manage.clone(),
                note: "If you did not ask for this, ignore this mail.".into(),
                unsubscribe_url: Some(links.unsubscribe.clone()),
                hub_url: links.hub.clone(),
            },
        ),
    };
    let m = &m;
    let r = match notice {
        Notice::Confirm => rendered(
            &ConfirmSubject { m },
            &ConfirmText { m },
            &ConfirmHtml { m },
        )?,
        Notice::Manage => rendered(&ManageSubject { m }, &ManageText { m }, &ManageHtml { m })?,
    };
    let key = format!("{kind}:{}:{}", subscriber.id, now.format("%Y-%m-%dT%H"));
    queue(
        config,
        subscriber,
        key,
        kind,
        &r,
        m.unsubscribe_url.as_deref(),
    )
}

/// Up to `sentences` sentences of `text`, at most about `max` characters.
pub fn first_sentences(text: &str, sentences: usize, max: usize) -> String {
    let text = paperhub_domain::text::one_line(text);
    let mut end = 0;
    let mut found = 0;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '?' | '!') && bytes.get(i + 1).is_none_or(|b| *b == b' ') && i > 20 {
            end = i + 1;
            found += 1;
            if found == sentences {
                break;
            }
        }
    }
    if found == 0 || end > max {
        return paperhub_domain::text::excerpt(&text, &[], max);
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentences_stop_at_the_second_full_stop() {
        let t = "We study transformers in depth. They work well.\nWe show more. And more.";
        assert_eq!(
            first_sentences(t, 2, 300),
            "We study transformers in depth. They work well."
        );
        assert!(
            first_sentences(&"word ".repeat(200), 2, 100)
                .chars()
                .count()
                <= 101
        );
    }
}

/// A new comment on a paper someone submitted, for [`comment_mail`].
#[derive(Debug, Clone, Copy)]
pub struct CommentNotice<'a> {
    /// The paper's arXiv id.
    pub paper: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Who commented.
    pub commenter: &'a str,
    /// The comment's markdown source.
    pub body: &'a str,
}

/// The mail telling `submitter` (who asked for it and has an address)
/// that someone commented on their submission: at most one per paper per
/// hour, with a one-click link that stops these mails.
///
/// # Errors
/// The account has no address, or signing, a template or the message fails.
pub fn comment_mail(
    config: &Config,
    hub: &str,
    secrets: &Secrets,
    submitter: &User,
    notice: &CommentNotice<'_>,
    now: DateTime<Utc>,
) -> Result<NewMail> {
    let to = submitter
        .email
        .as_deref()
        .context("the submitter has no address")?;
    let hub = hub.trim_end_matches('/');
    let token = secrets.issue_token(
        COMMENTS_OFF,
        &submitter.id.to_string(),
        now + Duration::days(LINK_DAYS),
    )?;
    let off = format!("{hub}/email/comments/off?t={token}");
    let m = NoticeMail {
        subject: format!(
            "New comment on {}",
            first_sentences(notice.title, 1, 80)
        ),
        heading: "Someone commented on a paper you submitted".into(),
        intro: format!(
            "{} wrote on \"{}\": {}",
            notice.commenter,
            paperhub_domain::text::one_line(notice.title),
            first_sentences(notice.body, 3, 400)
        ),
        action_label: "Read the discussion".into(),
        action_url: format!("{hub}/papers/{}#discussion", notice.paper),
        note: "You get at most one of these mails per paper per hour, because you asked for them in your settings.".into(),
        unsubscribe_url: Some(off.clone()),
        hub_url: hub.to_owned(),
    };
    let m = &m;
    let r = rendered(
        &ConfirmSubject { m },
        &ConfirmText { m },
        &ConfirmHtml { m },
    )?;
    let composed = compose(&Parts {
        from: &config.mail.from,
        to,
        subject: &r.subject,
        text: &r.text,
        html: &r.html,
        unsubscribe_url: Some(&off),
        kind: "comment",
    })?;
    Ok(NewMail {
        dedupe_key: format!(
            "comment:{}:{}:{}",
            submitter.id,
            notice.paper,
            now.format("%Y-%m-%dT%H")
        ),
        subscriber: None,
        kind: "comment".to_owned(),
        message_id: composed.message_id,
        recipient: to.to_owned(),
        subject: composed.subject,
        message: composed.bytes,
    })
}

/// The double opt-in for comment notifications: a mail to the account's
/// address whose link turns them on, so nobody can have them sent to an
/// address that is not theirs. At most one per account per hour.
///
/// # Errors
/// The account has no address, or signing, a template or the message fails.
pub fn comments_on_mail(
    config: &Config,
    hub: &str,
    secrets: &Secrets,
    account: &User,
    now: DateTime<Utc>,
) -> Result<NewMail> {
    let to = account
        .email
        .as_deref()
        .context("the account has no address")?;
    let hub = hub.trim_end_matches('/');
    let token = secrets.issue_token(
        COMMENTS_ON,
        &account.id.to_string(),
        now + Duration::days(CONFIRM_DAYS),
    )?;
    let m = NoticeMail {
        subject: "Confirm comment notifications from Paperhub".into(),
        heading: "One more step".into(),
        intro: format!(
            "The account {} at {hub} asked to be mailed at this address when someone comments on a paper it submitted. Confirm to start.",
            account.username
        ),
        action_label: "Turn on comment notifications".into(),
        action_url: format!("{hub}/email/comments/on?t={token}"),
        note: format!(
            "The link works for {CONFIRM_DAYS} days. If you did not ask for this, ignore this mail: nothing will be sent."
        ),
        unsubscribe_url: None,
        hub_url: hub.to_owned(),
    };
    let m = &m;
    let r = rendered(
        &ConfirmSubject { m },
        &ConfirmText { m },
        &ConfirmHtml { m },
    )?;
    let composed = compose(&Parts {
        from: &config.mail.from,
        to,
        subject: &r.subject,
        text: &r.text,
        html: &r.html,
        unsubscribe_url: None,
        kind: "comments-on",
    })?;
    Ok(NewMail {
        dedupe_key: format!("comments-on:{}:{}", account.id, now.format("%Y-%m-%dT%H")),
        subscriber: None,
        kind: "comments-on".to_owned(),
        message_id: composed.message_id,
        recipient: to.to_owned(),
        subject: composed.subject,
        message: composed.bytes,
    })
}
