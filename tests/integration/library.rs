//! The library through the real router: saving from lists and paper pages,
//! collections, notes and read marks, searching what one saved, public
//! collections and their feed, and other accounts kept out.

use axum::http::StatusCode;

use crate::web::Hub;

/// Two papers of the fixture's last day.
const A: &str = "2503.15667"; // DiffPortrait360
const B: &str = "2503.16430"; // Bridging Continuous and Discrete Tokens …

#[tokio::test]
async fn save_organise_search_and_publish_a_library() {
    let hub = Hub::new();
    let mut visitor = hub.client();
    let r = visitor.get("/library").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/login?next=/library");
    // A's card is on its author's page.
    let cards = "/authors/Yuming%20Gu";
    let home = visitor.get(cards).await.body;
    assert!(
        home.contains(&format!("action=\"/papers/{A}/save\"")),
        "visitors see Save"
    );
    let r = visitor.post(&format!("/papers/{A}/save"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.header("location").starts_with("/login"));

    let mut ada = hub.client();
    ada.sign_up("ada").await;
    let r = ada
        .post(&format!("/papers/{A}/save"), &[("next", "/")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Saving twice is one saved paper; the list shows it saved.
    ada.post(&format!("/papers/{A}/save"), &[]).await;
    let home = ada.get(cards).await.body;
    assert!(!home.contains(&format!("action=\"/papers/{A}/save\"")));
    assert!(home.contains("Saved ✓"));
    let library = ada.get("/library").await.body;
    assert!(
        library.contains(
            "<a href=\"/library/reading-list\">Reading list</a> <span class=\"meta\">1 paper</span>"
        ),
        "{library}"
    );

    // A collection, named freely, slugged for URLs.
    let r = ada
        .post("/library", &[("name", "  Graph Neural Nets! ")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.header("location"), "/library/graph-neural-nets");
    let r = ada.post("/library", &[("name", "graph neural nets")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("collection of that name already"),
        "{}",
        r.body
    );
    for bad in ["", "!!!", &"x".repeat(101)] {
        let r = ada.post("/library", &[("name", bad)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    ada.get(&format!("/papers/{B}")).await;
    let r = ada
        .post(
            &format!("/papers/{B}/save"),
            &[("collection", "graph-neural-nets")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    ada.post(
        &format!("/papers/{A}/save"),
        &[("collection", "graph-neural-nets")],
    )
    .await;
    let r = ada
        .post(&format!("/papers/{A}/save"), &[("collection", "nope")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = ada.get(&format!("/papers/{A}")).await.body;
    assert!(page.contains("Saved in <a href=\"/library/reading-list\">Reading list</a>, <a href=\"/library/graph-neural-nets\">Graph Neural Nets!</a>"), "{page}");

    // Notes and read marks.
    let item = format!("/library/reading-list/papers/{A}");
    ada.get("/library/reading-list").await;
    let r = ada
        .post(
            &item,
            &[
                ("action", "note"),
                ("note", "Check the <back-of-head> module"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    ada.post(&item, &[("action", "read")]).await;
    let list = ada.get("/library/reading-list").await.body;
    assert!(
        list.contains("Check the &#60;back-of-head&#62; module</textarea>"),
        "{list}"
    );
    assert!(list.contains("· read</p>"));
    let r = ada
        .post(&item, &[("action", "note"), ("note", &"n".repeat(2001))])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = ada.post(&item, &[("action", "shout")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Search within the library: title words, note words, nothing else.
    let found = ada.get("/library?q=portrait%20diffusion").await.body;
    assert!(found.contains("1 saved paper match"), "{found}");
    let found = ada.get("/library?q=back-of-head").await.body;
    assert!(found.contains("1 saved paper match"), "{found}");
    let found = ada.get("/library?q=tokens").await.body;
    assert!(found.contains(&format!("/papers/{B}\"")), "{found}");
    let none = ada.get("/library?q=zebrafish").await.body;
    assert!(none.contains("0 saved papers match"));

    // Private until published; then a page and an Atom feed for everyone.
    let public = "/users/ada/collections/graph-neural-nets";
    let mut bob = hub.client();
    bob.sign_up("bob").await;
    assert_eq!(bob.get(public).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        bob.get(&format!("{public}.atom")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(ada.get(public).await.status, StatusCode::OK);
    ada.get("/library/graph-neural-nets").await;
    ada.post("/library/graph-neural-nets", &[("action", "publish")])
        .await;
    let shown = bob.get(public).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown
            .body
            .contains("a collection by <a href=\"/users/ada\">ada</a>")
    );
    assert!(shown.body.contains(&format!("/papers/{B}\"")));
    assert!(
        !shown.body.contains("<textarea"),
        "no note forms for others"
    );
    let feed = visitor.get(&format!("{public}.atom")).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(
        feed.header("content-type")
            .starts_with("application/atom+xml")
    );
    assert!(feed.body.contains("DiffPortrait360"), "{}", feed.body);
    // Others cannot change it.
    bob.get("/").await;
    let r = bob
        .post(
            &format!("/library/graph-neural-nets/papers/{A}"),
            &[("action", "remove")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = bob
        .post("/library/graph-neural-nets", &[("action", "delete")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for bad in [
        "/library/..%2Fx",
        "/users/ada/collections/GRAPH",
        "/users/n%20o/collections/x",
    ] {
        assert_eq!(bob.get(bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }

    // Rename (the slug follows; the reading list keeps its slug), remove, delete.
    let r = ada
        .post(
            "/library/graph-neural-nets",
            &[("action", "rename"), ("name", "GNNs")],
        )
        .await;
    assert_eq!(r.header("location"), "/library/gnns");
    let r = ada
        .post(
            "/library/reading-list",
            &[("action", "rename"), ("name", "To read")],
        )
        .await;
    assert_eq!(r.header("location"), "/library/reading-list");
    ada.get("/library/gnns").await;
    let r = ada
        .post(
            &format!("/library/gnns/papers/{A}"),
            &[("action", "remove")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(ada.get("/library/gnns").await.body.contains("1 paper ·"));
    ada.post("/library/gnns", &[("action", "delete")]).await;
    assert_eq!(ada.get("/library/gnns").await.status, StatusCode::NOT_FOUND);
    let library = ada.get("/library").await.body;
    assert!(library.contains(">To read</a>"), "{library}");
    assert!(!library.contains("GNNs"));
}

/// A personal token for `c`'s account.
async fn token(c: &mut crate::web::Client) -> String {
    c.get("/settings").await;
    let s = c.post("/settings/tokens", &[("name", "t")]).await;
    regex::Regex::new(r"(ph_[0-9a-f]{64})")
        .unwrap()
        .captures(&s.body)
        .unwrap()[1]
        .to_owned()
}

#[tokio::test]
async fn the_collections_api_keeps_one_library_per_account() {
    use serde_json::json;
    let hub = Hub::new();
    let mut ada = hub.client();
    ada.sign_up("ada").await;
    let t = token(&mut ada).await;
    let mut bob = hub.client();
    bob.sign_up("bob").await;
    let bt = token(&mut bob).await;
    let mut c = hub.client();

    let r = c.api("GET", "/api/v1/collections", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c
        .api(
            "POST",
            "/api/v1/collections",
            Some(&t),
            Some(json!({ "name": "Graph Neural Nets!" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["collection"]["slug"], "graph-neural-nets");
    let r = c
        .api(
            "POST",
            "/api/v1/collections",
            Some(&t),
            Some(json!({ "name": "graph neural nets" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    for bad in [
        json!({ "name": 7 }),
        json!([1]),
        json!({ "name": "" }),
        json!({ "name": "x", "public": "yes" }),
    ] {
        let r = c
            .api("POST", "/api/v1/collections", Some(&t), Some(bad.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["errors"][0]["detail"].is_string());
    }
    let papers = "/api/v1/collections/graph-neural-nets/papers";
    let r = c
        .api(
            "POST",
            papers,
            Some(&t),
            Some(json!({ "id": format!("arXiv:{A}v2") })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = c
        .api("POST", papers, Some(&t), Some(json!({ "id": A })))
        .await;
    assert_eq!(
        (r.status, r.json()["saved"].clone()),
        (StatusCode::OK, json!(false))
    );
    let r = c
        .api(
            "POST",
            papers,
            Some(&t),
            Some(json!({ "id": "2503.99999" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Bob sees none of it and changes none of it.
    let r = c
        .api(
            "GET",
            "/api/v1/collections/graph-neural-nets",
            Some(&bt),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .api("POST", papers, Some(&bt), Some(json!({ "id": B })))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let item = format!("{papers}/{A}");
    let r = c
        .api(
            "PATCH",
            &item,
            Some(&t),
            Some(json!({ "note": "Key **idea**", "read": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got = c
        .api(
            "GET",
            "/api/v1/collections/graph-neural-nets?limit=1",
            Some(&t),
            None,
        )
        .await
        .json();
    assert_eq!(got["papers"][0]["paper"]["id"], A, "{got}");
    assert_eq!(got["papers"][0]["note"], "Key **idea**");
    assert_eq!(got["papers"][0]["read"], true);
    assert_eq!(got["meta"]["total"], 1);
    let r = c
        .api(
            "PATCH",
            "/api/v1/collections/graph-neural-nets",
            Some(&t),
            Some(json!({ "name": "GNNs", "public": true })),
        )
        .await;
    assert_eq!(r.json()["collection"]["slug"], "gnns", "{}", r.body);
    assert_eq!(r.json()["collection"]["public"], true);
    let list = c
        .api("GET", "/api/v1/collections", Some(&t), None)
        .await
        .json();
    assert_eq!(list["collections"][0]["slug"], "gnns");
    assert!(
        c.api("GET", "/api/v1/collections", Some(&bt), None)
            .await
            .json()["collections"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = c
        .api(
            "DELETE",
            &format!("/api/v1/collections/gnns/papers/{A}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .api(
            "DELETE",
            &format!("/api/v1/collections/gnns/papers/{A}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .api("DELETE", "/api/v1/collections/gnns", Some(&t), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .api("GET", "/api/v1/collections/gnns", Some(&t), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// A multipart upload as a browser sends it.
fn multipart(csrf: &str, file: &str, name: &str, collection: &str) -> (String, String) {
    let b = "----paperhubtestboundary";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n{file}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n{collection}\r\n--{b}--\r\n"
    );
    (format!("multipart/form-data; boundary={b}"), body)
}

#[tokio::test]
async fn import_from_the_library_page_and_export_its_collections() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let hub = Hub::new();
    let mut ada = hub.client();
    ada.sign_up("ada").await;
    ada.get("/library").await;
    ada.post("/library", &[("name", "Portraits")]).await;
    let library = ada.get("/library").await.body;
    assert!(library.contains("enctype=\"multipart/form-data\""));
    let ris = format!(
        "TY  - JOUR\r\nTI  - DiffPortrait360\r\nUR  - https://arxiv.org/abs/{A}\r\nN1  - Great figures.\r\nER  - \r\n\
         TY  - JOUR\r\nTI  - Nothing like it\r\nER  - \r\n"
    );
    let upload = |ct: String, body: String| {
        Request::post("/library/import")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    let csrf = ada.csrf.clone().unwrap();
    let (ct, body) = multipart(&csrf, &ris, "zotero.ris", "portraits");
    let r = ada.send(upload(ct, body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains("1 matched, 0 fetched from arXiv, 1 unmatched, 0 unreadable; 1 added"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("Line 6: no arXiv id or DOI, and no catalog paper has its title"),
        "{}",
        r.body
    );
    let page = ada.get("/library/portraits").await.body;
    assert!(page.contains("Great figures.</textarea>"), "{page}");

    // Without the form's token the upload is refused.
    let (ct, body) = multipart("forged", &ris, "zotero.ris", "portraits");
    assert_eq!(
        ada.send(upload(ct, body)).await.status,
        StatusCode::FORBIDDEN
    );

    // Exports, as files.
    for (ext, starts) in [("bib", "@misc{"), ("ris", "TY  - UNPB"), ("json", "[")] {
        let r = ada.get(&format!("/library/portraits/export.{ext}")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.starts_with(starts), "{ext}: {}", r.body);
        assert!(r.body.contains("Great figures."), "{ext}");
        assert!(
            r.header("content-disposition")
                .contains(&format!("portraits.{ext}"))
        );
    }
    assert_eq!(
        ada.get("/library/portraits/export.exe").await.status,
        StatusCode::NOT_FOUND
    );
    let mut bob = hub.client();
    bob.sign_up("bob").await;
    assert_eq!(
        bob.get("/library/portraits/export.bib").await.status,
        StatusCode::NOT_FOUND
    );
}

/// A web import fetches at most one API batch of new papers, says which
/// were left for next time, and visitors' uploads are refused unread.
#[tokio::test]
async fn web_imports_fetch_one_batch_and_visitors_cannot_upload() {
    use crate::replay::{Reply, Server};
    use axum::body::Body;
    use axum::http::{Request, header};
    let atom = std::fs::read(crate::util::fixture("arxiv-api/id_list=1111.2011v2.xml")).unwrap();
    let arxiv = Server::start(move |_, _| Reply::ok(atom.clone()));
    let mut config = paperhub::config::Config::default();
    config.harvest.contact_email = "ops@example.org".into();
    config.harvest.api_base_url = format!("{}/api/query", arxiv.base);
    let hub = Hub::with_config(config);
    let mut ada = hub.client();
    ada.sign_up("ada").await;
    ada.get("/library").await;
    let mut bib = String::from("@misc{known, url={https://arxiv.org/abs/1111.2011}}\n");
    for i in 0..101 {
        bib.push_str(&format!(
            "@misc{{m{i}, eprint={{2512.{:05}}}, archivePrefix={{arXiv}}}}\n",
            90_000 + i
        ));
    }
    let csrf = ada.csrf.clone().unwrap();
    let (ct, body) = multipart(&csrf, &bib, "big.bib", "");
    let upload = |ct: String, body: String| {
        Request::post("/library/import")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    let r = ada.send(upload(ct.clone(), body.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains("0 matched, 1 fetched from arXiv, 101 unmatched"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("arXiv has no paper 2512.90000"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(
            "arXiv 2512.90100 was not fetched: one import fetches at most 100 new papers"
        ),
        "{}",
        r.body
    );
    // A visitor's upload is refused without being read.
    let mut visitor = hub.client();
    visitor.get("/").await;
    let r = visitor.send(upload(ct, body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
