//! Who is asking, and whether a state-changing request may proceed.
//!
//! One middleware resolves the viewer for every request: a personal API
//! token (`Authorization: Bearer`, no cookies involved), else the
//! `ph_session` cookie (a random token; the store keeps its SHA-256), else
//! nobody. It also guards every POST, PUT, PATCH and DELETE made with cookies:
//! the request must carry the CSRF token, as the form field `csrf` or the
//! `X-CSRF-Token` header. The token is an HMAC of the session token (or, for
//! visitors not logged in, of a random `ph_csrf` cookie), so it needs no
//! storage and a token from another session never matches.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use paperhub_store::User;

use super::AppState;
use super::errors::{ApiError, AppError};
use crate::secrets::{self, constant_time_eq};

/// The session cookie.
pub const SESSION_COOKIE: &str = "ph_session";
/// The anonymous CSRF binding cookie.
pub const ANON_COOKIE: &str = "ph_csrf";

/// The unsafe paths exempt from the CSRF check: RFC 8058 one-click
/// unsubscribe from the digest and from comment notifications.
pub const ONE_CLICK_PATHS: &[&str] = &["/email/unsubscribe", "/email/comments/off"];
/// Largest form body the CSRF check reads.
const FORM_LIMIT: usize = 64 * 1024;

/// The resolved viewer, in every request's extensions.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The user, if logged in or authenticated by token.
    pub user: Option<User>,
    /// The CSRF token forms must echo.
    pub csrf: String,
    /// The session cookie's token, if any.
    pub session_token: Option<String>,
    /// The client address (for rate limits).
    pub ip: String,
}

impl Viewer {
    /// The user, or 401.
    ///
    /// # Errors
    /// Nobody is logged in.
    pub fn require(&self) -> Result<&User, AppError> {
        self.user.as_ref().ok_or_else(AppError::unauthorized)
    }
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The client's address: the connection's peer, or, behind the operator's
/// own proxies, the `X-Forwarded-For` entry the outermost of them appended.
///
/// Every proxy appends the address it saw, so the entries a client wrote
/// itself are on the left and only the last `hops` are trustworthy; taking
/// the leftmost let anyone pick their address (see #13). A request with
/// fewer entries than `hops` did not come through the proxies and is
/// keyed on its peer.
fn client_ip(req: &Request, web: &crate::config::WebConfig) -> String {
    let peer = || {
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(
                || "unknown".to_owned(),
                |c| client_key(c.0.ip()).to_string(),
            )
    };
    if !web.trust_forwarded_for {
        return peer();
    }
    forwarded_client(req.headers(), web.trusted_proxy_hops as usize).unwrap_or_else(peer)
}

/// The entry `hops` from the right of every `X-Forwarded-For` header, in
/// order. Only that entry is parsed, as bytes: junk a client wrote further
/// left cannot make the trusted entry unreadable. Ports and brackets
/// (`1.2.3.4:80`, `[2001:db8::1]:443`) are dropped.
fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<String> {
    let mut entries: Vec<&[u8]> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        entries.extend(v.as_bytes().split(|b| *b == b','));
    }
    let index = entries.len().checked_sub(hops.max(1))?;
    let entry = std::str::from_utf8(entries.get(index)?).ok()?.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))?;
    Some(client_key(ip).to_string())
}

/// The address limits are keyed on: IPv4 as is, IPv6 by its /64 prefix,
/// since one host commonly holds a whole /64 and could otherwise be any
/// number of clients.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

fn reject(path: &str, error: AppError) -> Response {
    if is_api(path) {
        ApiError(error).into_response()
    } else {
        error.into_response()
    }
}

/// The middleware; see the module docs.
pub async fn resolve_viewer(
    State(app): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let ip = client_ip(&req, &app.config.web);
    // Personal API tokens are credentials for the API only: on pages they
    // could reach settings (and mint a token that never expires) without
    // the session a browser holds (see #13).
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .filter(|_| is_api(&path))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_owned());
    let now = Utc::now();
    let mut new_anon = None;
    let viewer = if let Some(token) = bearer {
        let hash = secrets::token_hash(&token);
        let user = match app.db.run(move |s| s.api_token_user(&hash, now)).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return reject(
                    &path,
                    AppError {
                        detail: "That API token is not valid; make a new one in your settings."
                            .into(),
                        ..AppError::unauthorized()
                    },
                );
            }
            Err(e) => return reject(&path, e),
        };
        Viewer {
            user: Some(user),
            csrf: String::new(),
            session_token: None,
            ip,
        }
    } else {
        let session = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned);
        let user = match &session {
            Some(token) => {
                let hash = secrets::token_hash(token);
                match app.db.run(move |s| s.session_user(&hash, now)).await {
                    Ok(user) => user,
                    Err(e) => return reject(&path, e),
                }
            }
            None => None,
        };
        let binding = match (&user, &session) {
            (Some(_), Some(token)) => token.clone(),
            _ => match cookie(req.headers(), ANON_COOKIE) {
                Some(anon) => anon.to_owned(),
                None => match secrets::new_token() {
                    Ok(t) => {
                        new_anon = Some(t.clone());
                        t
                    }
                    Err(e) => return reject(&path, AppError::internal(e)),
                },
            },
        };
        let csrf = app.secrets.sign("csrf", &binding);
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        // API calls without a session cookie carry no ambient credentials,
        // so there is nothing to forge; they get 401 from the handler.
        // One-click unsubscribe (RFC 8058) comes from mail clients with no
        // cookie; its signed token is the credential.
        if unsafe_method
            && (session.is_some() || !is_api(&path))
            && !ONE_CLICK_PATHS.contains(&path.as_str())
        {
            let (presented, rebuilt) = match presented_csrf(req, &path, session.is_some()).await {
                Ok(pair) => pair,
                Err(e) => return reject(&path, e),
            };
            req = rebuilt;
            if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), csrf.as_bytes())) {
                tracing::info!(http.path = %path, "refused a request without a valid CSRF token");
                return reject(&path, AppError::csrf());
            }
        }
        Viewer {
            user,
            csrf,
            session_token: session,
            ip,
        }
    };
    req.extensions_mut().insert(viewer);
    let mut response = next.run(req).await;
    if let Some(anon) = new_anon
        && let Ok(v) = HeaderValue::from_str(&set_cookie(
            ANON_COOKIE,
            &anon,
            60 * 60 * 24 * 365,
            app.secure_cookies(),
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The CSRF token a request presents (header, else form field), and the
/// request rebuilt with its body intact.
/// The one path that takes `multipart/form-data` (a file upload); its
/// CSRF token is read from the form's `csrf` part.
pub const UPLOAD_PATH: &str = "/library/import";

/// The value of the `csrf` part of a multipart body, if it has one.
fn multipart_csrf(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body.get(..body.len().min(64 * 1024))?);
    let at = text.find("name=\"csrf\"")?;
    let value_start = at + text[at..].find("\r\n\r\n")? + 4;
    let value_end = value_start + text[value_start..].find("\r\n")?;
    Some(text[value_start..value_end].trim().to_owned())
}

async fn presented_csrf(
    req: Request,
    path: &str,
    signed_in: bool,
) -> Result<(Option<String>, Request), AppError> {
    if let Some(v) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return Ok((Some(v.to_owned()), req));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // Only a signed-in upload is read at all: a visitor's multipart body is
    // never buffered (it fails the CSRF check unread).
    if content_type.starts_with("multipart/form-data") && path == UPLOAD_PATH && signed_in {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, super::library::MAX_UPLOAD + 64 * 1024)
            .await
            .map_err(|_| {
                AppError::bad_request(format!(
                    "The file is too large: at most {} MB.",
                    super::library::MAX_UPLOAD >> 20
                ))
            })?;
        let token = multipart_csrf(&bytes);
        return Ok((token, Request::from_parts(parts, Body::from(bytes))));
    }
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    if !is_form {
        return Ok((None, req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| AppError::bad_request("The form is too large."))?;
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_what_our_own_proxies_saw() {
        // See: #13 (the leftmost entry is written by the client).
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 10.0.0.7".parse().unwrap());
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("10.0.0.7"));
        assert_eq!(forwarded_client(&h, 2).as_deref(), Some("6.6.6.6"));
        assert_eq!(forwarded_client(&h, 3), None, "fewer entries than hops");
        h.append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("192.0.2.1"));
        let mut junk = HeaderMap::new();
        junk.append("x-forwarded-for", "1.2.3.4, not-an-ip".parse().unwrap());
        assert_eq!(forwarded_client(&junk, 1), None);
        // Junk on the client's side does not hide what the proxy wrote.
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9:4711").unwrap(),
        );
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("203.0.113.9"));
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            "[2001:db8:1:2:3:4:5:6]:443".parse().unwrap(),
        );
        assert_eq!(forwarded_client(&h, 1).as_deref(), Some("2001:db8:1:2::"));
    }

    #[test]
    fn cookies_are_found_and_junk_is_ignored() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ph_session=abc123; ph_csrf=<script>"),
        );
        assert_eq!(cookie(&h, "ph_session"), Some("abc123"));
        assert_eq!(cookie(&h, "ph_csrf"), None, "only hex tokens are accepted");
        assert_eq!(cookie(&h, "missing"), None);
    }
}
