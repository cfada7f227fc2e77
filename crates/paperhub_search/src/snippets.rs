//! Cheaper snippets: the fragments and highlights tantivy's
//! `SnippetGenerator::create` makes for an `en_stem` field, at a fraction of
//! the cost.
//!
//! Under load, snippets were a fifth of a search's time, nearly all of it
//! in the English stemmer: the generator stems every word of every hit's
//! abstract to find the query's terms. A word can only stem to a query term
//! if it begins with the same letter (the Snowball English stemmer rewrites
//! endings, never the first letter), so here a word is stemmed only when its
//! first letter is the first letter of some query term, and every other word
//! passes through as it is — it cannot match, stemmed or not. The tokenizer
//! is otherwise `en_stem`'s (simple tokenizer, words over 40 bytes dropped,
//! lower-cased), and the terms and their weights are computed as
//! `SnippetGenerator::create` computes them, so the snippets are the same;
//! a test compares the two on real abstracts.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::{Field, Term};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};

/// A snippet generator for `field` (indexed with `en_stem`) highlighting
/// `query`'s terms, with fragments of at most `max_chars` characters.
///
/// # Errors
/// The index cannot be read.
pub(crate) fn generator(
    searcher: &Searcher,
    query: &dyn Query,
    field: Field,
    max_chars: usize,
) -> tantivy::Result<SnippetGenerator> {
    let mut terms: BTreeSet<Term> = BTreeSet::new();
    query.query_terms(&mut |term, _| {
        if term.field() == field {
            terms.insert(term.clone());
        }
    });
    let mut weights: BTreeMap<String, f32> = BTreeMap::new();
    for term in &terms {
        let value = term.value();
        let Some(text) = value.as_str() else {
            continue;
        };
        let doc_freq = searcher.doc_freq(term)?;
        if doc_freq > 0 {
            weights.insert(text.to_owned(), 1.0 / (1.0 + doc_freq as f32));
        }
    }
    let mut initials: Vec<char> = weights.keys().filter_map(|t| t.chars().next()).collect();
    initials.sort_unstable();
    initials.dedup();
    let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(GatedStemmer { initials })
        .build();
    Ok(SnippetGenerator::new(weights, analyzer, field, max_chars))
}

/// The English stemmer, applied only to words starting with one of
/// `initials` (see the module docs).
#[derive(Clone)]
struct GatedStemmer {
    initials: Vec<char>,
}

impl TokenFilter for GatedStemmer {
    type Tokenizer<T: Tokenizer> = GatedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> GatedStemmerFilter<T> {
        GatedStemmerFilter {
            initials: self.initials,
            inner: tokenizer,
        }
    }
}

#[derive(Clone)]
struct GatedStemmerFilter<T> {
    initials: Vec<char>,
    inner: T,
}

impl<T: Tokenizer> Tokenizer for GatedStemmerFilter<T> {
    type TokenStream<'a> = GatedStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        GatedStemmerStream {
            tail: self.inner.token_stream(text),
            stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
            initials: &self.initials,
        }
    }
}

struct GatedStemmerStream<'a, S> {
    tail: S,
    stemmer: frostem::Stemmer,
    initials: &'a [char],
}

impl<S: TokenStream> TokenStream for GatedStemmerStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if token
            .text
            .chars()
            .next()
            .is_some_and(|c| self.initials.binary_search(&c).is_ok())
        {
            let stemmed = match self.stemmer.stem(&token.text) {
                Cow::Owned(stemmed) => stemmed,
                Cow::Borrowed(stemmed) if stemmed.len() == token.text.len() => return true,
                Cow::Borrowed(stemmed) => stemmed.to_owned(),
            };
            token.text = stemmed;
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::QueryParser;
    use tantivy::schema::{STORED, Schema, TextFieldIndexing, TextOptions};
    use tantivy::{Index, TantivyDocument, doc};

    /// The premise of the gate: stemming keeps a word's first letter, for
    /// the stemmer's exceptions, y-initial words and non-ASCII words too.
    #[test]
    fn the_english_stemmer_keeps_the_first_letter() {
        let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
        for word in [
            "dying",
            "lying",
            "tying",
            "skies",
            "skis",
            "ugly",
            "early",
            "only",
            "idly",
            "gently",
            "singly",
            "news",
            "sky",
            "bias",
            "yield",
            "yielding",
            "youths",
            "ies",
            "ied",
            "sses",
            "événements",
            "über",
            "ærodynamics",
            "generalization",
            "a",
            "y",
            "1990s",
            "3d",
            "atlases",
            "cosmos",
            "howe",
            "andes",
            "inning",
            "outing",
            "canning",
            "herring",
            "earring",
            "proceed",
            "exceed",
            "succeed",
        ] {
            let stemmed = stemmer.stem(word);
            assert_eq!(
                stemmed.chars().next(),
                word.chars().next(),
                "{word} stems to {stemmed}"
            );
        }
    }

    /// Real abstracts and queries: our snippets equal tantivy's own.
    #[test]
    fn snippets_equal_tantivys_on_real_abstracts() {
        let mut schema = Schema::builder();
        let options = TextOptions::default()
            .set_indexing_options(TextFieldIndexing::default().set_tokenizer("en_stem"))
            | STORED;
        let field = schema.add_text_field("abstract", options);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer(15_000_000).expect("writer");
        let listing = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/embeddings/all-MiniLM-L6-v2.jsonl"
        ))
        .expect("fixture");
        let texts: Vec<String> = listing
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("json");
                value["text"].as_str().expect("text").to_owned()
            })
            .collect();
        assert!(texts.len() >= 50);
        for text in &texts {
            writer
                .add_document(doc!(field => text.as_str()))
                .expect("add");
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let parser = QueryParser::for_index(&index, vec![field]);
        let mut compared = 0;
        let mut highlighted = 0;
        for (n, text) in texts.iter().enumerate() {
            // Queries: words of another abstract, including inflected forms
            // ("learning", "models", "yields") that only match once stemmed.
            let words: Vec<&str> = texts[(n + 7) % texts.len()]
                .split_whitespace()
                .skip(n % 5)
                .take(4)
                .collect();
            for query_text in [
                words.join(" "),
                "learning models yields studies dying".to_owned(),
            ] {
                let (query, _) = parser.parse_query_lenient(&query_text);
                let mut theirs = SnippetGenerator::create(&searcher, &*query, field).expect("gen");
                theirs.set_max_num_chars(300);
                let ours = generator(&searcher, &*query, field, 300).expect("ours");
                let document: TantivyDocument = doc!(field => text.as_str());
                let want = theirs.snippet_from_doc(&document).to_html();
                assert_eq!(
                    ours.snippet_from_doc(&document).to_html(),
                    want,
                    "{query_text}"
                );
                compared += 1;
                highlighted += usize::from(want.contains("<b>"));
            }
        }
        assert!(
            compared >= 100 && highlighted >= 40,
            "{highlighted} of {compared}"
        );
    }
}
