//! The web hub and JSON API through the real router, in process: real
//! SQLite, a real tantivy index over two real daily listings, real argon2.
//! Pages and JSON are snapshotted with insta (CSRF tokens and asset hashes
//! redacted); security properties are checked one by one.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use paperhub::config::Config;
use paperhub::data_dir::DataDir;
use paperhub::web::{self, AppState};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::replay::{Reply, Server};
use crate::util::{TestDir, fixture};

/// The latest announcement day of the two fixture listings.
pub const LATEST: &str = "2025-03-21";

/// A catalog of two real daily listings with a BM25 index, no model.
pub fn seeded_dir() -> TestDir {
    let t = TestDir::new();
    let (_, code, stderr) = t.import(&[
        &fixture("listings/2025-03-19.jsonl"),
        &fixture("listings/2025-03-21.jsonl"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let out = t.cmd().args(["index", "--lexical-only"]).output().unwrap();
    assert!(out.status.success());
    t
}

/// A hub over [`seeded_dir`] and a configuration.
pub struct Hub {
    /// The data directory (kept alive with the hub).
    pub dir: TestDir,
    pub router: Router,
}

impl Hub {
    pub fn new() -> Hub {
        Hub::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Hub {
        Hub::over(seeded_dir(), config)
    }

    /// A hub over the data directory of `t`.
    pub fn over(t: TestDir, config: Config) -> Hub {
        let data_dir = DataDir::resolve(Some(&t.data_dir())).unwrap();
        let app = AppState::open(&data_dir, &config).unwrap();
        let router = web::router(app);
        Hub { dir: t, router }
    }

    pub fn client(&self) -> Client {
        Client {
            router: self.router.clone(),
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }
}

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A browser-like client: keeps cookies and the last page's CSRF token.
pub struct Client {
    router: Router,
    cookies: BTreeMap<String, String>,
    pub csrf: Option<String>,
}

impl Client {
    pub async fn send(&mut self, mut req: Request<Body>) -> Resp {
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.headers_mut()
                .insert(header::COOKIE, jar.join("; ").parse().unwrap());
        }
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        let re = regex::Regex::new(r#"name="csrf" value="([0-9a-f]+)""#).unwrap();
        if let Some(m) = re.captures(&body) {
            self.csrf = Some(m[1].to_owned());
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// POSTs a form with the current CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone().unwrap_or_default();
        fields.push(("csrf", &csrf));
        self.post_raw(path, &fields).await
    }

    /// POSTs a form exactly as given (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub async fn api(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// Signs up (and so logs in) `name`.
    pub async fn sign_up(&mut self, name: &str) {
        self.get("/signup").await;
        let r = self
            .post(
                "/signup",
                &[("username", name), ("password", "correct horse battery")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(self.cookies.contains_key("ph_session"));
        self.get("/").await;
    }
}

/// Page HTML with volatile parts replaced, for snapshots.
pub fn normalise(html: &str) -> String {
    let csrf = regex::Regex::new(r#"value="[0-9a-f]{64}""#).unwrap();
    let version = regex::Regex::new(r"\?v=[0-9a-f]{12}").unwrap();
    let since = regex::Regex::new(r"Member since [A-Za-z]+ \d{4}").unwrap();
    let html = csrf.replace_all(html, r#"value="[csrf]""#);
    let html = version.replace_all(&html, "?v=[assets]");
    since
        .replace_all(&html, "Member since [month]")
        .replace(env!("CARGO_PKG_VERSION"), "[version]")
}

/// The community part of the front page.
async fn community_part(c: &mut Client) -> String {
    let home = c.get("/").await;
    home.body
        .split("arXiv announcement")
        .next()
        .unwrap()
        .to_owned()
}

/// The first paper of the latest day's list.
async fn first_paper(c: &mut Client) -> String {
    let r = c
        .get(&format!("/api/v1/daily_papers?date={LATEST}&limit=1"))
        .await;
    r.json()["papers"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn list_pages_render_with_navigation_filters_and_headers() {
    let hub = Hub::new();
    let mut c = hub.client();
    let home = c.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Friday, 21 March 2025"),
        "latest day first"
    );
    assert!(
        home.body
            .contains(r#"rel="prev" href="/papers/date/2025-03-19""#)
    );
    assert!(
        home.body
            .contains("Get trending papers in your email inbox!")
    );
    assert!(home.body.contains("Thank you to arXiv"));
    assert!(
        home.header("content-security-policy")
            .contains("script-src 'self'")
    );
    assert_eq!(home.header("x-content-type-options"), "nosniff");
    assert_eq!(home.header("x-frame-options"), "DENY");
    assert!(home.header("set-cookie").contains("HttpOnly"));
    assert!(home.header("set-cookie").contains("SameSite=Lax"));
    // No inline script or style anywhere (the CSP forbids them).
    assert!(!home.body.contains("<script>") && !home.body.contains("style="));
    for path in [
        "/papers/date/2025-03-19",
        "/papers/week/2025-W12",
        "/papers/month/2025-03",
        "/papers/date/2025-03-19?category=cs.LG&page=2",
        "/trending",
        "/trending?window=month",
        "/search",
        "/login",
        "/signup",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    // The category filter narrows the announcement part.
    let all = c.get("/papers/date/2025-03-19").await;
    let lg = c.get("/papers/date/2025-03-19?category=cs.CL").await;
    let total = |b: &str| -> u64 {
        let re = regex::Regex::new(r"<small>(\d+) papers</small>").unwrap();
        re.captures(b).unwrap()[1].parse().unwrap()
    };
    assert!(total(&lg.body) < total(&all.body));
    assert!(total(&lg.body) > 0);
    // Typos in URLs are 4xx pages, never 500.
    for (path, status) in [
        ("/papers/date/2025-02-30", 400),
        ("/papers/week/2025-W99", 400),
        ("/papers/month/March", 400),
        ("/papers/date/2025-03-19?category=%3Cb%3E", 400),
        ("/trending?window=year", 400),
        ("/papers/not-an-id", 404),
        ("/papers/2501.99999", 404),
        ("/no/such/page", 404),
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status.as_u16(), status, "{path}");
        assert!(r.body.contains("<h1>"), "{path} renders an error page");
    }
}

#[tokio::test]
async fn paper_and_search_pages_match_snapshots() {
    let hub = Hub::new();
    let mut c = hub.client();
    let id = first_paper(&mut c).await;
    let page = c.get(&format!("/papers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for part in ["arXiv page", "PDF", "@misc{", "Similar papers", "Upvote"] {
        assert!(page.body.contains(part), "{part} missing");
    }
    insta::assert_snapshot!("paper_page", normalise(&page.body));
    let search = c
        .get("/search?q=ti%3Aretrieval+ti%3Aaugmented&mode=lexical")
        .await;
    assert_eq!(search.status, StatusCode::OK);
    assert!(
        search.body.contains("<mark>"),
        "query words are highlighted"
    );
    insta::assert_snapshot!("search_page", normalise(&search.body));
}

#[tokio::test]
async fn json_api_matches_snapshots_and_one_error_envelope() {
    let hub = Hub::new();
    let mut c = hub.client();
    let id = first_paper(&mut c).await;
    let r = c
        .api("GET", &format!("/api/v1/papers/{id}"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    insta::assert_json_snapshot!("api_paper", r.json());
    let r = c
        .api(
            "GET",
            &format!("/api/v1/daily_papers?date={LATEST}&limit=2&sort=published"),
            None,
            None,
        )
        .await;
    insta::assert_json_snapshot!("api_daily_papers", r.json());
    let r = c
        .api(
            "GET",
            "/api/v1/papers/search?q=retrieval&mode=lexical&limit=3",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["papers"].as_array().unwrap().len(), 3);
    assert_eq!(r.json()["meta"]["mode"], "lexical");
    for (method, path, status) in [
        ("GET", "/api/v1/papers/nonsense", 404),
        ("GET", "/api/v1/daily_papers?date=tomorrow", 400),
        (
            "GET",
            "/api/v1/daily_papers?date=2025-03-22&week=2025-W12",
            400,
        ),
        ("GET", "/api/v1/daily_papers?limit=1000", 400),
        ("GET", "/api/v1/papers/search", 400),
        ("GET", "/api/v1/papers/search?q=x&mode=psychic", 400),
        ("GET", "/api/v1/nothing", 404),
        ("PUT", &format!("/api/v1/papers/{id}/vote"), 401),
        ("POST", "/api/v1/papers", 401),
    ] {
        let r = c.api(method, path, None, None).await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {}", r.body);
        let json = r.json();
        let detail = json["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{method} {path}: {json}");
    }
    let r = c.api("GET", "/api/v1/papers/nonsense", None, None).await;
    insta::assert_json_snapshot!("api_error", r.json());
}

#[tokio::test]
async fn accounts_votes_submissions_trending_and_curation() {
    let hub = Hub::new();
    let mut ada = hub.client();
    ada.sign_up("ada").await;
    let id = first_paper(&mut ada).await;
    // A paper from the day before, submitted: it joins the latest list.
    let older = ada
        .api(
            "GET",
            "/api/v1/daily_papers?date=2025-03-19&limit=1&sort=published",
            None,
            None,
        )
        .await
        .json()["papers"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ada.get("/submit").await;
    let r = ada
        .post(
            "/submit",
            &[("paper", &format!("https://arxiv.org/abs/{older}v1"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(&format!("It is on the list of {LATEST}")),
        "{}",
        r.body
    );
    let r = ada.post("/submit", &[("paper", &older)]).await;
    assert!(
        r.body.contains("Already submitted by ada"),
        "a friendly no-op"
    );
    let r = ada.post("/submit", &[("paper", "not a paper")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("is not an arXiv id"));
    let community = community_part(&mut ada).await;
    assert!(
        community.contains(&format!("/papers/{older}")),
        "on today's community list"
    );

    // One vote per user, however often it is cast.
    ada.get(&format!("/papers/{id}")).await;
    for _ in 0..3 {
        let r = ada
            .post(&format!("/papers/{id}/vote"), &[("up", "1")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    let mut bob = hub.client();
    bob.sign_up("bob").await;
    bob.get(&format!("/papers/{id}")).await;
    let r = bob
        .send(
            Request::post(format!("/papers/{id}/vote"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ACCEPT, "application/json")
                .header("x-csrf-token", bob.csrf.clone().unwrap())
                .body(Body::from("up=1"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.json(), json!({"upvotes": 2, "upvoted": true}));
    let paper = ada
        .api("GET", &format!("/api/v1/papers/{id}"), None, None)
        .await
        .json();
    assert_eq!(paper["paper"]["upvotes"], 2);
    assert_eq!(paper["paper"]["upvoted"], true, "ada's view");

    // Trending: the voted paper leads, the submission follows.
    let t = ada.get("/trending?window=day").await;
    let a = t
        .body
        .find(&format!("/papers/{id}\""))
        .expect("voted paper trends");
    let b = t
        .body
        .find(&format!("/papers/{older}\""))
        .expect("submitted paper trends");
    assert!(a < b);
    let api = ada
        .api("GET", "/api/v1/trending?window=week", None, None)
        .await
        .json();
    assert_eq!(api["papers"][0]["id"], id.as_str());

    // The user page lists both; settings make a token that works for the API.
    let u = ada.get("/users/ada").await;
    assert!(u.body.contains("curator"), "the first account curates");
    assert!(
        u.body.contains(&format!("/papers/{older}")) && u.body.contains(&format!("/papers/{id}"))
    );
    ada.get("/settings").await;
    let s = ada.post("/settings/tokens", &[("name", "laptop")]).await;
    let token = regex::Regex::new(r#"<code id="new-token">(ph_[0-9a-f]+)</code>"#)
        .unwrap()
        .captures(&s.body)
        .unwrap()[1]
        .to_owned();
    let mut anon = hub.client();
    let r = anon
        .api(
            "DELETE",
            &format!("/api/v1/papers/{id}/vote"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.json(), json!({"id": id, "upvotes": 1, "upvoted": false}));
    let r = anon
        .api(
            "DELETE",
            &format!("/api/v1/papers/{id}/vote"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.json()["upvotes"], 1, "idempotent");
    let r = anon
        .api(
            "PUT",
            &format!("/api/v1/papers/{id}/vote"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.json()["upvotes"], 2);
    let r = anon
        .api(
            "POST",
            "/api/v1/papers",
            Some(&token),
            Some(json!({"id": older})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["submitted"], false);
    let r = anon
        .api(
            "POST",
            "/api/v1/papers",
            Some(&token),
            Some(json!({"id": id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = anon
        .api(
            "PUT",
            &format!("/api/v1/papers/{id}/vote"),
            Some("ph_wrong"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Curators hide and feature; others cannot.
    bob.get(&format!("/papers/{id}")).await;
    let r = bob
        .post(&format!("/papers/{id}/curate"), &[("action", "hide")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    ada.get(&format!("/papers/{id}")).await;
    let r = ada
        .post(&format!("/papers/{id}/curate"), &[("action", "hide")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anon.get(&format!("/papers/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !anon
            .get("/")
            .await
            .body
            .contains(&format!("/papers/{id}\""))
    );
    assert_eq!(
        ada.get(&format!("/papers/{id}")).await.status,
        StatusCode::OK,
        "curators still see it"
    );
    ada.post(&format!("/papers/{id}/curate"), &[("action", "unhide")])
        .await;
    ada.post(&format!("/papers/{id}/curate"), &[("action", "feature")])
        .await;
    let community = community_part(&mut anon).await;
    assert!(
        community.contains(&format!("/papers/{id}\"")),
        "featured joins the community part"
    );

    // Change the password: a wrong current one is refused.
    ada.get("/settings").await;
    let r = ada
        .post(
            "/settings/password",
            &[("current", "nope"), ("new", "a new horse battery")],
        )
        .await;
    assert!(r.body.contains("The current password is not right."));
    let r = ada
        .post(
            "/settings/password",
            &[
                ("current", "correct horse battery"),
                ("new", "a new horse battery"),
            ],
        )
        .await;
    assert!(r.body.contains("Password changed"), "{}", r.body);
    assert_eq!(
        ada.get("/settings").await.status,
        StatusCode::OK,
        "this session stays"
    );

    // Log out, then the old password, then the new one.
    ada.get("/").await;
    let r = ada.post("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(ada.get("/settings").await.status.is_redirection());
    ada.get("/login").await;
    let r = ada
        .post(
            "/login",
            &[("username", "ada"), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = ada
        .post(
            "/login",
            &[
                ("username", "ADA"),
                ("password", "a new horse battery"),
                ("next", "/trending"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), "/trending");
}

#[tokio::test]
async fn csrf_votes_xss_and_login_floods_are_handled() {
    let hub = Hub::new();
    let mut c = hub.client();
    c.sign_up("mallory").await;
    let id = first_paper(&mut c).await;
    // A form without the token, or with another session's token: 403.
    let r = c.post_raw("/submit", &[("paper", &id)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .post_raw(
            &format!("/papers/{id}/vote"),
            &[("up", "1"), ("csrf", "00")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut other = hub.client();
    other.get("/").await;
    let foreign = other.csrf.clone().unwrap();
    let r = c
        .post_raw(
            &format!("/papers/{id}/vote"),
            &[("up", "1"), ("csrf", &foreign)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .api("PUT", &format!("/api/v1/papers/{id}/vote"), None, None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "cookie-authenticated API writes need the header"
    );
    assert!(!r.json()["errors"][0]["detail"].as_str().unwrap().is_empty());
    let r = c.post_raw("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "even log-out");
    let paper = c
        .api("GET", &format!("/api/v1/papers/{id}"), None, None)
        .await
        .json();
    assert_eq!(paper["paper"]["upvotes"], 0, "nothing changed");

    // A second vote stays one vote.
    c.get("/").await;
    c.post(&format!("/papers/{id}/vote"), &[("up", "1")]).await;
    c.post(&format!("/papers/{id}/vote"), &[("up", "1")]).await;
    let paper = c
        .api("GET", &format!("/api/v1/papers/{id}"), None, None)
        .await
        .json();
    assert_eq!(paper["paper"]["upvotes"], 1);

    // XSS payloads in the query render inert, in the page and its feed link.
    let payload = "\"><script>alert(1)</script><img src=x onerror=alert(2)>";
    let q = serde_urlencoded::to_string([("q", payload)]).unwrap();
    for path in [
        format!("/search?{q}"),
        format!("/search.atom?{q}"),
        format!("/search?{q}&mode=%3Cb%3E"),
    ] {
        let r = c.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.contains("<script>alert"), "{path}");
        assert!(!r.body.contains("<img src=x"), "{path}");
    }
    let r = c.get(&format!("/search?{q}")).await;
    assert!(
        r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || r.body.contains("&#60;script")
    );
    let r = c.get("/papers/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("<script>alert"));

    // A login flood from one address is refused with 429 and Retry-After.
    let mut flood = hub.client();
    flood.get("/login").await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let name = format!("victim{i}");
        let r = flood
            .post("/login", &[("username", &name), ("password", "guess")])
            .await;
        statuses.push(r.status.as_u16());
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(!r.header("retry-after").is_empty());
        }
    }
    assert_eq!(&statuses[..10], &[403; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
}

/// Failures on one account from many addresses are slowed, never refused,
/// so nobody can lock the owner out (#13, finding 5).
#[tokio::test]
async fn login_attempts_per_account_are_slowed_across_addresses() {
    let mut config = Config::default();
    config.web.login_per_account_per_hour = 3;
    config.web.trust_forwarded_for = true;
    let hub = Hub::with_config(config);
    let mut c = hub.client();
    c.get("/login").await;
    let csrf = c.csrf.clone().unwrap();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let body = serde_urlencoded::to_string([
            ("username", "ada"),
            ("password", "guess"),
            ("csrf", &csrf),
        ])
        .unwrap();
        let started = std::time::Instant::now();
        let r = c
            .send(
                Request::post("/login")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header("x-forwarded-for", format!("10.0.0.{i}"))
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        statuses.push((r.status.as_u16(), started.elapsed()));
    }
    for (i, (status, took)) in statuses.iter().enumerate() {
        assert_eq!(*status, 403, "attempt {i}");
        // Past the account's budget of 3 failures, each attempt waits 1 s.
        if i >= 3 {
            assert!(
                *took >= std::time::Duration::from_secs(1),
                "attempt {i}: {took:?}"
            );
        }
    }
}

#[tokio::test]
async fn submitting_an_unknown_paper_fetches_it_from_the_arxiv_api() {
    let atom = std::fs::read(fixture("arxiv-api/id_list=1111.2011v2.xml")).unwrap();
    let empty = br#"<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>ArXiv Query</title><id>x</id><updated>2025-01-01T00:00:00Z</updated><opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:totalResults></feed>"#.to_vec();
    let server = Server::start(move |target, _| {
        if target.contains("1111.2011") {
            Reply::ok(atom.clone())
        } else {
            Reply::ok(empty.clone())
        }
    });
    let mut config = Config::default();
    config.harvest.contact_email = "ops@example.org".into();
    config.harvest.api_base_url = format!("{}/api/query", server.base);
    let hub = Hub::with_config(config);
    let mut c = hub.client();
    c.sign_up("ada").await;
    c.get("/submit").await;
    let r = c.post("/submit", &[("paper", "arXiv:1111.2011")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Quantum Criticality for Extended Nodes"),
        "{}",
        r.body
    );
    let paper = c
        .api("GET", "/api/v1/papers/1111.2011", None, None)
        .await
        .json();
    assert_eq!(paper["paper"]["submitted_by"], "ada");
    assert!(
        c.get("/").await.body.contains("/papers/1111.2011\""),
        "on the current list"
    );
    // arXiv has no such paper: a friendly 404, nothing stored.
    let r = c.post("/submit", &[("paper", "2501.99999")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("arXiv has no paper 2501.99999"));
}

#[tokio::test]
async fn feeds_are_well_formed_rss_and_atom() {
    let hub = Hub::new();
    let mut c = hub.client();
    let id = first_paper(&mut c).await;
    for (path, root) in [
        ("/feed.atom", "feed"),
        ("/feed.rss", "rss"),
        ("/trending.atom", "feed"),
        ("/trending.rss", "rss"),
        ("/search.atom?q=retrieval+augmented+generation", "feed"),
        ("/search.rss?q=retrieval+%3C%26%3E+generation", "rss"),
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.header("content-type").contains("xml"), "{path}");
        let mut reader = quick_xml::Reader::from_str(&r.body);
        let mut first = None;
        let mut items = 0;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(e)) => {
                    let name = e.local_name().as_ref().to_owned();
                    if first.is_none() {
                        first = Some(name.clone());
                    }
                    if name == "entry" || name == "item" {
                        items += 1;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("{path} is not well-formed: {e}"),
            }
        }
        assert_eq!(first.as_deref(), Some(root), "{path}");
        if !path.starts_with("/trending") {
            assert!(items > 0, "{path} has no items");
        }
    }
    assert!(
        c.get("/feed.atom")
            .await
            .body
            .contains(&format!("/papers/{id}</id>"))
    );
    assert_eq!(c.get("/search.atom").await.status, StatusCode::BAD_REQUEST);
}

/// Checks that `value` has every `required` property of `schema`, recursively.
fn check_schema(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        return check_schema(doc, &doc["components"]["schemas"][name], value, at);
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap();
        assert!(
            value.get(key).is_some(),
            "{at}: missing required {key} in {value}"
        );
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, sub) in props {
            if let Some(v) = value.get(k) {
                check_schema(doc, sub, v, &format!("{at}.{k}"));
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check_schema(doc, items, v, &format!("{at}[{i}]"));
        }
    }
}

#[tokio::test]
async fn openapi_document_lists_exactly_the_routes_and_their_shapes() {
    let doc: Value = serde_json::from_str(web::api::OPENAPI).unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut routed: Vec<(String, String)> = web::api::API_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    documented.sort();
    routed.sort();
    assert_eq!(documented, routed, "openapi.json and API_ROUTES differ");

    // Every documented route is served, and what it returns has the shape
    // the document promises.
    let hub = Hub::new();
    let mut c = hub.client();
    c.sign_up("ada").await;
    c.get("/settings").await;
    let s = c.post("/settings/tokens", &[("name", "t")]).await;
    let token = regex::Regex::new(r"(ph_[0-9a-f]{64})")
        .unwrap()
        .captures(&s.body)
        .unwrap()[1]
        .to_owned();
    let id = first_paper(&mut c).await;
    for (method, path) in web::api::API_ROUTES {
        let concrete = path
            .replace("{id}", &id)
            .replace("{name}", "Yuming%20Gu")
            .replace("{slug}", "sync-test");
        let query = match *path {
            "/api/v1/papers/search" | "/api/papers/search" => "?q=retrieval&limit=2",
            "/api/v1/daily_papers" | "/api/daily_papers" => "?limit=2",
            _ => "",
        };
        let body = match (*method, *path) {
            ("post", "/api/v1/collections") => Some(json!({ "name": "Sync test" })),
            ("patch", "/api/v1/collections/{slug}") => Some(json!({ "public": true })),
            ("patch", _) => Some(json!({ "note": "n", "read": true })),
            ("post", _) => Some(json!({ "id": id })),
            _ => None,
        };
        let r = c
            .api(
                &method.to_uppercase(),
                &format!("{concrete}{query}"),
                Some(&token),
                body,
            )
            .await;
        assert!(
            r.status.is_success(),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        let status = r.status.as_u16().to_string();
        let response = &doc["paths"][*path][*method]["responses"][&status];
        assert!(
            response.is_object(),
            "{method} {path}: status {status} is not documented"
        );
        if let Some(schema) = response["content"]["application/json"].get("schema") {
            check_schema(&doc, schema, &r.json(), &format!("{method} {path}"));
        }
    }
}

#[test]
fn demo_serves_at_once_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead;
    let t = TestDir::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .args([
            "demo",
            "--lexical-only",
            "--addr",
            "127.0.0.1:0",
            "--corpus",
        ])
        .arg(fixture("listings"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut base = None;
    let mut seen = String::new();
    for _ in 0..200 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(rest) = line.strip_prefix("Paperhub is serving on ") {
            base = Some(
                rest.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_owned(),
            );
            break;
        }
    }
    let base = base.unwrap_or_else(|| panic!("no address in: {seen}"));
    let agent = ureq::Agent::new_with_defaults();
    let mut res = agent.get(&format!("{base}/")).call().unwrap();
    let body = res.body_mut().read_to_string().unwrap();
    assert!(body.contains("From the community"), "{body}");
    let mut res = agent
        .get(&format!("{base}/search?q=language+models"))
        .call()
        .unwrap();
    assert!(
        res.body_mut()
            .read_to_string()
            .unwrap()
            .contains("results on this page")
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(exit.success(), "exit {exit:?}: {rest}");
    assert!(rest.contains("Paperhub stopped."), "{rest}");
}

/// Project pages and withdrawals, recognised from real records, reach the
/// page, the markdown, the v1 API and the Hugging Face API.
#[tokio::test]
async fn project_pages_and_withdrawals_are_shown_and_served() {
    let t = seeded_dir();
    let (_, code, stderr) = t.import(&[&fixture("snapshot/arxiv-metadata-oai-snapshot.json")]);
    assert_eq!(code, 0, "{stderr}");
    let hub = Hub::over(t, Config::default());
    let mut c = hub.client();
    // "Page:https://freedomgu.github.io/DiffPortrait360 Code:https://github.com/…"
    let page_url = "https://freedomgu.github.io/DiffPortrait360";
    let v1 = c.get("/api/v1/papers/2503.15667").await.json()["paper"].clone();
    assert_eq!(v1["project_url"], page_url, "{v1}");
    assert_eq!(
        v1["code_url"],
        "https://github.com/FreedomGu/DiffPortrait360"
    );
    assert!(v1["withdrawn_at"].is_null());
    let hf = c.get("/api/papers/2503.15667").await.json();
    assert_eq!(hf["projectPage"], page_url, "{hf}");
    assert_eq!(
        hf["githubRepo"],
        "https://github.com/FreedomGu/DiffPortrait360"
    );
    assert!(hf["withdrawnAt"].is_null());
    let html = c.get("/papers/2503.15667").await.body;
    assert!(
        html.contains(&format!(
            "<a href=\"{page_url}\" rel=\"nofollow\">Project page</a>"
        )),
        "{html}"
    );
    let md = c.get("/papers/2503.15667.md").await.body;
    assert!(md.contains(&format!("[Project page]({page_url})")), "{md}");

    // 0704.0156 v2 (5 Mar 2008): "This paper has been withdrawn by the authors."
    let v1 = c.get("/api/v1/papers/0704.0156").await.json()["paper"].clone();
    assert_eq!(v1["withdrawn_at"], "2008-03-05T04:28:27Z", "{v1}");
    let hf = c.get("/api/papers/0704.0156").await.json();
    assert_eq!(hf["withdrawnAt"], "2008-03-05T04:28:27.000Z", "{hf}");
    let html = c.get("/papers/0704.0156").await.body;
    assert!(
        html.contains("Withdrawn from arXiv on 5 March 2008"),
        "{html}"
    );
    let md = c.get("/papers/0704.0156.md").await.body;
    assert!(md.contains("**Withdrawn** on 2008-03-05"), "{md}");
    // A paper that only talks about withdrawing is not withdrawn.
    let listed = c
        .get("/api/v1/daily_papers?date=2025-03-21&limit=100")
        .await
        .json();
    let papers = listed["papers"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(papers.len() > 50);
    assert!(papers.iter().all(|p| p["withdrawn_at"].is_null()));
}

/// `paperhub demo` gives the hub a labelled sample community, once, and
/// its accounts neither log in nor take the curator's seat.
#[tokio::test]
async fn demo_community_fills_trending_and_discussions_and_is_labelled() {
    let t = TestDir::new();
    for run in 0..2 {
        let out = t
            .cmd()
            .args(["demo", "--lexical-only", "--no-serve"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}");
        assert_eq!(
            stdout.contains(
                "Sample community: 5 demo accounts, 6 submissions, 17 upvotes, 6 comments"
            ),
            run == 0,
            "run {run}: {stdout}"
        );
    }
    let hub = Hub::over(t, Config::default());
    let mut visitor = hub.client();
    let home = visitor.get("/").await.body;
    let community =
        &home[home.find("From the community").unwrap()..home.find("arXiv announcement").unwrap()];
    assert_eq!(
        community.matches("<article class=\"paper").count(),
        6,
        "{community}"
    );
    assert_eq!(
        community.matches("class=\"demo-label\"").count(),
        6,
        "{community}"
    );
    assert!(community.contains("3 comments</a>"), "{community}");
    // The front page leads with this week's trending papers.
    let front =
        &home[home.find("Trending this week").unwrap()..home.find("From the community").unwrap()];
    assert_eq!(front.matches("<li>").count(), 3, "{front}");
    assert!(front.contains("/papers/2512.22630"), "{front}");
    let trending = visitor.get("/trending?window=week").await.body;
    for id in [
        "2512.22630",
        "2512.22737",
        "2512.22631",
        "2512.22322",
        "2512.22562",
        "2512.22416",
    ] {
        assert!(
            trending.contains(&format!("/papers/{id}\"")),
            "{id} not trending"
        );
    }
    let paper = visitor.get("/papers/2512.22630").await.body;
    assert_eq!(
        paper.matches("class=\"comment reply\"").count(),
        1,
        "{paper}"
    );
    assert!(paper.contains("reading group"), "{paper}");
    assert!(
        paper.matches("class=\"demo-label\"").count() >= 4,
        "{paper}"
    );
    let md = visitor.get("/papers/2512.22630.md").await.body;
    assert!(md.contains("demo-ada (demo account)"), "{md}");
    let user = visitor.get("/users/demo-grace").await.body;
    assert!(
        user.contains("sample account of <code>paperhub demo</code>"),
        "{user}"
    );
    // Nobody can sign up under the demo's prefix or log in as a demo account.
    visitor.get("/signup").await;
    let refused = visitor
        .post(
            "/signup",
            &[
                ("username", "Demo-Eve"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("kept for demo data"),
        "{}",
        refused.body
    );
    visitor.get("/login").await;
    let login = visitor
        .post(
            "/login",
            &[("username", "demo-ada"), ("password", "!demo account")],
        )
        .await;
    assert_ne!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    // The first real account is still the curator.
    let mut ada = hub.client();
    ada.sign_up("ada").await;
    assert!(ada.get("/users/ada").await.body.contains("curator"));
}

#[tokio::test]
async fn discussions_comment_reply_edit_delete_and_hide_with_hostile_markdown_inert() {
    let hub = Hub::new();
    let mut ada = hub.client(); // the first account: the curator
    ada.sign_up("ada").await;
    let mut bob = hub.client();
    bob.sign_up("bob").await;
    let id = first_paper(&mut bob).await;
    let page = format!("/papers/{id}");
    let comments = format!("{page}/comments");
    bob.get(&page).await;
    let posted = bob
        .post(
            &comments,
            &[(
                "body",
                "**Nice.** <script>alert(1)</script> [x](javascript:alert(1)) \
                 <img src=x onerror=alert(1)> [paper](https://arxiv.org/abs/2503.15621)",
            )],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    let html = bob.get(&page).await.body;
    assert!(html.contains("<strong>Nice.</strong>"), "rendered markdown");
    // Nothing runs: the rendered comment has no script, handler or
    // javascript: link (its source in the author's edit form is escaped text).
    let rendered = regex::Regex::new(r#"(?s)<div class="comment-body">(.*?)</div>"#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_owned();
    for bad in ["<script", "javascript:", "onerror", "<img"] {
        assert!(!rendered.contains(bad), "{bad} in {rendered}");
    }
    assert!(!html.contains("<script>alert"), "no live script anywhere");
    assert!(html.contains(r#"rel="nofollow ugc noopener""#));
    assert!(html.contains("Discussion (1)"));
    let cid = regex::Regex::new(r#"id="c(\d+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_owned();

    // A reply, then no reply to the reply.
    ada.get(&page).await;
    let reply = ada
        .post(&comments, &[("body", "Agreed."), ("parent", &cid)])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let html = ada.get(&page).await.body;
    let rid = regex::Regex::new(r#"id="c(\d+)" class="comment reply""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_owned();
    let deeper = ada
        .post(&comments, &[("body", "Deeper"), ("parent", &rid)])
        .await;
    assert_eq!(deeper.status, StatusCode::BAD_REQUEST);

    // Only its author edits or deletes a comment; edits are marked.
    let theft = ada
        .post(
            &comments,
            &[("action", "edit"), ("comment", &cid), ("body", "mine now")],
        )
        .await;
    assert_eq!(theft.status, StatusCode::FORBIDDEN);
    bob.get(&page).await;
    let edit = bob
        .post(
            &comments,
            &[("action", "edit"), ("comment", &cid), ("body", "*Nicer.*")],
        )
        .await;
    assert_eq!(edit.status, StatusCode::SEE_OTHER);
    let html = bob.get(&page).await.body;
    assert!(html.contains("<em>Nicer.</em>") && html.contains(" · edited"));

    // The count reaches both APIs and the markdown page.
    let v1 = bob.get(&format!("/api/v1/papers/{id}")).await.json();
    assert_eq!(v1["paper"]["num_comments"], 2);
    let hf = bob.get(&format!("/api/papers/{id}")).await.json();
    assert_eq!(hf["numComments"], 2);
    let md = bob.get(&format!("/papers/{id}.md")).await.body;
    assert!(
        md.contains("**bob** on") && md.contains("*Nicer.*") && md.contains("> Agreed."),
        "{md}"
    );

    // The discussion's Atom feed is well-formed XML with both comments; the
    // author's page lists theirs; the list card shows the count.
    let feed = bob.get(&format!("{page}/comments.atom")).await;
    assert_eq!(feed.status, StatusCode::OK);
    let mut reader = quick_xml::Reader::from_str(&feed.body);
    let mut entries = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e)) => {
                if e.local_name().as_ref() == "entry" {
                    entries += 1;
                }
            }
            Ok(_) => {}
            Err(e) => panic!("the discussion feed is not well-formed: {e}"),
        }
    }
    assert_eq!(entries, 2, "{}", feed.body);
    assert!(
        feed.body.contains("&lt;em&gt;Nicer.&lt;/em&gt;"),
        "{}",
        feed.body
    );
    let profile = bob.get("/users/bob").await.body;
    assert!(
        profile.contains("<em>Nicer.</em>") && profile.contains(&format!("/papers/{id}#c{cid}"))
    );
    let list = bob.get(&format!("/papers/date/{LATEST}")).await.body;
    assert!(list.contains("2 comments"), "the card shows the count");

    // The curator hides bob's comment: gone for bob, shown to the curator.
    let hide = ada
        .post(&comments, &[("action", "hide"), ("comment", &cid)])
        .await;
    assert_eq!(hide.status, StatusCode::SEE_OTHER);
    let not_curator = bob
        .post(&comments, &[("action", "show"), ("comment", &cid)])
        .await;
    assert_eq!(not_curator.status, StatusCode::FORBIDDEN);
    assert!(!bob.get(&page).await.body.contains("<em>Nicer.</em>"));
    assert!(ada.get(&page).await.body.contains("hidden by the curators"));
    assert_eq!(
        bob.get(&format!("/api/papers/{id}")).await.json()["numComments"],
        1
    );

    // Deleting keeps the thread; empty and oversized comments are refused.
    let del = ada
        .post(&comments, &[("action", "delete"), ("comment", &rid)])
        .await;
    assert_eq!(del.status, StatusCode::SEE_OTHER);
    assert!(ada.get(&page).await.body.contains("Deleted by its author."));
    let empty = ada.post(&comments, &[("body", "   ")]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let huge = "x".repeat(10_001);
    let long = ada.post(&comments, &[("body", &huge)]).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    // A visitor sees the thread and a log-in link, no forms.
    let mut anon = hub.client();
    let html = anon.get(&page).await.body;
    assert!(html.contains("to comment.") && !html.contains("name=\"body\""));
}
