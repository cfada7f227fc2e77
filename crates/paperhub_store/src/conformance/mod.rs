//! One test suite for every storage backend: what any [`Store`] must do,
//! including under concurrent use from several handles ("nodes") on one
//! database.
//!
//! A backend's `tests/conformance.rs` provides a [`Harness`] and invokes
//! [`conformance_tests!`](crate::conformance_tests), which expands to one
//! `#[test]` per case. The cases use only the traits, so a rule proven here
//! holds for SQLite and PostgreSQL alike. Behind the `conformance` feature,
//! so production builds do not carry it.

#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed step should stop the case with its message"
)]

mod accounts;
mod authors;
mod catalog;
mod community;
mod discussions;
mod fixtures;
mod jobs;
mod library;
mod outbox;
mod subscriptions;

use std::sync::Arc;

use crate::Store;

pub use accounts::*;
pub use authors::*;
pub use catalog::*;
pub use community::*;
pub use discussions::*;
pub use jobs::*;
pub use library::*;
pub use outbox::*;
pub use subscriptions::*;

/// Every node of a shared database signs with the same key; a store for
/// one node keeps its key elsewhere.
pub fn store_nodes_share_one_signing_key(h: &dyn Harness) {
    let first = h.store().shared_signing_key(&[1; 32]).unwrap();
    let second = h.second_node().shared_signing_key(&[2; 32]).unwrap();
    assert_eq!(first, second);
    if let Some(key) = first {
        assert_eq!(key, vec![1; 32], "the first key stored wins");
    }
}

/// A fresh, empty database for one case.
pub trait Harness {
    /// The store every case uses.
    fn store(&self) -> Arc<dyn Store>;
    /// Another handle on the same database with its own connections, as a
    /// second hub node (or a CLI beside `serve`) would have.
    fn second_node(&self) -> Arc<dyn Store>;
}

/// Expands to one `#[test]` per conformance case, each on a fresh harness
/// from `$harness` (an expression, evaluated in each test; it may
/// `return` to skip).
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@cases $harness;
            catalog_round_trips_every_field,
            catalog_upserts_merge,
            catalog_stats_and_import_runs,
            catalog_harvest_state_is_saved_with_its_page,
            catalog_change_feed_skips_nothing,
            catalog_changed_paper_days_lists_days_in_change_order,
            catalog_change_feed_under_concurrent_writers,
            accounts_names_and_emails_are_unique_ignoring_case,
            accounts_first_sign_up_is_the_only_curator,
            accounts_concurrent_first_sign_ups_make_one_curator,
            accounts_sessions_expire_and_end,
            accounts_password_change_is_compare_and_set,
            accounts_api_tokens_expire_and_are_revocable,
            accounts_feed_links_rotate,
            accounts_set_admin,
            authors_index_follows_every_write,
            authors_index_is_complete_when_an_import_run_finishes,
            authors_follows_are_unique_and_bounded,
            authors_digest_links_to_an_account,
            community_votes_are_idempotent_and_counted,
            community_vote_races_keep_count_equal_to_rows,
            community_listing_pages_both_parts_as_one_sequence,
            community_listing_splits_and_filters,
            community_submissions_check_catalog_and_quota,
            community_concurrent_submissions_respect_the_quota,
            community_version_moves_with_every_change,
            discussions_thread_one_level_deep,
            discussions_edit_delete_and_hide,
            discussions_submitter_opts_in_to_mail,
            jobs_one_node_wins_a_run,
            library_saves_notes_and_limits,
            library_collections_are_owned_unique_and_bounded,
            library_not_interested_marks,
            library_recent_saves_span_collections,
            library_bulk_save_and_catalog_lookups,
            jobs_an_expired_lease_is_taken_over,
            store_nodes_share_one_signing_key,
            subscriptions_subscribing_twice_is_one_row,
            subscriptions_sign_up_and_mail_are_one_transaction,
            subscriptions_preferences_replace_interests,
            subscriptions_bulk_add_skips_known_addresses,
            outbox_enqueue_is_idempotent_and_failures_disable,
            outbox_no_mail_for_someone_who_left,
            outbox_concurrent_claims_never_share_a_mail,
            outbox_expired_lease_is_taken_over,
            outbox_unsubscribing_cancels_a_claimed_mail,
        );
    };
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let harness = $harness;
                $crate::conformance::$case(&harness);
            }
        )*
    };
}
