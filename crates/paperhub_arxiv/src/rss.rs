//! arXiv's RSS announcement feeds (`rss.arxiv.org/rss/<categories>`).
//!
//! Each feed is one day's announcement for its categories, following
//! <https://info.arxiv.org/help/rss.html>: an RSS 2.0 channel whose `pubDate`
//! is the announcement day, and one `<item>` per paper with its
//! `arxiv:announce_type` (`new`, `cross`, `replace`, `replace-cross`), the
//! description `arXiv:ID Announce Type: T Abstract: …`, `dc:creator` and
//! `category` elements. Weekend and holiday feeds have no items; that is a
//! normal, empty result. The hub uses the announcement day as each new or
//! cross-listed paper's listing date; replacements do not move it.

use std::fmt;
use std::io::BufRead;

use chrono::{DateTime, NaiveDate};
use paperhub_domain::text::{non_empty, normalize_whitespace};
use paperhub_domain::{ArxivId, Paper, split_author_list};

use crate::MAX_RECORD_BYTES;
use crate::error::{ReadError, RecordError, RecordErrorKind};
use crate::xml::{Element, RecordChunker};

/// Why a paper is in a day's announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceType {
    /// A new submission in this category.
    New,
    /// A new submission cross-listed from another category.
    Cross,
    /// A new version of an older paper.
    Replace,
    /// A new version of an older cross-listed paper.
    ReplaceCross,
}

impl AnnounceType {
    fn parse(s: &str) -> Option<AnnounceType> {
        match s.trim() {
            "new" => Some(AnnounceType::New),
            "cross" => Some(AnnounceType::Cross),
            "replace" => Some(AnnounceType::Replace),
            "replace-cross" => Some(AnnounceType::ReplaceCross),
            _ => None,
        }
    }

    /// New papers and cross-lists are announced today; replacements were announced before.
    pub fn is_first_announcement(self) -> bool {
        matches!(self, AnnounceType::New | AnnounceType::Cross)
    }
}

impl fmt::Display for AnnounceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AnnounceType::New => "new",
            AnnounceType::Cross => "cross",
            AnnounceType::Replace => "replace",
            AnnounceType::ReplaceCross => "replace-cross",
        })
    }
}

/// One item of an announcement feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    /// The announced id, with its version.
    pub id: ArxivId,
    /// Why it is announced.
    pub announce_type: AnnounceType,
    /// The paper as the feed describes it; `announced` is set for new and cross items.
    pub paper: Paper,
}

/// Streams the items of an RSS announcement feed.
pub struct RssReader<R> {
    chunks: RecordChunker<R>,
    day: Option<Option<NaiveDate>>,
}

impl<R: BufRead> RssReader<R> {
    /// Reads a feed from `reader`.
    pub fn new(reader: R) -> Self {
        RssReader {
            chunks: RecordChunker::new(reader, "item", MAX_RECORD_BYTES),
            day: None,
        }
    }

    /// The announcement day from the channel's `pubDate`, once known.
    pub fn announcement_day(&mut self) -> Option<NaiveDate> {
        *self
            .day
            .get_or_insert_with(|| channel_day(&self.chunks.envelope))
    }
}

/// Finds the channel `pubDate` (or `lastBuildDate`) in the text before the first item.
fn channel_day(envelope: &[u8]) -> Option<NaiveDate> {
    let text = String::from_utf8_lossy(envelope);
    ["pubDate", "lastBuildDate"].iter().find_map(|tag| {
        let start = text.find(&format!("<{tag}>"))? + tag.len() + 2;
        let end = start + text[start..].find('<')?;
        // The day as arXiv states it, in its own offset (America/New_York).
        DateTime::parse_from_rfc2822(text[start..end].trim())
            .ok()
            .map(|d| d.date_naive())
    })
}

impl<R: BufRead> Iterator for RssReader<R> {
    type Item = Result<Announcement, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let day_cache = &mut self.day;
        let item = self.chunks.next_record(|location, item, envelope| {
            // The channel's pubDate precedes the first item.
            let day = *day_cache.get_or_insert_with(|| channel_day(envelope));
            item_to_announcement(item, day).map_err(|kind| RecordError { location, kind }.into())
        });
        if item.is_none() {
            self.announcement_day();
        }
        item
    }
}

fn item_to_announcement(
    item: &Element,
    day: Option<NaiveDate>,
) -> Result<Announcement, RecordErrorKind> {
    let description = item.child_text("description").unwrap_or("");
    let raw_id = item
        .child_text("guid")
        .or_else(|| description.split_whitespace().next())
        .or_else(|| item.child_text("link"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(RecordErrorKind::MissingField("guid"))?;
    let id: ArxivId = raw_id
        .parse()
        .map_err(|source| RecordErrorKind::InvalidId {
            field: "guid",
            source,
        })?;
    let declared = item
        .child_text("announce_type")
        .and_then(AnnounceType::parse);
    let from_description = description
        .split("Announce Type:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(AnnounceType::parse);
    let announce_type = declared
        .or(from_description)
        .ok_or(RecordErrorKind::MissingField("announce_type"))?;
    let title =
        non_empty(item.child_text("title")).ok_or(RecordErrorKind::MissingField("title"))?;
    let abstract_text = match description.split_once("Abstract:") {
        Some((_, text)) => normalize_whitespace(text),
        None => normalize_whitespace(description),
    };
    let mut paper = Paper::new(id.clone(), title, abstract_text);
    paper.authors = split_author_list(item.child_text("creator").unwrap_or(""));
    paper.categories = item
        .children_named("category")
        .map(|c| c.text.trim().to_owned())
        .collect();
    paper.license = non_empty(item.child_text("rights"));
    paper.doi = non_empty(item.child_text("DOI"));
    paper.journal_ref = non_empty(item.child_text("journal_reference"));
    if announce_type.is_first_announcement() {
        paper.announced = day;
    }
    paper.finalize();
    Ok(Announcement {
        id,
        announce_type,
        paper,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <title>cs.LG updates on arXiv.org</title>
    <pubDate>Tue, 02 Dec 2025 00:00:00 -0500</pubDate>
    <item>
      <title>Detail Enhanced Gaussian Splatting</title>
      <link>https://arxiv.org/abs/2511.21697</link>
      <description>arXiv:2511.21697v1 Announce Type: new
Abstract: We   enhance detail.</description>
      <guid isPermaLink="false">oai:arXiv.org:2511.21697v1</guid>
      <category>cs.CV</category>
      <category>cs.LG</category>
      <pubDate>Tue, 02 Dec 2025 00:00:00 -0500</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>Ada Lovelace, Alan Turing and Grace Hopper</dc:creator>
    </item>
    <item>
      <title>An Old Paper, Revised</title>
      <link>https://arxiv.org/abs/2401.00001</link>
      <description>arXiv:2401.00001v3 Announce Type: replace
Abstract: Revised.</description>
      <guid isPermaLink="false">oai:arXiv.org:2401.00001v3</guid>
      <category>cs.LG</category>
      <dc:creator>Someone Else</dc:creator>
    </item>
  </channel>
</rss>"#;

    #[test]
    fn reads_items_types_and_day() {
        let mut reader = RssReader::new(FEED.as_bytes());
        let items: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
        let day = NaiveDate::from_ymd_opt(2025, 12, 2);
        assert_eq!(reader.announcement_day(), day);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].announce_type, AnnounceType::New);
        assert_eq!(items[0].id.to_string(), "2511.21697v1");
        assert_eq!(items[0].paper.announced, day);
        assert_eq!(items[0].paper.abstract_text, "We enhance detail.");
        assert_eq!(items[0].paper.authors.len(), 3);
        assert_eq!(items[0].paper.categories, ["cs.CV", "cs.LG"]);
        // The replace type comes from the description when the element is absent,
        // and a replacement does not get today's date.
        assert_eq!(items[1].announce_type, AnnounceType::Replace);
        assert_eq!(items[1].paper.version, Some(3));
        assert_eq!(items[1].paper.announced, None);
    }

    #[test]
    fn empty_weekend_feed_is_empty() {
        let feed = "<rss version=\"2.0\"><channel><title>cs.LG updates on arXiv.org</title><pubDate>Sat, 06 Dec 2025 00:00:00 -0500</pubDate></channel></rss>";
        let mut reader = RssReader::new(feed.as_bytes());
        assert!(reader.next().is_none());
        assert_eq!(
            reader.announcement_day(),
            NaiveDate::from_ymd_opt(2025, 12, 6)
        );
    }
}
