//! Email digests: who gets which papers for a period, rendered and queued.
//!
//! A run takes the period (daily: the latest announcement day; weekly: the
//! seven days ending there, once per ISO week), skips subscribers whose
//! digest for it is already in the outbox, loads the period's papers once,
//! matches every distinct interest once ([`matching`]), then builds each
//! subscriber's mail: the top-N trending papers plus personal matches with
//! the reason for each. Mails are queued in chunks, each one transaction,
//! under the key `digest:<frequency>:<period>:<subscriber>`, so a second run
//! or a run after a crash queues only what is missing. An empty digest is
//! not sent. Delivery is [`crate::mail::sender`]'s job.

pub mod matching;
pub mod render;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use paperhub_store::{Frequency, Interest, InterestKind, NewMail, Store, Subscriber};
use serde::Serialize;

use crate::app::for_you::{self, Profile, Reason, Scope, Signals};
use crate::config::Config;
use crate::retrieval::Retriever;
use crate::secrets::Secrets;
use matching::{PeriodPapers, QueryMatch, match_queries};
use paperhub_domain::UserId;
use render::{DigestMail, DigestPaper, Links};

/// Personal matches shown at most.
pub const MAX_PERSONAL: usize = 15;
/// Papers recommended from a linked account's library at most.
pub const MAX_RECOMMENDED: usize = 5;
/// Where a paper goes in someone's personal section: (tier, -similarity in
/// thousandths, position in the period's list). Followed authors come first,
/// then saved searches by similarity, then categories.
type Rank = (u8, i64, usize);

/// Subscribers rendered and queued per transaction.
const CHUNK: usize = 500;

/// The papers a digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// Daily or weekly.
    pub frequency: Frequency,
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// `2025-03-21` or `2025-W12`: one digest per key.
    pub key: String,
    /// For the subject: `Fri 21 Mar 2025`, `15-21 Mar 2025`.
    pub label: String,
    /// The period's list on the hub.
    pub list_path: String,
}

impl Period {
    /// The period of `frequency` whose last announcement day is `latest`.
    pub fn of(frequency: Frequency, latest: NaiveDate) -> Period {
        match frequency {
            Frequency::Daily => Period {
                frequency,
                from: latest,
                to: latest,
                key: latest.format("%Y-%m-%d").to_string(),
                label: latest.format("%a %-d %b %Y").to_string(),
                list_path: format!("/papers/date/{}", latest.format("%Y-%m-%d")),
            },
            Frequency::Weekly => {
                let from = latest - Duration::days(6);
                let week = latest.iso_week();
                Period {
                    frequency,
                    from,
                    to: latest,
                    key: format!("{}-W{:02}", week.year(), week.week()),
                    label: format!(
                        "{} to {}",
                        from.format("%-d %b"),
                        latest.format("%-d %b %Y")
                    ),
                    list_path: format!("/papers/week/{}-W{:02}", week.year(), week.week()),
                }
            }
        }
    }

    /// The outbox key of `subscriber`'s digest for this period.
    pub fn dedupe_key(&self, subscriber: &Subscriber) -> String {
        format!(
            "digest:{}:{}:{}",
            self.frequency.as_str(),
            self.key,
            subscriber.id
        )
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// The period, when the catalog has any announcement.
    pub period: Option<Period>,
    /// Active subscribers of the frequency.
    pub subscribers: usize,
    /// Digests queued now (or that would be, with `--dry-run`).
    pub queued: u64,
    /// Digests already queued by an earlier run.
    pub already_queued: usize,
    /// Subscribers with nothing to read this period.
    pub empty: usize,
    /// Papers in the period.
    pub papers: usize,
    /// Distinct saved searches matched.
    pub distinct_queries: usize,
    /// Time loading the period and matching interests, milliseconds.
    pub matching_ms: u128,
    /// Nothing was written.
    pub dry_run: bool,
    /// Wall time, milliseconds.
    pub elapsed_ms: u128,
}

/// Everything a run needs besides the store.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The configuration (links, From address).
    pub config: &'a Config,
    /// Signs links.
    pub secrets: &'a Secrets,
    /// Search, for saved searches; none without indexes.
    pub retriever: Option<&'a Retriever>,
    /// The hub's public base URL, for links.
    pub hub_url: &'a str,
}

/// A period's papers and the matches of every interest in it.
pub struct Prepared {
    period: Period,
    papers: PeriodPapers,
    /// Features for "Recommended for you", built for the first linked
    /// subscriber who has a library.
    features: std::sync::OnceLock<for_you::PeriodFeatures>,
    /// Library papers read so far in this run.
    library_papers: for_you::PaperCache,
    /// The hub's base URL (of the context given to [`Prepared::new`]),
    /// which every link of the run points into.
    hub: String,
    /// Each paper's digest view (without reasons), made once per run for
    /// every mail that shows it.
    cards: Vec<std::sync::OnceLock<DigestPaper>>,
    queries: HashMap<String, Vec<QueryMatch>>,
}

impl Prepared {
    /// Loads `period`'s papers and matches the saved searches of `subscribers`.
    ///
    /// # Errors
    /// A storage or index error.
    pub fn new(
        store: &dyn Store,
        cx: Context<'_>,
        period: Period,
        subscribers: &[(Subscriber, Vec<Interest>)],
    ) -> Result<Prepared> {
        let papers = PeriodPapers::load(store, period.from, period.to)?;
        let queries: Vec<String> = subscribers
            .iter()
            .flat_map(|(_, interests)| interests)
            .filter(|i| i.kind == InterestKind::Query)
            .map(|i| i.value.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let queries = match_queries(cx.retriever, &papers, period.from, period.to, &queries)?;
        Ok(Prepared {
            period,
            hub: cx.hub_url.trim_end_matches('/').to_owned(),
            cards: (0..papers.entries.len())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            papers,
            queries,
            features: std::sync::OnceLock::new(),
            library_papers: for_you::PaperCache::default(),
        })
    }

    /// `subscriber`'s digest, or none when it would be empty.
    ///
    /// # Errors
    /// Signing the links fails.
    pub fn digest(
        &self,
        cx: Context<'_>,
        subscriber: &Subscriber,
        interests: &[Interest],
        library: Option<&Library>,
        now: DateTime<Utc>,
    ) -> Result<Option<DigestMail>> {
        let hub = self.hub.clone();
        let top = subscriber.top_n as usize;
        let trending_ids: HashSet<usize> = (0..self.papers.entries.len().min(top)).collect();
        let mut personal: HashMap<usize, (Rank, Vec<String>)> = HashMap::new();
        let mut add = |index: usize, tier: u8, sim: Option<f32>, why: String| {
            let rank = (tier, -((sim.unwrap_or(0.0) * 1000.0) as i64), index);
            let slot = personal.entry(index).or_insert((rank, Vec::new()));
            slot.0 = slot.0.min(rank);
            if !slot.1.contains(&why) {
                slot.1.push(why);
            }
        };
        for interest in interests {
            match interest.kind {
                InterestKind::Author => {
                    for &i in self.papers.by_author(&interest.value) {
                        add(
                            i,
                            0,
                            None,
                            format!("by {}, whom you follow", interest.value),
                        );
                    }
                }
                InterestKind::Query => {
                    for m in self
                        .queries
                        .get(&interest.value)
                        .map_or(&[][..], Vec::as_slice)
                    {
                        let why = match m.similarity {
                            Some(s) => format!(
                                "matches your search \u{201c}{}\u{201d} (similarity {s:.2})",
                                interest.value
                            ),
                            None => {
                                format!("matches your search \u{201c}{}\u{201d}", interest.value)
                            }
                        };
                        add(m.index, 1, m.similarity, why);
                    }
                }
                InterestKind::Category => {
                    for &i in self
                        .papers
                        .in_category(&interest.value)
                        .iter()
                        .take(MAX_PERSONAL)
                    {
                        add(i, 2, None, format!("new in {}", interest.value));
                    }
                }
            }
        }
        let mut personal: Vec<(Rank, Vec<String>)> = personal
            .into_iter()
            .filter(|(i, _)| !trending_ids.contains(i))
            .map(|(_, pick)| pick)
            .collect();
        personal.sort_by_key(|(rank, _)| *rank);
        personal.truncate(MAX_PERSONAL);
        let trending: Vec<DigestPaper> = self
            .papers
            .entries
            .iter()
            .take(top)
            .enumerate()
            .map(|(i, _)| self.card(i, Vec::new()))
            .collect();
        let shown: HashSet<usize> = trending_ids
            .iter()
            .copied()
            .chain(personal.iter().map(|(rank, _)| rank.2))
            .collect();
        let personal: Vec<DigestPaper> = personal
            .into_iter()
            .map(|(rank, why)| self.card(rank.2, why))
            .collect();
        let recommended = match library {
            Some(library) => self.recommend(cx, subscriber, library, &shown),
            None => Vec::new(),
        };
        if trending.is_empty() && personal.is_empty() && recommended.is_empty() {
            return Ok(None);
        }
        let links = Links::new(&hub, cx.secrets, subscriber, now)?;
        let frequency = self.period.frequency.as_str();
        Ok(Some(DigestMail {
            title: format!("Paperhub {frequency} digest"),
            frequency,
            period_label: self.period.label.clone(),
            count: trending.len() + personal.len() + recommended.len(),
            personal,
            recommended,
            trending,
            list_url: format!("{hub}{}", self.period.list_path),
            hub_url: hub,
            manage_url: links.manage,
            unsubscribe_url: links.unsubscribe,
        }))
    }
}

impl Prepared {
    /// "Recommended for you": the best papers for the linked account's
    /// library that the digest does not show already.
    fn recommend(
        &self,
        cx: Context<'_>,
        subscriber: &Subscriber,
        library: &Library,
        shown: &HashSet<usize>,
    ) -> Vec<DigestPaper> {
        let profile = &library.profile;
        if profile.library.is_empty() {
            return Vec::new();
        }
        let vectors = cx
            .retriever
            .and_then(|r| r.dense.as_ref())
            .map(|d| &d.vectors);
        let features = self
            .features
            .get_or_init(|| for_you::PeriodFeatures::build(&self.papers.entries, vectors));
        // Papers the digest shows already are left out before ranking, so
        // reasons are written for the shown picks only.
        let shown: HashSet<String> = shown
            .iter()
            .map(|&i| self.papers.entries[i].paper.id.base().to_owned())
            .chain(library.saved.iter().cloned())
            .collect();
        let ranking = for_you::recommend(
            features,
            &self.papers.entries,
            profile,
            &shown,
            vectors,
            for_you::Ask {
                seed: subscriber.account.map_or(0, |a| a.0.unsigned_abs()),
                limit: MAX_RECOMMENDED,
                effort: for_you::Effort::DIGEST,
            },
        );
        ranking
            .picks
            .iter()
            .map(|p| self.card(p.index, p.reasons.iter().map(Reason::sentence).collect()))
            .collect()
    }

    /// The digest view of the period's paper `index` with reasons `why`.
    fn card(&self, index: usize, why: Vec<String>) -> DigestPaper {
        let mut card = self.cards[index]
            .get_or_init(|| DigestPaper::new(&self.papers.entries[index], &self.hub, Vec::new()))
            .clone();
        card.why = why;
        card
    }
}

/// A linked account's library, as a digest ranks with it.
pub struct Library {
    /// The most recent saves and "not interested" marks.
    pub profile: Profile,
    /// Papers of the period saved earlier than the profile's saves (left
    /// out as well); empty when the profile holds every save.
    pub saved: HashSet<String>,
}

impl Prepared {
    /// The library of `subscriber`'s linked account, when it has one.
    ///
    /// # Errors
    /// A storage error.
    pub fn library_of(
        &self,
        store: &dyn Store,
        subscriber: &Subscriber,
    ) -> Result<Option<Library>> {
        let Some(account) = subscriber.account else {
            return Ok(None);
        };
        let signals = Signals::load_saved(store, account, Scope::Library, DIGEST_PROFILE)?;
        self.library_from(store, account, &signals)
    }

    /// The libraries of the accounts linked to `subscribers`, read for all
    /// of them at once: account -> what it saved and marked.
    ///
    /// # Errors
    /// A storage error.
    pub fn signals_of(
        store: &dyn Store,
        subscribers: &[(Subscriber, Vec<Interest>)],
    ) -> Result<HashMap<UserId, Signals>> {
        let accounts: Vec<UserId> = subscribers.iter().filter_map(|(s, _)| s.account).collect();
        if accounts.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(Signals::load_saved_of(store, &accounts, DIGEST_PROFILE)?)
    }

    /// The library `account` has, from its `signals`.
    ///
    /// # Errors
    /// A storage error.
    fn library_from(
        &self,
        store: &dyn Store,
        account: UserId,
        signals: &Signals,
    ) -> Result<Option<Library>> {
        let profile = Profile::read(store, signals, Some(&self.library_papers))?;
        if profile.library.is_empty() {
            return Ok(None);
        }
        // A full profile may not hold every save: ask which of the
        // period's papers are saved (one query, only for big libraries).
        let saved = if profile.library.len() >= DIGEST_PROFILE as usize {
            let ids: Vec<paperhub_domain::ArxivId> = self
                .papers
                .entries
                .iter()
                .map(|e| e.paper.id.clone())
                .collect();
            store
                .saved_in(account, &ids)?
                .into_iter()
                .map(|(id, _)| id)
                .collect()
        } else {
            HashSet::new()
        };
        Ok(Some(Library { profile, saved }))
    }
}

/// Library papers a digest's recommendations learn from: the most recent
/// saves (fewer than the page's, to keep a run over every subscriber fast).
pub const DIGEST_PROFILE: u32 = 50;

/// The period of `frequency` for the catalog as it is, if it has announcements.
///
/// # Errors
/// A storage error.
pub fn current_period(store: &dyn Store, frequency: Frequency) -> Result<Option<Period>> {
    Ok(store.latest_day()?.map(|d| Period::of(frequency, d)))
}

/// Renders and queues the digests of `frequency` for the current period;
/// see the module docs.
///
/// # Errors
/// A storage, index or template error; chunks queued before it stay queued.
pub fn run(
    store: &dyn Store,
    cx: Context<'_>,
    frequency: Frequency,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<RunReport> {
    let started = Instant::now();
    let mut report = RunReport {
        dry_run,
        ..RunReport::default()
    };
    let Some(period) = current_period(store, frequency)? else {
        return Ok(report);
    };
    let subscribers = store.active_subscribers(frequency)?;
    report.subscribers = subscribers.len();
    let done = store.outbox_keys(&format!("digest:{}:{}:", frequency.as_str(), period.key))?;
    let todo: Vec<(Subscriber, Vec<Interest>)> = subscribers
        .into_iter()
        .filter(|(s, _)| !done.contains(&period.dedupe_key(s)))
        .map(|(s, interests)| {
            let interests = with_follows(store, &s, interests)?;
            Ok((s, interests))
        })
        .collect::<Result<_>>()?;
    report.already_queued = report.subscribers - todo.len();
    report.period = Some(period.clone());
    if todo.is_empty() {
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    let prepared = Prepared::new(store, cx, period, &todo)?;
    report.matching_ms = started.elapsed().as_millis();
    report.papers = prepared.papers.entries.len();
    report.distinct_queries = prepared.queries.len();
    for chunk in todo.chunks(CHUNK) {
        let mails = render_chunk(store, &prepared, cx, chunk, now)?;
        report.empty += chunk.len() - mails.len();
        if dry_run {
            report.queued += mails.len() as u64;
        } else {
            report.queued += store.enqueue_mails(&mails, now)?;
        }
    }
    report.elapsed_ms = started.elapsed().as_millis();
    tracing::info!(
        digest.frequency = frequency.as_str(),
        digest.queued = report.queued,
        digest.empty = report.empty,
        digest.elapsed_ms = report.elapsed_ms as u64,
        "digests rendered and queued"
    );
    Ok(report)
}

/// Renders one chunk's mails on every core.
fn render_chunk(
    store: &dyn Store,
    prepared: &Prepared,
    cx: Context<'_>,
    chunk: &[(Subscriber, Vec<Interest>)],
    now: DateTime<Utc>,
) -> Result<Vec<NewMail>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per = chunk.len().div_ceil(threads).max(1);
    // Two reads for the chunk's libraries, not two per subscriber.
    let signals = Prepared::signals_of(store, chunk)?;
    let signals = &signals;
    let parts: Vec<Result<Vec<NewMail>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    let mut mails = Vec::with_capacity(part.len());
                    for (subscriber, interests) in part {
                        let library = match subscriber.account {
                            Some(account) => prepared.library_from(
                                store,
                                account,
                                signals.get(&account).unwrap_or(&Signals::default()),
                            )?,
                            None => None,
                        };
                        if let Some(mail) =
                            prepared.digest(cx, subscriber, interests, library.as_ref(), now)?
                        {
                            mails.push(render::digest_mail(
                                cx.config,
                                subscriber,
                                &mail,
                                prepared.period.dedupe_key(subscriber),
                            )?);
                        }
                    }
                    Ok(mails)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a digest rendering thread panicked")))
            })
            .collect()
    });
    let mut mails = Vec::with_capacity(chunk.len());
    for part in parts {
        mails.extend(part?);
    }
    Ok(mails)
}

/// The next digest `subscriber` would get, rendered as text: (subject, body).
/// `None` when it would be empty.
///
/// # Errors
/// A storage, index or template error.
pub fn preview(
    store: &dyn Store,
    cx: Context<'_>,
    subscriber: &Subscriber,
    now: DateTime<Utc>,
) -> Result<Option<(String, String)>> {
    let Some(period) = current_period(store, subscriber.frequency)? else {
        return Ok(None);
    };
    let interests = with_follows(store, subscriber, store.interests(subscriber.id)?)?;
    let pair = [(subscriber.clone(), interests)];
    let prepared = Prepared::new(store, cx, period, &pair)?;
    let library = prepared.library_of(store, subscriber)?;
    match prepared.digest(cx, subscriber, &pair[0].1, library.as_ref(), now)? {
        Some(mail) => Ok(Some(render::digest_text(&mail)?)),
        None => Ok(None),
    }
}

/// `interests` plus, when the digest is linked to an account, the
/// authors that account follows on the hub (each author once, however
/// both lists spell the name).
///
/// # Errors
/// A storage error.
pub fn with_follows(
    store: &dyn Store,
    subscriber: &Subscriber,
    mut interests: Vec<Interest>,
) -> Result<Vec<Interest>> {
    let Some(account) = subscriber.account else {
        return Ok(interests);
    };
    let mut known: HashSet<String> = interests
        .iter()
        .filter(|i| i.kind == InterestKind::Author)
        .map(|i| matching::author_key(&i.value))
        .collect();
    for followed in store.followed_authors(account)? {
        if known.insert(followed.key) {
            interests.push(Interest {
                kind: InterestKind::Author,
                value: followed.name,
            });
        }
    }
    Ok(interests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_have_stable_keys() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 21).unwrap();
        let daily = Period::of(Frequency::Daily, d);
        assert_eq!(daily.key, "2025-03-21");
        assert_eq!(daily.label, "Fri 21 Mar 2025");
        let weekly = Period::of(Frequency::Weekly, d);
        assert_eq!(weekly.key, "2025-W12");
        assert_eq!(weekly.from, NaiveDate::from_ymd_opt(2025, 3, 15).unwrap());
        assert_eq!(weekly.list_path, "/papers/week/2025-W12");
    }
}
