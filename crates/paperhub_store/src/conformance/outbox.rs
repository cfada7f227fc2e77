//! The outbox: idempotent queueing, and claims no two senders share.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use chrono::Duration;

use super::Harness;
use super::fixtures::{mail, now, outbox_of, subscribe};
use crate::{OutboxId, Settled, SubscriberStatus};

/// Queueing twice under one key queues once; permanent failures disable
/// the address after the allowed count.
pub fn outbox_enqueue_is_idempotent_and_failures_disable(h: &dyn Harness) {
    let s = h.store();
    let now = now();
    let sub = subscribe(s.as_ref(), "b@example.org").id;
    s.confirm_subscriber(sub, now).unwrap();
    let batch = [
        mail("digest:daily:d1:1", sub),
        mail("digest:daily:d2:1", sub),
    ];
    assert_eq!(s.enqueue_mails(&batch, now).unwrap(), 2);
    assert_eq!(s.enqueue_mails(&batch, now).unwrap(), 0, "same keys");
    assert_eq!(s.outbox_keys("digest:daily:").unwrap().len(), 2);
    assert_eq!(s.outbox_keys("digest:weekly:").unwrap().len(), 0);
    assert_eq!(s.due_mails(now, 10).unwrap().len(), 2);
    assert_eq!(s.next_due().unwrap(), Some(now));
    let lease = now + Duration::minutes(5);
    let due = s.claim_due_mails("me", now, lease, 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].message, batch[0].message);
    assert_eq!(
        s.mark_retry(due[0].id, "me", "451", now + Duration::hours(1))
            .unwrap(),
        Settled::Recorded
    );
    assert_eq!(
        s.mark_failed(due[1].id, "me", "550", true, 2).unwrap(),
        Settled::Recorded
    );
    let later = now + Duration::hours(2);
    let retried = s.claim_due_mails("me", later, later, 10).unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(
        s.mark_failed(due[0].id, "me", "550", true, 2).unwrap(),
        Settled::Disabled
    );
    assert_eq!(
        s.subscriber(sub).unwrap().unwrap().status,
        SubscriberStatus::Disabled
    );
    let c = s.outbox_counts().unwrap();
    assert_eq!((c.queued, c.sent, c.failed), (0, 0, 2));
    let recent = s.outbox_recent(5).unwrap();
    assert_eq!(recent.len(), 2);
    assert!(recent.iter().all(|r| r.status == "failed"));
    assert!(s.next_due().unwrap().is_none());
}

/// No mail is queued for an address that left or was disabled, even by a
/// digest run that read its subscribers before.
pub fn outbox_no_mail_for_someone_who_left(h: &dyn Harness) {
    let s = h.store();
    let gone = subscribe(s.as_ref(), "e@example.org");
    s.unsubscribe(gone.id, now()).unwrap();
    let stays = subscribe(s.as_ref(), "f@example.org");
    let queued = s
        .enqueue_mails(
            &[mail("digest:gone", gone.id), mail("digest:stays", stays.id)],
            now(),
        )
        .unwrap();
    assert_eq!(queued, 1);
    assert_eq!(s.outbox_recent(5).unwrap().len(), 1);
}

/// One due mail and eight claimers: one wins. Then 200 mails and eight
/// claimers on two nodes: every mail is claimed and sent exactly once.
pub fn outbox_concurrent_claims_never_share_a_mail(h: &dyn Harness) {
    const N: usize = 200;
    let nodes = [h.store(), h.second_node()];
    let now = now();
    let lease = now + Duration::minutes(5);
    outbox_of(nodes[0].as_ref(), 1);
    let start = Arc::new(Barrier::new(8));
    let winners: usize = (0..8)
        .map(|i| {
            let s = Arc::clone(&nodes[i % 2]);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                s.claim_due_mails(&format!("c{i}"), now, lease, 5)
                    .unwrap()
                    .len()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .sum();
    assert_eq!(winners, 1);
    let sub = subscribe(nodes[0].as_ref(), "many@example.org").id;
    nodes[0].confirm_subscriber(sub, now).unwrap();
    let mails: Vec<_> = (0..N).map(|i| mail(&format!("m{i}"), sub)).collect();
    nodes[1].enqueue_mails(&mails, now).unwrap();
    let start = Arc::new(Barrier::new(8));
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let s = Arc::clone(&nodes[i % 2]);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let owner = format!("sender{i}");
                let mut mine = Vec::new();
                start.wait();
                loop {
                    let claimed = s.claim_due_mails(&owner, now, lease, 3).unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    for m in claimed {
                        assert_eq!(s.mark_sent(m.id, &owner, now).unwrap(), Settled::Recorded);
                        mine.push(m.id);
                    }
                }
            })
        })
        .collect();
    let claims: Vec<Vec<OutboxId>> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    let all: BTreeSet<OutboxId> = claims.iter().flatten().copied().collect();
    let total: usize = claims.iter().map(Vec::len).sum();
    assert_eq!(all.len(), N, "every mail once");
    assert_eq!(total, N, "no mail twice");
    assert_eq!(nodes[0].outbox_counts().unwrap().sent, N as u64);
}

/// A crashed sender's lease runs out; another sender takes the mail, and
/// the first can no longer record anything for it.
pub fn outbox_expired_lease_is_taken_over(h: &dyn Harness) {
    let s = h.store();
    let other = h.second_node();
    let now = now();
    let sub = outbox_of(s.as_ref(), 1);
    let minute = Duration::minutes(1);
    let held = s.claim_due_mails("crashed", now, now + minute, 10).unwrap();
    assert_eq!(held.len(), 1);
    assert!(
        other
            .claim_due_mails("other", now, now + minute, 10)
            .unwrap()
            .is_empty(),
        "a held lease is not claimable"
    );
    assert_eq!(s.next_due().unwrap(), Some(now + minute));
    let later = now + minute + Duration::seconds(1);
    let taken = other
        .claim_due_mails("other", later, later + minute, 10)
        .unwrap();
    assert_eq!(taken.iter().map(|m| m.id).collect::<Vec<_>>(), [held[0].id]);
    for settle in [
        s.mark_sent(held[0].id, "crashed", later).unwrap(),
        s.mark_retry(held[0].id, "crashed", "451", later).unwrap(),
        s.mark_failed(held[0].id, "crashed", "550", true, 1)
            .unwrap(),
    ] {
        assert_eq!(settle, Settled::LeaseLost);
    }
    assert_eq!(
        s.subscriber(sub).unwrap().unwrap().hard_failures,
        0,
        "a lost lease changes nothing"
    );
    assert_eq!(
        other.mark_sent(held[0].id, "other", later).unwrap(),
        Settled::Recorded
    );
    let c = s.outbox_counts().unwrap();
    assert_eq!((c.queued, c.sent), (0, 1));
    let recent = s.outbox_recent(1).unwrap();
    assert_eq!(recent[0].attempts, 1);
    assert!(recent[0].sent_at.is_some());
}

/// Unsubscribing cancels queued mail, even mail a sender holds.
pub fn outbox_unsubscribing_cancels_a_claimed_mail(h: &dyn Harness) {
    let s = h.store();
    let now = now();
    let sub = outbox_of(s.as_ref(), 1);
    let held = s
        .claim_due_mails("me", now, now + Duration::minutes(1), 1)
        .unwrap();
    assert!(h.second_node().unsubscribe(sub, now).unwrap());
    assert_eq!(
        s.mark_sent(held[0].id, "me", now).unwrap(),
        Settled::LeaseLost
    );
    assert_eq!(s.outbox_recent(1).unwrap()[0].status, "failed");
}
