//! Digest subscriptions as every layer sees them: who subscribes, how
//! often, and what they follow.
//!
//! The text forms (`as_str`, [`std::str::FromStr`]) are what the storage
//! backends write, so SQLite and PostgreSQL share them.

use std::str::FromStr;

use serde::Serialize;

/// A subscriber's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SubscriberId(pub i64);

impl std::fmt::Display for SubscriberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A text that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    /// What was parsed, e.g. `frequency`.
    pub what: &'static str,
    /// The text.
    pub value: String,
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberStatus {
    /// Signed up; the confirmation link was not followed yet.
    Pending,
    /// Confirmed; receives digests.
    Active,
    /// Unsubscribed.
    Unsubscribed,
    /// Disabled after repeated permanent delivery failures.
    Disabled,
}

impl SubscriberStatus {
    /// `pending`, `active`, `unsubscribed` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Active => "active",
            SubscriberStatus::Unsubscribed => "unsubscribed",
            SubscriberStatus::Disabled => "disabled",
        }
    }
}

impl FromStr for SubscriberStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(SubscriberStatus::Pending),
            "active" => Ok(SubscriberStatus::Active),
            "unsubscribed" => Ok(SubscriberStatus::Unsubscribed),
            "disabled" => Ok(SubscriberStatus::Disabled),
            _ => Err(UnknownValue {
                what: "subscriber status",
                value: s.to_owned(),
            }),
        }
    }
}

/// How often a subscriber gets a digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// After each announcement.
    #[default]
    Daily,
    /// Once a week.
    Weekly,
}

impl Frequency {
    /// `daily` or `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
        }
    }

    /// Parses `daily` or `weekly`.
    pub fn parse(s: &str) -> Option<Frequency> {
        s.parse().ok()
    }
}

impl FromStr for Frequency {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "daily" => Ok(Frequency::Daily),
            "weekly" => Ok(Frequency::Weekly),
            _ => Err(UnknownValue {
                what: "frequency",
                value: s.to_owned(),
            }),
        }
    }
}

/// What kind of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterestKind {
    /// A saved search, matched with hybrid search.
    Query,
    /// An arXiv category such as `cs.LG`.
    Category,
    /// A followed author, by name.
    Author,
}

impl InterestKind {
    /// `query`, `category` or `author`.
    pub fn as_str(self) -> &'static str {
        match self {
            InterestKind::Query => "query",
            InterestKind::Category => "category",
            InterestKind::Author => "author",
        }
    }
}

impl FromStr for InterestKind {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "query" => Ok(InterestKind::Query),
            "category" => Ok(InterestKind::Category),
            "author" => Ok(InterestKind::Author),
            _ => Err(UnknownValue {
                what: "interest kind",
                value: s.to_owned(),
            }),
        }
    }
}

/// One interest of a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Interest {
    /// Its kind.
    pub kind: InterestKind,
    /// The query, category or author name.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for s in [
            SubscriberStatus::Pending,
            SubscriberStatus::Active,
            SubscriberStatus::Unsubscribed,
            SubscriberStatus::Disabled,
        ] {
            assert_eq!(s.as_str().parse::<SubscriberStatus>(), Ok(s));
        }
        for f in [Frequency::Daily, Frequency::Weekly] {
            assert_eq!(f.as_str().parse::<Frequency>(), Ok(f));
        }
        for k in [
            InterestKind::Query,
            InterestKind::Category,
            InterestKind::Author,
        ] {
            assert_eq!(k.as_str().parse::<InterestKind>(), Ok(k));
        }
        assert!("Daily".parse::<Frequency>().is_err());
        assert!("".parse::<SubscriberStatus>().is_err());
    }
}
