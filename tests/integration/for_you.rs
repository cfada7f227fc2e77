//! "For you" through the real router, on two real listing days embedded by
//! the real model: an invitation before anything is saved, a model learned
//! from three saved papers that ranks their topic first and says why, "not
//! interested" and its reset, the private Atom feed, the API, "more like
//! this collection", follows alone, and the digest's section.

use axum::http::StatusCode;
use chrono::Utc;
use paperhub::config::Config;
use paperhub::digest::render::{MANAGE, link_token};
use paperhub::secrets::Secrets;

use crate::web::{Hub, seeded_dir};

/// Three 3D Gaussian splatting papers of 2025-03-19.
const LIBRARY: [&str; 3] = ["2503.14171", "2503.14274", "2503.14475"];
/// A Gaussian splatting paper of 2025-03-21.
const SPLAT: &str = "2503.16422";
const WEEK: &str = "/for-you?period=week&date=2025-03-21";
const API: &str = "/api/v1/for-you?period=week&date=2025-03-21";

fn is_splatting(title: &str) -> bool {
    let t = title.to_lowercase();
    t.contains("gaussian") || t.contains("splat")
}

#[tokio::test]
async fn for_you_learns_from_a_library_explains_and_forgets() {
    let t = seeded_dir();
    let out = t.cmd().arg("index").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut config = Config::default();
    config.embedding.model_dir = crate::util::test_model_dir().display().to_string();
    let hub = Hub::over(t, config);
    let store = || hub.dir.store();

    // Visitors are invited to sign in; the API wants an account.
    let mut visitor = hub.client();
    let page = visitor.get("/for-you").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<a href=\"/login?next=/for-you\">Log in</a>")
    );
    assert!(
        visitor
            .get("/")
            .await
            .body
            .contains("<a href=\"/for-you\">For you</a>")
    );
    let r = visitor.get("/api/v1/for-you").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // An empty library is an invitation, never an error.
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
    ada.get("/").await;
    let page = ada.get(WEEK).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"for-you-invite\""), "{}", page.body);
    let api = ada.get("/api/v1/for-you?period=week&date=2025-03-21").await;
    assert_eq!(api.status, StatusCode::OK);
    assert_eq!(api.json()["method"], "invitation");
    assert_eq!(api.json()["papers"].as_array().unwrap().len(), 0);

    // Three saved papers teach a model: the week's splatting papers lead,
    // each with the library papers it resembles; saved ones are left out.
    for id in LIBRARY {
        let r = ada.post(&format!("/papers/{id}/save"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let api = ada
        .get("/api/v1/for-you?period=week&date=2025-03-21&limit=10")
        .await
        .json();
    assert_eq!(api["method"], "learned");
    assert_eq!(api["library_papers"], 3);
    assert_eq!(api["period"]["from"], "2025-03-17");
    let papers = api["papers"].as_array().unwrap();
    assert_eq!(papers.len(), 10);
    let titles: Vec<&str> = papers
        .iter()
        .map(|p| p["paper"]["title"].as_str().unwrap())
        .collect();
    let on_topic = titles[..5].iter().filter(|t| is_splatting(t)).count();
    assert!(on_topic >= 4, "{titles:#?}");
    for p in papers {
        assert!(!LIBRARY.contains(&p["paper"]["id"].as_str().unwrap()));
    }
    let first = &papers[0]["reasons"];
    assert_eq!(first[0]["kind"], "like", "{first}");
    assert!(
        first[0]["text"]
            .as_str()
            .unwrap()
            .ends_with("in your library"),
        "{first}"
    );
    let page = ada.get(WEEK).await.body;
    assert!(
        page.contains("Ranked by a model learned from the 3 papers"),
        "{page}"
    );
    assert!(page.contains("<ul class=\"reasons\""), "{page}");
    assert!(page.contains(&format!("/papers/{SPLAT}\"")), "{page}");
    assert!(page.contains(&format!("action=\"/papers/{SPLAT}/not-interested\"")));

    // "Not interested" hides a paper and teaches the model; reset forgets.
    let r = ada
        .post(
            &format!("/papers/{SPLAT}/not-interested"),
            &[("next", "/for-you")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.header("location"), "/for-you");
    let page = ada.get(WEEK).await.body;
    assert!(!page.contains(&format!("/papers/{SPLAT}\"")), "{page}");
    assert!(page.contains("and 1 you marked not interested"), "{page}");
    let api = ada
        .get("/api/v1/for-you?period=week&date=2025-03-21&limit=100")
        .await
        .json();
    assert_eq!(api["not_interested"], 1);
    assert!(
        api["papers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["paper"]["id"] != SPLAT)
    );
    let r = ada.post("/for-you/reset", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        store()
            .not_interested(store().user_by_name("ada").unwrap().unwrap().id, 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        ada.get(WEEK)
            .await
            .body
            .contains(&format!("/papers/{SPLAT}\""))
    );
    // The page keeps that ranking, but a save made elsewhere (another node,
    // the CLI: straight into the store) changes ada's signals, so the next
    // page ranks again and leaves the saved paper out.
    let ada_id = store().user_by_name("ada").unwrap().unwrap().id;
    store()
        .save_paper(
            ada_id,
            None,
            &SPLAT.parse().unwrap(),
            paperhub::app::library::LIMITS,
            chrono::Utc::now(),
        )
        .unwrap();
    let page = ada.get(WEEK).await.body;
    assert!(!page.contains(&format!("/papers/{SPLAT}\"")), "{page}");
    assert!(
        page.contains("Ranked by a model learned from the 4 papers"),
        "{page}"
    );
    // A paper a curator hides leaves the page at once, though the week's
    // papers were read before (ada, the first account, is a curator).
    let api = ada.get(&format!("{API}&limit=1")).await.json();
    let first = api["papers"][0]["paper"]["id"].as_str().unwrap().to_owned();
    let r = ada
        .post(&format!("/papers/{first}/curate"), &[("action", "hide")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = ada.get(WEEK).await.body;
    assert!(!page.contains(&format!("/papers/{first}\"")), "{page}");
    let api = ada.get(&format!("{API}&limit=1")).await.json();
    let next = api["papers"][0]["paper"]["id"].as_str().expect("one paper");
    assert_ne!(next, first.as_str());

    // "Not interested" through the API, with a personal token: the pick
    // leaves the ranking, and DELETE brings it back.
    ada.get("/settings").await;
    let r = ada
        .post("/settings/tokens", &[("name", "t"), ("expires", "30")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = regex::Regex::new(r"(ph_[0-9a-f]{64})")
        .unwrap()
        .captures(&r.body)
        .unwrap_or_else(|| panic!("{}", r.body))[1]
        .to_owned();
    let top = ada.get(&format!("{API}&limit=1")).await.json()["papers"][0]["paper"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mark = format!("/api/v1/papers/{top}/not-interested");
    let r = ada.api("PUT", &mark, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["not_interested"], true);
    let ids = |v: serde_json::Value| -> Vec<String> {
        v["papers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["paper"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!ids(ada.get(&format!("{API}&limit=100")).await.json()).contains(&top));
    let r = ada.api("DELETE", &mark, Some(&token), None).await;
    assert_eq!(r.json()["not_interested"], false);
    assert_eq!(ids(ada.get(&format!("{API}&limit=1")).await.json()), [top]);
    assert_eq!(
        ada.api(
            "PUT",
            "/api/v1/papers/9999.99999/not-interested",
            Some(&token),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        visitor.api("PUT", &mark, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The feed link is a key: it works without a cookie, and only as given.
    let link = feed_link(&ada.get(WEEK).await.body);
    let feed = visitor.get(&link).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(
        feed.header("content-type")
            .starts_with("application/atom+xml")
    );
    assert!(feed.body.contains("Paperhub: for ada"), "{}", feed.body);
    let tampered = format!("{}0", link);
    assert_eq!(visitor.get(&tampered).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        visitor.get("/for-you.atom").await.status,
        StatusCode::NOT_FOUND
    );
    // A new feed link revokes every older one.
    let r = ada.post("/for-you/feed-link", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.get(&link).await.status, StatusCode::NOT_FOUND);
    let fresh = feed_link(&ada.get(WEEK).await.body);
    assert_ne!(fresh, link);
    assert_eq!(visitor.get(&fresh).await.status, StatusCode::OK);
    // A visitor cannot revoke anyone's link.
    let r = visitor.post("/for-you/feed-link", &[]).await;
    assert!(
        matches!(r.status, StatusCode::SEE_OTHER | StatusCode::FORBIDDEN),
        "{}",
        r.status
    );
    assert_eq!(visitor.get(&fresh).await.status, StatusCode::OK);

    // Typos are 400s, not 500s.
    for bad in [
        "/for-you?period=fortnight",
        "/for-you?date=yesterday",
        "/for-you?date=99999-01-01",
    ] {
        assert_eq!(ada.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    for bad in ["0", "101", "ten"] {
        let r = ada.get(&format!("/api/v1/for-you?limit={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // More like one collection: ranked against its papers only.
    ada.get("/library").await;
    ada.post("/library", &[("name", "Splats")]).await;
    for id in LIBRARY {
        ada.post(&format!("/papers/{id}/save"), &[("collection", "splats")])
            .await;
    }
    let page = ada.get("/library/splats").await.body;
    assert!(page.contains("More like this collection"), "{page}");
    let api = ada
        .get("/api/v1/collections/splats/recommended?period=week&date=2025-03-21&limit=5")
        .await
        .json();
    let titles: Vec<&str> = api["papers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["paper"]["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.iter().filter(|t| is_splatting(t)).count() >= 4,
        "{titles:?}"
    );
    assert_eq!(
        ada.get("/api/v1/collections/nope/recommended").await.status,
        StatusCode::NOT_FOUND
    );

    // Following an author carries a reader with no library yet.
    let mut bob = hub.client();
    bob.sign_up("bob").await;
    bob.get("/authors/Yuming%20Gu").await;
    bob.post("/authors/Yuming%20Gu/follow", &[("action", "follow")])
        .await;
    let page = bob.get(WEEK).await.body;
    assert!(
        page.contains("Ranked by the authors and categories you follow"),
        "{page}"
    );
    assert!(page.contains("By Yuming Gu, whom you follow"), "{page}");

    // A digest linked to the account gets a "Recommended for you" section.
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
    ada.get(&format!("/email/manage?t={token}")).await;
    let r = ada
        .post(
            "/email/manage/account",
            &[("t", &token), ("action", "link")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
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
    assert!(text.contains("RECOMMENDED FOR YOU"), "{text}");
    assert!(text.contains("in your library"), "{text}");
}

/// The private feed link a For-you page shows.
fn feed_link(page: &str) -> String {
    let Some(at) = page.find("/for-you.atom?t=") else {
        panic!("no feed link in {page}");
    };
    page[at..]
        .chars()
        .take_while(|c| *c != '"')
        .collect::<String>()
        .replace("&amp;", "&")
}
