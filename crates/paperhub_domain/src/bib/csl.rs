//! CSL-JSON: an array of objects as Zotero's "Export → CSL JSON" and
//! citeproc tools write them.
//!
//! Each object is read on its own, so one malformed object is reported
//! (with the line it starts on and its `id`) and the others are kept; a
//! file that is not a JSON array at all is one bad entry saying where the
//! syntax broke. Zotero puts an arXiv preprint's id in `number`
//! ("arXiv:2501.00001"), `URL`, `DOI` or `note`; all are searched.

use serde_json::{Value, json};

use super::{BadEntry, MAX_ENTRIES, Parsed, Reference, clean_doi, find_arxiv, line_of};
use crate::text::normalize_whitespace;

/// Byte ranges of the top-level elements of a JSON array, found without
/// recursion (strings and escapes skipped, depth counted).
fn elements(text: &str) -> Result<Vec<(usize, usize)>, (usize, String)> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if b.get(i) != Some(&b'[') {
        return Err((i, "a CSL-JSON file is a JSON array `[…]` of objects".into()));
    }
    i += 1;
    let mut out = Vec::new();
    let (mut depth, mut start, mut in_string) = (0usize, None, false);
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => {
                    in_string = true;
                    start.get_or_insert(i);
                }
                b'{' | b'[' => {
                    if depth == 0 {
                        start = Some(i);
                    }
                    depth += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    if depth == 0
                        && let Some(s) = start.take()
                    {
                        out.push((s, i + 1));
                    }
                }
                b']' => {
                    if let Some(s) = start.take() {
                        out.push((s, i));
                    }
                    return Ok(out);
                }
                b',' if depth == 0 => {
                    if let Some(s) = start.take() {
                        out.push((s, i));
                    }
                }
                c if !c.is_ascii_whitespace() => {
                    start.get_or_insert(i);
                }
                _ => {}
            }
        }
        i += 1;
    }
    Err((text.len(), "the array is never closed".into()))
}

/// Reads a CSL-JSON file.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let spans = match elements(text) {
        Ok(spans) => spans,
        Err((at, reason)) => {
            out.bad.push(BadEntry {
                line: line_of(text, at),
                key: None,
                reason,
            });
            return out;
        }
    };
    let mut lines = super::Lines::new(text);
    for (n, (start, end)) in spans.into_iter().enumerate() {
        let line = lines.at(start);
        if n >= MAX_ENTRIES {
            out.bad.push(BadEntry {
                line,
                key: None,
                reason: format!("the file has over {MAX_ENTRIES} entries; the rest were not read"),
            });
            break;
        }
        match serde_json::from_str::<Value>(text[start..end].trim()) {
            Ok(Value::Object(o)) => out.references.push(reference(&Value::Object(o), line)),
            Ok(other) => out.bad.push(BadEntry {
                line,
                key: None,
                reason: format!("an entry is a JSON {}, not an object", kind(&other)),
            }),
            Err(e) => {
                let key = serde_json::from_str::<Value>(&format!("{}}}", &text[start..end]))
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
                out.bad.push(BadEntry {
                    line: line + e.line().saturating_sub(1),
                    key,
                    reason: format!("not valid JSON: {e}"),
                });
            }
        }
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn text_of(v: &Value, name: &str) -> Option<String> {
    match v.get(name)? {
        Value::String(s) => Some(normalize_whitespace(s)).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn reference(v: &Value, line: usize) -> Reference {
    let authors = v
        .get("author")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .take(10_000)
                .filter_map(|a| {
                    if let Some(l) = text_of(a, "literal") {
                        return Some(l);
                    }
                    let family = text_of(a, "family").unwrap_or_default();
                    let given = text_of(a, "given").unwrap_or_default();
                    let name = normalize_whitespace(&format!("{given} {family}"));
                    (!name.is_empty()).then_some(name)
                })
                .collect()
        })
        .unwrap_or_default();
    let year = v
        .get("issued")
        .and_then(|i| i.get("date-parts"))
        .and_then(|d| d.get(0))
        .and_then(|d| d.get(0))
        .and_then(|y| match y {
            Value::Number(n) => n.as_i64().map(|n| n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
    let fields: Vec<String> = [
        "number",
        "URL",
        "DOI",
        "note",
        "archive_location",
        "container-title",
    ]
    .iter()
    .filter_map(|f| text_of(v, f))
    .collect();
    let note = v
        .get("note")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.starts_with("arXiv:"))
        .map(str::to_owned);
    Reference {
        key: text_of(v, "id").unwrap_or_default(),
        title: text_of(v, "title"),
        authors,
        year,
        doi: text_of(v, "DOI").and_then(|d| clean_doi(&d)),
        arxiv: find_arxiv(fields.iter().map(String::as_str)),
        url: text_of(v, "URL"),
        note,
        line,
    }
}

/// Writes references as a CSL-JSON array.
pub fn write(references: &[Reference]) -> String {
    let items: Vec<Value> = references
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut o = serde_json::Map::new();
            let id = if r.key.is_empty() {
                r.arxiv.as_ref().map_or_else(
                    || format!("ref-{}", i + 1),
                    |a| format!("arxiv:{}", a.base()),
                )
            } else {
                r.key.clone()
            };
            o.insert("id".into(), json!(id));
            o.insert("type".into(), json!("article"));
            if let Some(t) = &r.title {
                o.insert("title".into(), json!(t));
            }
            if !r.authors.is_empty() {
                let authors: Vec<Value> = r
                    .authors
                    .iter()
                    .map(|a| {
                        let (family, given) = super::split_name(a);
                        if given.is_empty() {
                            json!({ "literal": family })
                        } else {
                            json!({ "family": family, "given": given })
                        }
                    })
                    .collect();
                o.insert("author".into(), Value::Array(authors));
            }
            if let Some(y) = r.year.as_deref().and_then(|y| y.parse::<i64>().ok()) {
                o.insert("issued".into(), json!({ "date-parts": [[y]] }));
            }
            if let Some(a) = &r.arxiv {
                o.insert("number".into(), json!(format!("arXiv:{}", a.base())));
                o.insert("publisher".into(), json!("arXiv"));
                o.insert(
                    "URL".into(),
                    json!(format!("https://arxiv.org/abs/{}", a.base())),
                );
            } else if let Some(u) = &r.url {
                o.insert("URL".into(), json!(u));
            }
            if let Some(d) = &r.doi {
                o.insert("DOI".into(), json!(d));
            }
            if let Some(n) = &r.note {
                o.insert("note".into(), json!(n));
            }
            Value::Object(o)
        })
        .collect();
    serde_json::to_string_pretty(&Value::Array(items)).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zotero_csl_json_one_entry_at_a_time() {
        let text = r#"[
  {"id": "vaswani", "type": "article", "title": "Attention Is All You Need",
   "author": [{"family": "Vaswani", "given": "Ashish"}, {"literal": "Google Brain"}],
   "issued": {"date-parts": [[2017, 12, 5]]}, "number": "arXiv:1706.03762",
   "note": "arXiv:1706.03762 [cs]"},
  {"id": "broken", "title": "x", oops},
  {"id": "lecun", "title": "Deep learning", "DOI": "10.1038/nature14539",
   "issued": {"date-parts": [["2015"]]}, "note": "Read twice.\nThen again."},
  42
]"#;
        let p = parse(text);
        assert_eq!(p.references.len(), 2, "{p:?}");
        let a = &p.references[0];
        assert_eq!(a.authors, ["Ashish Vaswani", "Google Brain"]);
        assert_eq!(a.year.as_deref(), Some("2017"));
        assert_eq!(
            a.arxiv.as_ref().map(ToString::to_string).as_deref(),
            Some("1706.03762")
        );
        assert_eq!(a.note, None);
        assert_eq!(a.line, 2);
        let l = &p.references[1];
        assert_eq!(
            (l.year.as_deref(), l.doi.as_deref()),
            (Some("2015"), Some("10.1038/nature14539"))
        );
        assert_eq!(l.note.as_deref(), Some("Read twice.\nThen again."));
        assert_eq!(p.bad.len(), 2);
        assert_eq!((p.bad[0].line, p.bad[0].key.as_deref()), (6, None));
        assert!(p.bad[1].reason.contains("number"), "{:?}", p.bad[1]);
        let back = parse(&write(&p.references));
        assert!(back.bad.is_empty());
        for (x, y) in p.references.iter().zip(&back.references) {
            assert_eq!(
                (&x.title, &x.authors, &x.arxiv, &x.note, &x.year),
                (&y.title, &y.authors, &y.arxiv, &y.note, &y.year)
            );
        }
        assert_eq!(parse("{}").bad.len(), 1);
        assert_eq!(
            parse("[{\"id\": 1}").bad[0].reason,
            "the array is never closed"
        );
    }
}
