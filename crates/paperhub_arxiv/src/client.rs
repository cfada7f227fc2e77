//! A polite HTTP client for arXiv's interfaces, with the rules enforced in code.
//!
//! arXiv asks harvesters for one request at a time, at least 3 seconds apart,
//! to honour `503 Retry-After`, and to name themselves with a contact address
//! (<https://info.arxiv.org/help/api/tou.html>). [`PoliteClient`] does all of
//! it: requests go through one lock, the spacing is measured from the end of
//! the previous exchange (so arXiv, which sees arrivals, never sees two closer
//! than 3 s, however long a request took to connect) and can only be raised above 3 s (for every host, so a
//! mirror or a local replay sees the same behaviour as arXiv), 429, 5xx,
//! timeouts and dropped connections are retried with capped exponential
//! backoff, and `Retry-After` wins when the server sends it. Time comes from a
//! [`Clock`], so tests prove the spacing with a fake clock instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the client gets the time and how it waits.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration);
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The lowest spacing allowed between requests (arXiv's rule).
pub const ARXIV_MIN_INTERVAL: Duration = Duration::from_secs(3);

/// The longest `Retry-After` we obey before giving up.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct Politeness {
    /// Time from the end of one exchange to the start of the next.
    pub min_interval: Duration,
    /// Time before a request is abandoned.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Longest backoff between retries.
    pub max_backoff: Duration,
    /// The `User-Agent` header; must name the operator's contact.
    pub user_agent: String,
}

impl Politeness {
    /// A User-Agent naming Paperhub, its version and the operator's contact email.
    pub fn user_agent_for(contact_email: &str) -> String {
        format!(
            "Paperhub/{} (https://github.com/paperhub/paperhub; mailto:{contact_email})",
            env!("CARGO_PKG_VERSION")
        )
    }
}

/// A response the caller has to interpret (2xx, or a 4xx other than 429).
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
    /// Attempts it took.
    pub attempts: u32,
}

/// Why a fetch failed for good.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not valid.
    #[error("invalid URL {url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Every attempt failed; the last failure is given.
    #[error("{url}: gave up after {attempts} attempts; last error: {last}")]
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The server asked to wait longer than we are willing to.
    #[error("{url}: the server asked to retry after {seconds} s; try again later")]
    RetryTooLate {
        /// The URL.
        url: String,
        /// Seconds asked for.
        seconds: u64,
    },
}

/// One request at a time, spaced and retried; see the module docs.
pub struct PoliteClient {
    agent: ureq::Agent,
    policy: Politeness,
    clock: Arc<dyn Clock>,
    last_end: Mutex<Option<Instant>>,
}

/// What one attempt produced.
enum Attempt {
    Done(u16, Vec<u8>),
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

impl PoliteClient {
    /// A client with `policy`, waiting on `clock`.
    pub fn new(policy: Politeness, clock: Arc<dyn Clock>) -> PoliteClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(policy.timeout))
            .user_agent(policy.user_agent.clone())
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .new_agent();
        PoliteClient {
            agent,
            policy,
            clock,
            last_end: Mutex::new(None),
        }
    }

    /// The spacing between requests: the configured value, never below 3 s.
    pub fn interval(&self) -> Duration {
        self.policy.min_interval.max(ARXIV_MIN_INTERVAL)
    }

    /// GETs `url`, politely, retrying transient failures.
    ///
    /// # Errors
    /// The URL is invalid, every attempt failed, or the server asked to wait
    /// over an hour.
    pub fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        // One request at a time: the lock is held across the whole exchange.
        let mut last_end = self
            .last_end
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let interval = self.interval();
        let mut last_error = String::new();
        for attempt in 0..=self.policy.max_retries {
            if let Some(previous) = *last_end {
                let next = previous + interval;
                let now = self.clock.now();
                if next > now {
                    self.clock.sleep(next - now);
                }
            }
            let outcome = self.attempt(url)?;
            *last_end = Some(self.clock.now());
            match outcome {
                Attempt::Done(status, body) => {
                    return Ok(Fetched {
                        status,
                        body,
                        attempts: attempt + 1,
                    });
                }
                Attempt::Retry { reason, after } => {
                    tracing::warn!(
                        url,
                        attempt = attempt + 1,
                        "request failed, will retry: {reason}"
                    );
                    last_error = reason;
                    if attempt == self.policy.max_retries {
                        break;
                    }
                    let backoff = match after {
                        Some(after) if after > MAX_RETRY_AFTER => {
                            return Err(FetchError::RetryTooLate {
                                url: url.to_owned(),
                                seconds: after.as_secs(),
                            });
                        }
                        Some(after) => after,
                        None => self.backoff(attempt, interval),
                    };
                    // The wait counts from now; the spacing rule still applies after it.
                    self.clock.sleep(backoff);
                }
            }
        }
        Err(FetchError::GaveUp {
            url: url.to_owned(),
            attempts: self.policy.max_retries + 1,
            last: last_error,
        })
    }

    /// Exponential backoff from the spacing interval, capped.
    fn backoff(&self, attempt: u32, interval: Duration) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        (interval.max(Duration::from_secs(1)) * factor).min(self.policy.max_backoff)
    }

    fn attempt(&self, url: &str) -> Result<Attempt, FetchError> {
        let response = match self.agent.get(url).call() {
            Ok(response) => response,
            Err(ureq::Error::BadUri(reason)) => {
                return Err(FetchError::BadUrl {
                    url: url.to_owned(),
                    reason,
                });
            }
            Err(e) => {
                return Ok(Attempt::Retry {
                    reason: e.to_string(),
                    after: None,
                });
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if status == 429 || status >= 500 {
            return Ok(Attempt::Retry {
                reason: format!("HTTP {status}"),
                after: retry_after,
            });
        }
        match response
            .into_body()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
        {
            Ok(body) => Ok(Attempt::Done(status, body)),
            // A connection dropped mid-body is transient.
            Err(e) => Ok(Attempt::Retry {
                reason: format!("reading the body failed: {e}"),
                after: None,
            }),
        }
    }
}

/// Parses a `Retry-After` value given in seconds (arXiv's form).
///
/// HTTP dates are also allowed by RFC 9110; they are read relative to now.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_never_goes_below_three_seconds() {
        let policy = |secs| Politeness {
            min_interval: Duration::from_secs(secs),
            timeout: Duration::from_secs(1),
            max_retries: 0,
            max_backoff: Duration::from_secs(1),
            user_agent: Politeness::user_agent_for("ops@example.org"),
        };
        let client = PoliteClient::new(policy(0), Arc::new(SystemClock));
        assert_eq!(client.interval(), ARXIV_MIN_INTERVAL);
        let client = PoliteClient::new(policy(10), Arc::new(SystemClock));
        assert_eq!(client.interval(), Duration::from_secs(10));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn user_agent_names_contact() {
        let ua = Politeness::user_agent_for("ops@example.org");
        assert!(
            ua.starts_with("Paperhub/") && ua.contains("mailto:ops@example.org"),
            "{ua}"
        );
    }
}
