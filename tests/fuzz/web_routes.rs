//! Fuzz target for every route of the web hub and the JSON API, through the
//! real router in process (real SQLite, a real BM25 index over a real daily
//! listing, as `tests/integration/web.rs` sets up). Paths and query strings
//! are built per route from what its parameters accept and what they must
//! refuse: dates, weeks and months at and past chrono's limits, pages,
//! limits, queries, sorts, categories, `next` URLs, tokens and ids; POSTs send
//! every form field the handlers read, mostly with a valid CSRF token so they
//! get past the session layer.
//! Properties: the status is never 5xx (a handler panic becomes a 500 in the
//! catch-panic layer, or unwinds out of the request, and fails the case
//! either way) and each request takes under two seconds.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use chrono::Utc;
use http_body_util::BodyExt;
use paperhub::config::Config;
use paperhub::data_dir::DataDir;
use paperhub::indexing;
use paperhub::secrets::Secrets;
use paperhub::web::{self, AppState};
use paperhub_arxiv::SourceHint;
use paperhub_domain::Paper;
use paperhub_search::LexicalIndex;
use proptest::prelude::*;
use tower::ServiceExt;

use crate::harness::{Target, fuzz_for};

/// A router over a seeded data directory, and the runtime to drive it.
struct Hub {
    _dir: tempfile::TempDir,
    router: Router,
    runtime: tokio::runtime::Runtime,
    /// The hub's key, to sign the CSRF token of form posts.
    secrets: Secrets,
}

/// The anonymous CSRF cookie form posts carry (any hex string will do).
const ANON: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

/// Imports a real daily listing and indexes it, through the library.
fn seed(data_dir: &DataDir) -> anyhow::Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/listings/2025-03-19.jsonl"
    );
    let file = std::io::BufReader::new(fs_err::File::open(path)?);
    let papers: Vec<_> =
        paperhub_arxiv::open(file, &SourceHint::from_file_name("2025-03-19.jsonl"))?
            .filter_map(Result::ok)
            .take(200)
            .collect();
    anyhow::ensure!(papers.len() > 50, "too few fixture papers");
    let store = paperhub::app::store::open(data_dir, &Default::default())?;
    store.upsert_papers(&papers, Utc::now())?;
    // Text the listing lacks: one 400-character token (an excerpt builder
    // once panicked on it) and multi-byte characters at every offset.
    let mut odd = Paper::new(
        "2503.99999".parse()?,
        format!("量子 {} élan", "ü".repeat(150)),
        format!(
            "{} {} {}",
            "x".repeat(400),
            "é".repeat(333),
            "😀 ".repeat(100)
        ),
    );
    odd.categories = vec!["cs.LG".to_owned()];
    odd.announced = chrono::NaiveDate::from_ymd_opt(2025, 3, 19);
    odd.finalize();
    store.upsert_papers(&[odd], Utc::now())?;
    let index = LexicalIndex::open_or_create(&indexing::lexical_dir(data_dir))?;
    indexing::update_lexical(store.as_ref(), &index, false, &mut |_| {})?;
    Ok(())
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        // A 500's cause is logged at error level, not sent to the client.
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::ERROR)
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .try_init();
        let build = || -> anyhow::Result<Hub> {
            let dir = tempfile::tempdir()?;
            let data_dir = DataDir::resolve(Some(&dir.path().join("data")))?;
            seed(&data_dir)?;
            let app: Arc<AppState> = AppState::open(&data_dir, &Config::default())?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            Ok(Hub {
                secrets: Secrets::load_or_create(data_dir.path())?,
                _dir: dir,
                router: web::router(app),
                runtime,
            })
        };
        build().unwrap_or_else(|e| panic!("setting up the hub: {e:#}"))
    })
}

/// Days: valid, impossible, and at or past chrono's range (±262143).
fn day() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (2024i32..2027, 1u32..13, 1u32..32).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        1 => (prop_oneof![Just(-262_144i64), Just(-262_143), Just(262_143), Just(262_144), Just(0), Just(-1), Just(99_999), any::<i64>()],
              0u32..14, 0u32..33)
            .prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        1 => Just("+262143-12-31".to_owned()),
        1 => "[0-9-]{0,12}",
        1 => "\\PC{0,12}",
    ]
}

/// ISO weeks, including week 0 and 53 and huge years.
fn week() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (2024i32..2027, 0u32..55).prop_map(|(y, w)| format!("{y}-W{w:02}")),
        1 => (prop_oneof![Just(-262_144i64), Just(-262_143), Just(262_143), Just(262_144), any::<i64>()], 0u32..60)
            .prop_map(|(y, w)| format!("{y}-W{w:02}")),
        1 => "[0-9W-]{0,10}",
        1 => "\\PC{0,10}",
    ]
}

fn month() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (2024i32..2027, 0u32..14).prop_map(|(y, m)| format!("{y}-{m:02}")),
        1 => (prop_oneof![Just(-262_144i64), Just(-262_143), Just(262_143), Just(262_144), any::<i64>()], 0u32..14)
            .prop_map(|(y, m)| format!("{y}-{m:02}")),
        1 => "[0-9-]{0,8}",
        1 => "\\PC{0,8}",
    ]
}

/// Numbers as page, limit and `p` parameters see them.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..200).prop_map(|n| n.to_string()),
        1 => prop_oneof![Just("-1"), Just("0"), Just("10000"), Just("10001"), Just("4294967295"), Just("4294967296"), Just("18446744073709551616"), Just("1e3"), Just("+5"), Just(" 5"), Just("")].prop_map(str::to_owned),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "\\PC{0,6}",
    ]
}

/// Search queries, as in the search crate's target but shorter.
fn query() -> impl Strategy<Value = String> {
    let word = proptest::sample::select(
        &[
            "diffusion",
            "model",
            "graph",
            "neural",
            "quantum",
            "the",
            "量子",
            "😀",
        ][..],
    );
    let piece = prop_oneof![
        4 => word.prop_map(str::to_owned),
        1 => proptest::sample::select(&["ti:", "au:", "abs:", "cat:", "id:", "x:", "*", "-", "+", "\"", "(", ")", "[", "]", "{", "}", "AND", "OR", "NOT", "^2", "~", "~0", "\\", ":", " TO ", "&&", "||"][..]).prop_map(str::to_owned),
        1 => (1usize..500).prop_map(|n| "x".repeat(n)),
        1 => (1usize..300).prop_map(|n| "(".repeat(n)),
        1 => "\\PC{0,10}",
    ];
    proptest::collection::vec(piece, 0..20).prop_map(|p| {
        let mut q = p.join(if p.len() % 2 == 0 { " " } else { "" });
        let mut cut = q.len().min(1200);
        while !q.is_char_boundary(cut) {
            cut -= 1;
        }
        q.truncate(cut);
        q
    })
}

fn category() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&["cs.LG", "cs.AI", "cs.CV", "math.NA", "hep-th", "", "cs", "CS.LG"][..]).prop_map(str::to_owned),
        1 => "\\PC{0,30}",
    ]
}

/// `next=` redirect targets, the usual open-redirect suspects included.
fn next_url() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(
            &[
                "/",
                "/settings",
                "//evil.example",
                "https://evil.example/",
                "/\\evil.example",
                "javascript:alert(1)",
                "/%2F%2Fevil",
                "\r\nSet-Cookie: x=1",
                "/a\u{0}b",
                ""
            ][..]
        )
        .prop_map(str::to_owned),
        "\\PC{0,40}",
    ]
}

/// Paper ids and what can follow them in a path.
fn paper_path() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        3 => proptest::sample::select(&["2503.13531", "2503.13531v2", "2503.13531v0", "hep-th/9901001", "0704.0001", "9999.99999", "2503.1353", "arXiv:2503.13531", "https:/arxiv.org/abs/2503.13531"][..]).prop_map(str::to_owned),
        1 => "\\PC{0,30}",
    ];
    let tail = proptest::sample::select(
        &[
            "",
            "/similar",
            "/vote",
            "/bibtex",
            "/",
            "//",
            "/similar/x",
            "/..",
        ][..],
    );
    (id, tail).prop_map(|(id, tail)| format!("{id}{tail}"))
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_-]{0,20}\\.[0-9]{0,12}\\.[0-9a-f]{0,64}",
        "\\PC{0,60}",
    ]
}

/// A request: method, path and query pairs (encoded or raw).
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    path: String,
    params: Vec<(String, String)>,
    /// Append this to the query string as it is (bad escapes and the like).
    raw: String,
    /// A session cookie or bearer token, neither of them valid.
    credential: Option<(bool, String)>,
    /// Form fields a POST sends, urlencoded; the raw `body` when empty.
    form: Vec<(String, String)>,
    /// Whether a POST carries a valid CSRF token, so it reaches the handler.
    csrf: bool,
    body: String,
}

fn params(
    names: &'static [&'static str],
    value: BoxedStrategy<String>,
) -> BoxedStrategy<Vec<(String, String)>> {
    proptest::collection::vec((proptest::sample::select(names), value), 0..4)
        .prop_map(|v| v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        .boxed()
}

/// Values for any of the query parameters the hub reads.
fn any_value() -> BoxedStrategy<String> {
    prop_oneof![
        day(),
        week(),
        month(),
        number(),
        query(),
        category(),
        next_url(),
        token(),
        proptest::sample::select(
            &[
                "trending",
                "published",
                "relevance",
                "date",
                "day",
                "week",
                "month",
                "all",
                "lexical",
                "semantic",
                "hybrid",
                "x"
            ][..]
        )
        .prop_map(str::to_owned),
    ]
    .boxed()
}

fn route() -> impl Strategy<Value = (Method, String, Vec<(String, String)>)> {
    const LIST: &[&str] = &["category", "page", "sort", "limit", "p"];
    const SEARCH: &[&str] = &[
        "q", "mode", "category", "since", "until", "page", "limit", "sort",
    ];
    const DAILY: &[&str] = &["date", "week", "month", "sort", "limit", "p", "category"];
    let get = |path: BoxedStrategy<String>, names: &'static [&'static str]| {
        (path, params(names, any_value()))
            .prop_map(|(p, q)| (Method::GET, p, q))
            .boxed()
    };
    let fixed = |p: &'static str| Just(p.to_owned()).boxed();
    prop_oneof![
        get(fixed("/"), LIST),
        get(
            day().prop_map(|d| format!("/papers/date/{d}")).boxed(),
            LIST
        ),
        get(
            week().prop_map(|w| format!("/papers/week/{w}")).boxed(),
            LIST
        ),
        get(
            month().prop_map(|m| format!("/papers/month/{m}")).boxed(),
            LIST
        ),
        get(fixed("/trending"), &["window", "limit", "page"]),
        get(
            paper_path().prop_map(|p| format!("/papers/{p}")).boxed(),
            &["limit", "page"]
        ),
        get(fixed("/search"), SEARCH),
        get(fixed("/search.atom"), SEARCH),
        get(fixed("/search.rss"), SEARCH),
        get(
            proptest::sample::select(
                &["/feed.atom", "/feed.rss", "/trending.atom", "/trending.rss"][..]
            )
            .prop_map(str::to_owned)
            .boxed(),
            &["window", "category", "date", "limit"]
        ),
        get(fixed("/submit"), &["id"]),
        get(
            proptest::sample::select(&["/signup", "/login"][..])
                .prop_map(str::to_owned)
                .boxed(),
            &["next"]
        ),
        get(
            "\\PC{0,30}".prop_map(|n| format!("/users/{n}")).boxed(),
            &["page"]
        ),
        get(
            prop_oneof![
                "\\PC{0,40}".boxed(),
                Just("Yuming Gu".to_owned()).boxed(),
                Just("yuming%20GU".to_owned()).boxed(),
            ]
            .prop_map(|n| format!("/authors/{n}"))
            .boxed(),
            &["page"]
        ),
        get(
            "\\PC{0,40}"
                .prop_map(|n| format!("/api/v1/authors/{n}"))
                .boxed(),
            &["limit", "p"]
        ),
        get(
            prop_oneof![
                Just("/library".to_owned()).boxed(),
                "\\PC{0,30}".prop_map(|s| format!("/library/{s}")).boxed(),
                "\\PC{0,20}"
                    .prop_map(|s| format!("/users/ada/collections/{s}"))
                    .boxed(),
            ]
            .boxed(),
            &["q", "page"]
        ),
        get(fixed("/settings"), &["next"]),
        get(
            prop_oneof![
                Just("/for-you".to_owned()).boxed(),
                Just("/for-you.atom".to_owned()).boxed(),
                Just("/api/v1/for-you".to_owned()).boxed(),
                "\\PC{0,30}"
                    .prop_map(|s| format!("/api/v1/collections/{s}/recommended"))
                    .boxed(),
                Just("/api/v1/collections/reading-list/recommended".to_owned()).boxed(),
            ]
            .boxed(),
            &["period", "date", "limit", "t"]
        ),
        get(
            proptest::sample::select(
                &[
                    "/email/confirm",
                    "/email/manage",
                    "/email/unsubscribe",
                    "/email/comments/off",
                    "/email/comments/on"
                ][..]
            )
            .prop_map(str::to_owned)
            .boxed(),
            &["t"]
        ),
        get(
            proptest::sample::select(
                &[
                    "/static/style.css",
                    "/static/app.js",
                    "/healthz",
                    "/api/v1/openapi.json",
                    "/api/v1/nope",
                    "/nope"
                ][..]
            )
            .prop_map(str::to_owned)
            .boxed(),
            &["v"]
        ),
        get(fixed("/api/v1/daily_papers"), DAILY),
        get(fixed("/api/v1/trending"), &["window", "limit"]),
        get(fixed("/api/v1/papers/search"), SEARCH),
        get(
            paper_path()
                .prop_map(|p| format!("/api/v1/papers/{p}"))
                .boxed(),
            &["limit"]
        ),
        (
            prop_oneof![Just(Method::PUT), Just(Method::DELETE), Just(Method::POST)],
            paper_path()
        )
            .prop_map(|(m, p)| (m, format!("/api/v1/papers/{p}"), Vec::new()))
            .boxed(),
        (proptest::sample::select(
            &[
                "/papers/2503.13531",
                "/subscribe",
                "/email/confirm",
                "/email/manage",
                "/email/unsubscribe",
                "/login",
                "/signup",
                "/logout",
                "/submit",
                "/settings/tokens",
                "/settings/password",
                "/settings/tokens/1/delete",
                "/settings/notifications",
                "/email/manage/account",
                "/email/comments/off",
                "/email/comments/on",
                "/authors/Yuming%20Gu/follow",
                "/papers/2503.13531/comments",
                "/papers/2503.13531/save",
                "/papers/2503.13531/not-interested",
                "/for-you/reset",
                "/library",
                "/library/reading-list",
                "/library/reading-list/papers/2503.13531",
                "/api/v1/papers"
            ][..]
        ))
        .prop_map(|p| (Method::POST, p.to_owned(), Vec::new()))
        .boxed(),
    ]
}

/// Every form field the hub's POST handlers read.
const FORM_FIELDS: &[&str] = &[
    "email",
    "t",
    "frequency",
    "top_n",
    "queries",
    "categories",
    "authors",
    "username",
    "password",
    "next",
    "current",
    "new",
    "name",
    "expires",
    "paper",
    "up",
    "action",
    "body",
    "parent",
    "comment",
    "comments",
    "collection",
    "note",
    "public",
];

fn call() -> impl Strategy<Value = Call> {
    (
        plain_call(),
        params(FORM_FIELDS, any_value()),
        prop_oneof![3 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(mut call, form, csrf)| {
            if call.method != Method::GET {
                call.form = form;
                call.csrf = csrf;
            }
            call
        })
}

fn plain_call() -> impl Strategy<Value = Call> {
    (
        route(),
        prop_oneof![4 => Just(String::new()), 1 => proptest::sample::select(&["&", "&&", "=", "q", "q=%", "q=%ZZ", "q=%FF%FE", "page=%00", "limit=1&limit=2", "q=a+b%2Bc", "%26=%3D"][..]).prop_map(str::to_owned)],
        proptest::option::of((any::<bool>(), "[a-zA-Z0-9_.-]{0,70}")),
        prop_oneof![Just(String::new()), "[a-z_]{1,8}=[^&]{0,20}(&csrf=[0-9a-f]{0,64})?", Just("{\"id\":\"2503.13531\"}".to_owned()), "\\PC{0,40}"],
    )
        .prop_map(|((method, path, params), raw, credential, body)| Call {
            method,
            path,
            params,
            raw,
            credential,
            form: Vec::new(),
            csrf: false,
            body,
        })
}

/// Percent-encodes a path segment so any string becomes a valid URI path.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:+@!$'()*,;=".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn request(call: &Call, secrets: &Secrets) -> Option<Request<Body>> {
    let mut uri = encode_path(&call.path);
    let mut query = serde_urlencoded::to_string(&call.params).ok()?;
    if !call.raw.is_empty() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&call.raw);
    }
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query);
    }
    let mut builder = Request::builder().method(call.method.clone()).uri(uri);
    let mut cookies = Vec::new();
    match &call.credential {
        Some((true, v)) => cookies.push(format!("ph_session={v}")),
        Some((false, v)) => builder = builder.header("authorization", format!("Bearer {v}")),
        None => {}
    }
    if call.csrf {
        cookies.push(format!("ph_csrf={ANON}"));
        builder = builder.header("x-csrf-token", secrets.sign("csrf", ANON));
    }
    if !cookies.is_empty() {
        builder = builder.header("cookie", cookies.join("; "));
    }
    let mut body = call.body.clone();
    if call.method != Method::GET {
        if !call.form.is_empty() {
            body = serde_urlencoded::to_string(&call.form).ok()?;
        }
        let kind = if body.starts_with('{') {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        builder = builder.header("content-type", kind);
    }
    builder.body(Body::from(body)).ok()
}

#[test]
fn fuzz_web_routes() {
    let hub = hub();
    let target = Target {
        name: "web_routes",
        source: file!(),
        time_limit: Some(Duration::from_secs(2)),
        trace: true,
    };
    // How often each (method, status) came back: a target whose requests
    // all end in 404 or 403 tests nothing, and this shows it.
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::<(String, u16), u64>::new());
    fuzz_for(target, call(), |call| {
        // A URI the HTTP layer would refuse never reaches the router.
        let Some(req) = request(&call, &hub.secrets) else {
            return Ok(());
        };
        let (status, body) = hub
            .runtime
            .block_on(async {
                let res = hub.router.clone().oneshot(req).await;
                match res {
                    Ok(res) => {
                        let status = res.status();
                        let body = res.into_body().collect().await.map(|b| b.to_bytes());
                        Ok((
                            status,
                            body.map(|b| String::from_utf8_lossy(&b).into_owned()),
                        ))
                    }
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| TestCaseError::fail(format!("the router failed: {e}")))?;
        let body =
            body.map_err(|e| TestCaseError::fail(format!("reading the body failed: {e}")))?;
        if let Ok(mut counts) = statuses.lock() {
            *counts
                .entry((call.method.to_string(), status.as_u16()))
                .or_default() += 1;
        }
        // The page says only "Internal Server Error"; the cause is in the
        // log, which this binary prints (see `hub`).
        prop_assert!(
            !status.is_server_error(),
            "{} {} gave {} ({} bytes)",
            call.method,
            call.path,
            status,
            body.len()
        );
        Ok(())
    });
    if let Ok(counts) = statuses.lock() {
        println!("web_routes statuses (method, status, count): {counts:?}");
    }
}
