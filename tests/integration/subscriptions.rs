//! Digest subscriptions through the real router: the subscribe box, double
//! opt-in, the preferences page, and one-click unsubscribe with no cookie;
//! tampered, cross-purpose and expired links refused; the same answer for
//! new and existing addresses; the subscribe limit.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use paperhub::config::Config;
use paperhub::secrets::Secrets;
use paperhub_store::{InterestKind, SubscriberStatus};

use crate::mail::link;
use crate::web::{Hub, normalise};

/// The queued mails' (kind, text), quoted-printable undone as far as links need.
fn queued(store: &paperhub::app::store::SharedStore) -> Vec<(String, String)> {
    let recent = store.outbox_recent(100).unwrap();
    let due = store
        .due_mails(Utc::now() + Duration::days(1), 100)
        .unwrap();
    due.iter()
        .map(|m| {
            let kind = recent.iter().find(|r| r.id == m.id).unwrap().kind.clone();
            let text = String::from_utf8(m.message.clone())
                .unwrap()
                .replace("=\r\n", "")
                .replace("=3D", "=");
            (kind, text)
        })
        .collect()
}

fn path_of(url: &str) -> String {
    url.trim_start_matches("http://127.0.0.1:8080").to_owned()
}

#[tokio::test]
async fn subscribe_confirm_manage_and_unsubscribe_with_one_click() {
    let hub = Hub::new();
    let store = || hub.dir.store();
    let mut c = hub.client();
    for page in [
        "/",
        "/search?q=point+clouds",
        "/papers/2503.15666",
        "/login",
    ] {
        let r = c.get(page).await;
        assert!(
            r.body
                .contains(r#"<form class="subscribe" method="post" action="/subscribe">"#),
            "no subscribe box on {page}"
        );
    }

    let mut member = hub.client();
    member.sign_up("digest-reader").await;
    let r = member.get("/settings").await;
    assert!(
        r.body
            .contains(r#"<form class="inline digest" method="post" action="/subscribe">"#)
    );

    // A typo is a 400 that says so, not a 500, and stores nothing.
    let r = c.post("/subscribe", &[("email", "not an address")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("is not an email address"), "{}", r.body);
    assert!(queued(&store()).is_empty());

    let new = c
        .post("/subscribe", &[("email", "Reader@Example.org")])
        .await;
    assert_eq!(new.status, StatusCode::OK);
    assert!(new.body.contains("Check your inbox"));
    let mails = queued(&store());
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "confirm");
    let confirm = path_of(&link(&mails[0].1, "http://127.0.0.1:8080/email/confirm?t="));
    let sub = store()
        .subscriber_by_email("reader@example.org")
        .unwrap()
        .unwrap();
    assert_eq!(
        sub.status,
        SubscriberStatus::Pending,
        "nothing before confirming"
    );

    // Tampered links are refused.
    let tampered = format!("{}0", confirm.trim_end_matches(|c: char| c != '.'));
    let r = c.get(&tampered).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("the link is not valid"), "{}", r.body);
    let r = c.get("/email/confirm?t=").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        store().subscriber(sub.id).unwrap().unwrap().status,
        SubscriberStatus::Pending
    );

    // Opening the link (as mail scanners do, with GET and HEAD) changes
    // nothing; the page's button confirms. See: #13.
    let r = c.get(&confirm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Confirm my subscription"), "{}", r.body);
    let head = c
        .send(
            axum::http::Request::head(confirm.as_str())
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        store().subscriber(sub.id).unwrap().unwrap().status,
        SubscriberStatus::Pending,
        "GET and HEAD do not confirm"
    );
    let token = confirm.split("t=").nth(1).unwrap().to_owned();
    let r = c.post("/email/confirm", &[("t", &token)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("You are subscribed"));
    assert_eq!(
        store().subscriber(sub.id).unwrap().unwrap().status,
        SubscriberStatus::Active
    );

    // The same answer for an address that is already subscribed; it gets a
    // manage link instead of a confirmation.
    let again = c
        .post("/subscribe", &[("email", "reader@example.org")])
        .await;
    assert_eq!(normalise(&again.body), normalise(&new.body));
    let mails = queued(&store());
    let (_, manage_mail) = mails.iter().find(|(k, _)| k == "manage").unwrap();
    let manage = path_of(&link(manage_mail, "http://127.0.0.1:8080/email/manage?t="));
    let r = c.get(&manage).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(r#"name="queries""#));

    // A bad category names the field and changes nothing.
    let t = manage.split("t=").nth(1).unwrap().to_owned();
    let fields = |categories: &'static str| {
        vec![
            ("t", t.clone()),
            ("frequency", "weekly".to_owned()),
            ("top_n", "5".to_owned()),
            ("queries", "scene flow\npoint clouds".to_owned()),
            ("categories", categories.to_owned()),
            ("authors", "Kyle Vedder".to_owned()),
        ]
    };
    let bad = fields("cs.RO cs_RO");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post("/email/manage", &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("categories: &#34;cs_RO&#34;"), "{}", r.body);
    assert!(r.body.contains("cs.RO cs_RO"), "what was typed is kept");
    assert!(store().interests(sub.id).unwrap().is_empty());
    let good = fields("cs.RO");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post("/email/manage", &good).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Saved."));
    let interests = store().interests(sub.id).unwrap();
    assert_eq!(interests.len(), 4);
    assert!(
        interests
            .iter()
            .any(|i| i.kind == InterestKind::Author && i.value == "Kyle Vedder")
    );
    let saved = store().subscriber(sub.id).unwrap().unwrap();
    assert_eq!((saved.frequency.as_str(), saved.top_n), ("weekly", 5));

    // Links made for one purpose do not work for another; expired ones say so.
    let secrets = Secrets::load_or_create(&hub.dir.data_dir()).unwrap();
    let confirm_token = confirm.split("t=").nth(1).unwrap();
    let r = c
        .post_raw(&format!("/email/unsubscribe?t={confirm_token}"), &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let expired = secrets
        .issue_token(
            "digest-unsubscribe",
            &sub.id.to_string(),
            Utc::now() - Duration::seconds(1),
        )
        .unwrap();
    let r = c
        .post_raw(&format!("/email/unsubscribe?t={expired}"), &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("expired"), "{}", r.body);
    assert_eq!(
        store().subscriber(sub.id).unwrap().unwrap().status,
        SubscriberStatus::Active
    );

    // The footer link shows a button; GET alone changes nothing.
    let unsubscribe = path_of(&link(
        manage_mail,
        "http://127.0.0.1:8080/email/unsubscribe?t=",
    ));
    let r = c.get(&unsubscribe).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("<button type=\"submit\">Unsubscribe</button>")
    );
    assert_eq!(
        store().subscriber(sub.id).unwrap().unwrap().status,
        SubscriberStatus::Active
    );

    // RFC 8058 one-click: a bare POST from a mail client, no cookie, no CSRF.
    let mut mail_client = hub.client();
    let r = mail_client
        .post_raw(&unsubscribe, &[("List-Unsubscribe", "One-Click")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("You are unsubscribed"));
    assert_eq!(
        store().subscriber(sub.id).unwrap().unwrap().status,
        SubscriberStatus::Unsubscribed
    );
    assert!(
        queued(&store()).is_empty(),
        "mail still queued for the address is dropped"
    );
}

#[tokio::test]
async fn the_subscribe_box_is_rate_limited_per_client() {
    let mut config = Config::default();
    config.mail.subscribe_per_ip_per_hour = 3;
    let hub = Hub::with_config(config);
    let mut c = hub.client();
    c.get("/").await;
    for i in 0..3 {
        let r = c
            .post("/subscribe", &[("email", &format!("r{i}@example.org"))])
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = c.post("/subscribe", &[("email", "r9@example.org")]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").parse::<u64>().unwrap() > 0);
}
