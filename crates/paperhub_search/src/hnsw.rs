//! A hierarchical navigable small-world graph (Malkov & Yashunin, 2016) over
//! the rows of a [`crate::vector::VectorIndex`], for approximate nearest
//! neighbours by inner product on unit vectors.
//!
//! The graph stores only row numbers; vectors are read from the index's row
//! store through a closure, so the same rows serve exact and approximate
//! search. Inserts are incremental, and the graph is serialised as a flat
//! list of little-endian `u32`s next to the vectors.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Graph parameters.
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
    /// Neighbours per node on the upper layers (layer 0 keeps twice as many).
    pub m: usize,
    /// Candidate list size while inserting.
    pub ef_construction: usize,
}

impl HnswParams {
    /// Links a node keeps on `layer`.
    fn max_links(&self, layer: usize) -> usize {
        if layer == 0 { self.m * 2 } else { self.m }
    }
}

/// The highest layer a row can get (see `Hnsw::layer_of`).
const MAX_LAYER: usize = 16;
/// Bounds that [`Hnsw::from_bytes`] accepts for the parameters: far above
/// any useful setting, and low enough that no buffer sized by them is large.
const MAX_M: usize = 1024;
const MAX_EF_CONSTRUCTION: usize = 1 << 16;

/// Why [`Hnsw::from_bytes`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt HNSW graph at byte {offset}: {reason}")]
pub struct CorruptGraph {
    /// Where in the input the problem showed.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// Little-endian `u32`s read from the front of a byte slice.
struct Words<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Words<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, CorruptGraph> {
        if !bytes.len().is_multiple_of(4) {
            return Err(CorruptGraph {
                offset: bytes.len(),
                reason: "the length is not a whole number of words",
            });
        }
        Ok(Words { bytes, at: 0 })
    }

    /// Words left.
    fn remaining(&self) -> usize {
        (self.bytes.len() - self.at) / 4
    }

    fn corrupt(&self, reason: &'static str) -> CorruptGraph {
        CorruptGraph {
            offset: self.at,
            reason,
        }
    }

    fn next(&mut self, what: &'static str) -> Result<u32, CorruptGraph> {
        let word = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.corrupt(what))?;
        self.at += 4;
        Ok(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
    }

    /// The next word, which must lie in `min..=max`.
    fn bounded(
        &mut self,
        what: &'static str,
        min: usize,
        max: usize,
    ) -> Result<usize, CorruptGraph> {
        let value = self.next(what)? as usize;
        if value < min || value > max {
            return Err(CorruptGraph {
                offset: self.at - 4,
                reason: what,
            });
        }
        Ok(value)
    }
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 128,
        }
    }
}

/// Rows seen during one search: a bitmap, far cheaper than hashing.
struct Visited(Vec<u64>);

impl Visited {
    fn new(rows: usize) -> Self {
        Visited(vec![0; rows.div_ceil(64)])
    }

    /// Marks `row`; true when it was not marked before.
    fn insert(&mut self, row: u32) -> bool {
        let (word, bit) = (row as usize / 64, 1u64 << (row % 64));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

/// A (similarity, row) pair ordered by similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored(f32, u32);

impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// The graph.
#[derive(Debug, Clone, Default)]
pub struct Hnsw {
    params: HnswParams,
    /// `links[row][layer]` = neighbour rows.
    links: Vec<Vec<Vec<u32>>>,
    entry: Option<u32>,
    max_layer: usize,
}

/// Similarity of the query and a row.
pub(crate) type Similarity<'a> = &'a dyn Fn(u32) -> f32;

/// Similarity of two rows; shared by the threads of a batch insert.
pub type Between<'a> = dyn Fn(u32, u32) -> f32 + Sync + 'a;

/// A batch of [`Hnsw::insert_many`] is the graph's size over this...
const BATCH_DIVISOR: usize = 64;
/// ...and at most this many rows.
const MAX_BATCH: usize = 1024;

/// `f` over `items` on up to `threads` scoped threads, in order.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(part) => part,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

impl Hnsw {
    /// An empty graph.
    pub fn new(params: HnswParams) -> Self {
        Hnsw {
            params,
            links: Vec::new(),
            entry: None,
            max_layer: 0,
        }
    }

    /// Rows in the graph.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether the graph has no rows.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    fn layer_of(&self, row: u32) -> usize {
        // Deterministic: a hash of the row number drives the level draw, so
        // rebuilding the graph gives the same structure.
        let mut x = u64::from(row).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        let uniform = ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let ml = 1.0 / (self.params.m as f64).ln();
        ((-uniform.ln() * ml).floor() as usize).min(MAX_LAYER)
    }

    fn max_links(&self, layer: usize) -> usize {
        self.params.max_links(layer)
    }

    /// Adds the next row (rows are added in order 0, 1, 2, ...).
    /// `between(a, b)` is the similarity of two rows.
    pub fn insert(&mut self, between: &Between<'_>) {
        let row = self.links.len() as u32;
        let plan = self.plan(row, between);
        self.attach(row, plan, &mut |graph, node, layer| {
            graph.links[node as usize][layer] = graph.pruned(node, layer, between);
        });
    }

    /// Adds rows `self.len()..rows`, in order, planning each batch's links
    /// on up to `threads` threads.
    ///
    /// A batch's rows are linked against the graph as it stood before the
    /// batch (they do not see each other); then their back-links are added
    /// and the neighbour lists that overflowed are pruned, again in
    /// parallel. A batch is at most 1/64 of the graph (and 1,024 rows), so a
    /// row can miss a batch-mate as a neighbour with a probability of at
    /// most 1/64; below 128 rows the graph grows one row at a time, as
    /// [`Self::insert`] does. Batches depend only on the row count, never on
    /// `threads`: the same rows give the same graph on any machine.
    pub fn insert_many(&mut self, rows: usize, between: &Between<'_>, threads: usize) {
        while self.links.len() < rows {
            let start = self.links.len();
            let batch = (start / BATCH_DIVISOR)
                .clamp(1, MAX_BATCH)
                .min(rows - start);
            if batch == 1 {
                self.insert(between);
                continue;
            }
            let plans = parallel_map(
                &(start..start + batch).collect::<Vec<_>>(),
                threads,
                |&row| self.plan(row as u32, between),
            );
            let mut overflowed = Vec::new();
            for (i, plan) in plans.into_iter().enumerate() {
                self.attach((start + i) as u32, plan, &mut |_, node, layer| {
                    overflowed.push((node, layer));
                });
            }
            let pruned = parallel_map(&overflowed, threads, |&(node, layer)| {
                self.pruned(node, layer, between)
            });
            for ((node, layer), kept) in overflowed.into_iter().zip(pruned) {
                self.links[node as usize][layer] = kept;
            }
        }
    }

    /// The links `row` gets on each of its layers, chosen against the graph
    /// as it stands (which `row` is not part of yet).
    fn plan(&self, row: u32, between: &Between<'_>) -> Vec<Vec<u32>> {
        let layer = self.layer_of(row);
        let mut plan = vec![Vec::new(); layer + 1];
        let Some(mut entry) = self.entry else {
            return plan;
        };
        let to_new = |other: u32| between(row, other);
        for l in (layer + 1..=self.max_layer).rev() {
            entry = self.greedy(&to_new, entry, l);
        }
        let mut entries = vec![entry];
        for l in (0..=layer.min(self.max_layer)).rev() {
            let candidates = self.search_layer(&to_new, &entries, self.params.ef_construction, l);
            plan[l] = self
                .select(&candidates, self.params.m, between)
                .iter()
                .map(|s| s.1)
                .collect();
            entries = candidates.iter().map(|s| s.1).collect();
        }
        plan
    }

    /// Adds `row` with its planned links and the links back to it; calls
    /// `overflow` for each neighbour list that just grew past its limit.
    fn attach(
        &mut self,
        row: u32,
        plan: Vec<Vec<u32>>,
        overflow: &mut dyn FnMut(&mut Self, u32, usize),
    ) {
        debug_assert_eq!(row as usize, self.links.len());
        let layer = plan.len() - 1;
        for (l, neighbours) in plan.iter().enumerate() {
            for &n in neighbours {
                self.links[n as usize][l].push(row);
                if self.links[n as usize][l].len() == self.max_links(l) + 1 {
                    overflow(self, n, l);
                }
            }
        }
        self.links.push(plan);
        if self.entry.is_none() || layer > self.max_layer {
            self.max_layer = layer;
            self.entry = Some(row);
        }
    }

    /// `node`'s links on `layer` cut back to the limit by [`Self::select`].
    fn pruned(&self, node: u32, layer: usize, between: &Between<'_>) -> Vec<u32> {
        let mut scored: Vec<Scored> = self.links[node as usize][layer]
            .iter()
            .map(|&n| Scored(between(node, n), n))
            .collect();
        scored.sort_by(|a, b| b.cmp(a));
        self.select(&scored, self.max_links(layer), between)
            .iter()
            .map(|s| s.1)
            .collect()
    }

    /// The neighbour-selection heuristic: keep a candidate only if it is
    /// closer to the base than to every neighbour kept so far, which spreads
    /// links over directions; fill up with the nearest rejected ones.
    /// `candidates` is sorted best first.
    fn select(&self, candidates: &[Scored], limit: usize, between: &Between<'_>) -> Vec<Scored> {
        let mut kept: Vec<Scored> = Vec::with_capacity(limit);
        let mut rejected = Vec::new();
        for &candidate in candidates {
            if kept.len() >= limit {
                break;
            }
            if kept.iter().all(|k| between(k.1, candidate.1) < candidate.0) {
                kept.push(candidate);
            } else {
                rejected.push(candidate);
            }
        }
        for candidate in rejected {
            if kept.len() >= limit {
                break;
            }
            kept.push(candidate);
        }
        kept
    }

    fn greedy(&self, to_query: Similarity<'_>, mut entry: u32, layer: usize) -> u32 {
        let mut best = to_query(entry);
        loop {
            let mut moved = false;
            for &n in &self.links[entry as usize][layer] {
                let s = to_query(n);
                if s > best {
                    best = s;
                    entry = n;
                    moved = true;
                }
            }
            if !moved {
                return entry;
            }
        }
    }

    /// Best-first search of one layer; returns up to `ef` rows, best first.
    fn search_layer(
        &self,
        to_query: Similarity<'_>,
        entries: &[u32],
        ef: usize,
        layer: usize,
    ) -> Vec<Scored> {
        let mut visited = Visited::new(self.links.len());
        let mut frontier = BinaryHeap::new(); // best first
        let mut results: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::new(); // worst on top
        for &e in entries {
            if visited.insert(e) {
                let s = Scored(to_query(e), e);
                frontier.push(s);
                results.push(std::cmp::Reverse(s));
                if results.len() > ef {
                    results.pop();
                }
            }
        }
        while let Some(current) = frontier.pop() {
            let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
            if current.0 < worst && results.len() >= ef {
                break;
            }
            for &n in &self.links[current.1 as usize][layer] {
                if !visited.insert(n) {
                    continue;
                }
                let s = to_query(n);
                let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
                if results.len() < ef || s > worst {
                    frontier.push(Scored(s, n));
                    results.push(std::cmp::Reverse(Scored(s, n)));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        let mut out: Vec<Scored> = results.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }

    /// Up to `ef` approximate nearest rows to the query, best first, as
    /// (similarity, row).
    pub fn search(&self, to_query: Similarity<'_>, ef: usize) -> Vec<(f32, u32)> {
        let Some(mut entry) = self.entry else {
            return Vec::new();
        };
        for layer in (1..=self.max_layer).rev() {
            entry = self.greedy(to_query, entry, layer);
        }
        self.search_layer(to_query, &[entry], ef, 0)
            .into_iter()
            .map(|s| (s.0, s.1))
            .collect()
    }

    /// The graph as little-endian `u32`s: m, `ef_construction`, rows, entry
    /// (or `u32::MAX`), max layer, then per row its layer count and per
    /// layer its neighbour count and neighbours.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut words: Vec<u32> = vec![
            self.params.m as u32,
            self.params.ef_construction as u32,
            self.links.len() as u32,
            self.entry.unwrap_or(u32::MAX),
            self.max_layer as u32,
        ];
        for layers in &self.links {
            words.push(layers.len() as u32);
            for neighbours in layers {
                words.push(neighbours.len() as u32);
                words.extend(neighbours);
            }
        }
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Reads [`Hnsw::to_bytes`] output.
    ///
    /// The bytes come from disk and may be anything. Every count is checked
    /// against what is left of the input before memory is reserved for it,
    /// so the graph never takes more than about ten bytes of memory per byte
    /// of input, and every link is checked to point at a row that has the
    /// layer it is on, so searching and inserting on the result cannot go
    /// out of bounds.
    ///
    /// # Errors
    /// [`CorruptGraph`] when the bytes are truncated or inconsistent; the
    /// caller then rebuilds the graph from the vectors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Hnsw, CorruptGraph> {
        let mut words = Words::new(bytes)?;
        let m = words.bounded("m", 2, MAX_M)?;
        let ef_construction = words.bounded("ef_construction", 1, MAX_EF_CONSTRUCTION)?;
        let params = HnswParams { m, ef_construction };
        let rows = words.next("row count")?;
        let entry = words.next("entry row")?;
        let max_layer = words.bounded("max layer", 0, MAX_LAYER)?;
        // Every row takes at least two words (its layer count and one
        // neighbour count): a larger count cannot be true.
        if rows as usize > words.remaining() / 2 {
            return Err(words.corrupt("more rows than the file can hold"));
        }
        let mut links: Vec<Vec<Vec<u32>>> = Vec::with_capacity(rows as usize);
        for _ in 0..rows {
            let layer_count = words.bounded("layer count", 1, max_layer + 1)?;
            if layer_count > words.remaining() {
                return Err(words.corrupt("more layers than the file can hold"));
            }
            let mut layers = Vec::with_capacity(layer_count);
            for layer in 0..layer_count {
                let count = words.next("neighbour count")? as usize;
                if count > words.remaining() || count > params.max_links(layer) {
                    return Err(words.corrupt("too many neighbours"));
                }
                let mut neighbours = Vec::with_capacity(count);
                for _ in 0..count {
                    let n = words.next("neighbour")?;
                    if n >= rows {
                        return Err(words.corrupt("a neighbour beyond the last row"));
                    }
                    neighbours.push(n);
                }
                layers.push(neighbours);
            }
            links.push(layers);
        }
        if words.remaining() > 0 {
            return Err(words.corrupt("trailing bytes after the last row"));
        }
        // A link on layer `l` must lead to a row that has layer `l`, or a
        // search would index past that row's layers.
        for (row, layers) in links.iter().enumerate() {
            for (layer, neighbours) in layers.iter().enumerate() {
                for &n in neighbours {
                    if n as usize == row || links[n as usize].len() <= layer {
                        return Err(CorruptGraph {
                            offset: bytes.len(),
                            reason: "a link to a row without that layer",
                        });
                    }
                }
            }
        }
        let entry = match (entry, rows) {
            (u32::MAX, 0) => None,
            (e, _) if e < rows && links[e as usize].len() == max_layer + 1 => Some(e),
            _ => {
                return Err(CorruptGraph {
                    offset: 12,
                    reason: "the entry row does not match the rows and the top layer",
                });
            }
        };
        Ok(Hnsw {
            params,
            links,
            entry,
            max_layer,
        })
    }
}
