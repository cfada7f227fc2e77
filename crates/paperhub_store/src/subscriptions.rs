//! The subscriptions aggregate: digest subscribers and their interests.

use chrono::{DateTime, Utc};
use paperhub_domain::{Frequency, Interest, SubscriberId, UserId};
use serde::Serialize;

#[cfg(doc)]
use crate::StoreError;
use crate::{BoxError, NewMail, StoreResult};

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
    /// The account whose followed authors the digest includes, linked
    /// by someone holding both the manage link and that account.
    pub account: Option<UserId>,
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

/// What a subscriber receives: how often, how many trending papers, and
/// what they follow. Checked by the app before it reaches the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preferences {
    /// Daily or weekly.
    pub frequency: Frequency,
    /// Trending papers per digest, 0 to 50.
    pub top_n: u32,
    /// Saved searches, categories and authors, sorted and without repeats.
    pub interests: Vec<Interest>,
}

/// A sign-up, from the web form or the command line.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeRequest<'a> {
    /// The address, already checked.
    pub email: &'a str,
    /// Preferences to store, replacing any; `None` keeps what is there.
    pub preferences: Option<&'a Preferences>,
    /// Make the subscription active at once (an operator importing a list);
    /// otherwise it waits for the confirmation link.
    pub confirmed: bool,
}

/// What a sign-up did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The subscriber as stored afterwards.
    pub subscriber: Subscriber,
    /// A new address, rather than one already known.
    pub created: bool,
    /// The notice mail was queued (false: none was asked for, or the same
    /// notice is already queued).
    pub mail_queued: bool,
}

/// Renders the mail a sign-up sends (confirm, or manage for an address
/// already active) from the subscriber as stored, inside the sign-up's
/// transaction; `None` sends nothing. An error aborts the sign-up.
pub type NoticeFn<'a> = dyn Fn(&Subscriber) -> Result<Option<NewMail>, BoxError> + Sync + 'a;

/// The subscriptions' storage interface; see the module docs.
pub trait SubscriptionStore: Send + Sync {
    /// Signs an address up, in one transaction: adds it as pending (an
    /// unsubscribed or disabled address goes back to pending; a pending or
    /// active one stays as it is), stores the preferences if given,
    /// confirms it if asked, and queues the mail `notice` renders from the
    /// result. A crash leaves either all of it or none.
    ///
    /// # Errors
    /// [`StoreError::Aborted`] when `notice` fails; a storage error.
    /// Nothing is stored then.
    fn subscribe(
        &self,
        request: &SubscribeRequest<'_>,
        now: DateTime<Utc>,
        notice: &NoticeFn<'_>,
    ) -> StoreResult<Subscribed>;

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

    /// Makes a subscription active (confirming it); one that was not active
    /// starts with no delivery failures.
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

    /// Replaces a subscriber's preferences and makes the subscription
    /// active (saving from the link in a mail proves the address), in one
    /// transaction. Returns the subscriber, or none if it does not exist.
    ///
    /// # Errors
    /// A storage error; nothing is stored then.
    fn save_preferences(
        &self,
        id: SubscriberId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>>;

    /// A subscriber's interests, sorted.
    ///
    /// # Errors
    /// A storage error.
    fn interests(&self, id: SubscriberId) -> StoreResult<Vec<Interest>>;

    /// Links the digest to `account` (its followed authors join the
    /// digest), or unlinks it with `None`; false when the subscriber is
    /// gone.
    ///
    /// # Errors
    /// A storage error.
    fn link_account(&self, id: SubscriberId, account: Option<UserId>) -> StoreResult<bool>;

    /// The (oldest) subscriber linked to `account`, if any.
    ///
    /// # Errors
    /// A storage error.
    fn subscriber_of_account(&self, account: UserId) -> StoreResult<Option<Subscriber>>;

    /// Every active subscriber of `frequency` with its interests, by id.
    ///
    /// # Errors
    /// A storage error.
    fn active_subscribers(
        &self,
        frequency: Frequency,
    ) -> StoreResult<Vec<(Subscriber, Vec<Interest>)>>;
}
