//! The persisted vector index: one unit vector per paper, exact search with
//! a SIMD-friendly inner product, and an HNSW graph for approximate search
//! on large collections.
//!
//! On disk, in one directory:
//! - `vectors.f32`: rows of `dims` little-endian f32, append-only;
//! - `keys.txt`: the key (arXiv id) of each row, one per line, append-only;
//! - `seqs.i64`: per row, the catalog change number of the paper text it
//!   embeds (little-endian i64, append-only; 0 for rows written before it
//!   existed), so a backfill knows which papers are current;
//! - `hnsw.bin`: the graph over the rows ([`crate::hnsw::Hnsw::to_bytes`]),
//!   written when it has grown by 1% since the last write: a graph behind
//!   the rows is caught up on open, one from elsewhere is rebuilt;
//! - `meta.json`: dimensions, model fingerprint, committed row count and the
//!   caller's payload (the catalog change position). Written last, by
//!   rename, it is the commit point: rows beyond its count are leftovers of a
//!   killed run and are cut off on open.
//!
//! A paper whose text changed gets a new row; its older row stays in the
//! files but is dead (not returned). Rows are never rewritten in place.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::SearchError;
use crate::hnsw::{Hnsw, HnswParams};
use crate::rows::{Rows, Storage};

/// Below this many live rows, search is exact: at 384 dimensions a scan of
/// 20,000 rows takes about 1.7 ms on one core (40,717 rows: 3.4 ms).
pub const EXACT_LIMIT: usize = 20_000;
/// Candidate list size of approximate search: on the real all-MiniLM-L6-v2
/// vectors of the 40,717-paper corpus, recall@10 against exact search is
/// 0.9896 at 400 and 0.9946 at 600 (`paperhub bench vectors`,
/// docs/BENCHMARKS.md), so 512 keeps it above 0.99 at about 1.5 ms.
pub const EF_SEARCH: usize = 512;
/// Up to this many live rows search walks the graph at [`EF_SEARCH`]...
pub const EF_SCALE_FROM: usize = 200_000;

/// ...and beyond it at a list that grows as `rows^0.7057`, reaching 3,200
/// at 2.7 million rows: on the generated full-size set (`paperhub bench
/// synth-vectors`) recall@10 against exact search was 0.9006 at 512 and
/// 0.9828 at 3,200 (p99 11.4 ms), on the real 40k vectors 0.993 at 512
/// (docs/BENCHMARKS.md, issue 18).
pub fn ef_for_rows(rows: usize) -> usize {
    if rows <= EF_SCALE_FROM {
        return EF_SEARCH;
    }
    let grown = EF_SEARCH as f64 * (rows as f64 / EF_SCALE_FROM as f64).powf(0.7057);
    (grown.round() as usize).min(1 << 16)
}
/// Under int8 storage a search keeps `k` times this many candidates (and at
/// least [`RESCORE_MIN`]) for the exact rescoring.
pub const RESCORE_FACTOR: usize = 4;
/// See [`RESCORE_FACTOR`].
pub const RESCORE_MIN: usize = 40;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    version: u32,
    dims: usize,
    model: String,
    rows: usize,
    payload: Option<String>,
}

/// One result: a key and its inner product with the query.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit {
    /// The paper's key.
    pub key: String,
    /// Inner product (cosine for unit vectors), higher is closer.
    pub score: f32,
}

/// How a search picks its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Exact below [`EXACT_LIMIT`] rows, approximate above.
    Auto,
    /// Always scan every row.
    Exact,
    /// Always use the graph.
    Approximate,
}

/// The vector index of one model.
#[derive(Debug)]
pub struct VectorIndex {
    dir: PathBuf,
    meta: Meta,
    rows: Rows,
    keys: Vec<String>,
    latest: HashMap<String, u32>,
    /// `live[row]`: the row is its key's latest (a bitmap lookup instead of
    /// hashing the key for every row of an exact scan).
    live: Vec<bool>,
    /// `seqs[row]`: see the module docs.
    seqs: Vec<i64>,
    graph: Hnsw,
    /// Committed rows whose change number changed since the commit.
    rewritten_seqs: Vec<u32>,
    /// Rows the graph in `hnsw.bin` covers.
    graph_saved: usize,
    /// Threads for graph building.
    threads: usize,
}

fn io_error(path: &Path, err: &std::io::Error) -> SearchError {
    SearchError::Directory {
        path: path.display().to_string(),
        reason: err.to_string(),
    }
}

impl VectorIndex {
    /// Opens the index in `dir`, creating it when absent. An index built by a
    /// different model (`model` fingerprint) or dimension is discarded and
    /// started afresh, since its vectors cannot be compared with new ones.
    ///
    /// # Errors
    /// When the directory cannot be read or written.
    pub fn open_or_create(
        dir: &Path,
        dims: usize,
        model: &str,
    ) -> Result<VectorIndex, SearchError> {
        VectorIndex::open_with(dir, dims, model, Storage::F32)
    }

    /// [`Self::open_or_create`] holding the rows in memory as `storage`
    /// says (see [`Storage`]).
    ///
    /// # Errors
    /// When the directory cannot be read or written.
    pub fn open_with(
        dir: &Path,
        dims: usize,
        model: &str,
        storage: Storage,
    ) -> Result<VectorIndex, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        let meta_path = dir.join("meta.json");
        let fresh = Meta {
            version: 1,
            dims,
            model: model.to_owned(),
            rows: 0,
            payload: None,
        };
        let meta = match std::fs::read(&meta_path) {
            Ok(bytes) => match serde_json::from_slice::<Meta>(&bytes) {
                Ok(meta) if meta.dims == dims && meta.model == model && meta.version == 1 => meta,
                _ => fresh,
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => fresh,
            Err(err) => return Err(io_error(&meta_path, &err)),
        };
        let mut index = VectorIndex {
            dir: dir.to_owned(),
            rows: Rows::new(storage.resolve(0)),
            keys: Vec::new(),
            latest: HashMap::new(),
            live: Vec::new(),
            seqs: Vec::new(),
            rewritten_seqs: Vec::new(),
            graph: Hnsw::new(HnswParams::default()),
            graph_saved: 0,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            meta,
        };
        index.load_rows(storage.resolve(index.meta.rows))?;
        Ok(index)
    }

    fn load_rows(&mut self, storage: Storage) -> Result<(), SearchError> {
        let rows = self.meta.rows;
        let dims = self.meta.dims;
        let vectors_path = self.dir.join("vectors.f32");
        let keys_path = self.dir.join("keys.txt");
        let read = |path: &Path| match std::fs::read(path) {
            Ok(bytes) => Ok(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(err) => Err(io_error(path, &err)),
        };
        let corrupt = |reason: String| SearchError::Directory {
            path: self.dir.display().to_string(),
            reason: format!(
                "{reason}; delete the directory and run `paperhub index` to rebuild it"
            ),
        };
        // `rows` comes from a file: it must fit the row numbers (u32) and
        // its byte size must not overflow before it is compared with the
        // files' lengths.
        let vector_len = u32::try_from(rows)
            .ok()
            .and_then(|_| rows.checked_mul(dims)?.checked_mul(4))
            .ok_or_else(|| corrupt(format!("meta.json promises an impossible {rows} rows")))?;
        let key_bytes = read(&keys_path)?;
        // Whole lines only (a last line without its newline is a torn
        // append), read as bytes so the length cut below is exact.
        let mut keys: Vec<String> = Vec::new();
        let mut key_len = 0usize;
        for line in key_bytes.split_inclusive(|&b| b == b'\n').take(rows) {
            let Some(key) = line.strip_suffix(b"\n") else {
                break;
            };
            let key = std::str::from_utf8(key)
                .ok()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| corrupt(format!("keys.txt line {} is not a key", keys.len() + 1)))?;
            keys.push(key.to_owned());
            key_len += line.len();
        }
        let held = match std::fs::metadata(&vectors_path) {
            Ok(m) => m.len(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => 0,
            Err(err) => return Err(io_error(&vectors_path, &err)),
        };
        if held < vector_len as u64 || keys.len() < rows {
            return Err(corrupt(format!(
                "meta.json promises {rows} rows but the files hold fewer"
            )));
        }
        // Read in pieces straight into the rows: a full-size index is
        // gigabytes, and a byte copy beside them would double the peak.
        let mut chunks = F32Chunks::open(&vectors_path, rows * dims, dims)?;
        self.rows = Rows::load(storage, &mut chunks, dims, open_for_reading(&vectors_path)?);
        if let Some(e) = chunks.failed {
            return Err(io_error(&vectors_path, &e));
        }
        self.seqs = read_seqs(&self.dir.join("seqs.i64"), rows)?;
        // Cut leftovers of a killed run so appends continue at `rows`.
        truncate(&vectors_path, vector_len as u64)?;
        truncate(&keys_path, key_len as u64)?;
        self.live = vec![true; keys.len()];
        for (row, key) in keys.iter().enumerate() {
            if let Some(old) = self.latest.insert(key.clone(), row as u32) {
                self.live[old as usize] = false;
            }
        }
        self.keys = keys;
        // The vectors are the truth: a saved graph that is behind them
        // (saved before the last commits) is caught up; one that is
        // missing, corrupt or ahead of them (the rows were cut back) is
        // built again.
        let saved = std::fs::read(self.dir.join("hnsw.bin"))
            .ok()
            .and_then(|bytes| Hnsw::from_bytes(&bytes).ok())
            .filter(|g| g.len() <= rows);
        self.graph_saved = saved.as_ref().map_or(0, Hnsw::len);
        self.graph = saved.unwrap_or_else(|| Hnsw::new(HnswParams::default()));
        self.extend_graph();
        Ok(())
    }

    /// Adds every row the graph lacks.
    fn extend_graph(&mut self) {
        let rows = &self.rows;
        let dims = self.meta.dims;
        self.graph.insert_many(
            self.keys.len(),
            &|a, b| rows.between(a, b, dims),
            self.threads,
        );
    }

    /// Sets how many threads build the graph (at least one).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Dimensions of every vector.
    pub fn dims(&self) -> usize {
        self.meta.dims
    }

    /// Number of papers with a vector (live rows).
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Whether no paper has a vector yet.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The payload stored with the last commit.
    pub fn payload(&self) -> Option<&str> {
        self.meta.payload.as_deref()
    }

    /// Row `row` exactly (read from the file under int8 storage).
    fn row(&self, row: u32) -> Option<Cow<'_, [f32]>> {
        self.rows.exact(row, self.meta.dims)
    }

    /// The stored vector of `key`.
    pub fn vector(&self, key: &str) -> Option<Cow<'_, [f32]>> {
        self.latest.get(key).and_then(|&row| self.row(row))
    }

    /// The candidate list [`Self::search`] walks the graph with at this
    /// index's size ([`ef_for_rows`]).
    pub fn default_ef(&self) -> usize {
        ef_for_rows(self.latest.len())
    }

    /// The rows that are their key's latest, in order.
    fn live_row_numbers(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.keys.len() as u32).filter(|&row| self.is_live(row))
    }

    /// Every key with a vector, in row order (as [`Self::live_rows`]).
    pub fn live_keys(&self) -> impl Iterator<Item = &str> {
        self.live_row_numbers()
            .map(|row| self.keys[row as usize].as_str())
    }

    /// Every key with its current vector, in row order.
    pub fn live_rows(&self) -> impl Iterator<Item = (&str, Cow<'_, [f32]>)> {
        self.live_row_numbers()
            .filter_map(|row| Some((self.keys[row as usize].as_str(), self.row(row)?)))
    }

    /// The model fingerprint the index was built with.
    pub fn model(&self) -> &str {
        &self.meta.model
    }

    /// The catalog change number of the text `key`'s vector embeds (0 when
    /// unknown), or `None` without a vector.
    pub fn seq(&self, key: &str) -> Option<i64> {
        self.latest.get(key).map(|&row| self.seqs[row as usize])
    }

    /// Adds or replaces the vector of `key`, which embeds the paper's text
    /// as of catalog change `seq` (in memory until [`Self::commit`]; the
    /// graph takes it in at the commit).
    ///
    /// # Errors
    /// When the vector has the wrong length or a key contains a line break.
    pub fn upsert(&mut self, key: &str, vector: &[f32], seq: i64) -> Result<(), SearchError> {
        if vector.len() != self.meta.dims || key.contains('\n') || key.is_empty() {
            return Err(SearchError::Directory {
                path: self.dir.display().to_string(),
                reason: format!(
                    "bad vector for {key:?}: {} dimensions, index has {}",
                    vector.len(),
                    self.meta.dims
                ),
            });
        }
        if let Some(&row) = self.latest.get(key)
            && self.row(row).as_deref() == Some(vector)
        {
            // The same vector (the paper changed, not its text): only note
            // that it is current; a committed row's number is rewritten in
            // place at the commit.
            if self.seqs[row as usize] < seq {
                self.seqs[row as usize] = seq;
                if (row as usize) < self.meta.rows {
                    self.rewritten_seqs.push(row);
                }
            }
            return Ok(());
        }
        let row = self.keys.len() as u32;
        self.rows.push(vector);
        self.keys.push(key.to_owned());
        self.live.push(true);
        self.seqs.push(seq);
        if let Some(old) = self.latest.insert(key.to_owned(), row) {
            self.live[old as usize] = false;
        }
        Ok(())
    }

    /// Writes rows added since the last commit, the graph, and then
    /// `meta.json` with `payload`: after a crash the index is at the previous
    /// commit or this one, never between.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn commit(&mut self, payload: Option<&str>) -> Result<(), SearchError> {
        let start = self.meta.rows;
        let rows = self.keys.len();
        let dims = self.meta.dims;
        let vectors_path = self.dir.join("vectors.f32");
        let keys_path = self.dir.join("keys.txt");
        let seqs_path = self.dir.join("seqs.i64");
        let append = |path: &Path, bytes: &[u8]| -> Result<(), SearchError> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io_error(path, &e))?;
            file.write_all(bytes).map_err(|e| io_error(path, &e))?;
            file.sync_all().map_err(|e| io_error(path, &e))
        };
        if !self.rewritten_seqs.is_empty() {
            // Eight bytes each, in place: a torn write leaves the old
            // number, which only means embedding that paper again.
            use std::os::unix::fs::FileExt;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&seqs_path)
                .map_err(|e| io_error(&seqs_path, &e))?;
            for row in std::mem::take(&mut self.rewritten_seqs) {
                file.write_all_at(&self.seqs[row as usize].to_le_bytes(), u64::from(row) * 8)
                    .map_err(|e| io_error(&seqs_path, &e))?;
            }
            file.sync_all().map_err(|e| io_error(&seqs_path, &e))?;
        }
        if rows > start {
            let bytes: Vec<u8> = self
                .rows
                .uncommitted(start, rows, dims)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            append(&vectors_path, &bytes)?;
            let mut keys = String::new();
            for key in &self.keys[start..rows] {
                keys.push_str(key);
                keys.push('\n');
            }
            append(&keys_path, keys.as_bytes())?;
            let seqs: Vec<u8> = self.seqs[start..rows]
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect();
            append(&seqs_path, &seqs)?;
            self.rows
                .committed(rows, || open_for_reading(&vectors_path))?;
            self.extend_graph();
        }
        self.meta.rows = rows;
        self.meta.payload = payload.map(str::to_owned);
        let meta = serde_json::to_vec_pretty(&self.meta).map_err(|e| SearchError::Directory {
            path: self.dir.display().to_string(),
            reason: e.to_string(),
        })?;
        self.write_atomically("meta.json", &meta)?;
        // After the commit point: a crash between the two leaves a graph
        // behind the rows (caught up on open), never one ahead of them
        // (which would be built again in full).
        if rows > start && rows - self.graph_saved >= rows / 100 {
            self.save_graph()?;
        }
        Ok(())
    }

    /// Writes the graph of the committed rows now (a commit writes it only
    /// when it has grown by 1%); call after the last commit of a run.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save_graph(&mut self) -> Result<(), SearchError> {
        if self.graph_saved != self.graph.len() {
            self.write_atomically("hnsw.bin", &self.graph.to_bytes())?;
            self.graph_saved = self.graph.len();
        }
        Ok(())
    }

    fn write_atomically(&self, name: &str, bytes: &[u8]) -> Result<(), SearchError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut file = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, &e))?;
        file.write_all(bytes).map_err(|e| io_error(&tmp, &e))?;
        file.sync_all().map_err(|e| io_error(&tmp, &e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, &e))
    }

    fn is_live(&self, row: u32) -> bool {
        self.live[row as usize]
    }

    /// The `k` rows closest to `query`, optionally only among keys that
    /// `allow` accepts (a filtered search always scans exactly).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        strategy: Strategy,
        allow: Option<&dyn Fn(&str) -> bool>,
    ) -> Vec<VectorHit> {
        self.search_with_ef(query, k, strategy, allow, self.default_ef())
    }

    /// [`Self::search`] with the graph's candidate list set to `ef` when it
    /// walks the graph.
    pub fn search_with_ef(
        &self,
        query: &[f32],
        k: usize,
        strategy: Strategy,
        allow: Option<&dyn Fn(&str) -> bool>,
        ef: usize,
    ) -> Vec<VectorHit> {
        if query.len() != self.meta.dims || k == 0 {
            return Vec::new();
        }
        let exact = allow.is_some()
            || match strategy {
                Strategy::Exact => true,
                Strategy::Approximate => false,
                Strategy::Auto => self.latest.len() <= EXACT_LIMIT,
            };
        if !exact {
            return self.search_approximate(query, k, ef);
        }
        let dims = self.meta.dims;
        let mut top = TopK::new(self.shortlist(k));
        for row in 0..self.keys.len() as u32 {
            if !self.is_live(row) || allow.is_some_and(|f| !f(&self.keys[row as usize])) {
                continue;
            }
            top.push(self.rows.to_query(query, row, dims), row);
        }
        self.to_hits(self.rescored(query, top.into_sorted(), k))
    }

    /// How many candidates a search keeps before [`Self::rescored`]: more
    /// than `k` when the in-memory rows are approximate.
    fn shortlist(&self, k: usize) -> usize {
        if self.rows.is_quantised() {
            k.saturating_mul(RESCORE_FACTOR).max(RESCORE_MIN)
        } else {
            k
        }
    }

    /// The best `k` of `candidates`, scored again exactly when the
    /// in-memory rows are approximate.
    fn rescored(&self, query: &[f32], candidates: Vec<(f32, u32)>, k: usize) -> Vec<(f32, u32)> {
        if !self.rows.is_quantised() {
            return candidates.into_iter().take(k).collect();
        }
        let mut exact: Vec<(f32, u32)> = candidates
            .into_iter()
            .take(self.shortlist(k))
            .filter_map(|(_, row)| Some((dot(query, &self.row(row)?), row)))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        exact.truncate(k);
        exact
    }

    /// The `k` rows the HNSW graph finds closest to `query`, with a
    /// candidate list of `ef` (more is slower and closer to exact).
    pub fn search_approximate(&self, query: &[f32], k: usize, ef: usize) -> Vec<VectorHit> {
        if query.len() != self.meta.dims || k == 0 {
            return Vec::new();
        }
        let dims = self.meta.dims;
        let to_query = |row: u32| self.rows.to_query(query, row, dims);
        let dead = self.keys.len() - self.latest.len();
        let ef = ef.max(self.shortlist(k)) + dead.min(ef);
        let ef = ef.min(self.keys.len().max(1));
        let scored = self
            .graph
            .search(&to_query, ef)
            .into_iter()
            .filter(|&(_, row)| self.is_live(row))
            .collect();
        self.to_hits(self.rescored(query, scored, k))
    }

    fn to_hits(&self, scored: Vec<(f32, u32)>) -> Vec<VectorHit> {
        scored
            .into_iter()
            .map(|(score, row)| VectorHit {
                key: self.keys[row as usize].clone(),
                score,
            })
            .collect()
    }

    /// Inner product of `query` with the stored vector of `key`.
    pub fn score(&self, query: &[f32], key: &str) -> Option<f32> {
        self.vector(key).map(|v| dot(query, &v))
    }
}

/// The first `count` little-endian f32s of a file that holds at least that
/// many, in whole rows of about a mebibyte: a full-size index is gigabytes,
/// and a byte copy beside the rows would double the peak.
struct F32Chunks {
    file: Option<std::fs::File>,
    path: PathBuf,
    left: usize,
    chunk: usize,
    failed: Option<std::io::Error>,
}

impl F32Chunks {
    fn open(path: &Path, count: usize, dims: usize) -> Result<F32Chunks, SearchError> {
        let file = if count == 0 {
            None
        } else {
            Some(std::fs::File::open(path).map_err(|e| io_error(path, &e))?)
        };
        Ok(F32Chunks {
            file,
            path: path.to_owned(),
            left: count,
            chunk: dims.max(1) * (262_144 / dims.max(1)).max(1),
            failed: None,
        })
    }
}

impl Iterator for F32Chunks {
    type Item = Vec<f32>;

    fn next(&mut self) -> Option<Vec<f32>> {
        use std::io::Read;
        if self.left == 0 || self.failed.is_some() {
            return None;
        }
        let n = self.left.min(self.chunk);
        let mut bytes = vec![0u8; n * 4];
        if let Err(e) = self.file.as_mut()?.read_exact(&mut bytes) {
            // Checked against the file's length before: only a disk error.
            tracing::error!("reading {}: {e}", self.path.display());
            self.failed = Some(e);
            return None;
        }
        self.left -= n;
        Some(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
    }
}

/// `path` opened for the exact reads of int8 storage (`None` if absent).
fn open_for_reading(path: &Path) -> Result<Option<std::fs::File>, SearchError> {
    match std::fs::File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error(path, &err)),
    }
}

/// The change numbers of the first `rows` rows. Rows the file does not
/// cover (an index from before it existed) get 0, and the file is
/// written again to match the rows; rows beyond them are leftovers of a
/// killed run and are cut off.
fn read_seqs(path: &Path, rows: usize) -> Result<Vec<i64>, SearchError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(io_error(path, &err)),
    };
    let mut seqs: Vec<i64> = bytes
        .chunks_exact(8)
        .take(rows)
        .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect();
    if seqs.len() < rows {
        seqs.resize(rows, 0);
        let bytes: Vec<u8> = seqs.iter().flat_map(|s| s.to_le_bytes()).collect();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &bytes).map_err(|e| io_error(&tmp, &e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, &e))?;
    } else {
        truncate(path, rows as u64 * 8)?;
    }
    Ok(seqs)
}

fn truncate(path: &Path, len: u64) -> Result<(), SearchError> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => {
            if file.metadata().map_err(|e| io_error(path, &e))?.len() > len {
                file.set_len(len).map_err(|e| io_error(path, &e))?;
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(io_error(path, &err)),
    }
}

/// Inner product, written with eight independent accumulators so the
/// compiler turns it into packed multiplies and adds (plain `*` and `+`:
/// `f32::mul_add` would call a software fma on the baseline x86-64 target).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Compiled again for the CPU's widest SIMD (AVX2 on x86-64, chosen at
    // run time by pulp); the eight accumulators let LLVM vectorise the sum.
    pulp::Arch::new().dispatch(
        #[inline(always)]
        || {
            let mut acc = [0.0f32; 8];
            let chunks_a = a.chunks_exact(8);
            let chunks_b = b.chunks_exact(8);
            let tail: f32 = chunks_a
                .remainder()
                .iter()
                .zip(chunks_b.remainder())
                .map(|(x, y)| x * y)
                .sum();
            for (x, y) in chunks_a.zip(chunks_b) {
                for i in 0..8 {
                    acc[i] += x[i] * y[i];
                }
            }
            acc.iter().sum::<f32>() + tail
        },
    )
}

/// Keeps the `k` best (score, row) pairs.
struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(Ordered, u32)>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Ordered(f32);
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
        }
    }

    fn push(&mut self, score: f32, row: u32) {
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse((Ordered(score), row)));
        } else if self.heap.peek().is_some_and(|worst| score > worst.0.0.0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse((Ordered(score), row)));
        }
    }

    fn into_sorted(self) -> Vec<(f32, u32)> {
        let mut out: Vec<(f32, u32)> = self.heap.into_iter().map(|r| (r.0.0.0, r.0.1)).collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new index in `dir` holding `rows` rows `p0`, `p1`, … of
    /// [`unit`] vectors, uncommitted.
    fn filled(dir: &Path, dims: usize, rows: u64) -> VectorIndex {
        let mut index = VectorIndex::open_or_create(dir, dims, "m").unwrap();
        for i in 0..rows {
            index.upsert(&format!("p{i}"), &unit(i, dims), 1).unwrap();
        }
        index
    }

    fn unit(seed: u64, dims: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<f32> = (0..dims)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        let n = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        v
    }

    #[test]
    fn dot_matches_naive() {
        let a = unit(1, 37);
        let b = unit(2, 37);
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-5);
    }

    #[test]
    fn persists_replaces_and_survives_a_torn_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = VectorIndex::open_or_create(dir.path(), 16, "m1").unwrap();
        for i in 0..50 {
            index.upsert(&format!("p{i}"), &unit(i, 16), 1).unwrap();
        }
        index.commit(Some("pos-50")).unwrap();
        // Replace p3's vector, then "crash" before committing more rows.
        index.upsert("p3", &unit(1000, 16), 1).unwrap();
        index.commit(Some("pos-51")).unwrap();
        index.upsert("p99", &unit(99, 16), 1).unwrap();
        drop(index);
        // A torn append: garbage after the committed rows.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("vectors.f32"))
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();

        let index = VectorIndex::open_or_create(dir.path(), 16, "m1").unwrap();
        assert_eq!(index.len(), 50);
        assert_eq!(index.payload(), Some("pos-51"));
        assert_eq!(index.vector("p3").unwrap(), unit(1000, 16).as_slice());
        assert!(index.vector("p99").is_none());
        let hits = index.search(&unit(1000, 16), 3, Strategy::Exact, None);
        assert_eq!(hits[0].key, "p3");
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        let approximate = index.search(&unit(1000, 16), 3, Strategy::Approximate, None);
        assert_eq!(approximate[0].key, "p3");
        // The stale row of p3 is never returned.
        assert_eq!(hits.iter().filter(|h| h.key == "p3").count(), 1);
        let filtered = index.search(
            &unit(7, 16),
            5,
            Strategy::Auto,
            Some(&|k: &str| k.ends_with('7')),
        );
        assert!(filtered.iter().all(|h| h.key.ends_with('7')));
        assert_eq!(filtered[0].key, "p7");

        // Another model's index is discarded, not mixed.
        let other = VectorIndex::open_or_create(dir.path(), 16, "m2").unwrap();
        assert!(other.is_empty());
    }

    /// Damaged files are refused with an error or repaired, never a panic
    /// or an overflowing size. See: #13
    #[test]
    fn damaged_files_are_refused_or_rebuilt_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap();
        for i in 0..40 {
            index.upsert(&format!("p{i}"), &unit(i, 8), 1).unwrap();
        }
        index.commit(Some("c")).unwrap();
        drop(index);
        let meta_path = dir.path().join("meta.json");
        let meta = std::fs::read_to_string(&meta_path).unwrap();
        let hnsw = std::fs::read(dir.path().join("hnsw.bin")).unwrap();

        // A graph file of garbage: rebuilt, and search still works.
        let mut garbage = hnsw.clone();
        garbage[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(dir.path().join("hnsw.bin"), &garbage).unwrap();
        let index = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap();
        let hits = index.search(&unit(3, 8), 1, Strategy::Approximate, None);
        assert_eq!(hits[0].key, "p3");
        drop(index);

        // Row counts whose byte size overflows, or that no u32 row holds.
        for rows in [usize::MAX, usize::MAX / 4 + 1, 1 << 40] {
            let huge = meta.replace("\"rows\": 40", &format!("\"rows\": {rows}"));
            assert_ne!(huge, meta);
            std::fs::write(&meta_path, huge).unwrap();
            let err = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap_err();
            assert!(err.to_string().contains("impossible"), "{err}");
        }
        let short = meta.replace("\"rows\": 40", &format!("\"rows\": {}", u32::MAX));
        std::fs::write(&meta_path, short).unwrap();
        let err = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap_err();
        assert!(err.to_string().contains("hold fewer"), "{err}");
        std::fs::write(&meta_path, &meta).unwrap();

        // A key that is not UTF-8.
        let keys_path = dir.path().join("keys.txt");
        let keys = std::fs::read(&keys_path).unwrap();
        let mut bad = keys.clone();
        bad[1] = 0xff;
        std::fs::write(&keys_path, &bad).unwrap();
        let err = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap_err();
        assert!(err.to_string().contains("keys.txt line 1"), "{err}");

        // A torn last key and a torn row are cut back to the commit.
        let mut torn = keys.clone();
        torn.extend_from_slice(b"p4");
        std::fs::write(&keys_path, &torn).unwrap();
        let index = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap();
        assert_eq!(index.len(), 40);
        assert_eq!(std::fs::read(&keys_path).unwrap(), keys);
    }

    #[test]
    fn approximate_search_finds_the_exact_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = filled(dir.path(), 32, 3000);
        index.commit(None).unwrap();
        let reopened = VectorIndex::open_or_create(dir.path(), 32, "m").unwrap();
        let mut found = 0;
        for q in 0..100 {
            let query = unit(10_000 + q, 32);
            let exact = reopened.search(&query, 10, Strategy::Exact, None);
            let approx = reopened.search(&query, 10, Strategy::Approximate, None);
            found += approx.iter().filter(|h| exact.contains(h)).count();
        }
        let recall = found as f64 / 1000.0;
        assert!(recall >= 0.95, "recall@10 {recall} on random vectors");
    }

    fn recall(index: &VectorIndex, dims: usize) -> f64 {
        let mut found = 0;
        for q in 0..100 {
            let query = unit(10_000 + q, dims);
            let exact = index.search(&query, 10, Strategy::Exact, None);
            let approx = index.search(&query, 10, Strategy::Approximate, None);
            found += approx.iter().filter(|h| exact.contains(h)).count();
        }
        found as f64 / 1000.0
    }

    /// The parallel build gives the same graph on one thread and on four,
    /// and it finds the exact neighbours as the one-row-at-a-time build
    /// does.
    #[test]
    fn the_parallel_build_is_deterministic_and_accurate() {
        let dims = 24;
        let rows: Vec<Vec<f32>> = (0..6000).map(|i| unit(i, dims)).collect();
        let between = |a: u32, b: u32| dot(&rows[a as usize], &rows[b as usize]);
        let built = |threads| {
            let mut g = Hnsw::new(HnswParams::default());
            g.insert_many(rows.len(), &between, threads);
            g.to_bytes()
        };
        let one = built(1);
        assert_eq!(one, built(4));
        let mut sequential = Hnsw::new(HnswParams::default());
        for _ in 0..rows.len() {
            sequential.insert(&between);
        }
        assert_ne!(one, sequential.to_bytes(), "batches did run");
        let dir = tempfile::tempdir().unwrap();
        let mut index = VectorIndex::open_or_create(dir.path(), dims, "m").unwrap();
        index.set_threads(2);
        for (i, row) in rows.iter().enumerate() {
            index.upsert(&format!("p{i}"), row, 1).unwrap();
        }
        index.commit(None).unwrap();
        assert!(recall(&index, dims) >= 0.95, "{}", recall(&index, dims));
    }

    /// Commits that add less than 1% write no graph; the next open adds
    /// the rows the saved graph lacks instead of building it all again.
    #[test]
    fn a_graph_behind_the_rows_is_caught_up_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let dims = 16;
        let mut index = filled(dir.path(), dims, 3000);
        index.commit(Some("a")).unwrap();
        let saved = std::fs::read(dir.path().join("hnsw.bin")).unwrap();
        for i in 3000..3020 {
            index.upsert(&format!("p{i}"), &unit(i, dims), 2).unwrap();
        }
        index.commit(Some("b")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("hnsw.bin")).unwrap(), saved);
        drop(index);
        let mut index = VectorIndex::open_or_create(dir.path(), dims, "m").unwrap();
        assert_eq!(index.len(), 3020);
        let hits = index.search(&unit(3011, dims), 1, Strategy::Approximate, None);
        assert_eq!(hits[0].key, "p3011");
        index.save_graph().unwrap();
        let graph = Hnsw::from_bytes(&std::fs::read(dir.path().join("hnsw.bin")).unwrap()).unwrap();
        assert_eq!(graph.len(), 3020);
    }

    /// Each row keeps the change number of the text it embeds; the same
    /// vector again with a newer number updates it in place; an index from
    /// before the numbers reads them as 0.
    #[test]
    fn change_numbers_persist_and_move_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap();
        index.upsert("a", &unit(1, 8), 5).unwrap();
        index.upsert("b", &unit(2, 8), 6).unwrap();
        index.commit(None).unwrap();
        index.upsert("a", &unit(1, 8), 9).unwrap();
        index.upsert("b", &unit(2, 8), 3).unwrap();
        index.commit(None).unwrap();
        drop(index);
        let seqs = dir.path().join("seqs.i64");
        assert_eq!(std::fs::metadata(&seqs).unwrap().len(), 16, "no new rows");
        let index = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap();
        assert_eq!(
            (index.seq("a"), index.seq("b"), index.seq("c")),
            (Some(9), Some(6), None)
        );
        drop(index);
        std::fs::remove_file(&seqs).unwrap();
        let index = VectorIndex::open_or_create(dir.path(), 8, "m").unwrap();
        assert_eq!((index.seq("a"), index.seq("b")), (Some(0), Some(0)));
        assert_eq!(std::fs::metadata(&seqs).unwrap().len(), 16);
        assert_eq!(
            index.live_rows().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    /// int8 storage keeps a quarter of the bytes in memory, finds what f32
    /// finds, and returns exact scores (rescored from the file); rows added
    /// after opening are searchable before and after their commit.
    #[test]
    fn int8_storage_rescores_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let dims = 32;
        let mut index = filled(dir.path(), dims, 3000);
        index.commit(None).unwrap();
        let mut int8 = VectorIndex::open_with(dir.path(), dims, "m", Storage::Int8).unwrap();
        assert!(int8.rows.is_quantised());
        let (mut same_exact, mut same_approx) = (0, 0);
        for q in 0..100 {
            let query = unit(20_000 + q, dims);
            let truth = index.search(&query, 10, Strategy::Exact, None);
            let exact = int8.search(&query, 10, Strategy::Exact, None);
            let approx = int8.search(&query, 10, Strategy::Approximate, None);
            same_exact += exact.iter().filter(|h| truth.contains(h)).count();
            same_approx += approx.iter().filter(|h| truth.contains(h)).count();
            // Scores are the exact f32 ones, not the 8-bit estimates.
            for hit in exact.iter().chain(&approx) {
                assert_eq!(Some(hit.score), index.score(&query, &hit.key));
            }
        }
        assert!(same_exact >= 990, "{same_exact} of 1000");
        assert!(same_approx >= 950, "{same_approx} of 1000");
        assert_eq!(
            int8.vector("p7").unwrap().as_ref(),
            unit(7, dims).as_slice()
        );
        int8.upsert("new", &unit(99_999, dims), 2).unwrap();
        let hit = |ix: &VectorIndex| {
            ix.search(&unit(99_999, dims), 1, Strategy::Exact, None)[0]
                .key
                .clone()
        };
        assert_eq!(hit(&int8), "new");
        int8.commit(None).unwrap();
        assert_eq!(hit(&int8), "new");
        assert_eq!(
            int8.vector("new").unwrap().as_ref(),
            unit(99_999, dims).as_slice()
        );
        drop(int8);
        let reopened = VectorIndex::open_with(dir.path(), dims, "m", Storage::Int8).unwrap();
        assert_eq!(reopened.len(), 3001);
        let approx = reopened.search(&unit(99_999, dims), 1, Strategy::Approximate, None);
        assert_eq!(approx[0].key, "new");
    }

    #[test]
    fn the_candidate_list_grows_with_the_index() {
        assert_eq!(ef_for_rows(40_717), EF_SEARCH);
        assert_eq!(ef_for_rows(EF_SCALE_FROM), EF_SEARCH);
        assert!(
            (3150..=3250).contains(&ef_for_rows(2_700_000)),
            "{}",
            ef_for_rows(2_700_000)
        );
        assert!(ef_for_rows(1_000_000) > EF_SEARCH && ef_for_rows(1_000_000) < 3200);
        assert_eq!(ef_for_rows(usize::MAX), 1 << 16);
    }
}
