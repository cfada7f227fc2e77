//! What templates and the JSON API show of a paper, built once from an
//! [`Entry`]: cards for lists, the JSON paper object, BibTeX, excerpts with
//! highlighted query words. Escaping happens in the templates (askama escapes
//! every `.html` template) except for `excerpt_html`, which is built here
//! from escaped text and `<mark>` tags only.

use askama::Template;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use paperhub_domain::Paper;
pub use paperhub_domain::text::{author_line, excerpt, one_line};
use paperhub_store::{Entry, User};
use serde::Serialize;

/// Characters of abstract shown on a card.
const EXCERPT_CHARS: usize = 240;
/// Authors named on a card before "et al.".
const CARD_AUTHORS: usize = 4;

/// What every page's frame needs.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// The page title.
    pub title: String,
    /// The logged-in user's name.
    pub user: Option<String>,
    /// Whether that user is a curator.
    pub is_admin: bool,
    /// The CSRF token for forms.
    pub csrf: String,
    /// The search box's value.
    pub q: String,
    /// A notice shown above the content.
    pub notice: Option<String>,
    /// The current path, for "log in and come back".
    pub path: String,
}

/// A link with a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Where it goes.
    pub href: String,
    /// What it says.
    pub label: String,
    /// Whether it is the current page.
    pub current: bool,
}

impl Link {
    /// A link.
    pub fn new(href: impl Into<String>, label: impl Into<String>) -> Link {
        Link {
            href: href.into(),
            label: label.into(),
            current: false,
        }
    }

    /// Marks it current when `cond`.
    pub fn current_if(mut self, cond: bool) -> Link {
        self.current = cond;
        self
    }
}

/// An account's name as pages show it, with the "demo" label for the
/// sample community of `paperhub demo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The username.
    pub name: String,
    /// One of the demo's sample accounts.
    pub demo: bool,
}

impl Person {
    /// `name`, labelled when it is a demo account.
    pub fn new(name: &str) -> Person {
        Person {
            name: name.to_owned(),
            demo: paperhub_domain::account::is_demo_name(name),
        }
    }

    /// The name as plain text (feeds, markdown): labelled when a demo
    /// account, "a deleted account" when there is none.
    pub fn plain(name: Option<&str>) -> String {
        match name {
            Some(n) if paperhub_domain::account::is_demo_name(n) => format!("{n} (demo account)"),
            Some(n) => n.to_owned(),
            None => "a deleted account".to_owned(),
        }
    }
}

/// The page of the author named `name`: `/authors/` and the name with
/// every byte outside `A-Z a-z 0-9 - . _ ~` percent-encoded.
pub fn author_href(name: &str) -> String {
    let mut href = String::from("/authors/");
    for b in name.trim().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            href.push(char::from(b));
        } else {
            href.push_str(&format!("%{b:02X}"));
        }
    }
    href
}

/// An author as a paper page links them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorLink {
    /// The name as the paper prints it.
    pub name: String,
    /// Their page.
    pub href: String,
}

/// A paper in a list.
#[derive(Debug, Clone)]
pub struct Card {
    /// Canonical arXiv id (no version).
    pub id: String,
    /// Title.
    pub title: String,
    /// Title, escaped, query words in `<mark>`.
    pub title_html: String,
    /// First authors, "et al." after four.
    pub authors: String,
    /// Announcement or submission day.
    pub date: String,
    /// Primary category.
    pub category: String,
    /// Abstract excerpt, escaped, query words in `<mark>`.
    pub excerpt_html: String,
    /// Upvotes.
    pub votes: u32,
    /// The viewer upvoted it.
    pub voted: bool,
    /// Who submitted it.
    pub submitted_by: Option<Person>,
    /// Featured by a curator.
    pub featured: bool,
    /// Hidden by a curator.
    pub hidden: bool,
    /// Visible comments in its discussion.
    pub comments: u32,
    /// Withdrawn by arXiv.
    pub withdrawn: bool,
    /// The viewer saved it (filled by `library::mark_saved`).
    pub saved: bool,
    /// Why it is recommended ("For you"), one sentence each.
    pub reasons: Vec<String>,
    /// Offers "Not interested" ("For you").
    pub dismissable: bool,
}

/// The day a paper is dated by in lists: announcement, else first version.
pub fn paper_day(paper: &Paper) -> Option<NaiveDate> {
    paper
        .announced
        .or_else(|| paper.submitted.map(|d| d.date_naive()))
}

impl Card {
    /// A card for `entry`, with `terms` highlighted in the excerpt.
    pub fn new(entry: &Entry, terms: &[String]) -> Card {
        let p = &entry.paper;
        Card {
            id: p.id.base().to_owned(),
            title: p.title.clone(),
            title_html: highlight(&p.title, terms),
            authors: author_line(p, CARD_AUTHORS),
            date: paper_day(p).map(|d| d.to_string()).unwrap_or_default(),
            category: p
                .primary_category
                .clone()
                .or_else(|| p.categories.first().cloned())
                .unwrap_or_default(),
            excerpt_html: highlight(&excerpt(&p.abstract_text, terms, EXCERPT_CHARS), terms),
            votes: entry.votes,
            voted: entry.voted,
            submitted_by: entry.submitted_by.as_deref().map(Person::new),
            featured: entry.featured,
            hidden: entry.hidden,
            comments: entry.comments,
            withdrawn: p.withdrawn_at().is_some(),
            saved: false,
            reasons: Vec::new(),
            dismissable: false,
        }
    }
}

/// Query words worth highlighting: lower-cased, at least 2 characters,
/// without field prefixes and operators.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut words = Vec::new();
    for word in query.split_whitespace() {
        let bare = word.trim_start_matches(['(', '"', '+']);
        if bare.starts_with('-') || matches!(bare, "AND" | "OR" | "NOT") {
            continue;
        }
        // `ti:diffusion` highlights "diffusion"; `cat:` and `id:` match no text.
        match bare.split_once(':') {
            Some(("cat" | "id", _)) => {}
            Some((field, value)) if field.chars().all(|c| c.is_ascii_alphabetic()) => {
                words.push(value);
            }
            _ => words.push(bare),
        }
    }
    let mut terms: Vec<String> = words
        .iter()
        .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|w| {
            !matches!(
                w.as_str(),
                "and" | "or" | "not" | "the" | "of" | "in" | "for"
            )
        })
        .collect();
    terms.sort();
    terms.dedup();
    terms.truncate(20);
    terms
}

/// Escapes `text` for HTML and wraps whole-word-prefix matches of `terms`
/// in `<mark>`.
pub fn highlight(text: &str, terms: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        let hit = terms.iter().any(|t| lower.starts_with(t.as_str()));
        if hit {
            out.push_str("<mark>");
        }
        escape_into(word, out);
        if hit {
            out.push_str("</mark>");
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            escape_into(&c.to_string(), &mut out);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// HTML-escapes `s` onto `out`.
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// An author in the JSON API.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorView {
    /// Display name.
    pub name: String,
}

/// A paper in the JSON API; names follow Hugging Face's papers API where
/// one exists (`summary`, `upvotes`, `published_at`), in snake case.
#[derive(Debug, Clone, Serialize)]
pub struct PaperView {
    /// arXiv id without version.
    pub id: String,
    /// Latest known version.
    pub version: Option<u32>,
    /// Title.
    pub title: String,
    /// Abstract.
    pub summary: String,
    /// Authors in order.
    pub authors: Vec<AuthorView>,
    /// First version's submission time.
    pub published_at: Option<String>,
    /// Latest version's time.
    pub updated_at: Option<String>,
    /// Announcement day (YYYY-MM-DD).
    pub announced: Option<String>,
    /// Primary category.
    pub primary_category: Option<String>,
    /// All categories.
    pub categories: Vec<String>,
    /// Authors' comments.
    pub comments: Option<String>,
    /// Journal reference.
    pub journal_ref: Option<String>,
    /// DOI.
    pub doi: Option<String>,
    /// Upvotes.
    pub upvotes: u32,
    /// Whether the caller upvoted it.
    pub upvoted: bool,
    /// Visible comments in its discussion.
    pub num_comments: u32,
    /// Who submitted it to the hub.
    pub submitted_by: Option<String>,
    /// When.
    pub submitted_at: Option<String>,
    /// Featured by a curator.
    pub featured: bool,
    /// The abstract page.
    pub arxiv_url: String,
    /// The PDF.
    pub pdf_url: String,
    /// Code, when the abstract or comments link to it.
    pub code_url: Option<String>,
    /// The project page, when the abstract or comments name one.
    pub project_url: Option<String>,
    /// When arXiv withdrew it (the withdrawing version's date), if it did.
    pub withdrawn_at: Option<String>,
    /// Relevance, in search results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

/// RFC 3339 UTC with seconds.
pub fn rfc3339(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl PaperView {
    /// The JSON view of `entry`.
    pub fn new(entry: &Entry) -> PaperView {
        let p = &entry.paper;
        PaperView {
            id: p.id.base().to_owned(),
            version: p.version,
            title: p.title.clone(),
            summary: p.abstract_text.clone(),
            authors: p
                .authors
                .iter()
                .map(|a| AuthorView {
                    name: a.name.clone(),
                })
                .collect(),
            published_at: p.submitted.map(rfc3339),
            updated_at: p.updated.map(rfc3339),
            announced: p.announced.map(|d| d.to_string()),
            primary_category: p.primary_category.clone(),
            categories: p.categories.clone(),
            comments: p.comments.clone(),
            journal_ref: p.journal_ref.clone(),
            doi: p.doi.clone(),
            upvotes: entry.votes,
            upvoted: entry.voted,
            num_comments: entry.comments,
            submitted_by: entry.submitted_by.clone(),
            submitted_at: entry.submitted_at.map(rfc3339),
            featured: entry.featured,
            arxiv_url: format!("https://arxiv.org/abs/{}", p.id.base()),
            pdf_url: format!("https://arxiv.org/pdf/{}", p.id.base()),
            code_url: p.code_url.clone(),
            project_url: p.project_url(),
            withdrawn_at: p.withdrawn_at().map(rfc3339),
            score: None,
        }
    }
}

/// A BibTeX entry in arXiv's own style (`@misc` with `eprint`).
pub fn bibtex(paper: &Paper) -> String {
    let year = paper
        .submitted
        .map(|d| d.format("%Y").to_string())
        .or_else(|| paper.announced.map(|d| d.format("%Y").to_string()))
        .unwrap_or_default();
    let first_last = paper
        .authors
        .first()
        .map(|a| {
            a.last
                .clone()
                .unwrap_or_else(|| a.name.rsplit(' ').next().unwrap_or_default().to_owned())
        })
        .unwrap_or_default();
    let key_author: String = first_last
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let key_word: String = paper
        .title
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .find(|w| w.len() > 3)
        .unwrap_or_default()
        .to_lowercase();
    let authors: Vec<String> = paper
        .authors
        .iter()
        .map(|a| match (&a.last, &a.first) {
            (Some(last), Some(first)) => format!("{last}, {first}"),
            _ => a.name.clone(),
        })
        .collect();
    let id = paper.id.base();
    let mut out = format!(
        "@misc{{{key_author}{year}{key_word},\n      title={{{}}},\n      author={{{}}},\n      year={{{year}}},\n      eprint={{{id}}},\n      archivePrefix={{arXiv}},\n",
        paper.title.replace(['{', '}'], ""),
        authors.join(" and ").replace(['{', '}'], ""),
    );
    if let Some(cat) = &paper.primary_category {
        out.push_str(&format!("      primaryClass={{{cat}}},\n"));
    }
    out.push_str(&format!("      url={{https://arxiv.org/abs/{id}}},\n}}"));
    out
}

/// The frame for `user`.
pub fn chrome_for(user: Option<&User>, csrf: &str, title: impl Into<String>, path: &str) -> Chrome {
    Chrome {
        title: title.into(),
        user: user.map(|u| u.username.clone()),
        is_admin: user.is_some_and(|u| u.is_admin),
        csrf: csrf.to_owned(),
        q: String::new(),
        notice: None,
        path: path.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    reason: &'a str,
    detail: &'a str,
}

/// The error page (no viewer: errors render before or without one).
pub fn error_page(status: StatusCode, detail: &str) -> String {
    let page = ErrorPage {
        chrome: Chrome {
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            ..Chrome::default()
        },
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        detail,
    };
    page.render()
        .unwrap_or_else(|_| format!("<!doctype html><title>{status}</title><p>{status}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_escapes_and_marks_word_prefixes() {
        let terms = query_terms("ti:diffusion <script> cat:cs.LG -models");
        assert_eq!(terms, ["diffusion", "script"]);
        assert_eq!(
            highlight("Diffusion models & <b>diffusions</b>", &terms),
            "<mark>Diffusion</mark> models &amp; &lt;b&gt;<mark>diffusions</mark>&lt;/b&gt;"
        );
    }

    #[test]
    fn excerpt_starts_near_a_late_match_on_word_boundaries() {
        let text = format!(
            "{} target word here {}",
            "lorem ipsum ".repeat(40),
            "dolor ".repeat(40)
        );
        let e = excerpt(&text, &["target".to_owned()], 120);
        assert!(e.starts_with('…') && e.ends_with('…'), "{e}");
        assert!(e.contains("target word"), "{e}");
        assert!(e.chars().count() <= 122);
        let short = excerpt("short text", &[], 120);
        // See: #13 ("begin > end (617 > 490)"): a long token without a space.
        let token = format!(
            "{}{}target{} b",
            "a ".repeat(150),
            "x".repeat(200),
            "y".repeat(200)
        );
        let e = excerpt(&token, &["target".to_owned()], 120);
        assert!(e.chars().count() <= 122, "{e}");
        assert_eq!(short, "short text");
    }

    proptest::proptest! {
        #[test]
        fn excerpt_takes_any_text(
            text in "[a-z é]{0,600}",
            term in "[a-zé]{1,6}",
            max in 1usize..400,
        ) {
            let e = excerpt(&text, &[term], max);
            proptest::prop_assert!(e.chars().count() <= max + 2);
        }
    }
}
