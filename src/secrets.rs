//! The hub's signing key and the tokens made with it.
//!
//! One random 32-byte key per data directory, generated on first use and
//! stored in `<data>/secret.key` with mode 0600. It keys HMAC-SHA-256 for CSRF
//! tokens (and the digest issue's signed links). Session and API tokens are
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
                let key = random_bytes::<32>()?;
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
