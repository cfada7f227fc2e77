//! The BM25 index: schema, writer and searcher.
//!
//! Fields: `id` (exact), `title` (English stemming, stored, boosted),
//! `abstract` (stemmed, stored), `all` (title and abstract in one field, the
//! default for free text: BM25 over one field is the stronger baseline on
//! SciFact), `authors`, `categories` (exact, one value each) and `day` (days
//! since 1970 of the announcement or submission, for filters and date sort).
//! One [`LexicalWriter`] per process; readers reload after each commit.

use std::ops::Bound;
use std::path::Path;

use chrono::NaiveDate;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term, doc,
};

use crate::SearchError;
use crate::query::{
    check_query, expand_prefixes, plain_text, split_hyphenated, unknown_fields_as_words,
};

/// The schema's fields.
#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    abstract_text: Field,
    all: Field,
    authors: Field,
    categories: Field,
    day: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let stemmed = TextFieldIndexing::default()
        .set_tokenizer("en_stem")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let stored_text = TextOptions::default()
        .set_indexing_options(stemmed.clone())
        .set_stored();
    let text = TextOptions::default().set_indexing_options(stemmed);
    let names = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        title: b.add_text_field("title", stored_text.clone()),
        abstract_text: b.add_text_field("abstract", stored_text),
        all: b.add_text_field("all", text),
        authors: b.add_text_field("authors", names),
        categories: b.add_text_field("categories", STRING | STORED),
        day: b.add_i64_field("day", INDEXED | FAST | STORED),
    };
    (b.build(), fields)
}

/// A document to index.
#[derive(Debug, Clone, Default)]
pub struct IndexDoc {
    /// The paper's id (arXiv id, or a benchmark's `_id`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Abstract.
    pub abstract_text: String,
    /// Author display names.
    pub authors: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Announcement (or submission) day.
    pub day: Option<NaiveDate>,
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// BM25 score.
    #[default]
    Relevance,
    /// Newest first.
    Date,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// The user's query (field prefixes, phrases, AND/OR/-).
    pub query: String,
    /// Treat the query as plain prose, ignoring query syntax.
    pub plain: bool,
    /// Results wanted.
    pub limit: usize,
    /// Results to skip (paging).
    pub offset: usize,
    /// Only papers in any of these categories.
    pub categories: Vec<String>,
    /// Only papers on or after this day.
    pub since: Option<NaiveDate>,
    /// Only papers on or before this day.
    pub until: Option<NaiveDate>,
    /// Order.
    pub sort: SortOrder,
    /// Produce highlighted snippets.
    pub snippets: bool,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document id.
    pub id: String,
    /// BM25 score (0 when sorted by date).
    pub score: f32,
    /// Stored title.
    pub title: String,
    /// Highlighted abstract fragment as HTML (`<b>` around matches), when asked for.
    pub snippet_html: Option<String>,
}

/// An on-disk BM25 index.
pub struct LexicalIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Parses user queries: `all`, with title and authors at boost 0.5.
    user_parser: QueryParser,
    /// Parses the same text against `abstract`, to find words to highlight.
    snippet_parser: QueryParser,
    /// Documents a word must be in before it can be dropped as common
    /// ([`COMMON_MIN_DOCS`]; tests lower it).
    common_min_docs: u64,
}

fn days(day: NaiveDate) -> i64 {
    i64::from(day.to_epoch_days())
}

impl LexicalIndex {
    /// Opens the index in `dir`, creating it if the directory is empty.
    ///
    /// # Errors
    /// The directory is unusable or holds an index with another schema.
    pub fn open_or_create(dir: &Path) -> Result<LexicalIndex, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Directory {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let (schema, fields) = schema();
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| SearchError::Directory {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        let index = Index::open_or_create(directory, schema)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let mut user_parser =
            QueryParser::for_index(&index, vec![fields.all, fields.title, fields.authors]);
        user_parser.set_field_boost(fields.title, 0.5);
        user_parser.set_field_boost(fields.authors, 0.5);
        let snippet_parser = QueryParser::for_index(&index, vec![fields.abstract_text]);
        Ok(LexicalIndex {
            index,
            reader,
            fields,
            user_parser,
            snippet_parser,
            common_min_docs: COMMON_MIN_DOCS,
        })
    }

    /// The single writer of this index (tantivy allows one per index).
    ///
    /// # Errors
    /// Another process holds the writer lock.
    pub fn writer(&self) -> Result<LexicalWriter, SearchError> {
        Ok(LexicalWriter {
            writer: self.index.writer(64 * 1024 * 1024)?,
            fields: self.fields,
        })
    }

    /// Makes the last commit visible to searches.
    ///
    /// # Errors
    /// The index cannot be read.
    pub fn reload(&self) -> Result<(), SearchError> {
        Ok(self.reader.reload()?)
    }

    /// The payload of the last commit (the indexer's resume position).
    ///
    /// # Errors
    /// The index metadata cannot be read.
    pub fn commit_payload(&self) -> Result<Option<String>, SearchError> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Documents in the index.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The text tantivy's parser gets; refused shapes never reach it.
    fn query_text(request: &SearchRequest) -> Result<String, SearchError> {
        if request.plain {
            Ok(plain_text(&request.query))
        } else {
            check_query(&request.query)?;
            Ok(expand_prefixes(&split_hyphenated(
                &unknown_fields_as_words(&request.query),
            )))
        }
    }

    fn user_query(&self, request: &SearchRequest) -> Result<Box<dyn Query>, SearchError> {
        // Lenient: a stray quote or bracket degrades the query, never fails it.
        Ok(self
            .user_parser
            .parse_query_lenient(&Self::query_text(request)?)
            .0)
    }

    /// Runs `request`.
    ///
    /// # Errors
    /// The index cannot be read.
    pub fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, SearchError> {
        let searcher = self.reader.searcher();
        let user = flatten_disjunction(drop_common_words(
            self.user_query(request)?,
            &searcher,
            self.common_min_docs,
        )?);
        let filters = self.filter_clauses(request);
        // Without filters the user query runs unwrapped: tantivy prunes
        // with block-max WAND only when the top-level query is itself a
        // union of terms.
        let query: Box<dyn Query> = if filters.is_empty() {
            user
        } else {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, user)];
            clauses.extend(filters);
            Box::new(BooleanQuery::new(clauses))
        };
        let limit = request.limit.max(1);
        let addresses: Vec<(f32, DocAddress)> = Self::user_errors(match request.sort {
            SortOrder::Relevance => searcher.search(
                &query,
                &TopDocs::with_limit(limit)
                    .and_offset(request.offset)
                    .order_by_score(),
            ),
            SortOrder::Date => searcher
                .search(
                    &query,
                    &TopDocs::with_limit(limit)
                        .and_offset(request.offset)
                        .order_by_fast_field::<i64>("day", Order::Desc),
                )
                .map(|found| found.into_iter().map(|(_, a)| (0.0, a)).collect()),
        })?;
        let mut hits = self.to_hits(&searcher, addresses, request)?;
        if request.sort == SortOrder::Relevance {
            // Equal scores come back in segment order, which depends on how
            // indexing threads split the work; order them by id instead.
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        }
        Ok(hits)
    }

    /// Turns the errors a user's query can cause when the search runs into
    /// [`crate::query::QueryError::Unanswerable`]; IO and corruption stay
    /// index errors. The lenient parser accepts `x:*` ("field exists") and
    /// unknown field names in shapes no pattern check can list (found by
    /// the hostile-input run, #13).
    fn user_errors<T>(result: tantivy::Result<T>) -> Result<T, SearchError> {
        use tantivy::TantivyError as E;
        result.map_err(|e| match e {
            E::FieldNotFound(_) | E::SchemaError(_) | E::InvalidArgument(_) => {
                SearchError::Query(crate::query::QueryError::Unanswerable {
                    reason: e.to_string().chars().take(200).collect(),
                })
            }
            other => SearchError::Index(other),
        })
    }

    /// The category and date clauses of `request`.
    fn filter_clauses(&self, request: &SearchRequest) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !request.categories.is_empty() {
            let any: Vec<(Occur, Box<dyn Query>)> = request
                .categories
                .iter()
                .map(|c| {
                    let term = Term::from_field_text(f.categories, c);
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
                    )
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if request.since.is_some() || request.until.is_some() {
            let bound = |d: Option<NaiveDate>| match d {
                Some(d) => Bound::Included(Term::from_field_i64(f.day, days(d))),
                None => Bound::Unbounded,
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(bound(request.since), bound(request.until))),
            ));
        }
        clauses
    }

    /// The ids of every document that passes the category and date filters
    /// of `request`, or `None` when it has none. Dense search uses it to
    /// apply the same filters as BM25.
    ///
    /// # Errors
    /// The index cannot be read.
    pub fn filtered_ids(
        &self,
        request: &SearchRequest,
    ) -> Result<Option<std::collections::HashSet<String>>, SearchError> {
        let mut clauses = self.filter_clauses(request);
        if clauses.is_empty() {
            return Ok(None);
        }
        clauses.push((Occur::Must, Box::new(tantivy::query::AllQuery)));
        let searcher = self.reader.searcher();
        let docs = searcher.search(
            &BooleanQuery::new(clauses),
            &tantivy::collector::DocSetCollector,
        )?;
        let mut ids = std::collections::HashSet::with_capacity(docs.len());
        for address in docs {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                ids.insert(id.to_owned());
            }
        }
        Ok(Some(ids))
    }

    /// Hits for documents found by another engine, in the given order and
    /// with the given scores; snippets highlight `request`'s query words.
    /// Ids not in the index are left out.
    ///
    /// # Errors
    /// The index cannot be read.
    pub fn hits_for(
        &self,
        ranked: &[(String, f32)],
        request: &SearchRequest,
    ) -> Result<Vec<Hit>, SearchError> {
        let searcher = self.reader.searcher();
        let mut addresses = Vec::with_capacity(ranked.len());
        for (id, score) in ranked {
            let term = Term::from_field_text(self.fields.id, id);
            let found = searcher.search(
                &TermQuery::new(term, IndexRecordOption::Basic),
                &TopDocs::with_limit(1).order_by_score(),
            )?;
            if let Some((_, address)) = found.first() {
                addresses.push((*score, *address));
            }
        }
        self.to_hits(&searcher, addresses, request)
    }

    fn to_hits(
        &self,
        searcher: &tantivy::Searcher,
        addresses: Vec<(f32, DocAddress)>,
        request: &SearchRequest,
    ) -> Result<Vec<Hit>, SearchError> {
        let f = self.fields;
        let snippets = if request.snippets {
            // Matches are scored on `all`; highlight the same words in the abstract.
            let terms = self
                .snippet_parser
                .parse_query_lenient(&Self::query_text(request)?)
                .0;
            Some(crate::snippets::generator(
                searcher,
                &*terms,
                f.abstract_text,
                300,
            )?)
        } else {
            None
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            hits.push(Hit {
                id: text(f.id),
                score,
                title: text(f.title),
                snippet_html: snippets
                    .as_ref()
                    .map(|g| g.snippet_from_doc(&doc).to_html()),
            });
        }
        Ok(hits)
    }
}

/// Adds and replaces documents; see [`LexicalIndex::writer`].
pub struct LexicalWriter {
    writer: IndexWriter,
    fields: Fields,
}

impl LexicalWriter {
    /// Merges every segment into one and waits for it. A bulk build leaves
    /// tens of segments, and each query runs its top-k pruning per segment
    /// from scratch: at 2.7 million papers, 27 segments.
    ///
    /// # Errors
    /// The merge fails (the index stays as it was).
    pub fn merge_all(&mut self) -> Result<usize, SearchError> {
        let ids = self.writer.index().searchable_segment_ids()?;
        if ids.len() > 1 {
            self.writer.merge(&ids).wait()?;
        }
        Ok(ids.len())
    }

    /// Adds `doc`, replacing any document with the same id (visible after commit).
    ///
    /// # Errors
    /// The writer has failed.
    pub fn upsert(&mut self, doc: &IndexDoc) -> Result<(), SearchError> {
        let f = self.fields;
        self.writer
            .delete_term(Term::from_field_text(f.id, &doc.id));
        let mut document = doc!(
            f.id => doc.id.as_str(),
            f.title => doc.title.as_str(),
            f.abstract_text => doc.abstract_text.as_str(),
            f.all => format!("{} {}", doc.title, doc.abstract_text),
            f.authors => doc.authors.join(", "),
        );
        for category in &doc.categories {
            document.add_text(f.categories, category);
        }
        if let Some(day) = doc.day {
            document.add_i64(f.day, days(day));
        }
        self.writer.add_document(document)?;
        Ok(())
    }

    /// Commits like [`LexicalWriter::commit`], recording `payload` with the commit.
    ///
    /// # Errors
    /// Writing the segments failed; nothing since the last commit is kept.
    pub fn commit_with_payload(&mut self, payload: &str) -> Result<(), SearchError> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(payload);
        prepared.commit()?;
        Ok(())
    }

    /// Makes everything added durable and searchable; blocks while segments are written.
    ///
    /// # Errors
    /// Writing the segments failed; nothing since the last commit is kept.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        self.writer.commit()?;
        Ok(())
    }
}

/// `query` as a union: a boolean query of `Should` clauses only, matching
/// when any one does (none of `+must`, `-not`, or "at least n of").
fn should_only(query: &dyn Query) -> Option<&BooleanQuery> {
    query.downcast_ref::<BooleanQuery>().filter(|b| {
        !b.clauses().is_empty()
            && b.get_minimum_number_should_match() <= 1
            && b.clauses().iter().all(|(o, _)| *o == Occur::Should)
    })
}

/// `query` with nested pure disjunctions merged into one.
///
/// The parser turns `a b` into a union over terms of unions over fields
/// (`all`, `title`, `authors` with their boosts). Tantivy's top-k pruning
/// (block-max WAND) needs one flat union of term scorers; a union of unions
/// scores every document that contains any query word: at 2.7 million
/// papers, tens of milliseconds for common words. Sums of sums are sums,
/// and a document matches the flat union exactly when it matches the
/// nested one, so scores and hits are unchanged. Clauses that are not
/// should-only booleans (phrases, `+must`, `-not`, prefixes) are kept
/// whole.
fn flatten_disjunction(query: Box<dyn Query>) -> Box<dyn Query> {
    fn collect(boolean: &BooleanQuery, depth: usize, out: &mut Vec<(Occur, Box<dyn Query>)>) {
        for (_, clause) in boolean.clauses() {
            match should_only(clause.as_ref()).filter(|_| depth < 8) {
                Some(inner) => collect(inner, depth + 1, out),
                None => out.push((Occur::Should, clause.box_clone())),
            }
        }
    }
    let Some(top) = should_only(query.as_ref()) else {
        return query;
    };
    let mut leaves = Vec::new();
    collect(top, 0, &mut leaves);
    Box::new(BooleanQuery::new(leaves))
}

/// A word in more than this share of the documents is dropped from a
/// union that has rarer words (chosen on the 2.7M catalog and SciFact:
/// docs/BENCHMARKS.md, issue 18).
const COMMON_SHARE: f64 = 0.3;

/// A word must also be in this many documents to be dropped: shorter
/// posting lists cost little, and a share over few documents says little
/// (in a corpus of three papers every word is in a third of them).
const COMMON_MIN_DOCS: u64 = 10_000;

/// Drops the words most documents hold ("a", "the", "for") from a union of
/// words, when rarer words remain.
///
/// Their BM25 weight is small (idf under 1.2 at a third of the documents),
/// so they hardly move a ranking, but their posting lists hold millions of
/// documents that block-max WAND must still step through: at 2.7 million
/// papers they made title queries such as "A Context-Driven Training-Free
/// Network" the slowest (issue 18). A word is the parser's group of one
/// term per default field; it is common when its commonest field (`all`)
/// says so (and it is in at least `min_docs` documents), and then all its
/// fields go. Phrases, `+must` and `-not` clauses, a single word, and
/// unions of bare field terms are kept whole.
fn drop_common_words(
    query: Box<dyn Query>,
    searcher: &tantivy::Searcher,
    min_docs: u64,
) -> Result<Box<dyn Query>, SearchError> {
    let Some(union) = should_only(query.as_ref()).filter(|b| b.clauses().len() > 1) else {
        return Ok(query);
    };
    // Deleted documents still count in `doc_freq` until a merge, so the
    // share is taken of every document the segments hold.
    let docs = searcher
        .segment_readers()
        .iter()
        .map(|r| u64::from(r.max_doc()))
        .sum::<u64>()
        .max(1) as f64;
    let mut kept: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(union.clauses().len());
    // Whether a kept clause can match: a word no document holds leaves
    // nothing to search beside the common ones, so then they stay.
    let mut kept_can_match = false;
    for (occur, clause) in union.clauses() {
        // A word: a union of one term per field, nothing nested.
        let word = should_only(clause.as_ref()).filter(|b| {
            b.clauses()
                .iter()
                .all(|(_, q)| q.downcast_ref::<BooleanQuery>().is_none())
        });
        let mut terms = Vec::new();
        let mut positions = false;
        if let Some(word) = word {
            word.query_terms(&mut |term, needs_positions| {
                terms.push(term.clone());
                positions |= needs_positions;
            });
        }
        if terms.is_empty() || positions {
            kept.push((*occur, clause.box_clone()));
            kept_can_match = true;
            continue;
        }
        let mut most = 0u64;
        for term in &terms {
            most = most.max(searcher.doc_freq(term)?);
        }
        if most < min_docs || most as f64 / docs <= COMMON_SHARE {
            kept.push((*occur, clause.box_clone()));
            kept_can_match |= most > 0;
        }
    }
    if !kept_can_match || kept.len() == union.clauses().len() {
        return Ok(query);
    }
    Ok(Box::new(BooleanQuery::new(kept)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index() -> (tempfile::TempDir, LexicalIndex) {
        let dir = tempfile::tempdir().unwrap();
        let index = LexicalIndex::open_or_create(dir.path()).unwrap();
        let mut writer = index.writer().unwrap();
        let docs = [
            (
                "2503.11731",
                "Industrial-Grade Sensor Simulation via Gaussian Splatting",
                "Sensor simulation is pivotal for autonomous driving.",
                "Xianming Zeng",
                "cs.CV",
                (2025, 3, 18),
            ),
            (
                "2503.00002",
                "Diffusion models for protein design",
                "We design proteins with diffusion; no splatting here.",
                "Ada Lovelace",
                "q-bio.BM",
                (2025, 3, 19),
            ),
            (
                "2503.00003",
                "Gaussian processes revisited",
                "Kernel methods and Gaussian processes for regression.",
                "Alan Turing",
                "stat.ML",
                (2025, 3, 20),
            ),
        ];
        for (id, title, abs, author, cat, (y, m, d)) in docs {
            writer
                .upsert(&IndexDoc {
                    id: id.into(),
                    title: title.into(),
                    abstract_text: abs.into(),
                    authors: vec![author.into()],
                    categories: vec![cat.into()],
                    day: NaiveDate::from_ymd_opt(y, m, d),
                })
                .unwrap();
        }
        writer.commit().unwrap();
        index.reload().unwrap();
        (dir, index)
    }

    fn ids(index: &LexicalIndex, request: SearchRequest) -> Vec<String> {
        index
            .search(&SearchRequest {
                limit: 10,
                ..request
            })
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    }

    fn q(query: &str) -> SearchRequest {
        SearchRequest {
            query: query.into(),
            ..SearchRequest::default()
        }
    }

    #[test]
    fn phrases_prefixes_negation_and_stemming() {
        let (_dir, index) = index();
        assert_eq!(ids(&index, q("\"gaussian splatting\"")), ["2503.11731"]);
        assert_eq!(ids(&index, q("ti:diffusion")), ["2503.00002"]);
        assert_eq!(ids(&index, q("au:turing")), ["2503.00003"]);
        assert_eq!(ids(&index, q("gaussian -splatting")), ["2503.00003"]);
        assert_eq!(ids(&index, q("id:2503.00002")), ["2503.00002"]);
        // Stemming: "simulations" finds "simulation".
        assert_eq!(ids(&index, q("simulations")), ["2503.11731"]);
        assert_eq!(ids(&index, q("cat:stat.ML")), ["2503.00003"]);
    }

    #[test]
    fn a_pasted_title_colon_is_not_a_field() {
        let (_dir, index) = index();
        let pasted = ids(&index, q("Gaussian: processes revisited"));
        assert_eq!(pasted, ids(&index, q("Gaussian processes revisited")));
        assert_eq!(pasted.first().map(String::as_str), Some("2503.00003"));
        assert_eq!(
            ids(&index, q("Kernel: ti:revisited")),
            ["2503.00003"],
            "a real field after the colon still counts"
        );
    }

    #[test]
    fn words_most_papers_hold_are_dropped_beside_rarer_ones() {
        let dir = tempfile::tempdir().unwrap();
        let index = LexicalIndex::open_or_create(dir.path()).unwrap();
        let mut writer = index.writer().unwrap();
        let titles = [
            "A kernel for the regression",
            "Models for the proteins",
            "The simulations for driving",
            "The graphs for nets",
            "The diffusion",
            "The splats",
            "The robots",
            "The agents",
            "The games",
            "The words",
        ];
        for (i, title) in titles.iter().enumerate() {
            writer
                .upsert(&IndexDoc {
                    id: i.to_string(),
                    title: (*title).into(),
                    ..IndexDoc::default()
                })
                .unwrap();
        }
        writer.commit().unwrap();
        index.reload().unwrap();
        let mut index = index;
        assert_eq!(ids(&index, q("kernel for the")).len(), 10, "too few papers");
        index.common_min_docs = 4;
        // "the" is in every paper and "for" in four of ten; beside
        // "kernel" neither makes every paper a match.
        assert_eq!(ids(&index, q("kernel for the")), ["0"]);
        assert_eq!(ids(&index, q("the simulations")), ["2"]);
        // Beside a word no paper holds, the common words stay.
        assert_eq!(ids(&index, q("the xyzzy")).len(), 10);
        // Alone, or beside only other common words, a word is kept.
        assert_eq!(ids(&index, q("the")).len(), 10);
        assert_eq!(ids(&index, q("the OR for")).len(), 10);
        // Phrases, exclusions and required words are not touched.
        assert_eq!(ids(&index, q("\"for the\" kernel")).len(), 2);
        assert_eq!(ids(&index, q("the -kernel")).len(), 9);
        assert_eq!(ids(&index, q("+the kernel")).len(), 10);
    }

    #[test]
    fn filters_and_date_sort() {
        let (_dir, index) = index();
        let mut r = q("gaussian");
        r.categories = vec!["stat.ML".into()];
        assert_eq!(ids(&index, r), ["2503.00003"]);
        let mut r = q("gaussian OR diffusion");
        r.since = NaiveDate::from_ymd_opt(2025, 3, 19);
        r.until = NaiveDate::from_ymd_opt(2025, 3, 19);
        assert_eq!(ids(&index, r), ["2503.00002"]);
        let mut r = q("gaussian OR diffusion");
        r.sort = SortOrder::Date;
        assert_eq!(ids(&index, r), ["2503.00003", "2503.00002", "2503.11731"]);
    }

    #[test]
    fn snippets_highlight_matches() {
        let (_dir, index) = index();
        let mut r = q("kernel");
        r.snippets = true;
        let hit = &index.search(&SearchRequest { limit: 1, ..r }).unwrap()[0];
        assert!(
            hit.snippet_html
                .as_deref()
                .unwrap()
                .contains("<b>Kernel</b>"),
            "{hit:?}"
        );
    }

    #[test]
    fn upsert_replaces() {
        let (_dir, index) = index();
        let mut writer = index.writer().unwrap();
        writer
            .upsert(&IndexDoc {
                id: "2503.00003".into(),
                title: "Renamed".into(),
                ..IndexDoc::default()
            })
            .unwrap();
        writer.commit().unwrap();
        index.reload().unwrap();
        assert_eq!(index.num_docs(), 3);
        assert!(ids(&index, q("kernel")).is_empty());
    }

    #[test]
    fn awkward_queries_are_not_errors() {
        let (_dir, index) = index();
        let long = "gaussian ".repeat(1200);
        for query in [
            "\"unclosed",
            "au:",
            "((",
            "))",
            "ti:\"",
            "-",
            "AND",
            "OR OR",
            "::",
            "ünïcödé 𝔾 漢字",
            &long,
            "",
        ] {
            assert!(index.search(&q(query)).is_ok(), "{query:?}");
        }
    }

    #[test]
    fn queries_the_index_cannot_answer_are_user_errors() {
        // Found by the hostile-input run (#13): tantivy parses these and
        // fails only when the search runs.
        let dir = tempfile::tempdir().unwrap();
        let index = LexicalIndex::open_or_create(dir.path()).unwrap();
        let mut w = index.writer().unwrap();
        w.upsert(&IndexDoc {
            id: "1".into(),
            title: "Diffusion".into(),
            ..IndexDoc::default()
        })
        .unwrap();
        w.commit().unwrap();
        index.reload().unwrap();
        let mut refused = 0;
        for q in [
            "NOTid:(^2*[ x",
            "cat:(* ->= }<OR+cat: ti:/[(]{title:>=>=%AND~3NOT^2/TO",
            &format!("(-{}", "x".repeat(300)),
        ] {
            let r = index.search(&SearchRequest {
                query: q.to_owned(),
                limit: 10,
                ..SearchRequest::default()
            });
            assert!(
                matches!(r, Ok(_) | Err(SearchError::Query(_))),
                "{q}: {r:?}"
            );
            refused += usize::from(r.is_err());
        }
        assert!(refused > 0, "these shapes fail when the search runs");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn no_query_panics_or_fails_the_index(query in "\\PC{0,60}") {
            // Any text is a query, or a refusal that tells the user what to
            // change (`ti:*`, deep nesting); never an index error.
            let (_dir, index) = index();
            let r = index.search(&q(&query));
            prop_assert!(matches!(r, Ok(_) | Err(SearchError::Query(_))), "{:?}", r);
            let plain = SearchRequest { plain: true, ..q(&query) };
            prop_assert!(index.search(&plain).is_ok());
        }
    }

    /// Merging the parser's nested unions changes no hit and no score: the
    /// old wrapped query and the flat one rank alike. See: #18
    #[test]
    fn flattened_disjunctions_score_as_the_nested_ones() {
        let (_dir, index) = index();
        let searcher = index.reader.searcher();
        for text in [
            "gaussian splatting",
            "diffusion protein design gaussian",
            "au:turing gaussian",
            "\"gaussian processes\" kernel",
            "gaussian -splatting",
            "sensor OR protein",
            "+gaussian processes",
            "zzzz",
        ] {
            let request = SearchRequest {
                query: text.into(),
                limit: 10,
                ..SearchRequest::default()
            };
            let nested =
                BooleanQuery::new(vec![(Occur::Must, index.user_query(&request).unwrap())]);
            let flat = flatten_disjunction(index.user_query(&request).unwrap());
            let run = |q: &dyn Query| {
                let mut found: Vec<(String, u32)> = searcher
                    .search(q, &TopDocs::with_limit(10).order_by_score())
                    .unwrap()
                    .into_iter()
                    .map(|(score, a)| (format!("{a:?}"), (score * 1e4).round() as u32))
                    .collect();
                found.sort();
                found
            };
            assert_eq!(run(&nested), run(flat.as_ref()), "{text}");
        }
    }
}
