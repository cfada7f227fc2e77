//! Digest subscriptions: the rules for an address and for preferences, and
//! the sign-up use case the web form and `paperhub digest subscribe` share.
//!
//! Checking happens here, once; the store then signs the address up,
//! stores the preferences and queues the notice mail in one transaction
//! (see `paperhub_store::SubscriptionStore::subscribe`).

use anyhow::Result;
use chrono::{DateTime, Utc};
use paperhub_domain::{Frequency, Interest, InterestKind, SubscriberStatus};
use paperhub_store::{Preferences, SubscribeRequest, Subscribed, SubscriptionStore};

use crate::config::Config;
use crate::digest::render::{Notice, notice_mail};
use crate::secrets::Secrets;

/// Saved searches, categories and authors a subscriber may keep, each.
pub const MAX_INTERESTS: usize = 50;
/// Longest saved search or author name, in characters.
pub const MAX_INTEREST_LEN: usize = 200;
/// Most trending papers a digest may carry.
pub const MAX_TOP_N: u32 = 50;

/// Checks an address well enough to mail it; returns it trimmed.
pub fn valid_address(raw: &str) -> Option<String> {
    let email = raw.trim();
    (email.len() <= 254 && email.parse::<lettre::Address>().is_ok()).then(|| email.to_owned())
}

/// Preferences as typed: one field per form input or command-line option.
#[derive(Debug, Clone, Default)]
pub struct PreferenceInput<'a> {
    /// `daily` or `weekly`.
    pub frequency: &'a str,
    /// Trending papers per digest, as typed.
    pub top_n: &'a str,
    /// Saved searches, one each.
    pub queries: Vec<&'a str>,
    /// arXiv categories, one each.
    pub categories: Vec<&'a str>,
    /// Followed authors, one each.
    pub authors: Vec<&'a str>,
}

/// Checks typed preferences, or says what is wrong, naming the field.
///
/// Values are made one line, blank ones dropped, and repeats removed.
///
/// # Errors
/// A message naming the field and the value.
pub fn parse_preferences(input: &PreferenceInput<'_>) -> Result<Preferences, String> {
    let frequency = Frequency::parse(input.frequency.trim())
        .ok_or_else(|| format!("frequency: {:?} is not daily or weekly", input.frequency))?;
    let top_n: u32 = input
        .top_n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n <= MAX_TOP_N)
        .ok_or_else(|| {
            format!(
                "trending papers: {:?} is not a number from 0 to {MAX_TOP_N}",
                input.top_n
            )
        })?;
    let mut interests = Vec::new();
    for (kind, values) in [
        (InterestKind::Query, &input.queries),
        (InterestKind::Author, &input.authors),
        (InterestKind::Category, &input.categories),
    ] {
        let values: Vec<String> = values
            .iter()
            .map(|v| paperhub_domain::text::one_line(v))
            .filter(|v| !v.is_empty())
            .collect();
        if values.len() > MAX_INTERESTS {
            return Err(format!(
                "{}: at most {MAX_INTERESTS}, not {}",
                kind.as_str(),
                values.len()
            ));
        }
        for value in values {
            if value.chars().count() > MAX_INTEREST_LEN {
                return Err(format!(
                    "{}: {:?}… is longer than {MAX_INTEREST_LEN} characters",
                    kind.as_str(),
                    value.chars().take(40).collect::<String>()
                ));
            }
            if kind == InterestKind::Category && !paperhub_domain::is_category(&value) {
                return Err(format!(
                    "categories: {value:?} is not an arXiv category such as cs.LG"
                ));
            }
            interests.push(Interest { kind, value });
        }
    }
    interests.sort();
    interests.dedup();
    Ok(Preferences {
        frequency,
        top_n,
        interests,
    })
}

/// What the sign-up's mail needs: the hub's settings, its public address
/// and the key that signs the links.
pub struct MailContext<'a> {
    /// The hub's configuration (mail sender, templates' settings).
    pub config: &'a Config,
    /// The public base URL, without a trailing slash.
    pub hub_url: &'a str,
    /// Signs the confirm, manage and unsubscribe links.
    pub secrets: &'a Secrets,
}

/// Signs `email` up and queues its notice: a confirmation link, or, for an
/// address already active, a link to its preferences (the answer never
/// tells a visitor whether an address was subscribed). A `confirmed`
/// sign-up (an operator's) is made active at once and mailed nothing.
///
/// # Errors
/// Rendering the mail or the store fails; nothing is stored then.
pub fn subscribe(
    store: &dyn SubscriptionStore,
    mail: &MailContext<'_>,
    email: &str,
    preferences: Option<&Preferences>,
    confirmed: bool,
    now: DateTime<Utc>,
) -> Result<Subscribed> {
    let request = SubscribeRequest {
        email,
        preferences,
        confirmed,
    };
    let notice = |subscriber: &paperhub_store::Subscriber| {
        if confirmed {
            return Ok(None);
        }
        let kind = match subscriber.status {
            SubscriberStatus::Active => Notice::Manage,
            _ => Notice::Confirm,
        };
        notice_mail(
            mail.config,
            mail.hub_url,
            mail.secrets,
            subscriber,
            kind,
            now,
        )
        .map(Some)
        .map_err(Into::into)
    };
    Ok(store.subscribe(&request, now, &notice)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(frequency: &'a str, top_n: &'a str) -> PreferenceInput<'a> {
        PreferenceInput {
            frequency,
            top_n,
            ..PreferenceInput::default()
        }
    }

    #[test]
    fn preferences_are_checked_and_cleaned() {
        let mut i = input("weekly", " 5 ");
        i.queries = vec!["  diffusion\n models ", "", "diffusion models"];
        i.categories = vec!["cs.LG"];
        let p = parse_preferences(&i).unwrap();
        assert_eq!(p.frequency, Frequency::Weekly);
        assert_eq!(p.top_n, 5);
        assert_eq!(p.interests.len(), 2, "{:?}", p.interests);
        for (bad, field) in [
            (input("hourly", "5"), "frequency"),
            (input("daily", "51"), "trending"),
            (input("daily", "-1"), "trending"),
            (
                PreferenceInput {
                    categories: vec!["cs_LG"],
                    ..input("daily", "1")
                },
                "categories",
            ),
        ] {
            let e = parse_preferences(&bad).unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
        let long = "x".repeat(MAX_INTEREST_LEN + 1);
        let mut i = input("daily", "1");
        i.authors = vec![&long];
        assert!(parse_preferences(&i).unwrap_err().starts_with("author"));
        let many: Vec<String> = (0..=MAX_INTERESTS).map(|n| format!("q{n}")).collect();
        let mut i = input("daily", "1");
        i.queries = many.iter().map(String::as_str).collect();
        assert!(parse_preferences(&i).unwrap_err().starts_with("query"));
    }

    #[test]
    fn addresses_are_trimmed_and_checked() {
        assert_eq!(valid_address(" a@b.org ").as_deref(), Some("a@b.org"));
        assert_eq!(valid_address("not an address"), None);
        assert_eq!(valid_address(&format!("{}@b.org", "a".repeat(260))), None);
    }
}
