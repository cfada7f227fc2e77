//! The paper record and the rules for merging two records of one paper.
//!
//! The same paper reaches us many times: in several daily listings, in the
//! snapshot, in OAI-PMH updates, as older versions. [`Paper::merge`] decides
//! what the catalog keeps, and is the one place those rules live:
//!
//! - A record is *newer* when its latest version is higher, or the versions are
//!   equal and its `updated` date is later. A newer record replaces the data;
//!   fields it lacks (because its format does not carry them) keep their old
//!   value.
//! - An older record never overwrites anything. Like an equally recent one, it
//!   may only fill fields that are still empty.
//! - Whatever the order, the earliest announcement date and the union of all
//!   known versions are kept.
//!
//! Merging is idempotent: merging a record into the result of merging it
//! changes nothing, which is why re-importing the same data reports no updates.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::arxiv_id::ArxivId;
use crate::author::Author;
use crate::code_link::find_code_url;

/// One version of a paper, as arXiv lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// Version number, from 1.
    pub version: u32,
    /// When this version was submitted, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateTime<Utc>>,
    /// Size as arXiv reports it, e.g. "121kb".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

/// A paper's metadata, normalised from any arXiv format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    /// The paper's id, without version.
    pub id: ArxivId,
    /// The latest version we know of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Title, whitespace-normalised, TeX kept.
    pub title: String,
    /// Abstract, whitespace-normalised, TeX kept.
    #[serde(rename = "abstract")]
    pub abstract_text: String,
    /// Authors in order.
    pub authors: Vec<Author>,
    /// The primary category, e.g. "cs.CL".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_category: Option<String>,
    /// All categories, primary first.
    pub categories: Vec<String>,
    /// When version 1 was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted: Option<DateTime<Utc>>,
    /// When the latest version was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// The earliest day the paper was announced or listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced: Option<NaiveDate>,
    /// Author comments ("12 pages, 3 figures").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Journal reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_ref: Option<String>,
    /// DOI of the published version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    /// Institutional report number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_no: Option<String>,
    /// License URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// MSC classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msc_class: Option<String>,
    /// ACM classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acm_class: Option<String>,
    /// Who submitted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<String>,
    /// Every known version with its date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<Version>,
    /// A code repository named in the abstract or comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
}

/// True for an arXiv category name such as `cs.CL`, `hep-th` or `cond-mat.str-el`.
///
/// Some sources mix MSC or ACM classes ("68U10, 90C26", "I.2.6; J.5") into
/// their category lists; this tells them apart.
pub fn is_category(s: &str) -> bool {
    let (archive, subject) = s.split_once('.').unwrap_or((s, ""));
    let archive_ok =
        archive.len() >= 2 && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    let subject_ok = subject
        .bytes()
        .all(|b| b.is_ascii_alphabetic() || b == b'-');
    archive_ok && subject_ok && !(s.contains('.') && subject.is_empty())
}

/// What [`Paper::merge`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The stored record already holds everything; nothing to write.
    Unchanged,
    /// The stored record must be replaced by this one.
    Updated(Box<Paper>),
}

impl Paper {
    /// The project page its abstract or comments name, if any (found when
    /// asked, so papers imported before this existed have one too).
    pub fn project_url(&self) -> Option<String> {
        crate::project_page::find_project_url(
            [Some(self.abstract_text.as_str()), self.comments.as_deref()]
                .into_iter()
                .flatten(),
        )
    }

    /// When it was withdrawn, if its comments say it was.
    pub fn withdrawn_at(&self) -> Option<DateTime<Utc>> {
        crate::withdrawal::withdrawn_at(self)
    }

    /// A paper with only the required fields; importers fill in the rest.
    pub fn new(id: ArxivId, title: String, abstract_text: String) -> Paper {
        Paper {
            id: id.unversioned(),
            version: id.version(),
            title,
            abstract_text,
            authors: Vec::new(),
            primary_category: None,
            categories: Vec::new(),
            submitted: None,
            updated: None,
            announced: None,
            comments: None,
            journal_ref: None,
            doi: None,
            report_no: None,
            license: None,
            msc_class: None,
            acm_class: None,
            submitter: None,
            versions: Vec::new(),
            code_url: None,
        }
    }

    /// The arXiv abstract page of the latest version.
    pub fn abs_url(&self) -> String {
        self.id.abs_url()
    }

    /// The PDF of the latest version.
    pub fn pdf_url(&self) -> String {
        self.id.pdf_url()
    }

    /// Derives the fields that follow from others; importers call it last.
    ///
    /// Sorts versions; sets `version`, `submitted` (v1) and `updated` (latest)
    /// from them when they carry dates; makes the primary category the first
    /// category; finds the code URL.
    pub fn finalize(&mut self) {
        self.versions.sort_by_key(|v| v.version);
        self.versions.dedup_by_key(|v| v.version);
        if let Some(latest) = self.versions.last() {
            self.version = Some(
                self.version
                    .map_or(latest.version, |v| v.max(latest.version)),
            );
            // Some formats give the latest date without its version number
            // (OAI `arXiv`): keep whichever date is later.
            if let Some(date) = latest.date
                && self.version == Some(latest.version)
                && self.updated.is_none_or(|u| u < date)
            {
                self.updated = Some(date);
            }
        }
        if let Some(first) = self.versions.iter().find(|v| v.version == 1)
            && first.date.is_some()
        {
            self.submitted = first.date;
        }
        if self.updated.is_none() {
            self.updated = self.submitted;
        }
        // An empty name (`[["", "", ""]]` in a damaged snapshot line, found by
        // fuzzing) is nobody; the web would show a stray comma for it.
        self.authors.retain(|a| !a.name.is_empty());
        let mut seen = Vec::with_capacity(self.categories.len());
        for c in self.categories.drain(..) {
            // The store keeps categories space-separated; a category never has spaces.
            if is_category(&c) && !seen.contains(&c) {
                seen.push(c);
            }
        }
        self.categories = seen;
        // A primary category from a damaged record ("cond-mat x", found by
        // fuzzing the Atom reader) would break the space-separated store.
        if self
            .primary_category
            .as_deref()
            .is_some_and(|p| !is_category(p))
        {
            self.primary_category = None;
        }
        match &self.primary_category {
            Some(p) => {
                if let Some(pos) = self.categories.iter().position(|c| c == p) {
                    let p = self.categories.remove(pos);
                    self.categories.insert(0, p);
                } else {
                    self.categories.insert(0, p.clone());
                }
            }
            None => self.primary_category = self.categories.first().cloned(),
        }
        if self.code_url.is_none() {
            self.code_url = find_code_url(
                [self.comments.as_deref(), Some(self.abstract_text.as_str())]
                    .into_iter()
                    .flatten(),
            );
        }
    }

    /// How recent this record's data is: (latest version, updated date).
    fn recency(&self) -> (u32, Option<DateTime<Utc>>) {
        (self.version.unwrap_or(0), self.updated)
    }

    /// Merges `incoming` into `self` (the stored record); see the module docs.
    pub fn merge(&self, incoming: &Paper) -> MergeOutcome {
        let mut merged = if incoming.recency() > self.recency() {
            let mut newer = incoming.clone();
            newer.fill_missing_from(self);
            newer
        } else {
            let mut kept = self.clone();
            kept.fill_missing_from(incoming);
            if incoming.recency() == self.recency() {
                for c in &incoming.categories {
                    if !kept.categories.contains(c) {
                        kept.categories.push(c.clone());
                    }
                }
            }
            kept
        };
        merged.announced = match (self.announced, incoming.announced) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        merged.finalize();
        if merged == *self {
            MergeOutcome::Unchanged
        } else {
            MergeOutcome::Updated(Box::new(merged))
        }
    }

    /// Fills every empty field of `self` from `other`, and unions versions.
    fn fill_missing_from(&mut self, other: &Paper) {
        fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        if self.title.is_empty() {
            self.title.clone_from(&other.title);
        }
        if self.abstract_text.is_empty() {
            self.abstract_text.clone_from(&other.abstract_text);
        }
        if self.authors.is_empty() {
            self.authors.clone_from(&other.authors);
        } else if self.authors.len() == other.authors.len() {
            // Same list from a richer source: keep our names, take missing parts.
            for (mine, theirs) in self.authors.iter_mut().zip(&other.authors) {
                fill(&mut mine.affiliation, &theirs.affiliation);
            }
        }
        if self.categories.is_empty() {
            self.categories.clone_from(&other.categories);
        }
        fill(&mut self.primary_category, &other.primary_category);
        fill(&mut self.submitted, &other.submitted);
        fill(&mut self.updated, &other.updated);
        fill(&mut self.comments, &other.comments);
        fill(&mut self.journal_ref, &other.journal_ref);
        fill(&mut self.doi, &other.doi);
        fill(&mut self.report_no, &other.report_no);
        fill(&mut self.license, &other.license);
        fill(&mut self.msc_class, &other.msc_class);
        fill(&mut self.acm_class, &other.acm_class);
        fill(&mut self.submitter, &other.submitter);
        fill(&mut self.code_url, &other.code_url);
        for v in &other.versions {
            match self.versions.iter_mut().find(|m| m.version == v.version) {
                Some(mine) => {
                    fill(&mut mine.date, &v.date);
                    fill(&mut mine.size, &v.size);
                }
                None => self.versions.push(v.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn paper(version: Option<u32>, title: &str) -> Paper {
        let id: ArxivId = "2101.00001".parse().unwrap();
        let mut p = Paper::new(id, title.into(), "Abstract.".into());
        p.version = version;
        p.categories = vec!["cs.CL".into()];
        p.finalize();
        p
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, d).unwrap()
    }

    #[test]
    fn newer_version_replaces_older_never() {
        let v1 = paper(Some(1), "Old title");
        let v2 = paper(Some(2), "New title");
        let MergeOutcome::Updated(m) = v1.merge(&v2) else {
            panic!("v2 should replace v1")
        };
        assert_eq!(m.title, "New title");
        assert_eq!(v2.merge(&v1), MergeOutcome::Unchanged);
    }

    #[test]
    fn later_update_date_wins_at_equal_version() {
        let mut a = paper(Some(1), "A");
        a.updated = Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
        let mut b = paper(Some(1), "B");
        b.updated = Some(Utc.with_ymd_and_hms(2025, 2, 1, 0, 0, 0).unwrap());
        assert!(matches!(a.merge(&b), MergeOutcome::Updated(m) if m.title == "B"));
        assert_eq!(b.merge(&a), MergeOutcome::Unchanged);
    }

    #[test]
    fn earliest_announcement_kept_in_any_order() {
        let mut early = paper(None, "T");
        early.announced = Some(day(18));
        let mut late = paper(None, "T");
        late.announced = Some(day(20));
        assert_eq!(early.merge(&late), MergeOutcome::Unchanged);
        let MergeOutcome::Updated(m) = late.merge(&early) else {
            panic!("earlier date must be taken")
        };
        assert_eq!(m.announced, Some(day(18)));
    }

    #[test]
    fn merge_is_idempotent_and_fills_gaps() {
        let stored = paper(None, "T");
        let mut incoming = paper(None, "T");
        incoming.comments = Some("Code: https://github.com/a/b".into());
        incoming.categories.push("cs.AI".into());
        let MergeOutcome::Updated(m) = stored.merge(&incoming) else {
            panic!("comments should be filled")
        };
        assert_eq!(m.comments.as_deref(), Some("Code: https://github.com/a/b"));
        assert_eq!(m.categories, ["cs.CL", "cs.AI"]);
        assert_eq!(m.code_url.as_deref(), Some("https://github.com/a/b"));
        assert_eq!(m.merge(&incoming), MergeOutcome::Unchanged);
    }

    #[test]
    fn versions_are_unioned_even_from_older_records() {
        let mut newer = paper(None, "T");
        newer.versions = vec![Version {
            version: 2,
            date: Some(Utc.with_ymd_and_hms(2008, 2, 4, 15, 5, 55).unwrap()),
            size: None,
        }];
        newer.finalize();
        let mut older = paper(None, "T");
        older.versions = vec![Version {
            version: 1,
            date: Some(Utc.with_ymd_and_hms(2008, 1, 23, 21, 13, 53).unwrap()),
            size: Some("33kb".into()),
        }];
        older.finalize();
        let MergeOutcome::Updated(m) = newer.merge(&older) else {
            panic!("v1 date should be added")
        };
        assert_eq!(m.versions.len(), 2);
        assert_eq!(m.version, Some(2));
        assert_eq!(m.submitted, older.versions[0].date);
        assert_eq!(m.updated, newer.versions[0].date);
    }

    #[test]
    fn categories_are_told_apart_from_classes() {
        for ok in [
            "cs.CL",
            "hep-th",
            "cond-mat.str-el",
            "physics.acc-ph",
            "q-bio.NC",
            "math.NA",
        ] {
            assert!(is_category(ok), "{ok}");
        }
        for bad in [
            "68U10, 90C26",
            "I.2.6; J.5",
            "I.4.0",
            "",
            "cs.",
            "x",
            "CS.CL",
        ] {
            assert!(!is_category(bad), "{bad}");
        }
    }

    #[test]
    fn finalize_drops_authors_without_a_name() {
        let mut p = paper(None, "T");
        p.authors = vec![
            Author::from_parts("", "", ""),
            Author::from_display_name("Ada Lovelace"),
        ];
        p.finalize();
        assert_eq!(p.authors.len(), 1);
        assert_eq!(p.authors[0].name, "Ada Lovelace");
    }

    #[test]
    fn finalize_drops_a_primary_that_is_no_category() {
        let mut p = paper(None, "T");
        p.categories = vec!["cs.AI".into()];
        p.primary_category = Some("cond-Abstract: arXiv:{mat.str-el".into());
        p.finalize();
        assert_eq!(p.categories, ["cs.AI"]);
        assert_eq!(p.primary_category.as_deref(), Some("cs.AI"));
    }

    #[test]
    fn finalize_puts_primary_first() {
        let mut p = paper(None, "T");
        p.categories = vec!["cs.AI".into(), "cs.CL".into(), "cs.AI".into()];
        p.primary_category = Some("cs.CL".into());
        p.finalize();
        assert_eq!(p.categories, ["cs.CL", "cs.AI"]);
    }
}
