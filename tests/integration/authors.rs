//! Author pages, follows, and followed authors in the digest, through the
//! real router on a real data directory.

use axum::http::StatusCode;
use chrono::Utc;
use paperhub::digest::render::{MANAGE, link_token};
use paperhub::secrets::Secrets;

use crate::web::Hub;

/// `DiffPortrait360` (2503.15667), announced on the fixture's last day, by
/// Yuming Gu and others.
const PAPER: &str = "2503.15667";

#[tokio::test]
async fn author_pages_list_papers_and_followers_get_them_in_the_digest() {
    let hub = Hub::new();
    let store = || hub.dir.store();
    let mut c = hub.client();

    // Every author's name on the paper page links to their page.
    let page = c.get(&format!("/papers/{PAPER}")).await.body;
    assert!(
        page.contains("<a href=\"/authors/Yuming%20Gu\">Yuming Gu</a>"),
        "{page}"
    );
    let author = c.get("/authors/Yuming%20Gu").await;
    assert_eq!(author.status, StatusCode::OK);
    assert!(author.body.contains("<h1>Yuming Gu</h1>"));
    assert!(author.body.contains(&format!("/papers/{PAPER}\"")));
    // Any spelling that differs in case, spaces or dots is the same author.
    let other = c.get("/authors/YUMING%20%20gu.").await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(other.body.contains("<h1>Yuming Gu</h1>"));
    for missing in [
        "/authors/Nobody%20Atall".to_owned(),
        "/authors/%2E%2E".to_owned(),
        format!("/authors/{}", "a".repeat(300)),
        "/authors/%F0%9F%98%80".to_owned(),
    ] {
        assert_eq!(
            c.get(&missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    assert!(author.body.contains("Log in</a> to follow"));
    // The API has the same list.
    let api = c.get("/api/v1/authors/yuming%20gu?limit=1").await.json();
    assert_eq!(api["meta"]["author"], "Yuming Gu", "{api}");
    assert_eq!(api["papers"][0]["id"], PAPER);
    assert_eq!(api["meta"]["total"], 1);
    assert!(api["meta"]["next_page"].is_null());
    let r = c.get("/api/v1/authors/Nobody%20Atall").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.json()["errors"].is_array() || r.json()["error"].is_string(),
        "{}",
        r.body
    );
    let r = c.get("/api/v1/authors/yuming%20gu?limit=0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Following needs an account, and an author the catalog has.
    c.get("/authors/Yuming%20Gu").await;
    let r = c
        .post("/authors/Yuming%20Gu/follow", &[("action", "follow")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/login?next=/authors/Yuming%2520Gu");
    // Signing up from there comes back to the author's page.
    c.get("/signup?next=/authors/Yuming%2520Gu").await;
    let r = c
        .post(
            "/signup",
            &[
                ("username", "ada"),
                ("email", "ada@example.org"),
                ("password", "correct horse battery"),
                ("next", "/authors/Yuming%20Gu"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.header("location"), "/authors/Yuming%20Gu");
    c.get("/authors/Yuming%20Gu").await;
    let r = c
        .post("/authors/Yuming%20Gu/follow", &[("action", "follow")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        c.get("/authors/Yuming%20Gu")
            .await
            .body
            .contains("Unfollow")
    );
    let r = c
        .post("/authors/Nobody%20Atall/follow", &[("action", "follow")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .post("/authors/Yuming%20Gu/follow", &[("action", "shout")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let settings = c.get("/settings").await.body;
    assert!(settings.contains(">Yuming Gu</a>"), "{settings}");

    // A digest includes the follows only once a signed-in reader holding
    // the manage link links their account.
    let out = hub
        .dir
        .cmd()
        .args([
            "digest",
            "subscribe",
            "--confirmed",
            "--email",
            "ada@example.org",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sub = store()
        .subscriber_by_email("ada@example.org")
        .unwrap()
        .unwrap();
    let secrets = Secrets::load_or_create(&hub.dir.data_dir()).unwrap();
    let token = link_token(&secrets, MANAGE, sub.id, Utc::now()).unwrap();
    let manage = c.get(&format!("/email/manage?t={token}")).await.body;
    assert!(manage.contains("follow 1 author."), "{manage}");
    let mut stranger = hub.client();
    stranger.get(&format!("/email/manage?t={token}")).await;
    let r = stranger
        .post(
            "/email/manage/account",
            &[("t", &token), ("action", "link")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A forwarded digest is not enough: the account must have its address.
    let mut forwarded = hub.client();
    forwarded.sign_up("eve").await;
    let page = forwarded
        .get(&format!("/email/manage?t={token}"))
        .await
        .body;
    assert!(!page.contains("Include the authors I follow"), "{page}");
    let r = forwarded
        .post(
            "/email/manage/account",
            &[("t", &token), ("action", "link")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .post(
            "/email/manage/account",
            &[("t", "forged"), ("action", "link")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(store().subscriber(sub.id).unwrap().unwrap().account, None);
    let r = c
        .post(
            "/email/manage/account",
            &[("t", &token), ("action", "link")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ada = store().user_by_name("ada").unwrap().unwrap();
    assert_eq!(
        store().subscriber(sub.id).unwrap().unwrap().account,
        Some(ada.id)
    );
    let manage = c.get(&format!("/email/manage?t={token}")).await.body;
    assert!(
        manage.contains("your account <strong>ada</strong> follows"),
        "{manage}"
    );
    // Others holding the link do not learn whose account it is.
    let page = forwarded
        .get(&format!("/email/manage?t={token}"))
        .await
        .body;
    assert!(
        page.contains("an account with this address follows"),
        "{page}"
    );
    assert!(!page.contains("<strong>ada</strong>"));

    let out = hub
        .dir
        .cmd()
        .args(["digest", "preview", "--email", "ada@example.org"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("by Yuming Gu, whom you follow"), "{text}");

    // Unlinking needs only the manage link.
    let r = stranger
        .post(
            "/email/manage/account",
            &[("t", &token), ("action", "unlink")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(store().subscriber(sub.id).unwrap().unwrap().account, None);
    let out = hub
        .dir
        .cmd()
        .args(["digest", "preview", "--email", "ada@example.org"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("whom you follow"));

    // Unfollowing from the settings page returns there.
    c.get("/settings").await;
    let r = c
        .post(
            "/authors/Yuming%20Gu/follow",
            &[("action", "unfollow"), ("next", "/settings")],
        )
        .await;
    assert_eq!(r.header("location"), "/settings");
    assert!(store().followed_authors(ada.id).unwrap().is_empty());
}
