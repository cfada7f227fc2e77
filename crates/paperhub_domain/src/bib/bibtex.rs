//! BibTeX and BibLaTeX: `@type{key, field = {value} # "value" # macro, …}`.
//!
//! The reader follows what Zotero, JabRef and Google Scholar write:
//! braces or quotes around values, `#` concatenation, `@string` macros
//! (and the month names), `@comment` and `@preamble` skipped, `(…)` as
//! well as `{…}` around an entry, and TeX accents in values. An entry it
//! cannot close is reported with its line and key; reading resumes at the
//! next `@` that starts a line.

use super::{BadEntry, MAX_ENTRIES, Parsed, Reference, clean_doi, display_name, find_arxiv};
use crate::text::{decode_tex_accents, normalize_whitespace};

/// Longest field value kept, in bytes; longer ones make the entry bad.
const MAX_VALUE: usize = 200_000;

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Bytes of values still allowed: `@string` macros can make a value
    /// far longer than its source, so the whole file gets a budget.
    budget: usize,
}

/// Macros kept at most, and their longest value.
const MAX_MACROS: usize = 1_000;
const MAX_MACRO_VALUE: usize = 4_096;

/// Fields kept per entry, and their bytes together.
const MAX_FIELDS: usize = 100;
const MAX_ENTRY_BYTES: usize = 1 << 20;

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// A run of name characters (entry types, keys of fields and macros).
    fn name(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.' | b'+' | b'/')
        }) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// The body of a `{…}` group, the opening brace already read; braces
    /// inside nest, `\{` and `\}` do not count.
    fn braced(&mut self) -> Result<String, String> {
        let start = self.pos;
        let mut depth = 1usize;
        while let Some(b) = self.peek() {
            match b {
                b'\\' => self.pos += 1,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        let value = self.text[start..self.pos].to_owned();
                        self.pos += 1;
                        return Ok(value);
                    }
                }
                _ => {}
            }
            self.pos += 1;
            if self.pos - start > MAX_VALUE {
                return Err("a value is longer than 200 kB".into());
            }
        }
        self.pos = self.bytes.len();
        Err("a brace is never closed".into())
    }

    /// The body of a `"…"` value, the opening quote already read; quotes
    /// inside braces do not end it.
    fn quoted(&mut self) -> Result<String, String> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'\\' => self.pos += 1,
                b'{' => depth += 1,
                b'}' => depth = depth.saturating_sub(1),
                b'"' if depth == 0 => {
                    let value = self.text[start..self.pos].to_owned();
                    self.pos += 1;
                    return Ok(value);
                }
                _ => {}
            }
            self.pos += 1;
            if self.pos - start > MAX_VALUE {
                return Err("a value is longer than 200 kB".into());
            }
        }
        self.pos = self.bytes.len();
        Err("a quote is never closed".into())
    }

    /// A value: parts joined by `#`.
    fn value(&mut self, macros: &[(String, String)]) -> Result<String, String> {
        let mut out = String::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    out.push_str(&self.braced()?);
                }
                Some(b'"') => {
                    self.pos += 1;
                    out.push_str(&self.quoted()?);
                }
                Some(b) if b.is_ascii_alphanumeric() => {
                    let word = self.name().to_ascii_lowercase();
                    match macros.iter().rev().find(|(k, _)| *k == word) {
                        Some((_, v)) => out.push_str(v),
                        None => out.push_str(&word),
                    }
                }
                _ => return Err("a field has no value".into()),
            }
            if out.len() > MAX_VALUE {
                return Err("a value is longer than 200 kB".into());
            }
            self.skip_space();
            if self.peek() == Some(b'#') {
                self.pos += 1;
            } else {
                self.budget = self.budget.checked_sub(out.len()).ok_or_else(|| {
                    "its @string macros expand to far more text than the file holds".to_owned()
                })?;
                return Ok(out);
            }
        }
    }

    /// Moves to the next `@` at the start of a line (after an entry that
    /// could not be read).
    fn resync(&mut self) {
        while let Some(at) = memchr::memchr(b'@', self.bytes.get(self.pos..).unwrap_or_default()) {
            let p = self.pos + at;
            // Only blanks between the line's start and the `@` (looking
            // back over blanks alone, so no byte is scanned twice).
            let mut q = p;
            while q > 0 && matches!(self.bytes[q - 1], b' ' | b'\t' | b'\r') {
                q -= 1;
            }
            if (q == 0 || self.bytes[q - 1] == b'\n') && p > self.pos {
                self.pos = p;
                return;
            }
            self.pos = p + 1;
        }
        self.pos = self.bytes.len();
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Reads a BibTeX file.
pub fn parse(text: &str) -> Parsed {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        budget: text.len().saturating_mul(4).saturating_add(1 << 20),
    };
    let mut lines = super::Lines::new(text);
    let mut out = Parsed::default();
    let mut macros: Vec<(String, String)> = MONTHS
        .iter()
        .enumerate()
        .map(|(i, m)| ((*m).to_owned(), (i + 1).to_string()))
        .collect();
    while let Some(at) = memchr::memchr(b'@', r.bytes.get(r.pos..).unwrap_or_default()) {
        let start = r.pos + at;
        r.pos = start + 1;
        let line = lines.at(start);
        let kind = r.name().to_ascii_lowercase();
        r.skip_space();
        let close = match r.peek() {
            Some(b'{') => b'}',
            Some(b'(') => b')',
            // An `@` in free text between entries is not an entry.
            _ => continue,
        };
        r.pos += 1;
        match kind.as_str() {
            "comment" | "preamble" => {
                if close == b'}' {
                    let _ = r.braced();
                } else {
                    r.resync();
                }
                continue;
            }
            "string" => {
                r.skip_space();
                let name = r.name().to_ascii_lowercase();
                r.skip_space();
                let ok = r.peek() == Some(b'=');
                r.pos += usize::from(ok);
                match r.value(&macros) {
                    Ok(v) if ok && !name.is_empty() => {
                        if macros.len() < MAX_MACROS && v.len() <= MAX_MACRO_VALUE {
                            macros.push((name, v));
                        }
                        r.skip_space();
                        if r.peek() == Some(close) {
                            r.pos += 1;
                        }
                    }
                    Ok(_) | Err(_) => {
                        out.bad.push(BadEntry {
                            line,
                            key: None,
                            reason: "an @string is not `name = value`".into(),
                        });
                        r.pos = start + 1;
                        r.resync();
                    }
                }
                continue;
            }
            _ => {}
        }
        if out.references.len() + out.bad.len() >= MAX_ENTRIES {
            out.bad.push(BadEntry {
                line,
                key: None,
                reason: format!("the file has over {MAX_ENTRIES} entries; the rest were not read"),
            });
            break;
        }
        match entry(&mut r, close, &macros) {
            Ok((key, fields)) => out.references.push(reference(key, &fields, line)),
            Err((key, reason)) => {
                out.bad.push(BadEntry { line, key, reason });
                // An unclosed brace may have run to the end of the file:
                // look for the next entry from this one's start.
                r.pos = start + 1;
                r.resync();
            }
        }
    }
    out
}

type Fields = Vec<(String, String)>;

/// An entry's key and fields, the opening delimiter read.
fn entry(
    r: &mut Reader<'_>,
    close: u8,
    macros: &[(String, String)],
) -> Result<(String, Fields), (Option<String>, String)> {
    r.skip_space();
    let key_start = r.pos;
    while r
        .peek()
        .is_some_and(|b| b != b',' && b != close && !b.is_ascii_whitespace())
    {
        r.pos += 1;
    }
    let key = r.text[key_start..r.pos].to_owned();
    let key_opt = (!key.is_empty()).then(|| key.clone());
    r.skip_space();
    let mut fields = Vec::new();
    let mut kept = 0usize;
    loop {
        match r.peek() {
            Some(b',') => {
                r.pos += 1;
                r.skip_space();
            }
            Some(b) if b == close => {
                r.pos += 1;
                return Ok((key, fields));
            }
            None => return Err((key_opt, "the entry is never closed".into())),
            _ => {}
        }
        if r.peek() == Some(close) {
            continue;
        }
        let name = r.name().to_ascii_lowercase();
        if name.is_empty() {
            return Err((
                key_opt,
                format!(
                    "unexpected {:?} where a field should start",
                    r.peek().map(char::from)
                ),
            ));
        }
        r.skip_space();
        if r.peek() != Some(b'=') {
            return Err((key_opt, format!("field {name} has no `=`")));
        }
        r.pos += 1;
        let value = r
            .value(macros)
            .map_err(|e| (key_opt.clone(), format!("field {name}: {e}")))?;
        kept += value.len();
        if kept > MAX_ENTRY_BYTES {
            return Err((key_opt, "the entry is over 1 MB".into()));
        }
        if fields.len() < MAX_FIELDS {
            fields.push((name, value));
        }
        r.skip_space();
    }
}

/// A field's value as text: TeX accents and escapes resolved, braces gone.
pub fn clean(raw: &str) -> String {
    let unescaped = raw
        .replace("\\textbackslash{}", "\u{0}")
        .replace("\\{", "\u{1}")
        .replace("\\}", "\u{2}")
        .replace("\\&", "&")
        .replace("\\%", "%")
        .replace("\\$", "$")
        .replace("\\#", "#")
        .replace("\\_", "_");
    let decoded = decode_tex_accents(&unescaped);
    let stripped: String = decoded.chars().filter(|c| *c != '{' && *c != '}').collect();
    normalize_whitespace(
        &stripped
            .replace('\u{0}', "\\")
            .replace('\u{1}', "{")
            .replace('\u{2}', "}"),
    )
}

/// A note as text: like [`clean`], but its line breaks kept.
fn clean_note(raw: &str) -> String {
    raw.replace('\r', "")
        .split('\n')
        .map(clean)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// Splits an author list on ` and ` outside braces.
fn authors(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let lower = raw.to_ascii_lowercase();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b' ' | b'\n' | b'\t' if depth == 0 && lower[i..].starts_with(" and ") => {
                out.push(&raw[start..i]);
                i += 5;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&raw[start..]);
    out.into_iter()
        .map(clean)
        .filter(|a| !a.is_empty() && a != "others")
        .map(|a| display_name(&a))
        .collect()
}

fn reference(key: String, fields: &Fields, line: usize) -> Reference {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let archive = get("archiveprefix")
        .or_else(|| get("eprinttype"))
        .map(str::to_ascii_lowercase);
    let eprint = get("eprint").filter(|_| archive.as_deref().is_none_or(|a| a == "arxiv"));
    let arxiv = find_arxiv(
        [
            eprint,
            get("doi"),
            get("url"),
            get("journal"),
            get("journaltitle"),
            get("note"),
            get("howpublished"),
            get("arxivid"),
        ]
        .into_iter()
        .flatten(),
    );
    let year = get("year")
        .or_else(|| get("date"))
        .map(clean)
        .map(|y| y.chars().take(4).collect::<String>())
        .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
    Reference {
        key,
        title: get("title").map(clean).filter(|t| !t.is_empty()),
        authors: get("author").map(authors).unwrap_or_default(),
        year,
        doi: get("doi").and_then(clean_doi),
        arxiv,
        url: get("url").map(clean).filter(|u| !u.is_empty()),
        note: get("note")
            .or_else(|| get("annote"))
            .or_else(|| get("annotation"))
            .map(clean_note)
            .filter(|n| !n.is_empty()),
        line,
    }
}

/// `s` made safe inside a braced BibTeX value: braces and backslashes
/// escaped, so the value's own braces always balance.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\n' => out.push('\n'),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A citation key of letters, digits and `:-_.`, unique in the file.
fn key_for(r: &Reference, taken: &mut std::collections::HashSet<String>) -> String {
    let base: String = if r.key.is_empty() {
        r.arxiv
            .as_ref()
            .map_or_else(|| "ref".to_owned(), |id| format!("arxiv:{id}"))
    } else {
        r.key.clone()
    };
    let base: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '/'))
        .take(100)
        .collect();
    let base = if base.is_empty() {
        "ref".to_owned()
    } else {
        base
    };
    let mut key = base.clone();
    let mut n = 1;
    while !taken.insert(key.clone()) {
        n += 1;
        key = format!("{base}-{n}");
    }
    key
}

/// Writes references as BibTeX `@misc` entries with arXiv eprint fields.
pub fn write(references: &[Reference]) -> String {
    let mut out = String::new();
    let mut taken = std::collections::HashSet::new();
    for r in references {
        out.push_str(&format!("@misc{{{},\n", key_for(r, &mut taken)));
        // (name, value already escaped)
        let mut fields: Vec<(&str, String)> = Vec::new();
        if let Some(t) = &r.title {
            fields.push(("title", escape(t)));
        }
        if !r.authors.is_empty() {
            let names: Vec<String> = r
                .authors
                .iter()
                .map(|a| {
                    let (last, first) = super::split_name(a);
                    // A part holding the word "and" is braced, or it would
                    // split the list.
                    let part = |p: &str| {
                        if p.split_whitespace().any(|w| w.eq_ignore_ascii_case("and")) {
                            format!("{{{}}}", escape(p))
                        } else {
                            escape(p)
                        }
                    };
                    if first.is_empty() {
                        // One word or an institution: braced, kept whole.
                        format!("{{{}}}", escape(&last))
                    } else {
                        format!("{}, {}", part(&last), part(&first))
                    }
                })
                .collect();
            fields.push(("author", names.join(" and ")));
        }
        if let Some(y) = &r.year {
            fields.push(("year", escape(y)));
        }
        if let Some(id) = &r.arxiv {
            fields.push(("eprint", escape(id.base())));
            fields.push(("archivePrefix", "arXiv".to_owned()));
        }
        if let Some(d) = &r.doi {
            fields.push(("doi", escape(d)));
        }
        if let Some(u) = &r.url {
            fields.push(("url", escape(u)));
        }
        if let Some(n) = &r.note {
            fields.push(("note", escape(n)));
        }
        for (name, value) in fields {
            out.push_str(&format!("  {name} = {{{value}}},\n"));
        }
        out.push_str("}\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZOTERO: &str = r#"
@comment{jabref-meta: databaseType:bibtex;}
@string{acl = "Association for Computational Linguistics"}

@misc{vaswani_attention_2017,
	title = {Attention {Is} {All} {You} {Need}},
	url = {http://arxiv.org/abs/1706.03762},
	doi = {10.48550/arXiv.1706.03762},
	author = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki},
	month = dec,
	year = {2017},
	note = {arXiv:1706.03762 [cs]},
}

@article{lecun2015deep,
  title="Deep learning",
  author="LeCun, Yann and Bengio, Yoshua and Hinton, Geoffrey",
  journal="Nature", volume=521, number="7553", pages="436--444",
  year=2015, doi = {https://doi.org/10.1038/nature14539},
  publisher = acl # " and friends"
}

@inproceedings{broken,
  title = {Unclosed {brace,
  author = {Nobody}
}

@article(scholar,
  title={M{\"u}ller's {\'E}tude},
  author={M{\"u}ller, J{\"o}rg and others},
  journal={arXiv preprint arXiv:2501.00001},
  year={2025}
)
"#;

    #[test]
    fn reads_what_zotero_jabref_and_scholar_write() {
        let p = parse(ZOTERO);
        assert_eq!(p.references.len(), 3, "{p:?}");
        let v = &p.references[0];
        assert_eq!(v.key, "vaswani_attention_2017");
        assert_eq!(v.title.as_deref(), Some("Attention Is All You Need"));
        assert_eq!(v.authors, ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"]);
        assert_eq!(
            v.arxiv.as_ref().map(ToString::to_string).as_deref(),
            Some("1706.03762")
        );
        assert_eq!(v.year.as_deref(), Some("2017"));
        assert_eq!(v.line, 5);
        let l = &p.references[1];
        assert_eq!(l.doi.as_deref(), Some("10.1038/nature14539"));
        assert_eq!(l.arxiv, None);
        assert_eq!(l.authors.len(), 3);
        let s = &p.references[2];
        assert_eq!(s.title.as_deref(), Some("Müller's Étude"));
        assert_eq!(s.authors, ["Jörg Müller"]);
        assert_eq!(
            s.arxiv.as_ref().map(ToString::to_string).as_deref(),
            Some("2501.00001")
        );
        assert_eq!(p.bad.len(), 1);
        assert_eq!(p.bad[0].key.as_deref(), Some("broken"));
        assert_eq!(p.bad[0].line, 23);
    }

    /// Inputs built to make a careless reader slow or huge: a million
    /// stray `@`s, macros that multiply, a value of repeated "arxiv".
    #[test]
    fn hostile_files_stay_linear_and_small() {
        let strays = "@\n".repeat(500_000);
        let p = parse(&strays);
        assert!(p.references.is_empty() && p.bad.is_empty());
        let no_newlines = format!("x{}", " @".repeat(300_000));
        assert!(parse(&no_newlines).references.is_empty());

        let mut bomb = format!("@string{{a = \"{}\"}}\n", "x".repeat(4_000));
        bomb.push_str("@string{b = a # a # a # a}\n");
        for i in 0..20_000 {
            bomb.push_str(&format!("@misc{{k{i}, title = a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a # a}}\n"));
        }
        let p = parse(&bomb);
        let kept: usize = p
            .references
            .iter()
            .map(|r| r.title.as_ref().map_or(0, String::len))
            .sum();
        assert!(
            kept <= bomb.len() * 5,
            "{kept} bytes kept from {}",
            bomb.len()
        );
        assert!(
            p.bad.iter().any(|b| b.reason.contains("expand")),
            "{:?}",
            p.bad.first()
        );

        let arxivs = format!("@misc{{k, title = {{{}}}}}", "arxiv".repeat(40_000));
        assert_eq!(parse(&arxivs).references[0].arxiv, None);
    }

    #[test]
    fn writing_then_reading_keeps_everything() {
        let refs = vec![
            Reference {
                key: "a".into(),
                title: Some("Braces {in} titles & 100% \\ odd".into()),
                authors: vec!["Ada Lovelace".into(), "Alan Turing".into()],
                year: Some("2025".into()),
                doi: Some("10.1/x".into()),
                arxiv: "2501.00001".parse().ok(),
                url: Some("https://arxiv.org/abs/2501.00001".into()),
                note: Some("Read {section} 3 \\cite me\nand line two".into()),
                line: 0,
            },
            Reference {
                key: "a".into(),
                title: Some("Second".into()),
                ..Reference::default()
            },
        ];
        let back = parse(&write(&refs));
        assert!(back.bad.is_empty(), "{:?}", back.bad);
        assert_eq!(back.references.len(), 2);
        for (a, b) in refs.iter().zip(&back.references) {
            assert_eq!(
                (&a.title, &a.authors, &a.year, &a.doi, &a.arxiv, &a.note),
                (&b.title, &b.authors, &b.year, &b.doi, &b.arxiv, &b.note)
            );
        }
        assert_eq!(back.references[1].key, "a-2", "keys stay unique");
    }
}
