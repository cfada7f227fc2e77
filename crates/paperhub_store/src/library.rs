//! The library aggregate: a user's collections of saved papers, each saved
//! paper with a note and a read mark, and the papers a user marked "not
//! interested".
//!
//! Every user has a default collection, the reading list, made on the
//! first save that names no collection (in that save's transaction, so two
//! first saves make one). Collections are private unless made public; a
//! collection's slug is unique per user and names it in URLs. A paper the
//! catalog lacks cannot be saved; limits (collections per user, papers per
//! collection) are checked in the transaction that would pass them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paperhub_domain::{ArxivId, UserId};
use serde::Serialize;

use crate::StoreResult;

/// A collection's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CollectionId(pub i64);

impl std::fmt::Display for CollectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The default collection's slug and name.
pub const READING_LIST: (&str, &str) = ("reading-list", "Reading list");

/// A collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// Its id.
    pub id: CollectionId,
    /// Its owner.
    pub owner: UserId,
    /// Unique per owner; names it in URLs.
    pub slug: String,
    /// Shown name.
    pub name: String,
    /// Anyone may see it (and its feed).
    pub public: bool,
    /// Papers in it.
    pub papers: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A saved paper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedPaper {
    /// The paper, as its arXiv id without version.
    pub paper: String,
    /// The owner's note; empty when none.
    pub note: String,
    /// Marked read.
    pub read: bool,
    /// When it was saved here.
    pub added_at: DateTime<Utc>,
}

/// What saving a paper did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Saved into the collection.
    Added(CollectionId),
    /// It was there already; nothing changed.
    AlreadyThere(CollectionId),
    /// The paper is not in the catalog.
    NoSuchPaper,
    /// The collection is not the user's.
    NoSuchCollection,
    /// The collection holds its limit of papers.
    Full,
}

/// What saving many papers at once did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkSaved {
    /// Papers newly saved.
    pub added: u32,
    /// Papers that were there already (their notes kept, or filled when
    /// they had none).
    pub already: u32,
    /// Papers not saved because the collection reached its limit.
    pub over_limit: u32,
    /// Papers not in the catalog.
    pub unknown: u32,
}

/// Bounds that keep one account's library finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryLimits {
    /// Collections per user.
    pub collections: u32,
    /// Papers per collection.
    pub papers: u32,
}

/// A change to a saved paper; `None` leaves a field alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemChange<'a> {
    /// The new note (empty clears it).
    pub note: Option<&'a str>,
    /// The new read mark.
    pub read: Option<bool>,
}

/// A change to a collection; `None` leaves a field alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct CollectionChange<'a> {
    /// The new name.
    pub name: Option<&'a str>,
    /// The new slug.
    pub slug: Option<&'a str>,
    /// Public or private.
    pub public: Option<bool>,
}

/// The library's storage interface; see the module docs.
pub trait LibraryStore: Send + Sync {
    /// The user's collections, the reading list first, then by name.
    ///
    /// # Errors
    /// A storage error.
    fn collections(&self, user: UserId) -> StoreResult<Vec<Collection>>;

    /// The user's collection with this slug.
    ///
    /// # Errors
    /// A storage error.
    fn collection(&self, user: UserId, slug: &str) -> StoreResult<Option<Collection>>;

    /// Makes a collection; [`crate::StoreError::Conflict`] on `"slug"`
    /// when the user has one of that slug, on `"collections"` at the limit.
    ///
    /// # Errors
    /// A storage error, or a conflict.
    fn create_collection(
        &self,
        user: UserId,
        slug: &str,
        name: &str,
        public: bool,
        limits: LibraryLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<Collection>;

    /// Renames, re-slugs or publishes the user's collection; false when it
    /// is not theirs; a conflict on `"slug"` when the new slug is taken.
    ///
    /// # Errors
    /// A storage error, or a conflict.
    fn change_collection(
        &self,
        user: UserId,
        id: CollectionId,
        change: &CollectionChange<'_>,
    ) -> StoreResult<bool>;

    /// Deletes the user's collection and what it holds; false when it is
    /// not theirs.
    ///
    /// # Errors
    /// A storage error.
    fn delete_collection(&self, user: UserId, id: CollectionId) -> StoreResult<bool>;

    /// Saves a catalog paper into the user's collection, or into the
    /// reading list (made if need be) when `collection` is `None`.
    ///
    /// # Errors
    /// A storage error.
    fn save_paper(
        &self,
        user: UserId,
        collection: Option<CollectionId>,
        paper: &ArxivId,
        limits: LibraryLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<Saved>;

    /// Saves many catalog papers, each with an optional note, into the
    /// user's collection (the reading list when `None`) in one
    /// transaction: what a library import does. A note fills an empty
    /// note and never overwrites one.
    ///
    /// # Errors
    /// A storage error, or [`crate::StoreError::NotFound`] when the
    /// collection is not the user's.
    fn save_papers(
        &self,
        user: UserId,
        collection: Option<CollectionId>,
        papers: &[(ArxivId, Option<String>)],
        limits: LibraryLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<(CollectionId, BulkSaved)>;

    /// Takes a paper out of the user's collection; false when it was not
    /// there.
    ///
    /// # Errors
    /// A storage error.
    fn remove_paper(
        &self,
        user: UserId,
        collection: CollectionId,
        paper: &ArxivId,
    ) -> StoreResult<bool>;

    /// Changes a saved paper's note or read mark; false when it is not in
    /// the user's collection.
    ///
    /// # Errors
    /// A storage error.
    fn change_saved(
        &self,
        user: UserId,
        collection: CollectionId,
        paper: &ArxivId,
        change: &ItemChange<'_>,
    ) -> StoreResult<bool>;

    /// A collection's papers, newest saved first, `limit` from `offset`,
    /// and how many it holds.
    ///
    /// # Errors
    /// A storage error.
    fn saved_papers(
        &self,
        collection: CollectionId,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<SavedPaper>, u64)>;

    /// Which of `papers` the user saved, each with the collections holding
    /// it (for the "saved" state of buttons).
    ///
    /// # Errors
    /// A storage error.
    fn saved_in(
        &self,
        user: UserId,
        papers: &[ArxivId],
    ) -> StoreResult<Vec<(String, Vec<CollectionId>)>>;

    /// The papers the user saved in any collection, each once, the most
    /// recently saved first, at most `limit` (what recommendations learn
    /// from).
    ///
    /// # Errors
    /// A storage error.
    fn recent_saves(&self, user: UserId, limit: u32) -> StoreResult<Vec<String>> {
        Ok(self
            .recent_saves_of(&[user], limit)?
            .remove(&user)
            .unwrap_or_default())
    }

    /// [`LibraryStore::recent_saves`] of many users in one read (a digest
    /// run asks for every linked subscriber): users with saves only. Each
    /// backend writes this one; the single-user form calls it.
    ///
    /// # Errors
    /// A storage error.
    fn recent_saves_of(
        &self,
        users: &[UserId],
        limit: u32,
    ) -> StoreResult<BTreeMap<UserId, Vec<String>>>;

    /// Marks a paper "not interested" for the user, or takes the mark
    /// back; true when that changed something.
    ///
    /// # Errors
    /// A storage error.
    fn set_not_interested(
        &self,
        user: UserId,
        paper: &ArxivId,
        on: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The papers the user marked "not interested", newest mark first, at
    /// most `limit`.
    ///
    /// # Errors
    /// A storage error.
    fn not_interested(&self, user: UserId, limit: u32) -> StoreResult<Vec<String>> {
        Ok(self
            .not_interested_of(&[user], limit)?
            .remove(&user)
            .unwrap_or_default())
    }

    /// [`LibraryStore::not_interested`] of many users in one read: users
    /// with marks only. Each backend writes this one; the single-user form
    /// calls it.
    ///
    /// # Errors
    /// A storage error.
    fn not_interested_of(
        &self,
        users: &[UserId],
        limit: u32,
    ) -> StoreResult<BTreeMap<UserId, Vec<String>>>;

    /// Forgets every "not interested" mark of the user; how many there were.
    ///
    /// # Errors
    /// A storage error.
    fn reset_not_interested(&self, user: UserId) -> StoreResult<u64>;
}
