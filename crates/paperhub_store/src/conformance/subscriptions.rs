//! Subscriptions: one row per address, atomic sign-ups, preferences.

use super::Harness;
use super::fixtures::{mail, now, subscribe};
use crate::{
    Frequency, Interest, InterestKind, NewSubscriber, Preferences, StoreError, SubscribeRequest,
    SubscriberStatus,
};

fn interest(kind: InterestKind, value: &str) -> Interest {
    Interest {
        kind,
        value: value.into(),
    }
}

/// An address signs up once, whatever its case; an active one stays
/// active, one that left goes back to pending.
pub fn subscriptions_subscribing_twice_is_one_row(h: &dyn Harness) {
    let s = h.store();
    let a = subscribe(s.as_ref(), "Ann@Example.org");
    let b = subscribe(h.second_node().as_ref(), "ann@example.org");
    assert_eq!(a.id, b.id);
    assert_eq!(b.status, SubscriberStatus::Pending);
    let c = s.confirm_subscriber(a.id, now()).unwrap().unwrap();
    assert_eq!(c.status, SubscriberStatus::Active);
    assert!(c.confirmed_at.is_some());
    assert_eq!(
        subscribe(s.as_ref(), "ann@example.org").status,
        SubscriberStatus::Active,
        "signing up again does not reset an active subscription"
    );
    assert!(s.unsubscribe(a.id, now()).unwrap());
    assert_eq!(
        s.subscriber(a.id).unwrap().unwrap().status,
        SubscriberStatus::Unsubscribed
    );
    assert_eq!(
        subscribe(s.as_ref(), "ann@example.org").status,
        SubscriberStatus::Pending
    );
    assert_eq!(
        s.subscriber_by_email("ANN@example.org")
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    let missing = crate::SubscriberId(a.id.0 + 1000);
    assert!(s.subscriber(missing).unwrap().is_none());
    assert!(s.confirm_subscriber(missing, now()).unwrap().is_none());
    assert!(!s.unsubscribe(missing, now()).unwrap());
}

/// The sign-up, its preferences and its notice mail are stored together
/// or not at all.
pub fn subscriptions_sign_up_and_mail_are_one_transaction(h: &dyn Harness) {
    let s = h.store();
    let prefs = Preferences {
        frequency: Frequency::Weekly,
        top_n: 3,
        interests: vec![interest(InterestKind::Category, "cs.LG")],
    };
    let request = SubscribeRequest {
        email: "d@example.org",
        preferences: Some(&prefs),
        confirmed: false,
    };
    let failed = s.subscribe(&request, now(), &|_| Err("template broke".into()));
    assert!(matches!(failed, Err(StoreError::Aborted(_))));
    assert!(s.subscriber_by_email("d@example.org").unwrap().is_none());
    assert_eq!(s.outbox_counts().unwrap().queued, 0);
    let done = s
        .subscribe(&request, now(), &|sub| {
            assert_eq!(
                sub.frequency,
                Frequency::Weekly,
                "the notice sees the stored row"
            );
            Ok(Some(mail(&format!("confirm:{}", sub.id), sub.id)))
        })
        .unwrap();
    assert!(done.created && done.mail_queued);
    assert_eq!(done.subscriber.status, SubscriberStatus::Pending);
    assert_eq!(done.subscriber.top_n, 3);
    assert_eq!(s.interests(done.subscriber.id).unwrap(), prefs.interests);
    assert_eq!(s.outbox_counts().unwrap().queued, 1);
    let counts = s.outbox_counts().unwrap();
    assert_eq!(
        (counts.pending_subscribers, counts.active_subscribers),
        (1, 0)
    );
    // The same notice again within its dedupe key: nothing more queued.
    let again = s
        .subscribe(&request, now(), &|sub| {
            Ok(Some(mail(&format!("confirm:{}", sub.id), sub.id)))
        })
        .unwrap();
    assert!(!again.created && !again.mail_queued);
    // An operator's confirmed sign-up is active at once.
    let confirmed = s
        .subscribe(
            &SubscribeRequest {
                confirmed: true,
                ..request
            },
            now(),
            &|_| Ok(None),
        )
        .unwrap();
    assert_eq!(confirmed.subscriber.status, SubscriberStatus::Active);
}

/// Saving preferences replaces them all and confirms the address.
pub fn subscriptions_preferences_replace_interests(h: &dyn Harness) {
    let s = h.store();
    let sub = subscribe(s.as_ref(), "c@example.org").id;
    let prefs = |top_n, interests| Preferences {
        frequency: Frequency::Weekly,
        top_n,
        interests,
    };
    let saved = s
        .save_preferences(
            sub,
            &prefs(
                5,
                vec![
                    interest(InterestKind::Query, "diffusion"),
                    interest(InterestKind::Category, "cs.LG"),
                ],
            ),
            now(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(saved.status, SubscriberStatus::Active);
    s.save_preferences(
        sub,
        &prefs(3, vec![interest(InterestKind::Author, "Ada Lovelace")]),
        now(),
    )
    .unwrap();
    let all = h
        .second_node()
        .active_subscribers(Frequency::Weekly)
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0.top_n, 3);
    assert_eq!(
        all[0].1,
        vec![interest(InterestKind::Author, "Ada Lovelace")]
    );
    assert!(s.active_subscribers(Frequency::Daily).unwrap().is_empty());
    let missing = crate::SubscriberId(sub.0 + 1000);
    assert!(
        s.save_preferences(missing, &prefs(1, vec![]), now())
            .unwrap()
            .is_none()
    );
}

/// Bulk adds are active at once and leave known addresses alone.
pub fn subscriptions_bulk_add_skips_known_addresses(h: &dyn Harness) {
    let s = h.store();
    let known = subscribe(s.as_ref(), "known@example.org");
    let new = |email: &str| NewSubscriber {
        email: email.into(),
        frequency: Frequency::Daily,
        top_n: 7,
        interests: vec![interest(InterestKind::Query, "graphs")],
    };
    let added = s
        .add_confirmed_subscribers(
            &[
                new("a@example.org"),
                new("KNOWN@example.org"),
                new("b@example.org"),
            ],
            now(),
        )
        .unwrap();
    assert_eq!(added, 2);
    assert_eq!(
        s.subscriber(known.id).unwrap().unwrap().status,
        SubscriberStatus::Pending
    );
    let active = s.active_subscribers(Frequency::Daily).unwrap();
    assert_eq!(active.len(), 2);
    assert!(active.iter().all(|(s, i)| s.top_n == 7 && i.len() == 1));
}
