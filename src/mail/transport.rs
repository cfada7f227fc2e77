//! Where mail goes: `.eml` files in the data directory (the embedded
//! default, for a laptop with no mail server) or an SMTP server through
//! lettre (implicit TLS, STARTTLS or plain, with optional authentication).
//!
//! [`Transport::deliver`] sorts every failure into temporary (retry later:
//! 4xx answers, timeouts, refused or dropped connections) and permanent
//! (5xx answers, an address that does not parse), which is all the sender
//! needs to know.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lettre::Transport as _;
use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};

use crate::config::MailConfig;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying later (4xx, network).
    Temporary(String),
    /// Will never succeed (5xx).
    Permanent(String),
}

/// A configured way out.
pub enum Transport {
    /// Writes `<dir>/<message id>.eml`.
    Files(PathBuf),
    /// Sends through an SMTP server.
    Smtp {
        /// The pooled client.
        client: Box<SmtpTransport>,
        /// The envelope sender.
        from: lettre::Address,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Files(dir) => write!(f, "Files({})", dir.display()),
            Transport::Smtp { .. } => f.write_str("Smtp"),
        }
    }
}

impl Transport {
    /// The transport `config` asks for; files go to `outbox_dir`.
    ///
    /// # Errors
    /// A bad From address or SMTP setting, or the directory cannot be made.
    pub fn from_config(config: &MailConfig, outbox_dir: &Path) -> Result<Transport> {
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("mail.from {:?} is not an address", config.from))?;
        match config.transport.as_str() {
            "file" => {
                crate::data_dir::create_private_dir(outbox_dir)?;
                Ok(Transport::Files(outbox_dir.to_owned()))
            }
            "smtp" => {
                let host = config.smtp_host.as_str();
                let (tls, default_port) = match config.smtp_security.as_str() {
                    "tls" => (Tls::Wrapper(TlsParameters::new(host.into())?), 465),
                    "starttls" => (Tls::Required(TlsParameters::new(host.into())?), 587),
                    "plain" => (Tls::None, 25),
                    other => bail!("mail.smtp_security {other:?} is not starttls, tls or plain"),
                };
                let port = if config.smtp_port == 0 {
                    default_port
                } else {
                    config.smtp_port
                };
                let mut builder = SmtpTransport::builder_dangerous(host)
                    .port(port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(config.smtp_timeout_secs.max(1))));
                if !config.smtp_username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        config.smtp_username.clone(),
                        config.smtp_password.clone(),
                    ));
                }
                Ok(Transport::Smtp {
                    client: Box::new(builder.build()),
                    from: from.email,
                })
            }
            other => bail!("mail.transport {other:?} is not file or smtp"),
        }
    }

    /// Delivers one rendered message to `recipient`.
    ///
    /// # Errors
    /// A [`Failure`], temporary or permanent.
    pub fn deliver(
        &self,
        message_id: &str,
        recipient: &str,
        message: &[u8],
    ) -> Result<(), Failure> {
        match self {
            Transport::Files(dir) => write_eml(dir, message_id, message)
                .map_err(|e| Failure::Temporary(format!("{e:#}"))),
            Transport::Smtp { client, from } => {
                let to: lettre::Address = recipient.parse().map_err(|e| {
                    Failure::Permanent(format!("the recipient is not an address: {e}"))
                })?;
                let envelope = Envelope::new(Some(from.clone()), vec![to])
                    .map_err(|e| Failure::Permanent(e.to_string()))?;
                match client.send_raw(&envelope, message) {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let text = super::redact_addresses(&e.to_string());
                        if e.is_permanent() {
                            Err(Failure::Permanent(text))
                        } else {
                            Err(Failure::Temporary(text))
                        }
                    }
                }
            }
        }
    }
}

/// Writes `<dir>/<id>.eml` through a temporary file, so a reader never sees
/// half a mail and a repeated delivery replaces rather than duplicates. The
/// file is mode 0600 from its creation: it holds the recipient's address.
fn write_eml(dir: &Path, message_id: &str, message: &[u8]) -> Result<()> {
    let name: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{name}.eml"));
    let tmp = dir.join(format!(".{name}.eml.tmp"));
    // A leftover of a crash may have any mode; start afresh.
    match fs_err::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(message)?;
    drop(file);
    fs_err::rename(&tmp, &path)?;
    Ok(())
}
