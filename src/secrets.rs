//! The hub's signing key and the tokens made with it.
//!
//! One random 32-byte key per data directory, generated on first use and
//! stored in `<data>/secret.key` with mode 0600. It keys HMAC-SHA-256 for CSRF
//! tokens and for signed, expiring link tokens (`subject.expiry.hmac`, the
//! purpose signed in) that mails carry to confirm or unsubscribe without a
//! login. Session and API tokens are
//! random, not signed: the store keeps only their SHA-256, so a leaked
//! database does not log anyone in.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The data directory's signing key.
#[derive(Clone)]
pub struct Secrets {
    key: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets([redacted])")
    }
}

/// `n` random bytes from the operating system.
///
/// # Errors
/// The OS has no randomness to give (should not happen).
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(bytes)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of a token, the form the store keeps.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token: 32 bytes as hex.
///
/// # Errors
/// No OS randomness.
pub fn new_token() -> Result<String> {
    Ok(hex(&random_bytes::<32>()?))
}

impl Secrets {
    /// Loads `<dir>/secret.key`, creating it (0600) if absent.
    ///
    /// # Errors
    /// The file cannot be read or written, or is not 32 bytes.
    pub fn load_or_create(dir: &Path) -> Result<Secrets> {
        Secrets::load_or_write(dir, random_bytes::<32>)
    }

    /// Loads `<dir>/secret.key`, or writes `key` there (0600) if absent: a
    /// hub moved here by `paperhub store copy` keeps signing as before.
    ///
    /// # Errors
    /// The file cannot be read or written, or is not 32 bytes.
    pub fn load_or_adopt(dir: &Path, key: [u8; 32]) -> Result<Secrets> {
        Secrets::load_or_write(dir, || Ok(key))
    }

    fn load_or_write(dir: &Path, make: impl FnOnce() -> Result<[u8; 32]>) -> Result<Secrets> {
        let path = dir.join("secret.key");
        match fs_err::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    anyhow::anyhow!(
                        "{} is {} bytes, expected 32; delete it to make a new key (this logs everyone out)",
                        path.display(),
                        bytes.len()
                    )
                })?;
                Ok(Secrets { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs_err::create_dir_all(dir)?;
                let key = make()?;
                let tmp = dir.join("secret.key.tmp");
                let mut options = fs_err::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                {
                    use fs_err::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options.open(&tmp)?;
                file.write_all(&key)?;
                file.sync_all()?;
                fs_err::rename(&tmp, &path)?;
                Ok(Secrets { key })
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// A key for tests.
    pub fn from_key(key: [u8; 32]) -> Secrets {
        Secrets { key }
    }

    /// The key itself, to share it through the store with other nodes.
    pub(crate) fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// HMAC-SHA-256 of `purpose` and `message`, as hex.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Checks a [`Secrets::sign`] signature in constant time.
    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        let expected = self.sign(purpose, message);
        constant_time_eq(expected.as_bytes(), signature.as_bytes())
    }
}

/// Why a signed link token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not of the form `subject.expiry.signature`.
    #[error("the link is incomplete; copy the whole link from the mail")]
    Malformed,
    /// The signature does not match (edited, or made for another purpose).
    #[error("the link is not valid")]
    BadSignature,
    /// Past its expiry.
    #[error("the link has expired; ask for a new one")]
    Expired,
}

impl Secrets {
    /// A link token for `subject` (letters, digits, `_`, `-`), valid for
    /// `purpose` until `expires`: `subject.expiry.hmac`. The purpose is
    /// signed but not written, so a token made for one purpose (confirm a
    /// subscription) is refused for another (unsubscribe).
    ///
    /// # Errors
    /// `subject` has characters a link cannot carry as they are.
    pub fn issue_token(
        &self,
        purpose: &str,
        subject: &str,
        expires: chrono::DateTime<chrono::Utc>,
    ) -> Result<String> {
        if subject.is_empty()
            || !subject
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            bail!("a token subject must be letters, digits, '_' or '-', not {subject:?}");
        }
        let body = format!("{subject}.{}", expires.timestamp());
        let signature = self.sign(purpose, &body);
        Ok(format!("{body}.{signature}"))
    }

    /// Checks a [`Secrets::issue_token`] token for `purpose` at `now` and
    /// returns its subject.
    ///
    /// # Errors
    /// Malformed, tampered, made for another purpose, or expired.
    pub fn check_token(
        &self,
        purpose: &str,
        token: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, TokenError> {
        let mut parts = token.trim().rsplitn(3, '.');
        let (Some(signature), Some(expiry), Some(subject)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let expiry: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
        if !self.verify(purpose, &format!("{subject}.{expiry}"), signature) {
            return Err(TokenError::BadSignature);
        }
        if now.timestamp() >= expiry {
            return Err(TokenError::Expired);
        }
        Ok(subject.to_owned())
    }
}

/// Equality that takes the same time wherever the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses an obviously wrong key file early (used by `serve` at start-up).
///
/// # Errors
/// The key cannot be loaded or created.
pub fn check(dir: &Path) -> Result<()> {
    if dir.join("secret.key").is_dir() {
        bail!("{} is a directory", dir.join("secret.key").display());
    }
    Secrets::load_or_create(dir).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let a = Secrets::load_or_create(dir.path()).unwrap();
        let b = Secrets::load_or_create(dir.path()).unwrap();
        assert_eq!(a.sign("csrf", "x"), b.sign("csrf", "x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn link_tokens_carry_subject_purpose_and_expiry() {
        use chrono::{Duration, TimeZone, Utc};
        let s = Secrets::from_key([7; 32]);
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t = s
            .issue_token("confirm", "sub-42", now + Duration::days(2))
            .unwrap();
        assert_eq!(s.check_token("confirm", &t, now).unwrap(), "sub-42");
        assert_eq!(
            s.check_token("unsubscribe", &t, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            s.check_token("confirm", &t, now + Duration::days(3)),
            Err(TokenError::Expired)
        );
        let edited_subject = t.replacen("sub-42", "sub-43", 1);
        assert_eq!(
            s.check_token("confirm", &edited_subject, now),
            Err(TokenError::BadSignature)
        );
        let (body, sig) = t.rsplit_once('.').unwrap();
        let (subject, expiry) = body.rsplit_once('.').unwrap();
        let later: i64 = expiry.parse::<i64>().unwrap() + 86_400;
        let extended = format!("{subject}.{later}.{sig}");
        assert_eq!(
            s.check_token("confirm", &extended, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            s.check_token("confirm", "nonsense", now),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            s.check_token("confirm", "a.b.c", now),
            Err(TokenError::Malformed)
        );
        assert!(
            s.issue_token("confirm", "a.b", now).is_err(),
            "dots would break parsing"
        );
        assert!(
            Secrets::from_key([8; 32])
                .check_token("confirm", &t, now)
                .is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn checking_any_string_never_panics(token in ".{0,200}") {
            let s = Secrets::from_key([7; 32]);
            let _ = s.check_token("confirm", &token, chrono::Utc::now());
        }
    }

    #[test]
    fn signatures_depend_on_purpose_message_and_key() {
        let s = Secrets::from_key([1; 32]);
        let sig = s.sign("csrf", "abc");
        assert!(s.verify("csrf", "abc", &sig));
        assert!(!s.verify("unsubscribe", "abc", &sig));
        assert!(!s.verify("csrf", "abd", &sig));
        assert!(!Secrets::from_key([2; 32]).verify("csrf", "abc", &sig));
        assert!(!s.verify("csrf", "abc", ""));
    }
}
