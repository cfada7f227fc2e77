//! Mail: composing messages, the transports that carry them, and the sender
//! worker that drains the outbox.
//!
//! Nothing here decides *what* to send; [`crate::digest`] and the web
//! handlers render mails and queue them in the store's outbox
//! ([`paperhub_store::OutboxStore`]). [`sender::send_due`] then delivers queued
//! mails through a [`transport::Transport`]: `.eml` files in
//! `<data dir>/outbox/` by default, SMTP when configured. Message-IDs are
//! ours, chosen at rendering time, so a retried mail keeps its identity.
//! Addresses are never logged: logs carry outbox ids and Message-IDs.

pub mod sender;
pub mod transport;

use anyhow::{Context, Result};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

/// A rendered mail, before it is queued.
#[derive(Debug, Clone)]
pub struct Composed {
    /// Our Message-ID, without angle brackets.
    pub message_id: String,
    /// The subject.
    pub subject: String,
    /// The RFC 5322 bytes.
    pub bytes: Vec<u8>,
}

/// What goes into a mail.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    /// The From mailbox, e.g. `Paperhub <hub@example.org>`.
    pub from: &'a str,
    /// The recipient address.
    pub to: &'a str,
    /// The subject line.
    pub subject: &'a str,
    /// The plain-text part.
    pub text: &'a str,
    /// The HTML part.
    pub html: &'a str,
    /// The one-click unsubscribe URL (RFC 8058), for mails to subscribers.
    pub unsubscribe_url: Option<&'a str>,
    /// What the mail is, used in the Message-ID (`digest`, `confirm`).
    pub kind: &'a str,
}

/// `List-Unsubscribe: <https://...>` (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// A fresh Message-ID (without brackets) in the From address's domain.
///
/// # Errors
/// The system's random source fails.
pub fn new_message_id(from: &Mailbox, kind: &str) -> Result<String> {
    let random = crate::secrets::hex(&crate::secrets::random_bytes::<12>()?);
    Ok(format!("{kind}.{random}@{}", from.email.domain()))
}

/// Builds the whole message: `multipart/alternative` with a text and an
/// HTML part, our Message-ID, and the unsubscribe headers when given.
///
/// # Errors
/// An address does not parse, or the message cannot be built.
pub fn compose(parts: &Parts<'_>) -> Result<Composed> {
    let from: Mailbox = parts
        .from
        .parse()
        .with_context(|| format!("mail.from {:?} is not an address", parts.from))?;
    let to: Mailbox = parts
        .to
        .parse()
        .context("the recipient is not a valid address")?;
    let message_id = new_message_id(&from, parts.kind)?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(parts.subject)
        .message_id(Some(format!("<{message_id}>")))
        .date_now();
    if let Some(url) = parts.unsubscribe_url {
        builder = builder
            .header(ListUnsubscribe(url.to_owned()))
            .header(ListUnsubscribePost);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(
            parts.text.to_owned(),
            parts.html.to_owned(),
        ))
        .context("building the mail")?;
    Ok(Composed {
        message_id,
        subject: parts.subject.to_owned(),
        bytes: message.formatted(),
    })
}

/// `text` with every word that looks like an address replaced, for logs and
/// stored errors (servers quote the recipient in their answers).
pub fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains('@') { "<address>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_both_parts_and_one_click_headers() {
        let mail = compose(&Parts {
            from: "Paperhub <hub@example.org>",
            to: "reader@example.net",
            subject: "Today: 3 papers",
            text: "plain body",
            html: "<p>html body</p>",
            unsubscribe_url: Some("https://hub.example.org/email/unsubscribe?t=abc"),
            kind: "digest",
        })
        .unwrap();
        let text = String::from_utf8(mail.bytes).unwrap();
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("text/plain") && text.contains("text/html"));
        assert!(
            text.contains("List-Unsubscribe: <https://hub.example.org/email/unsubscribe?t=abc>")
        );
        assert!(text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(text.contains(&format!("Message-ID: <{}>", mail.message_id)));
        assert!(
            mail.message_id.starts_with("digest.") && mail.message_id.ends_with("@example.org")
        );
    }

    #[test]
    fn addresses_are_redacted() {
        assert_eq!(
            redact_addresses("550 5.1.1 <x@y.org>: no such user"),
            "550 5.1.1 <address> no such user"
        );
    }
}
