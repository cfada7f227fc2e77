//! The subscriptions aggregate: digest subscribers and their interests.

use chrono::{DateTime, Utc};
use paperhub_domain::{Frequency, Interest, SubscriberId};
use serde::Serialize;

use crate::StoreResult;

/// A digest subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    /// Its id.
    pub id: SubscriberId,
    /// The address (never logged).
    pub email: String,
    /// Where the subscription stands.
    pub status: paperhub_domain::SubscriberStatus,
    /// Daily or weekly.
    pub frequency: Frequency,
    /// Trending papers per digest; 0 for personal matches only.
    pub top_n: u32,
    /// Permanent delivery failures since the last delivered mail.
    pub hard_failures: u32,
    /// When it signed up.
    pub created_at: DateTime<Utc>,
    /// When it confirmed.
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// A subscriber to add in bulk (an address list moved from another tool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscriber {
    /// The address.
    pub email: String,
    /// Daily or weekly.
    pub frequency: Frequency,
    /// Trending papers per digest.
    pub top_n: u32,
    /// Its interests.
    pub interests: Vec<Interest>,
}

/// The subscriptions' storage interface; see the module docs.
pub trait SubscriptionStore: Send + Sync {
    /// Signs `email` up as pending, or returns its existing row unchanged
    /// (an unsubscribed or disabled address goes back to pending).
    ///
    /// # Errors
    /// A storage error.
    fn subscribe(&self, email: &str, now: DateTime<Utc>) -> StoreResult<Subscriber>;

    /// Adds already-confirmed subscribers with their preferences in one
    /// transaction; addresses already present are left as they are.
    /// Returns how many were added.
    ///
    /// # Errors
    /// A storage error; nothing is added then.
    fn add_confirmed_subscribers(
        &self,
        subscribers: &[NewSubscriber],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// The subscriber with this id.
    ///
    /// # Errors
    /// A storage error.
    fn subscriber(&self, id: SubscriberId) -> StoreResult<Option<Subscriber>>;

    /// The subscriber with this address (case-insensitive).
    ///
    /// # Errors
    /// A storage error.
    fn subscriber_by_email(&self, email: &str) -> StoreResult<Option<Subscriber>>;

    /// Makes a subscription active (confirming it) and clears its failures.
    /// Returns the updated subscriber, or none if it does not exist.
    ///
    /// # Errors
    /// A storage error.
    fn confirm_subscriber(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>>;

    /// Unsubscribes; true if the subscriber exists.
    ///
    /// # Errors
    /// A storage error.
    fn unsubscribe(&self, id: SubscriberId, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Replaces frequency, trending count and interests in one transaction.
    ///
    /// # Errors
    /// A storage error.
    fn set_preferences(
        &self,
        id: SubscriberId,
        frequency: Frequency,
        top_n: u32,
        interests: &[Interest],
    ) -> StoreResult<()>;

    /// A subscriber's interests, sorted.
    ///
    /// # Errors
    /// A storage error.
    fn interests(&self, id: SubscriberId) -> StoreResult<Vec<Interest>>;

    /// Every active subscriber of `frequency` with its interests, by id.
    ///
    /// # Errors
    /// A storage error.
    fn active_subscribers(
        &self,
        frequency: Frequency,
    ) -> StoreResult<Vec<(Subscriber, Vec<Interest>)>>;
}
