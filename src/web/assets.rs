//! The stylesheet and script, compiled into the binary and cached by browsers.

use axum::http::header;
use axum::response::IntoResponse;

/// The stylesheet.
pub const STYLE: &str = include_str!("../../static/style.css");
/// The script: upvotes without reload, copy BibTeX.
pub const SCRIPT: &str = include_str!("../../static/app.js");
/// Changes when either file changes, to bust caches (`?v=` in links).
pub static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{STYLE}{SCRIPT}").as_bytes());
    crate::secrets::hex(&digest[..6])
});

const CACHE: &str = "public, max-age=31536000, immutable";

/// `GET /static/style.css`.
pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        STYLE,
    )
}

/// `GET /static/app.js`.
pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        SCRIPT,
    )
}
