//! The date formats arXiv uses, parsed to UTC.
//!
//! Version dates are RFC 2822 ("Mon, 2 Apr 2007 19:18:42 GMT", sometimes
//! followed by a size such as "(48kb)" in `.abs` files); OAI dates are plain
//! `YYYY-MM-DD`; Atom dates are RFC 3339.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// Parses any arXiv date or timestamp; date-only values become midnight UTC.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // `.abs` dates carry a trailing "(48kb)" or "(0kb,I)".
    let s = match s.find('(') {
        Some(i) => s[..i].trim_end(),
        None => s,
    };
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    // RFC 2822 without the weekday, or with an unknown zone name: retry as GMT.
    if let Some(stripped) = s.strip_suffix(" UTC").or_else(|| s.strip_suffix(" UT"))
        && let Ok(d) = DateTime::parse_from_rfc2822(&format!("{stripped} GMT"))
    {
        return Some(d.with_timezone(&Utc));
    }
    parse_day(s).map(|d| d.and_time(NaiveTime::MIN).and_utc())
}

/// Parses a `YYYY-MM-DD` day.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arxiv_formats() {
        let rfc = parse_date("Mon, 2 Apr 2007 19:18:42 GMT").unwrap();
        assert_eq!(rfc.to_rfc3339(), "2007-04-02T19:18:42+00:00");
        let abs = parse_date("Fri, 2 Jun 2000 18:35:55 GMT   (48kb)").unwrap();
        assert_eq!(abs.to_rfc3339(), "2000-06-02T18:35:55+00:00");
        let atom = parse_date("2025-12-15T18:59:57Z").unwrap();
        assert_eq!(atom.to_rfc3339(), "2025-12-15T18:59:57+00:00");
        let old_atom = parse_date("2016-10-09T00:00:00-04:00").unwrap();
        assert_eq!(old_atom.to_rfc3339(), "2016-10-09T04:00:00+00:00");
        let day = parse_date("2008-11-26").unwrap();
        assert_eq!(day.to_rfc3339(), "2008-11-26T00:00:00+00:00");
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
    }
}
