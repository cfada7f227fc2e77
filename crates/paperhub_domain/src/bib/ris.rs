//! RIS: one `TAG  - value` per line, `TY` opens an entry and `ER` closes it.
//!
//! Zotero and Mendeley write the arXiv id in `UR` (an arxiv.org link), `DO`
//! (an arXiv DOI), `AN`, `N1` or `JO`; all are searched. Lines that are not
//! tags continue the previous tag's value. An entry the file ends inside is
//! kept (some exporters drop the last `ER`); a tag outside any entry is
//! reported with its line. A note of several lines is written as several
//! `N1` tags and read back joined.

use super::{BadEntry, MAX_ENTRIES, Parsed, Reference, clean_doi, display_name, find_arxiv};
use crate::text::normalize_whitespace;

/// Reads a RIS file.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut current: Option<(usize, Vec<(String, String)>)> = None;
    let mut stray_reported = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        let tagged = raw.len() >= 5
            && raw.as_bytes()[0].is_ascii_uppercase()
            && raw.as_bytes()[1].is_ascii_alphanumeric()
            && raw.get(2..5).is_some_and(|s| s == "  -");
        if !tagged {
            // A continuation of the previous value, or a blank line.
            if let Some((_, tags)) = current.as_mut()
                && let Some(last) = tags.last_mut()
                && !raw.trim().is_empty()
                && last.1.len() < 200_000
            {
                last.1.push(' ');
                last.1.push_str(raw.trim());
            }
            continue;
        }
        let tag = &raw[..2];
        let value = raw[5..].trim().to_owned();
        match (tag, current.as_mut()) {
            ("TY", _) => {
                if let Some((start, tags)) = current.take() {
                    out.references.push(reference(&tags, start));
                }
                if out.references.len() >= MAX_ENTRIES {
                    out.bad.push(BadEntry {
                        line,
                        key: None,
                        reason: format!(
                            "the file has over {MAX_ENTRIES} entries; the rest were not read"
                        ),
                    });
                    return out;
                }
                current = Some((line, vec![(tag.to_owned(), value)]));
            }
            ("ER", Some(_)) => {
                if let Some((start, tags)) = current.take() {
                    out.references.push(reference(&tags, start));
                }
            }
            (_, Some((_, tags))) => {
                if tags.len() < 1_000 {
                    tags.push((tag.to_owned(), value));
                }
            }
            (_, None) => {
                if !stray_reported {
                    out.bad.push(BadEntry {
                        line,
                        key: None,
                        reason: format!("tag {tag} outside an entry (no TY line before it)"),
                    });
                    stray_reported = true;
                }
            }
        }
    }
    if let Some((start, tags)) = current {
        out.references.push(reference(&tags, start));
    }
    out
}

fn reference(tags: &[(String, String)], line: usize) -> Reference {
    let all = |names: &[&str]| -> Vec<&str> {
        tags.iter()
            .filter(|(t, _)| names.contains(&t.as_str()))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let first = |names: &[&str]| {
        all(names)
            .into_iter()
            .map(normalize_whitespace)
            .find(|v| !v.is_empty())
    };
    let arxiv = find_arxiv(all(&[
        "AN", "UR", "L1", "L2", "DO", "JO", "JF", "T2", "N1", "M1", "M3",
    ]));
    let year = first(&["PY", "Y1", "DA"])
        .map(|y| y.chars().take(4).collect::<String>())
        .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
    Reference {
        key: first(&["ID"]).unwrap_or_default(),
        title: first(&["TI", "T1", "CT"]),
        authors: all(&["AU", "A1", "A2"])
            .into_iter()
            .map(normalize_whitespace)
            .filter(|a| !a.is_empty())
            .map(|a| display_name(&a))
            .collect(),
        year,
        doi: first(&["DO"]).and_then(|d| clean_doi(&d)),
        arxiv,
        url: first(&["UR"]),
        note: {
            let lines: Vec<&str> = all(&["N1"])
                .into_iter()
                .filter(|n| !n.starts_with("arXiv:"))
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        },
        line,
    }
}

/// One value on one line: line breaks become spaces.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n']).collect::<Vec<_>>().join(" ")
}

/// Writes references as RIS (`TY  - UNPB` for preprints).
pub fn write(references: &[Reference]) -> String {
    let mut out = String::new();
    for r in references {
        out.push_str("TY  - UNPB\r\n");
        let mut tag = |t: &str, v: &str| {
            out.push_str(&format!("{t}  - {}\r\n", one_line(v)));
        };
        if let Some(t) = &r.title {
            tag("TI", t);
        }
        for a in &r.authors {
            let (last, first) = super::split_name(a);
            if first.is_empty() {
                tag("AU", &last);
            } else {
                tag("AU", &format!("{last}, {first}"));
            }
        }
        if let Some(y) = &r.year {
            tag("PY", y);
        }
        if let Some(id) = &r.arxiv {
            tag("AN", &format!("arXiv:{}", id.base()));
            tag("UR", &format!("https://arxiv.org/abs/{}", id.base()));
        } else if let Some(u) = &r.url {
            tag("UR", u);
        }
        if let Some(d) = &r.doi {
            tag("DO", d);
        }
        if let Some(n) = &r.note {
            // One N1 per line of the note; reading joins them again.
            for l in n.lines() {
                tag("N1", l);
            }
        }
        if !r.key.is_empty() {
            tag("ID", &r.key);
        }
        out.push_str("ER  - \r\n\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zotero_ris_and_round_trips() {
        let text = "AU  - stray\r\nTY  - JOUR\r\nTI  - Attention Is All\r\n      You Need\r\nAU  - Vaswani, Ashish\r\nAU  - Shazeer, Noam\r\nPY  - 2017/12/05/\r\nDO  - 10.48550/arXiv.1706.03762\r\nUR  - http://arxiv.org/abs/1706.03762\r\nN1  - arXiv:1706.03762 [cs]\r\nER  - \r\n\r\nTY  - JOUR\r\nTI  - Deep learning\r\nDO  - 10.1038/nature14539\r\n";
        let p = parse(text);
        assert_eq!(p.bad.len(), 1);
        assert_eq!(p.bad[0].line, 1);
        assert_eq!(p.references.len(), 2, "the unclosed last entry is kept");
        let a = &p.references[0];
        assert_eq!(a.title.as_deref(), Some("Attention Is All You Need"));
        assert_eq!(a.authors, ["Ashish Vaswani", "Noam Shazeer"]);
        assert_eq!(a.year.as_deref(), Some("2017"));
        assert_eq!(
            a.arxiv.as_ref().map(ToString::to_string).as_deref(),
            Some("1706.03762")
        );
        assert_eq!(a.note, None, "an arXiv line is not a note");
        assert_eq!(a.line, 2);
        assert_eq!(p.references[1].doi.as_deref(), Some("10.1038/nature14539"));

        let mut with_note = a.clone();
        with_note.note = Some("Two\nlines".into());
        let back = parse(&write(&[with_note]));
        let b = &back.references[0];
        assert_eq!(
            (&b.title, &b.authors, &b.arxiv),
            (&a.title, &a.authors, &a.arxiv)
        );
        assert_eq!(b.note.as_deref(), Some("Two\nlines"));
    }
}
