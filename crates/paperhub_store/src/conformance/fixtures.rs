//! Papers, users and mails the cases share.

use chrono::{DateTime, NaiveDate, TimeZone, Timelike, Utc};
use paperhub_domain::{ArxivId, Author, Paper, SubscriberId, Version};

use crate::{NewMail, Store, SubscribeRequest, Subscriber};

/// Now, to the second: every backend stores at least that precision.
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.with_nanosecond(0).unwrap_or(t)
}

pub(crate) fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(crate) fn id(s: &str) -> ArxivId {
    s.parse().unwrap()
}

/// A paper with `version` versions, announced on 2025-03-18.
pub(crate) fn paper(id: &str, version: u32, title: &str) -> Paper {
    let mut p = Paper::new(id.parse().unwrap(), title.into(), "An abstract.".into());
    p.authors = vec![Author::from_display_name("Ada Lovelace")];
    p.categories = vec!["cs.CL".into(), "cs.AI".into()];
    p.versions = (1..=version)
        .map(|v| Version {
            version: v,
            date: Some(Utc.with_ymd_and_hms(2025, 1, v, 12, 0, 0).unwrap()),
            size: None,
        })
        .collect();
    p.announced = NaiveDate::from_ymd_opt(2025, 3, 18);
    p.finalize();
    p
}

/// Five papers over three announcement days, the last one 2025-11-20.
pub(crate) fn seed(store: &dyn Store) {
    let papers: Vec<Paper> = [
        ("2511.00001", "2025-11-19", "cs.LG"),
        ("2511.00002", "2025-11-19", "cs.CL cs.LG"),
        ("2511.00003", "2025-11-20", "cs.CV"),
        ("2511.00004", "2025-11-20", "cs.LG"),
        ("2511.00005", "2025-11-20", "math.CO"),
    ]
    .into_iter()
    .map(|(id, d, cats)| {
        let mut p = Paper::new(id.parse().unwrap(), format!("Paper {id}"), "Text.".into());
        p.authors = vec![Author::from_display_name("Ada Lovelace")];
        p.categories = cats.split(' ').map(str::to_owned).collect();
        p.announced = Some(day(d));
        p.finalize();
        p
    })
    .collect();
    store.upsert_papers(&papers, now()).unwrap();
}

/// Signs `email` up with no preferences and no mail.
pub(crate) fn subscribe(s: &dyn Store, email: &str) -> Subscriber {
    let request = SubscribeRequest {
        email,
        preferences: None,
        confirmed: false,
    };
    s.subscribe(&request, now(), &|_| Ok(None))
        .unwrap()
        .subscriber
}

/// A digest mail to `sub` under `key`.
pub(crate) fn mail(key: &str, sub: SubscriberId) -> NewMail {
    NewMail {
        dedupe_key: key.into(),
        subscriber: Some(sub),
        kind: "digest".into(),
        message_id: format!("{key}@test"),
        recipient: "a@example.org".into(),
        subject: "s".into(),
        message: b"Subject: s\r\n\r\nbody".to_vec(),
    }
}

/// An active subscriber with `n` queued mails.
pub(crate) fn outbox_of(s: &dyn Store, n: usize) -> SubscriberId {
    let sub = subscribe(s, "q@example.org").id;
    s.confirm_subscriber(sub, now()).unwrap();
    let mails: Vec<NewMail> = (0..n).map(|i| mail(&format!("k{i}"), sub)).collect();
    assert_eq!(s.enqueue_mails(&mails, now()).unwrap(), n as u64);
    sub
}
