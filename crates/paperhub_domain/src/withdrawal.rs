//! Recognises withdrawn papers.
//!
//! arXiv withdraws a paper by announcing a new version whose comments field
//! says so, in words chosen by the author or the moderators: "This paper
//! has been withdrawn by the author(s) due to …", "withdrawn by arXiv
//! administrators due to …", "Paper withdrawn". The abstract of that
//! version often repeats it. Abstracts that merely use the word ("the
//! right to withdraw their data", "opioid withdrawal") must not count, so
//! only the comments field is read, for a withdrawal phrase rather than
//! the bare word.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::Paper;

static WITHDRAWN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:\[?\s*)?withdrawn\b|\b(?:has|have)\s+been\s+withdrawn\b|\b(?:is|was|were|are)\s+withdrawn\b|\bwithdrawn\s+by\s+(?:the\s+)?(?:authors?|submitter|arxiv|admin|moderators?)|\b(?:paper|article|manuscript|submission|preprint)\s+(?:is\s+)?withdrawn\b|\bwithdrawn\s+(?:due|because|for|as)\b",
    )
    .ok()
});

/// True when a comments field announces a withdrawal.
pub fn is_withdrawal_comment(comments: &str) -> bool {
    let hinted = comments.contains("ithdraw") || comments.contains("ITHDRAW");
    hinted && WITHDRAWN.as_ref().is_some_and(|re| re.is_match(comments))
}

/// When `paper` was withdrawn: the date of its latest version (the one
/// that withdrew it), or its first submission when no version is dated.
/// None when it is not withdrawn.
pub fn withdrawn_at(paper: &Paper) -> Option<DateTime<Utc>> {
    let comments = paper.comments.as_deref()?;
    if !is_withdrawal_comment(comments) {
        return None;
    }
    paper
        .versions
        .iter()
        .filter_map(|v| v.date)
        .max()
        .or(paper.updated)
        .or(paper.submitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdrawal_comments_from_real_records() {
        for c in [
            "This has been withdrawn by arXiv administrators due to an unresolvable authorship dispute",
            "This paper has been withdrawn",
            "This paper has been withdrawn by the author(s) due to some mistakes in this paper",
            "withdrawn by arXiv administrators due to plagiarism. See http://arxiv.org/new/withdrawals.aug.07.html",
            "This papers has been withdrawn",
            "This paper has been withdrawn by the authors. This paper has been\n  accepted for publication in JGR-Space Physics.",
            "Withdrawn",
            "Paper withdrawn due to an error in Lemma 2",
            "The submission is withdrawn because of a flaw.",
        ] {
            assert!(is_withdrawal_comment(c), "{c}");
        }
    }

    #[test]
    fn ordinary_comments_are_not_withdrawals() {
        for c in [
            "12 pages, 3 figures",
            "Accepted at ACL 2025; the right to withdraw consent is discussed",
            "Studies opioid withdrawal symptoms. 10 pages",
            "A withdrawal mechanism for LLM agents",
            "",
        ] {
            assert!(!is_withdrawal_comment(c), "{c}");
        }
    }
}
