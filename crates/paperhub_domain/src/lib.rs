//! Paperhub's domain model: arXiv ids, papers, authors and the rules that
//! relate them.
//!
//! This crate does no IO and depends on nothing else of ours. The importers in
//! `paperhub_arxiv` produce [`Paper`]s, the store crates keep them, and the app
//! crate wires the two together.

#![forbid(unsafe_code)]

pub mod account;
pub mod arxiv_id;
pub mod author;
pub mod bib;
pub mod code_link;
pub mod paper;
pub mod project_page;
pub mod rank;
pub mod subscription;
pub mod text;
pub mod withdrawal;

pub use account::{ApiTokenId, User, UserId};
pub use arxiv_id::{ArxivId, ArxivIdError, ArxivIdErrorKind};
pub use author::{Author, split_author_list};
pub use paper::{MergeOutcome, Paper, Version, is_category};
pub use rank::hot_rank;
pub use subscription::{
    Frequency, Interest, InterestKind, SubscriberId, SubscriberStatus, UnknownValue,
};
