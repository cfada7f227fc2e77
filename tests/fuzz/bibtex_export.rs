//! Fuzz target for the BibTeX export (`web::views::bibtex`). Paperhub reads
//! no BibTeX, so there is no BibTeX parser to fuzz; what it does is write
//! an entry from imported metadata onto every paper page, and a stray brace
//! from a title, author or category would break the entry for whoever
//! pastes it. Papers go through `Paper::finalize`, as importers leave them.

use std::time::Duration;

use paperhub::web::views::bibtex;
use paperhub_domain::{Author, Paper};
use proptest::prelude::*;

use crate::harness::{Target, fuzz_for};

/// Text with the characters BibTeX cares about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z {}\\\\$%&#_^~,@=\"]{0,40}",
        1 => "\\PC{0,40}",
    ]
}

/// Braces balance and never close more than is open.
fn balanced(s: &str) -> bool {
    let mut depth = 0i64;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

#[test]
fn fuzz_bibtex_export() {
    let strategy = (
        text(),
        proptest::collection::vec((text(), text()), 0..4),
        proptest::option::of(text()),
        proptest::collection::vec(text(), 0..3),
    );
    let target = Target {
        name: "bibtex_export",
        source: file!(),
        time_limit: Some(Duration::from_secs(1)),
        trace: false,
    };
    fuzz_for(target, strategy, |(title, authors, primary, categories)| {
        let id = "2503.13531"
            .parse()
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let mut paper = Paper::new(id, title, String::new());
        paper.authors = authors
            .iter()
            .map(|(last, first)| Author::from_parts(last, first, ""))
            .collect();
        paper.primary_category = primary;
        paper.categories = categories;
        paper.finalize();
        let entry = bibtex(&paper);
        prop_assert!(balanced(&entry), "unbalanced braces in {}", entry);
        prop_assert!(
            entry.starts_with("@misc{") && entry.ends_with('}'),
            "not one entry: {}",
            entry
        );
        Ok(())
    });
}
