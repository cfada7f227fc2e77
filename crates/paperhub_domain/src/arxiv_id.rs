//! arXiv identifiers: parsing, validation and canonical display.
//!
//! arXiv has two identifier schemes. Papers before April 2007 use
//! `archive(.SUBJ)/YYMMNNN` (`hep-th/9901001`, `math.GT/0309136`); later ones use
//! `YYMM.NNNN` (until 1412) or `YYMM.NNNNN` (from 1501). Either may carry a
//! `vN` version suffix. Users paste ids in many shapes (`arXiv:2101.00001`,
//! abs and pdf URLs), so [`ArxivId::from_str`] accepts all of them and
//! [`fmt::Display`] prints the one canonical form, which parses back to the
//! same value.
//!
//! The old scheme's subject class (`.GT` in `math.GT/0309136`) is not part of
//! the identity of a paper: arXiv resolves `math/0309136` to the same record.
//! It is therefore dropped when parsing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not an arXiv identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid arXiv id '{input}': {kind}")]
pub struct ArxivIdError {
    /// The offending input, trimmed to 80 characters.
    pub input: String,
    /// What is wrong with it.
    pub kind: ArxivIdErrorKind,
}

/// The specific reason an arXiv id was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArxivIdErrorKind {
    /// The input was empty after removing prefixes and whitespace.
    #[error("it is empty")]
    Empty,
    /// The month part of `YYMM` is not 01 to 12.
    #[error("month {0:02} is not between 01 and 12")]
    BadMonth(u32),
    /// The number of digits after the dot does not match the year.
    #[error(
        "{yymm} ids have {expected} digits after the dot (e.g. {example}), this one has {found}"
    )]
    BadNumberWidth {
        /// The `YYMM` part.
        yymm: String,
        /// Digits expected for that month.
        expected: usize,
        /// Digits found.
        found: usize,
        /// A well-formed example.
        example: &'static str,
    },
    /// New-style ids start in April 2007 (0704).
    #[error("new-style ids start at 0704 (April 2007)")]
    BeforeNewScheme,
    /// The `vN` suffix is malformed or zero.
    #[error("the version suffix must be 'v' followed by a number from 1")]
    BadVersion,
    /// Nothing matched either scheme.
    #[error("expected YYMM.NNNNN or archive/YYMMNNN, optionally with vN")]
    Unrecognized,
}

/// A validated arXiv identifier, optionally pinned to one version.
///
/// Equality includes the version: `2101.00001` and `2101.00001v2` differ. Use
/// [`ArxivId::unversioned`] for the identity of the paper itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArxivId {
    /// Canonical id without version, e.g. `2101.00001` or `hep-th/9901001`.
    base: String,
    version: Option<u32>,
}

impl ArxivId {
    /// The canonical id without its version, e.g. `hep-th/9901001`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The version number, when the id names one.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The same id with no version: the identity of the paper.
    pub fn unversioned(&self) -> ArxivId {
        ArxivId {
            base: self.base.clone(),
            version: None,
        }
    }

    /// The same id pinned to `version`.
    pub fn with_version(&self, version: u32) -> ArxivId {
        ArxivId {
            base: self.base.clone(),
            version: Some(version),
        }
    }

    /// True for old-style `archive/YYMMNNN` ids.
    pub fn is_old_style(&self) -> bool {
        self.base.contains('/')
    }

    /// The abstract page on arxiv.org.
    pub fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{self}")
    }

    /// The PDF on arxiv.org.
    pub fn pdf_url(&self) -> String {
        format!("https://arxiv.org/pdf/{self}")
    }

    /// Parses `input` and rejects it unless it is a bare id, without URL or
    /// `arXiv:` prefix (for data files, where a URL in the id field is a bug).
    ///
    /// # Errors
    /// Returns [`ArxivIdError`] naming the input and the reason.
    pub fn parse_bare(input: &str) -> Result<ArxivId, ArxivIdError> {
        parse_core(input.trim(), input)
    }
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        if let Some(v) = self.version {
            write!(f, "v{v}")?;
        }
        Ok(())
    }
}

impl FromStr for ArxivId {
    type Err = ArxivIdError;

    /// Accepts bare ids, `arXiv:` prefixes, and arxiv.org abs/pdf URLs.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut s = input.trim();
        for scheme in ["https://", "http://"] {
            if let Some(rest) = strip_prefix_ignore_case(s, scheme) {
                s = rest;
            }
        }
        for host in ["www.arxiv.org/", "export.arxiv.org/", "arxiv.org/"] {
            if let Some(rest) = strip_prefix_ignore_case(s, host) {
                s = rest;
                // One path segment only: in `abs/html/0001000` the `html`
                // is the old-style archive, not a second path segment.
                if let Some(rest) = ["abs/", "pdf/", "html/", "format/"]
                    .iter()
                    .find_map(|path| s.strip_prefix(path))
                {
                    s = rest;
                }
                s = s.split(['?', '#']).next().unwrap_or(s);
                s = s.trim_end_matches('/');
                s = s.strip_suffix(".pdf").unwrap_or(s);
            }
        }
        if let Some(rest) = strip_prefix_ignore_case(s, "arxiv:") {
            s = rest.trim_start();
        }
        if let Some(rest) = strip_prefix_ignore_case(s, "oai:arxiv.org:") {
            s = rest;
        }
        parse_core(s, input)
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn parse_core(s: &str, original: &str) -> Result<ArxivId, ArxivIdError> {
    let err = |kind| ArxivIdError {
        input: original.chars().take(80).collect(),
        kind,
    };
    if s.is_empty() {
        return Err(err(ArxivIdErrorKind::Empty));
    }
    let (body, version) = split_version(s).map_err(err)?;
    let base = if let Some((archive, number)) = body.split_once('/') {
        parse_old_style(archive, number).map_err(err)?
    } else {
        parse_new_style(body).map_err(err)?
    };
    Ok(ArxivId { base, version })
}

/// Splits a trailing `vN` off; the body must end in a digit for it to count.
fn split_version(s: &str) -> Result<(&str, Option<u32>), ArxivIdErrorKind> {
    let Some(pos) = s.rfind(['v', 'V']) else {
        return Ok((s, None));
    };
    let (body, suffix) = (&s[..pos], &s[pos + 1..]);
    if !body.ends_with(|c: char| c.is_ascii_digit()) {
        // A 'v' inside an archive name such as "solv-int/9901001" is not a version.
        return Ok((s, None));
    }
    if suffix.is_empty() || suffix.len() > 4 || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ArxivIdErrorKind::BadVersion);
    }
    match suffix.parse::<u32>() {
        Ok(0) | Err(_) => Err(ArxivIdErrorKind::BadVersion),
        Ok(v) => Ok((body, Some(v))),
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_month(yymm: &str) -> Result<(), ArxivIdErrorKind> {
    let month: u32 = yymm[2..4]
        .parse()
        .map_err(|_| ArxivIdErrorKind::Unrecognized)?;
    if (1..=12).contains(&month) {
        Ok(())
    } else {
        Err(ArxivIdErrorKind::BadMonth(month))
    }
}

fn parse_new_style(s: &str) -> Result<String, ArxivIdErrorKind> {
    let Some((yymm, number)) = s.split_once('.') else {
        return Err(ArxivIdErrorKind::Unrecognized);
    };
    if yymm.len() != 4 || !all_digits(yymm) || !all_digits(number) {
        return Err(ArxivIdErrorKind::Unrecognized);
    }
    check_month(yymm)?;
    let yymm_n: u32 = yymm.parse().map_err(|_| ArxivIdErrorKind::Unrecognized)?;
    if yymm_n < 704 {
        return Err(ArxivIdErrorKind::BeforeNewScheme);
    }
    let (expected, example) = if yymm_n >= 1501 {
        (5, "2101.00001")
    } else {
        (4, "0704.0001")
    };
    if number.len() != expected {
        return Err(ArxivIdErrorKind::BadNumberWidth {
            yymm: yymm.to_owned(),
            expected,
            found: number.len(),
            example,
        });
    }
    Ok(format!("{yymm}.{number}"))
}

fn parse_old_style(archive: &str, number: &str) -> Result<String, ArxivIdErrorKind> {
    // The subject class after the dot is not part of the identity; see module docs.
    let archive = archive.split_once('.').map_or(archive, |(a, _)| a);
    let valid_archive = !archive.is_empty()
        && archive.len() <= 16
        && archive.starts_with(|c: char| c.is_ascii_alphabetic())
        && archive
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_uppercase());
    if !valid_archive || number.len() != 7 || !all_digits(number) {
        return Err(ArxivIdErrorKind::Unrecognized);
    }
    check_month(&number[..4])?;
    Ok(format!("{}/{number}", archive.to_ascii_lowercase()))
}

impl Serialize for ArxivId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ArxivId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[track_caller]
    fn ok(input: &str, canonical: &str) {
        let id: ArxivId = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(id.to_string(), canonical, "input {input}");
    }

    #[track_caller]
    fn bad(input: &str) -> ArxivIdErrorKind {
        match input.parse::<ArxivId>() {
            Ok(id) => panic!("{input} parsed as {id}"),
            Err(e) => e.kind,
        }
    }

    #[test]
    fn accepts_every_real_shape() {
        ok("2101.00001", "2101.00001");
        ok("2101.00001v2", "2101.00001v2");
        ok("0704.0001", "0704.0001");
        ok("1412.9999v10", "1412.9999v10");
        ok("hep-th/9901001", "hep-th/9901001");
        ok("hep-th/9901001v3", "hep-th/9901001v3");
        ok("math.GT/0309136", "math/0309136");
        ok("solv-int/9901001", "solv-int/9901001");
        ok("arXiv:2101.00001", "2101.00001");
        ok("arxiv: 2101.00001v1", "2101.00001v1");
        ok("oai:arXiv.org:0801.3673", "0801.3673");
        ok("https://arxiv.org/abs/2101.00001", "2101.00001");
        ok("http://arxiv.org/abs/1111.2011v2", "1111.2011v2");
        ok("https://arxiv.org/pdf/2101.00001v3.pdf", "2101.00001v3");
        ok("https://arxiv.org/pdf/2101.00001v3", "2101.00001v3");
        ok(
            "https://export.arxiv.org/abs/hep-th/9901001",
            "hep-th/9901001",
        );
        ok(
            "  https://www.arxiv.org/abs/2503.11731?context=cs  ",
            "2503.11731",
        );
        // Found by fuzzing: an archive named like a URL path segment.
        ok("https://arxiv.org/abs/html/0001000", "html/0001000");
        ok("https://arxiv.org/pdf/abs/0001000v2", "abs/0001000v2");
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(bad(""), ArxivIdErrorKind::Empty);
        assert_eq!(bad("arXiv:"), ArxivIdErrorKind::Empty);
        assert_eq!(bad("0000.0000"), ArxivIdErrorKind::BadMonth(0));
        assert_eq!(bad("2113.00001"), ArxivIdErrorKind::BadMonth(13));
        assert_eq!(bad("0601.0001"), ArxivIdErrorKind::BeforeNewScheme);
        assert!(matches!(
            bad("2101.0001"),
            ArxivIdErrorKind::BadNumberWidth { expected: 5, .. }
        ));
        assert!(matches!(
            bad("0801.36730"),
            ArxivIdErrorKind::BadNumberWidth { expected: 4, .. }
        ));
        assert_eq!(bad("2101.00001v"), ArxivIdErrorKind::BadVersion);
        assert_eq!(bad("2101.00001v0"), ArxivIdErrorKind::BadVersion);
        assert_eq!(bad("abc"), ArxivIdErrorKind::Unrecognized);
        assert_eq!(bad("hep-th/990100"), ArxivIdErrorKind::Unrecognized);
        assert_eq!(bad("1/9901001"), ArxivIdErrorKind::Unrecognized);
        assert_eq!(bad("2101.00001 extra"), ArxivIdErrorKind::Unrecognized);
    }

    #[test]
    fn error_message_names_input() {
        let err = "2101.0001".parse::<ArxivId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid arXiv id '2101.0001': 2101 ids have 5 digits after the dot (e.g. 2101.00001), this one has 4"
        );
    }

    #[test]
    fn bare_parse_rejects_urls() {
        assert!(ArxivId::parse_bare("https://arxiv.org/abs/2101.00001").is_err());
        assert!(ArxivId::parse_bare("2101.00001").is_ok());
    }

    fn new_style() -> impl Strategy<Value = String> {
        (
            7u32..=99,
            1u32..=12,
            0u32..100_000,
            proptest::option::of(1u32..50),
        )
            .prop_filter_map("valid", |(yy, mm, n, v)| {
                let yymm = yy * 100 + mm;
                if yymm < 704 {
                    return None;
                }
                let number = if yymm >= 1501 {
                    format!("{n:05}")
                } else {
                    format!("{:04}", n % 10_000)
                };
                let v = v.map(|v| format!("v{v}")).unwrap_or_default();
                Some(format!("{yymm:04}.{number}{v}"))
            })
    }

    fn old_style() -> impl Strategy<Value = String> {
        (
            "[a-z]{2,6}(-[a-z]{2,3})?",
            0u32..100,
            1u32..=12,
            0u32..1000,
            proptest::option::of(1u32..20),
        )
            .prop_map(|(a, yy, mm, n, v)| {
                let v = v.map(|v| format!("v{v}")).unwrap_or_default();
                format!("{a}/{yy:02}{mm:02}{n:03}{v}")
            })
    }

    proptest! {
        #[test]
        fn canonical_round_trips(s in prop_oneof![new_style(), old_style()]) {
            let id: ArxivId = s.parse().unwrap();
            prop_assert_eq!(id.to_string(), s.clone());
            let again: ArxivId = id.to_string().parse().unwrap();
            prop_assert_eq!(again, id.clone());
            let via_url: ArxivId = id.abs_url().parse().unwrap();
            prop_assert_eq!(via_url, id);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<ArxivId>();
        }
    }
}
