//! The web hub and the JSON API: server-rendered pages, feeds, `/api/v1`.
//!
//! [`router`] is the one place routes are listed. Every request passes two
//! middlewares: [`security::headers`] (CSP and friends, outermost) and
//! [`session::resolve_viewer`] (who is asking, CSRF check for writes).
//! Handlers read through the store pool ([`db::Db`]) and search through
//! [`crate::jobs::index::Searcher`]; pages and the API call the same functions in
//! [`lists`] so they never disagree.

pub mod admission;
pub mod api;
pub mod assets;
pub mod authors;
pub mod db;
pub mod discussion;
pub mod errors;
pub mod feeds;
pub mod for_you;
pub mod hf_api;
pub mod library;
pub mod library_api;
pub mod limits;
pub mod lists;
pub mod notifications;
pub mod page_cache;
pub mod pages;
pub mod paper;
pub mod search;
pub mod security;
pub mod server;
pub mod session;
pub mod submit;
pub mod subscriptions;
pub mod users;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use paperhub_arxiv::{PoliteClient, SystemClock};

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::secrets::Secrets;

/// Everything handlers share.
pub struct AppState {
    /// The configuration.
    pub config: Config,
    /// The data directory.
    pub data_dir: DataDir,
    /// Store connections.
    pub db: Arc<db::Db>,
    /// Search.
    pub searcher: Arc<crate::jobs::index::Searcher>,
    /// The signing key.
    pub secrets: Secrets,
    /// Log-in and sign-up limits.
    pub limiter: limits::RateLimiter,
    /// Pages anonymous visitors share.
    pub pages: page_cache::PageCache,
    /// The arXiv API client for submissions; none without a contact email.
    pub arxiv: Option<Arc<PoliteClient>>,
    /// Submissions waiting to fetch a paper from arXiv.
    pub fetches: submit::FetchQueue,
    /// Password hashes computed at once (each takes 19 MiB and a core);
    /// the rest wait, bounded by the connection cap and the request time
    /// limit.
    pub hashing: admission::Admission,
    /// Searches, rankings and similar-paper lookups: two per core at once,
    /// `web.search_queue` more waiting, the rest turned away.
    pub searching: admission::Admission,
    /// Papers and features of periods "For you" ranked lately.
    pub for_you: crate::app::for_you::PeriodCache<crate::retrieval::Retriever>,
    /// Users' latest For-you rankings, reused until their signals change.
    pub rankings: crate::app::for_you::RankingCache,
    /// Wakes the mail thread when a mail is queued.
    pub mailer: crate::jobs::mail::Mailer,
    /// The hub's public address (the configured one, else the one bound).
    pub hub: Arc<crate::jobs::HubUrl>,
    /// The newest announcement day, read from the store at most every
    /// [`LATEST_DAY_TTL`]: the daily list, its feeds and the API ask on
    /// every request, and on PostgreSQL each ask is a round trip.
    latest_day_cache: std::sync::Mutex<Option<(std::time::Instant, Option<chrono::NaiveDate>)>>,
}

/// How long the newest announcement day is remembered; a harvest shows up
/// on the daily list at most this much later.
pub const LATEST_DAY_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl AppState {
    /// Opens the state for `data_dir`.
    ///
    /// # Errors
    /// The store, key or indexes cannot be opened.
    pub fn open(data_dir: &DataDir, config: &Config) -> Result<Arc<AppState>> {
        let store = crate::app::store::open(data_dir, &config.database)?;
        let arxiv = crate::harvest::client(&config.harvest, Arc::new(SystemClock))
            .ok()
            .map(Arc::new);
        Ok(Arc::new(AppState {
            config: config.clone(),
            data_dir: data_dir.clone(),
            db: Arc::new(db::Db::new(Arc::clone(&store), config.database.pool_size)),
            searcher: crate::jobs::index::Searcher::open(data_dir, config, Arc::clone(&store))?,
            secrets: crate::app::store::signing_secrets(store.as_ref(), data_dir)?,
            limiter: limits::RateLimiter::default(),
            pages: page_cache::PageCache::new(config.web.page_cache_mb as usize * 1024 * 1024),
            arxiv,
            fetches: submit::FetchQueue::new(config.web.submission_queue as usize),
            hashing: admission::Admission::new(cores(), usize::MAX),
            searching: admission::Admission::new(2 * cores(), config.web.search_queue as usize),
            for_you: crate::app::for_you::PeriodCache::default(),
            rankings: crate::app::for_you::RankingCache::default(),
            mailer: crate::jobs::mail::Mailer::default(),
            hub: Arc::new(crate::jobs::HubUrl::new(&config.web)),
            latest_day_cache: std::sync::Mutex::new(None),
        }))
    }

    /// The newest announcement day in the catalog, today's date when it
    /// has none, remembered for [`LATEST_DAY_TTL`].
    ///
    /// # Errors
    /// A storage error.
    pub async fn latest_day(self: &Arc<Self>) -> Result<chrono::NaiveDate, errors::AppError> {
        let remembered = self
            .latest_day_cache
            .lock()
            .ok()
            .and_then(|g| *g)
            .filter(|(at, _)| at.elapsed() < LATEST_DAY_TTL);
        let day = match remembered {
            Some((_, day)) => day,
            None => {
                let day = self.db.run(|s| s.latest_day()).await?;
                if let Ok(mut g) = self.latest_day_cache.lock() {
                    *g = Some((std::time::Instant::now(), day));
                }
                day
            }
        };
        Ok(day.unwrap_or_else(|| chrono::Utc::now().date_naive()))
    }

    /// Whether cookies get `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.config.web.public_url.starts_with("https://")
    }

    /// The public base URL without a trailing slash: `web.public_url`, else
    /// the address actually bound (which `serve --addr` may have changed).
    pub fn base_url(&self) -> String {
        self.hub.get()
    }
}

/// The catalog ids among `ids` (search hits, trending rows), in order;
/// a malformed one, which only a damaged index could hold, is left out.
pub fn catalog_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<paperhub_domain::ArxivId> {
    ids.into_iter()
        .filter_map(|id| paperhub_domain::ArxivId::parse_bare(id).ok())
        .collect()
}

/// Cores available to this process.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Every route.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::today))
        .route("/papers/date/{day}", get(pages::day))
        .route("/papers/week/{week}", get(pages::week))
        .route("/papers/month/{month}", get(pages::month))
        .route("/trending", get(pages::trending))
        .route("/papers/{*rest}", get(paper::show).post(paper::act))
        .route("/search", get(search::search_page))
        .route("/search.atom", get(feeds::search_atom))
        .route("/search.rss", get(feeds::search_rss))
        .route("/feed.atom", get(feeds::daily_atom))
        .route("/feed.rss", get(feeds::daily_rss))
        .route("/trending.atom", get(feeds::trending_atom))
        .route("/trending.rss", get(feeds::trending_rss))
        .route("/submit", get(submit::form).post(submit::submit_form))
        .route("/signup", get(users::signup_form).post(users::signup))
        .route("/login", get(users::login_form).post(users::login))
        .route("/logout", post(users::logout))
        .route("/users/{name}", get(users::show_user))
        .route("/users/{name}/collections/{slug}", get(library::public))
        .route("/library", get(library::index).post(library::create))
        .route(
            "/library/import",
            post(library::import).layer(axum::extract::DefaultBodyLimit::max(
                library::MAX_UPLOAD + 64 * 1024,
            )),
        )
        .route("/library/{slug}", get(library::show).post(library::change))
        .route("/library/{slug}/{file}", get(library::export))
        .route("/library/{slug}/papers/{*rest}", post(library::item))
        .route("/for-you", get(for_you::page))
        .route("/for-you.atom", get(for_you::atom))
        .route("/for-you/reset", post(for_you::reset))
        .route("/for-you/feed-link", post(for_you::new_feed_link))
        .route("/authors/{name}", get(authors::show))
        .route("/authors/{name}/follow", post(authors::follow))
        .route("/settings", get(users::settings))
        .route("/settings/password", post(users::change_password))
        .route("/settings/tokens", post(users::create_token))
        .route("/settings/notifications", post(notifications::switch))
        .route(
            "/email/comments/off",
            get(notifications::off_page).post(notifications::off),
        )
        .route(
            "/email/comments/on",
            get(notifications::on_page).post(notifications::on),
        )
        .route("/settings/tokens/{id}/delete", post(users::delete_token))
        .route("/email/manage/account", post(subscriptions::link_account))
        .route("/subscribe", post(subscriptions::subscribe))
        .route(
            "/email/confirm",
            get(subscriptions::confirm_page).post(subscriptions::confirm),
        )
        .route(
            "/email/manage",
            get(subscriptions::manage).post(subscriptions::save_manage),
        )
        .route(
            "/email/unsubscribe",
            get(subscriptions::unsubscribe_page).post(subscriptions::unsubscribe),
        )
        .route("/static/style.css", get(assets::style))
        .route("/static/app.js", get(assets::script))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/daily_papers", get(hf_api::daily_papers))
        .route("/api/papers/search", get(hf_api::search))
        .route("/api/papers/{id}", get(hf_api::paper_info))
        .nest("/api/v1", api::routes())
        .fallback(pages::not_found)
        .layer(from_fn_with_state(
            Arc::clone(&app),
            session::resolve_viewer,
        ))
        .layer(from_fn_with_state(Arc::clone(&app), security::headers))
        .layer(axum::middleware::from_fn(server::catch_panic))
        .layer(from_fn_with_state(
            std::time::Duration::from_secs(u64::from(app.config.web.request_timeout_secs.max(1))),
            server::time_limit,
        ))
        .with_state(app)
}

/// Resolves when the process gets Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Every minute: forget expired rate-limit windows and cached pages, so
/// memory goes back down after a burst of hostile requests.
async fn housekeeping(app: Arc<AppState>) {
    let mut tick = tokio::time::interval(FOLLOW_EVERY);
    let sweep_every = (60 / FOLLOW_EVERY.as_secs().max(1)).max(1);
    for n in 0u64.. {
        tick.tick().await;
        follow_store(&app).await;
        if n % sweep_every == 0 {
            app.limiter.sweep();
            app.pages.sweep();
        }
    }
}

/// How often a node looks at the shared store for what other nodes (or a
/// command-line import) changed.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Catches up with changes this process did not make: papers another node
/// harvested or fetched reach this node's search indexes, and votes,
/// submissions and curation there make this node's cached pages stale.
async fn follow_store(app: &Arc<AppState>) {
    let app = Arc::clone(app);
    let followed = tokio::task::spawn_blocking(move || -> Result<()> {
        if app.searcher.behind()? {
            app.searcher.refresh();
        }
        app.pages.observe(app.db.store().community_version()?);
        Ok(())
    })
    .await;
    match followed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("following the store failed: {e:#}"),
        Err(e) => tracing::warn!("following the store failed: {e}"),
    }
}

/// Serves `app` on `addr` until Ctrl-C or SIGTERM, then finishes in-flight
/// requests and closes the store. `on_ready` gets the bound address.
///
/// # Errors
/// The address cannot be bound.
pub fn run(app: Arc<AppState>, addr: &str, on_ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("web")
        // Room beyond tokio's 2 MiB: a second layer under the query checks
        // against recursion in parsers we do not own (see #13).
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        app.hub.set_bound(local);
        on_ready(local);
        let housekeeping = tokio::spawn(housekeeping(Arc::clone(&app)));
        server::serve(
            listener,
            router(Arc::clone(&app)),
            &app.config.web,
            shutdown_signal(),
        )
        .await;
        housekeeping.abort();
        tracing::info!("shut down: in-flight requests finished");
        app.searcher.stop_indexer();
        anyhow::Ok(())
    })
}
