//! Comment notifications: a submitter confirms their address from a mail,
//! then gets one mail per paper per hour through the outbox and a real
//! SMTP server on loopback, and one click in the mail turns them off.

use axum::http::StatusCode;

use crate::mail::{Sink, header};
use crate::web::Hub;

const PAPER: &str = "2503.15667";

#[tokio::test]
async fn a_submitter_hears_of_comments_and_stops_them_with_one_click() {
    let hub = Hub::new();
    let store = || hub.dir.store();
    let mut ada = hub.client();
    ada.get("/signup").await;
    let r = ada
        .post(
            "/signup",
            &[
                ("username", "ada"),
                ("email", "ada@example.org"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    ada.get("/submit").await;
    let r = ada.post("/submit", &[("paper", PAPER)]).await;
    assert!(r.body.contains("Thanks!"), "{}", r.body);
    // Ticking the box mails a link to the account's address first.
    ada.get("/settings").await;
    let r = ada
        .post("/settings/notifications", &[("comments", "on")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("We sent a link to ada@example.org"),
        "{}",
        r.body
    );
    let ada_id = store().user_by_name("ada").unwrap().unwrap().id;
    assert!(!store().comment_notifications(ada_id).unwrap());
    let sink = Sink::start(&hub.dir.file("sink"), &[]);
    let send = || {
        let out = hub
            .dir
            .cmd()
            .envs(sink.env())
            .args(["digest", "send"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    send();
    let confirm = &sink.wait_for(1)[0];
    assert_eq!(header(confirm, "To"), "ada@example.org");
    let text = confirm["text"].as_str().unwrap();
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/email/comments/on?t="))
        .unwrap_or_else(|| panic!("{text}"));
    let on = format!("/email/{}", url.split_once("/email/").unwrap().1);
    // GET only shows the button; its POST turns them on.
    let mut reader = hub.client();
    assert!(reader.get(&on).await.body.contains("id=\"comments-on\""));
    assert!(!store().comment_notifications(ada_id).unwrap());
    let token = on.split_once("t=").unwrap().1.to_owned();
    let r = reader.post("/email/comments/on", &[("t", &token)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(store().comment_notifications(ada_id).unwrap());
    assert!(
        ada.get("/settings")
            .await
            .body
            .contains("id=\"notify-comments\" checked")
    );
    let r = reader
        .post("/email/comments/on", &[("t", "1.9999999999.forged")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // An account without an address cannot turn them on.
    let mut bob = hub.client();
    bob.sign_up("bob").await;
    let r = bob
        .post("/settings/notifications", &[("comments", "on")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Two comments within the hour make one mail; the submitter's own none.
    let page = format!("/papers/{PAPER}");
    bob.get(&page).await;
    for body in [
        "Does the *back-of-head* module need paired data?",
        "Also: code?",
    ] {
        let r = bob
            .post(&format!("{page}/comments"), &[("body", body)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    ada.get(&page).await;
    ada.post(&format!("{page}/comments"), &[("body", "Yes.")])
        .await;
    let comments: Vec<_> = store()
        .outbox_recent(10)
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "comment")
        .collect();
    assert_eq!(comments.len(), 1, "{comments:?}");

    // Delivered through a real SMTP server.
    send();
    let mails = sink.wait_for(2);
    let mail = &mails[1];
    assert_eq!(header(mail, "To"), "ada@example.org");
    assert!(
        header(mail, "Subject").starts_with("New comment on DiffPortrait360"),
        "{}",
        header(mail, "Subject")
    );
    assert_eq!(
        header(mail, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("bob wrote on"), "{text}");
    assert!(text.contains("back-of-head"), "{text}");
    let html = mail["html"].as_str().unwrap();
    assert!(
        !html.contains("<em>"),
        "markdown is quoted as text, not rendered"
    );

    // One click, as a mail client sends it: no cookie, no CSRF token.
    let off = header(mail, "List-Unsubscribe")
        .trim_matches(['<', '>'])
        .to_owned();
    let path = format!("/email/{}", off.split_once("/email/").unwrap().1);
    assert!(path.starts_with("/email/comments/off?t="), "{path}");
    let mut mail_client = hub.client();
    assert!(
        mail_client
            .get(&path)
            .await
            .body
            .contains("Stop these mails")
    );
    let r = mail_client
        .post_raw(&path, &[("List-Unsubscribe", "One-Click")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("no more mails"));
    assert!(!store().comment_notifications(ada_id).unwrap());
    // A forged or other-purpose token does nothing.
    let r = mail_client
        .post_raw("/email/comments/off?t=1.9999999999.forged", &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
