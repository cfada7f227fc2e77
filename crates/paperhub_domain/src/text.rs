//! Text clean-up shared by every importer: whitespace and TeX accents.
//!
//! arXiv metadata keeps the hard line breaks and indentation of the submitter's
//! form, so the same abstract arrives differently wrapped from each interface.
//! Normalising whitespace makes records from different sources comparable.
//! TeX markup in titles and abstracts is kept as is (users search for `$\ell$`
//! and the web UI can render it), but author names are decoded from TeX accents
//! to Unicode, because people search for "Balázs", not `Bal\'azs`.

/// Collapses every run of whitespace to one space and trims both ends.
///
/// Whitespace is Unicode `White_Space`, as for [`str::split_whitespace`].
/// This runs on every title and abstract of a bulk import, where
/// `split_whitespace` was a quarter of parse time, so ASCII text (nearly all
/// of arXiv) takes a fast path: map control whitespace to spaces in one
/// vectorisable pass, and compact only if a double space remains.
pub fn normalize_whitespace(s: &str) -> String {
    if !s.is_ascii() {
        return normalize_unicode(s);
    }
    let mut bytes = s.as_bytes().to_vec();
    // Branch-free so the compiler vectorises it: \t \n \v \f \r are 9..=13.
    for b in &mut bytes {
        let mask = 0u8.wrapping_sub(u8::from(b.wrapping_sub(b'\t') < 5));
        *b = (*b & !mask) | (b' ' & mask);
    }
    // Trim after mapping: `trim_ascii` keeps \v, which is Unicode whitespace.
    let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    bytes.truncate(end);
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(0);
    bytes.drain(..start);
    if memchr::memmem::find(&bytes, b"  ").is_some() {
        let mut previous_space = false;
        bytes.retain(|&b| {
            let keep = !(b == b' ' && previous_space);
            previous_space = b == b' ';
            keep
        });
    }
    // Only ASCII bytes were replaced by ASCII bytes, so this cannot fail.
    String::from_utf8(bytes).unwrap_or_else(|_| normalize_unicode(s))
}

fn normalize_unicode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        push_word(&mut out, word);
    }
    out
}

fn push_word(out: &mut String, word: &str) {
    if word.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
}

/// Trims and normalises whitespace; returns `None` for an empty result.
pub fn non_empty(s: Option<&str>) -> Option<String> {
    let s = normalize_whitespace(s?);
    (!s.is_empty()).then_some(s)
}

/// Decodes the TeX accent macros common in arXiv author names to Unicode.
///
/// Handles `\'a`, `\'{a}`, `{\'a}`, `\"o`, `\^e`, `` \`e ``, `\~n`, `\c{c}`,
/// `\v{s}`, `\H{o}`, `\u{a}`, `\ss`, `\o`, `\l`, `\aa`, `\ae`, `\i`. Anything
/// else is left untouched, so no information is lost.
pub fn decode_tex_accents(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\'
            && let Some((decoded, used)) = decode_macro(&chars[i + 1..])
        {
            out.push(decoded);
            i += 1 + used;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    // Braces that only grouped an accent, like {\'a}, are now empty shells: {á}.
    strip_single_char_groups(&out)
}

fn decode_macro(rest: &[char]) -> Option<(char, usize)> {
    let accent = *rest.first()?;
    let symbol_accent = matches!(accent, '\'' | '`' | '^' | '"' | '~' | '=' | '.');
    let letter_accent = matches!(accent, 'c' | 'v' | 'H' | 'u' | 'k');
    if symbol_accent || letter_accent {
        // The argument: a letter, `{x}`, or for letter accents ` x`/`{x}`.
        let mut j = 1;
        if letter_accent {
            while rest.get(j) == Some(&' ') {
                j += 1;
            }
            if j == 1 && rest.get(1).is_some_and(|c| c.is_ascii_alphabetic()) {
                // `\cc` is not an accent on c unless braced or spaced; let the
                // named-letter table below have a go instead.
                return named_letter(rest);
            }
        }
        let (base, used) = if rest.get(j) == Some(&'{') {
            let base = *rest.get(j + 1)?;
            let base = if base == '\\' && rest.get(j + 2) == Some(&'i') {
                return combine(accent, 'i').map(|c| (c, j + 4));
            } else {
                base
            };
            (rest.get(j + 2) == Some(&'}')).then_some((base, j + 3))?
        } else {
            (*rest.get(j)?, j + 1)
        };
        if base == '\\' && rest.get(j + 1) == Some(&'i') {
            return combine(accent, 'i').map(|c| (c, j + 2));
        }
        return combine(accent, base).map(|c| (c, used));
    }
    named_letter(rest)
}

fn named_letter(rest: &[char]) -> Option<(char, usize)> {
    let word: String = rest
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let c = match word.as_str() {
        "ss" => 'ß',
        "o" => 'ø',
        "O" => 'Ø',
        "l" => 'ł',
        "L" => 'Ł',
        "aa" => 'å',
        "AA" => 'Å',
        "ae" => 'æ',
        "AE" => 'Æ',
        "oe" => 'œ',
        "i" => 'ı',
        _ => return None,
    };
    let mut used = word.chars().count();
    // A control word swallows one following space: `\o ne` is "øne".
    if rest.get(used) == Some(&' ') {
        used += 1;
    }
    Some((c, used))
}

fn combine(accent: char, base: char) -> Option<char> {
    const TABLE: &[(char, &str, &str)] = &[
        ('\'', "aeiouyAEIOUYcnszrlCNSZRL", "áéíóúýÁÉÍÓÚÝćńśźŕĺĆŃŚŹŔĹ"),
        ('`', "aeiouAEIOU", "àèìòùÀÈÌÒÙ"),
        ('^', "aeiouAEIOUcgshjwy", "âêîôûÂÊÎÔÛĉĝŝĥĵŵŷ"),
        ('"', "aeiouyAEIOUY", "äëïöüÿÄËÏÖÜŸ"),
        ('~', "anoANOiu", "ãñõÃÑÕĩũ"),
        ('=', "aeiouAEIOU", "āēīōūĀĒĪŌŪ"),
        ('.', "zZeEgIc", "żŻėĖġİċ"),
        ('c', "cCsStT", "çÇşŞţŢ"),
        ('v', "csznrdteCSZNRDTE", "čšžňřďťěČŠŽŇŘĎŤĚ"),
        ('H', "oOuU", "őŐűŰ"),
        ('u', "aAgGuU", "ăĂğĞŭŬ"),
        ('k', "aAeE", "ąĄęĘ"),
    ];
    let (_, from, to) = TABLE.iter().find(|(a, _, _)| *a == accent)?;
    let pos = from.chars().position(|c| c == base)?;
    to.chars().nth(pos)
}

fn strip_single_char_groups(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '{' && chars.get(i + 2) == Some(&'}') && !chars[i + 1].is_ascii() {
            out.push(chars[i + 1]);
            i += 3;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `s` with every run of whitespace (arXiv titles carry line breaks) made one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "A, B, C, D et al."
pub fn author_line(paper: &crate::Paper, max: usize) -> String {
    let names: Vec<&str> = paper.authors.iter().map(|a| a.name.as_str()).collect();
    if names.len() > max {
        format!("{} et al.", names[..max].join(", "))
    } else {
        names.join(", ")
    }
}

/// Up to `max` characters of `text` on word boundaries, starting near the
/// first query word when it is not in the opening.
pub fn excerpt(text: &str, terms: &[String], max: usize) -> String {
    let lower = text.to_lowercase();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    if chars.len() <= max {
        return text.to_owned();
    }
    // Byte offsets of `lower` and `text` differ only for rare case-mapping
    // changes; the start found is a hint, clamped to a char boundary.
    let first = terms
        .iter()
        .filter_map(|t| lower.find(t.as_str()))
        .min()
        .unwrap_or(0);
    let first_char = chars.partition_point(|(b, _)| *b < first);
    let start = if first_char + 40 > max {
        first_char.saturating_sub(60)
    } else {
        0
    };
    let end = (start + max).min(chars.len());
    let e = chars.get(end).map_or(text.len(), |(b, _)| *b);
    let mut s_byte = chars.get(start).map_or(0, |(b, _)| *b);
    if start > 0 {
        // Begin at a word, if one begins inside the window: a long token
        // with no space must not move the start past the end (see #13).
        if let Some(sp) = text[s_byte..e].find(' ') {
            s_byte += sp + 1;
        }
    }
    let e_byte = if end < chars.len() {
        text[s_byte..e].rfind(' ').map_or(e, |sp| s_byte + sp)
    } else {
        text.len()
    };
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(text[s_byte..e_byte].trim());
    if e_byte < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(
            normalize_whitespace("  A fully\ndifferential\n\n  calc  "),
            "A fully differential calc"
        );
        assert_eq!(non_empty(Some(" \n ")), None);
        assert_eq!(non_empty(Some(" x ")), Some("x".into()));
    }

    #[test]
    fn unicode_whitespace_matches_split_whitespace() {
        for s in [
            "a\u{a0}b",
            "\u{2003}x\u{3000}y\u{85}",
            "é \t\u{b}ü",
            // Found by fuzzing: ASCII \v at the ends was kept as a space.
            "\u{b}",
            "\u{b}a b\u{b}\u{c}",
            "",
            "  ",
            "plain",
        ] {
            let expected = s.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(normalize_whitespace(s), expected, "{s:?}");
        }
    }

    #[test]
    fn tex_kept_in_text() {
        assert_eq!(
            normalize_whitespace("the $(k,\\ell)$-pebble"),
            "the $(k,\\ell)$-pebble"
        );
    }

    #[test]
    fn accents_decode() {
        assert_eq!(decode_tex_accents("C. Bal\\'azs"), "C. Balázs");
        assert_eq!(decode_tex_accents("Bal{\\'a}zs"), "Balázs");
        assert_eq!(decode_tex_accents("Bal\\'{a}zs"), "Balázs");
        assert_eq!(decode_tex_accents("M\\\"uller"), "Müller");
        assert_eq!(decode_tex_accents("Fran\\c{c}ois"), "François");
        assert_eq!(decode_tex_accents("Dvo\\v{r}\\'ak"), "Dvořák");
        assert_eq!(decode_tex_accents("Erd\\H{o}s"), "Erdős");
        assert_eq!(decode_tex_accents("Stra\\ss e"), "Straße");
        assert_eq!(decode_tex_accents("J{\\o}rgensen"), "Jørgensen");
        assert_eq!(decode_tex_accents("Mart\\'{\\i}nez"), "Martínez");
        assert_eq!(decode_tex_accents("no macro \\alpha"), "no macro \\alpha");
        assert_eq!(decode_tex_accents("trailing \\"), "trailing \\");
    }
}
