//! One search entry point for the command line and the web: lexical,
//! semantic and hybrid retrieval over the BM25 index and the vector index.
//!
//! [`Retriever::open`] loads what exists: the tantivy index always, the
//! embedding model and vectors when both are there. A semantic or hybrid
//! request without them falls back to BM25 and says so in
//! [`Answer::note`]. Hybrid search embeds the query while BM25 runs on a
//! second thread, takes the top [`DEPTH`] of each, scores every lexical
//! candidate exactly against its stored vector, and fuses the two lists
//! (`paperhub_search::fusion`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use paperhub_embed::Embedder;
use paperhub_search::fusion::{self, Fusion};
use paperhub_search::query::semantic_text;
use paperhub_search::{
    Hit, LexicalIndex, SearchRequest, SortOrder, Strategy, VectorHit, VectorIndex,
};
use serde::Serialize;

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::query_vectors::QueryVectors;
use crate::{indexing, models};

/// Candidates taken from each engine before fusion.
pub const DEPTH: usize = 100;

/// The HNSW candidate list of hybrid search's dense side (semantic search
/// keeps [`paperhub_search::vector::EF_SEARCH`]). Fusion rescores every BM25
/// candidate exactly, so the walk only has to find dense-only papers good
/// enough for the fused top ten; `paperhub bench search` measures how often
/// the top ten differs from the one at the full candidate list.
pub const HYBRID_EF: usize = 256;

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// BM25 only.
    Lexical,
    /// Sentence embeddings only.
    Semantic,
    /// BM25 fused with sentence embeddings.
    #[default]
    Hybrid,
}

impl Mode {
    /// The mode's name, as the CLI, the API and URLs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Lexical => "lexical",
            Mode::Semantic => "semantic",
            Mode::Hybrid => "hybrid",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The embedding model with the vectors it made.
#[derive(Debug)]
pub struct Dense {
    /// The model.
    pub embedder: Embedder,
    /// One vector per paper.
    pub vectors: VectorIndex,
    /// Recent query vectors.
    pub queries: QueryVectors,
    /// How far an unfinished backfill reaches (`None`: every paper).
    pub coverage: Option<indexing::Backfill>,
}

impl Dense {
    /// The vector of query text `text`, embedded once while it is asked
    /// for often enough to stay in [`Dense::queries`].
    ///
    /// # Errors
    /// The tokenizer fails.
    pub fn query_vector(&self, text: &str) -> Result<std::sync::Arc<[f32]>> {
        Ok(self
            .queries
            .get_or_embed(text, |t| self.embedder.embed_query(t))?)
    }
}

/// Both indexes, ready to search.
pub struct Retriever {
    /// The BM25 index.
    pub lexical: LexicalIndex,
    /// The dense side, when a model and vectors exist.
    pub dense: Option<Dense>,
    /// How hybrid search fuses.
    pub fusion: Fusion,
    /// The HNSW candidate list of hybrid search's dense side ([`HYBRID_EF`])
    /// at [`paperhub_search::vector::EF_SEARCH`]'s scale: it grows with
    /// the index as semantic search's does.
    pub hybrid_ef: usize,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The results of the requested page.
    pub hits: Vec<Hit>,
    /// The mode actually used.
    pub mode: Mode,
    /// Why the mode differs from the one asked for, if it does.
    pub note: Option<String>,
}

/// The two rankings hybrid search fuses, best first.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// BM25 (id, score).
    pub lexical: Vec<(String, f32)>,
    /// Dense (id, inner product).
    pub dense: Vec<(String, f32)>,
}

/// The vector index directory for a model fingerprint.
pub fn vector_dir(data_dir: &DataDir, fingerprint: u64) -> PathBuf {
    data_dir
        .path()
        .join("index")
        .join(format!("vectors-{fingerprint:016x}"))
}

/// A vector index opened for writing, holding its directory's writer lock
/// until dropped.
///
/// Why: two writers at once (an `index` run, `vectors import`, a server's
/// indexer) would each commit rows the other never loaded, and the last
/// commit would lose the other's. tantivy locks its own writer; this is
/// the same rule for the vectors. The lock is taken before the rows are
/// read, so a writer always starts from the last commit. It is an OS file
/// lock, so a crashed writer leaves nothing to clean up.
pub struct VectorWriter {
    vectors: VectorIndex,
    _lock: std::fs::File,
}

impl std::ops::Deref for VectorWriter {
    type Target = VectorIndex;
    fn deref(&self) -> &VectorIndex {
        &self.vectors
    }
}

impl std::ops::DerefMut for VectorWriter {
    fn deref_mut(&mut self) -> &mut VectorIndex {
        &mut self.vectors
    }
}

/// The file whose lock a vector directory's writer holds.
const WRITER_LOCK: &str = "writer.lock";

/// Opens (or creates) the vector index of `embedder`'s model in `data_dir`
/// for writing.
///
/// # Errors
/// Another process is writing the same vectors, or the directory cannot
/// be read or written.
pub fn open_vectors(data_dir: &DataDir, embedder: &Embedder) -> Result<VectorWriter> {
    let dir = vector_dir(data_dir, embedder.fingerprint());
    crate::data_dir::create_private_dir(&dir)?;
    let path = dir.join(WRITER_LOCK);
    crate::data_dir::create_private_file(&path)?;
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another paperhub process is writing the vectors in {} (an `index` run, \
             `vectors import` or a server's indexer); try again when it has finished",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    let vectors = VectorIndex::open_or_create(&dir, embedder.dimensions(), &model_key(embedder))?;
    Ok(VectorWriter {
        vectors,
        _lock: lock,
    })
}

/// The key a model's vectors are stored under.
pub fn model_key(embedder: &Embedder) -> String {
    format!("{:016x}", embedder.fingerprint())
}

impl Retriever {
    /// Opens the indexes of `data_dir`; the dense side only when the model
    /// is on disk (never fetched here) and has vectors.
    ///
    /// # Errors
    /// The lexical index cannot be opened, or the model is present but broken.
    pub fn open(data_dir: &DataDir, config: &Config) -> Result<Retriever> {
        let lexical = LexicalIndex::open_or_create(&indexing::lexical_dir(data_dir))?;
        let dense = match models::locate(&config.embedding, data_dir) {
            Some(dir) => {
                let embedder = models::load(&config.embedding, &dir)?;
                let path = vector_dir(data_dir, embedder.fingerprint());
                if path.join("meta.json").exists() {
                    let storage = config
                        .embedding
                        .vector_storage
                        .parse()
                        .map_err(|e| anyhow::anyhow!("embedding.vector_storage: {e}"))?;
                    let vectors = VectorIndex::open_with(
                        &path,
                        embedder.dimensions(),
                        &model_key(&embedder),
                        storage,
                    )?;
                    (!vectors.is_empty()).then(|| Dense {
                        embedder,
                        coverage: indexing::backfill_of(vectors.payload()),
                        vectors,
                        queries: QueryVectors::new(config.embedding.query_cache),
                    })
                } else {
                    None
                }
            }
            None => None,
        };
        Ok(Retriever {
            lexical,
            dense,
            fusion: Fusion::default(),
            hybrid_ef: HYBRID_EF,
        })
    }

    /// Runs one search and returns the requested page with titles and
    /// highlighted snippets.
    ///
    /// # Errors
    /// An index cannot be read or the tokenizer fails.
    pub fn search(&self, request: &SearchRequest, mode: Mode) -> Result<Answer> {
        let (mode, note) = self.effective_mode(request, mode);
        let note = note.or_else(|| self.coverage_note(mode));
        if mode == Mode::Lexical {
            return Ok(Answer {
                hits: self.lexical.search(request)?,
                mode,
                note,
            });
        }
        let wanted = request.offset + request.limit.max(1);
        let ranked = self.ranked(request, mode, wanted.max(DEPTH))?;
        let page: Vec<(String, f32)> = ranked
            .into_iter()
            .skip(request.offset)
            .take(request.limit.max(1))
            .collect();
        Ok(Answer {
            hits: self.lexical.hits_for(&page, request)?,
            mode,
            note,
        })
    }

    /// Which papers a semantic or hybrid search can match by meaning,
    /// while a newest-first backfill is unfinished.
    fn coverage_note(&self, mode: Mode) -> Option<String> {
        if mode == Mode::Lexical {
            return None;
        }
        let backfill = self.dense.as_ref()?.coverage.as_ref()?;
        Some(match backfill.covered_from {
            Some(day) => format!(
                "meaning is matched for papers from {day} on; {} older papers are not embedded yet and are matched by keywords only",
                backfill.waiting
            ),
            None => format!(
                "{} papers are not embedded yet and are matched by keywords only",
                backfill.waiting
            ),
        })
    }

    fn effective_mode(&self, request: &SearchRequest, mode: Mode) -> (Mode, Option<String>) {
        if mode == Mode::Lexical {
            return (mode, None);
        }
        if self.dense.is_none() {
            return (
                Mode::Lexical,
                Some("no embedding model or vectors yet (run `paperhub index`); using lexical (BM25) search".to_owned()),
            );
        }
        if request.sort == SortOrder::Date {
            return (
                Mode::Lexical,
                Some("sorting by date uses lexical matching".to_owned()),
            );
        }
        if semantic_text(&request.query).is_empty() {
            return (
                Mode::Lexical,
                Some(
                    "the query is all field prefixes and operators; using lexical (BM25) search"
                        .to_owned(),
                ),
            );
        }
        (mode, None)
    }

    /// The ranked (id, score) list of a search, `depth` long, without
    /// fetching documents: what evaluation scores.
    ///
    /// # Errors
    /// An index cannot be read or the tokenizer fails.
    pub fn ranked(
        &self,
        request: &SearchRequest,
        mode: Mode,
        depth: usize,
    ) -> Result<Vec<(String, f32)>> {
        let (mode, _) = self.effective_mode(request, mode);
        let candidates = self.candidates(request, mode, depth)?;
        Ok(match mode {
            Mode::Lexical => candidates.lexical,
            Mode::Semantic => candidates.dense,
            Mode::Hybrid => {
                fusion::fuse(&candidates.lexical, &candidates.dense, self.fusion, depth)
            }
        })
    }

    /// The two candidate lists hybrid search fuses: BM25's top `depth`, and
    /// the dense top `depth` plus the exact dense score of every BM25
    /// candidate. Lists a mode does not need stay empty.
    ///
    /// # Errors
    /// An index cannot be read or the tokenizer fails.
    pub fn candidates(
        &self,
        request: &SearchRequest,
        mode: Mode,
        depth: usize,
    ) -> Result<Candidates> {
        let lexical_request = SearchRequest {
            limit: depth,
            offset: 0,
            snippets: false,
            ..request.clone()
        };
        let lexical_ranked = |r: &SearchRequest| -> Result<Vec<(String, f32)>> {
            Ok(self
                .lexical
                .search(r)?
                .into_iter()
                .map(|h| (h.id, h.score))
                .collect())
        };
        let Some(dense) = self.dense.as_ref().filter(|_| mode != Mode::Lexical) else {
            return Ok(Candidates {
                lexical: lexical_ranked(&lexical_request)?,
                dense: Vec::new(),
            });
        };
        let text = semantic_text(&request.query);
        let (query, lexical) = std::thread::scope(|scope| {
            let lexical =
                (mode == Mode::Hybrid).then(|| scope.spawn(|| lexical_ranked(&lexical_request)));
            let query = dense.query_vector(&text);
            (query, lexical.map(|handle| handle.join()))
        });
        let query = query?;
        let allowed = self.lexical.filtered_ids(request)?;
        let allow = allowed
            .as_ref()
            .map(|ids| move |key: &str| ids.contains(key));
        let allow_ref: Option<&dyn Fn(&str) -> bool> =
            allow.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
        // Both lists grow with the index ([`paperhub_search::vector::ef_for_rows`]).
        let full = dense.vectors.default_ef();
        let ef = if mode == Mode::Hybrid {
            self.hybrid_ef * full / paperhub_search::vector::EF_SEARCH
        } else {
            full
        };
        let mut dense_ranked: Vec<(String, f32)> = dense
            .vectors
            .search_with_ef(&query, depth, Strategy::Auto, allow_ref, ef)
            .into_iter()
            .map(|h| (h.key, h.score))
            .collect();
        let lexical = match lexical {
            Some(joined) => {
                joined.map_err(|_| anyhow::anyhow!("the lexical search thread panicked"))??
            }
            None => Vec::new(),
        };
        // Score every lexical candidate exactly on the dense side too.
        let seen: std::collections::HashSet<String> =
            dense_ranked.iter().map(|(k, _)| k.clone()).collect();
        for (id, _) in &lexical {
            if !seen.contains(id)
                && let Some(score) = dense.vectors.score(&query, id)
            {
                dense_ranked.push((id.clone(), score));
            }
        }
        dense_ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Candidates {
            lexical,
            dense: dense_ranked,
        })
    }

    /// The `limit` papers nearest to paper `id` by embedding, or `None` when
    /// the paper has no vector.
    pub fn similar(&self, id: &str, limit: usize) -> Option<Vec<VectorHit>> {
        let dense = self.dense.as_ref()?;
        let vector = dense.vectors.vector(id)?.into_owned();
        Some(
            dense
                .vectors
                .search(&vector, limit + 1, Strategy::Auto, None)
                .into_iter()
                .filter(|hit| hit.key != id)
                .take(limit)
                .collect(),
        )
    }
}
