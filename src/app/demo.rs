//! The demo's sample community: a few labelled accounts that submit, upvote
//! and discuss papers of the demo corpus, so a newcomer's first page shows
//! what a living hub looks like instead of "Nothing is trending yet".
//!
//! Only `paperhub demo` calls this; `serve` never makes demo data. Every
//! account is named `demo-…` ([`paperhub_domain::account::DEMO_PREFIX`]):
//! sign-up refuses that prefix, pages put a "demo" label beside those
//! names, the accounts are never curators and cannot log in (their password
//! hash is [`DEMO_PASSWORD_HASH`], not a hash). An account of one of these
//! names that the demo did not make stops the seeding: it is never acted
//! for. Seeding is idempotent: once the first demo account
//! exists it does nothing, so running the demo again adds no duplicates.
//!
//! Activity is dated in the hours and days before `now`, spread the way a
//! real community's is, so trending's time decay has something to rank.
//! Papers missing from the catalog (another `--corpus`) are skipped.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use paperhub_domain::ArxivId;
use paperhub_domain::account::DEMO_PASSWORD_HASH;
use paperhub_store::{Commented, NewComment, Store, StoreError, Submission, SubmitRequest};

/// The demo's accounts.
pub const ACCOUNTS: &[&str] = &[
    "demo-ada",
    "demo-grace",
    "demo-alan",
    "demo-emmy",
    "demo-kurt",
];

/// What the demo community was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Accounts made (0 when the community was there already).
    pub accounts: u32,
    /// Papers submitted.
    pub submissions: u32,
    /// Upvotes cast.
    pub votes: u32,
    /// Comments and replies written.
    pub comments: u32,
}

/// A submitted paper: who submitted it how many hours ago, and which
/// accounts (by index) upvote it.
struct SamplePaper {
    id: &'static str,
    submitter: usize,
    hours_ago: i64,
    voters: &'static [usize],
}

/// Papers of the corpus's last day, a reading group's picks.
const PAPERS: &[SamplePaper] = &[
    SamplePaper {
        id: "2512.22630",
        submitter: 0,
        hours_ago: 10,
        voters: &[0, 1, 2, 3, 4],
    },
    SamplePaper {
        id: "2512.22737",
        submitter: 1,
        hours_ago: 6,
        voters: &[1, 0, 3, 4],
    },
    SamplePaper {
        id: "2512.22631",
        submitter: 2,
        hours_ago: 52,
        voters: &[2, 4, 0],
    },
    SamplePaper {
        id: "2512.22322",
        submitter: 3,
        hours_ago: 8,
        voters: &[3, 1],
    },
    SamplePaper {
        id: "2512.22562",
        submitter: 4,
        hours_ago: 75,
        voters: &[4, 2],
    },
    SamplePaper {
        id: "2512.22416",
        submitter: 0,
        hours_ago: 30,
        voters: &[0],
    },
];

/// A comment: on which paper, by whom, how many hours ago, and whether it
/// answers the previous top-level comment of the same paper.
struct SampleComment {
    paper: &'static str,
    author: usize,
    hours_ago: i64,
    reply: bool,
    body: &'static str,
}

const COMMENTS: &[SampleComment] = &[
    SampleComment {
        paper: "2512.22630",
        author: 1,
        hours_ago: 9,
        reply: false,
        body: "Picking this for Thursday's reading group. The question of *what* should stay discrete in a diffusion LM seems central to whether they can match autoregressive models.",
    },
    SampleComment {
        paper: "2512.22630",
        author: 0,
        hours_ago: 7,
        reply: true,
        body: "Agreed. I would like to read it next to the WeDLM paper from the same day, which comes at the problem from the inference side.",
    },
    SampleComment {
        paper: "2512.22630",
        author: 3,
        hours_ago: 3,
        reply: false,
        body: "Notes from the reading group are in our shared folder. Two questions we could not settle:\n\n1. How do the results change with the noise schedule?\n2. Which of the findings carry over to code?",
    },
    SampleComment {
        paper: "2512.22737",
        author: 4,
        hours_ago: 5,
        reply: false,
        body: "Fast inference with standard causal attention would make these models much easier to serve. Has anyone tried it with an existing KV-cache server?",
    },
    SampleComment {
        paper: "2512.22737",
        author: 1,
        hours_ago: 3,
        reply: true,
        body: "Not yet; if you try it, please post numbers here.",
    },
    SampleComment {
        paper: "2512.22631",
        author: 2,
        hours_ago: 50,
        reply: false,
        body: "A careful comparison of `GRPO` and `DPO` on faithfulness rather than accuracy alone. Worth a read for anyone training reasoning models.",
    },
];

/// Gives the hub its demo community at `now`, unless it has one.
///
/// # Errors
/// A storage error.
pub fn seed(store: &dyn Store, now: DateTime<Utc>) -> Result<Seeded> {
    let mut seeded = Seeded::default();
    // An account of one of these names that the demo did not make (one
    // signed up before the prefix was reserved) is never acted for.
    for name in ACCOUNTS {
        if let Some((_, hash)) = store.user_credentials(name)?
            && hash != DEMO_PASSWORD_HASH
        {
            bail!("an account named {name} exists and is not the demo's; no sample community");
        }
    }
    if store.user_by_name(ACCOUNTS[0])?.is_some() {
        return Ok(seeded);
    }
    let mut users = Vec::with_capacity(ACCOUNTS.len());
    for (i, name) in ACCOUNTS.iter().enumerate() {
        // Joined a few weeks ago, one after another.
        let joined = now - Duration::days(30 - i as i64);
        let user = match store.create_user(name, None, DEMO_PASSWORD_HASH, joined) {
            Ok(user) => {
                seeded.accounts += 1;
                user
            }
            Err(StoreError::Conflict { .. }) => store
                .user_by_name(name)?
                .with_context(|| format!("demo account {name} vanished"))?,
            Err(e) => return Err(e).with_context(|| format!("creating demo account {name}")),
        };
        users.push(user.id);
    }
    for p in PAPERS {
        let id: ArxivId =
            p.id.parse()
                .with_context(|| format!("demo paper {}", p.id))?;
        if store.paper(&id)?.is_none() {
            continue;
        }
        let at = now - Duration::hours(p.hours_ago);
        let request = SubmitRequest {
            user: users[p.submitter],
            id: &id,
            quota: None,
        };
        if let Submission::Added { .. } = store.submit(&request, at)?.outcome {
            seeded.submissions += 1;
        }
        for (k, &voter) in p.voters.iter().enumerate() {
            // The submitter votes at once, the others over the next hours.
            let when = (at + Duration::minutes(47 * k as i64)).min(now);
            store.set_vote(users[voter], &id, true, when)?;
            seeded.votes += 1;
        }
    }
    let mut last_top = None;
    for c in COMMENTS {
        let id: ArxivId = c
            .paper
            .parse()
            .with_context(|| format!("demo paper {}", c.paper))?;
        let parent = if c.reply { last_top } else { None };
        let new = NewComment {
            paper: &id,
            author: users[c.author],
            parent,
            body: c.body,
        };
        match store.add_comment(&new, now - Duration::hours(c.hours_ago))? {
            Commented::Added(comment) => {
                seeded.comments += 1;
                if !c.reply {
                    last_top = Some(comment.id);
                }
            }
            Commented::NoSuchPaper | Commented::NoSuchParent | Commented::ReplyToReply => {}
        }
    }
    Ok(seeded)
}
