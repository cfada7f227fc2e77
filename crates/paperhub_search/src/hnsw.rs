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

/// Similarity of two rows, or of the query and a row.
pub(crate) type Similarity<'a> = &'a dyn Fn(u32) -> f32;

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
        ((-uniform.ln() * ml).floor() as usize).min(16)
    }

    fn max_links(&self, layer: usize) -> usize {
        if layer == 0 {
            self.params.m * 2
        } else {
            self.params.m
        }
    }

    /// Adds the next row (rows are added in order 0, 1, 2, ...).
    /// `between(a, b)` is the similarity of two rows.
    pub fn insert(&mut self, between: &dyn Fn(u32, u32) -> f32) {
        let row = self.links.len() as u32;
        let layer = self.layer_of(row);
        self.links.push(vec![Vec::new(); layer + 1]);
        let Some(mut entry) = self.entry else {
            self.entry = Some(row);
            self.max_layer = layer;
            return;
        };
        let to_new = |other: u32| between(row, other);
        for l in (layer + 1..=self.max_layer).rev() {
            entry = self.greedy(&to_new, entry, l);
        }
        let mut entries = vec![entry];
        for l in (0..=layer.min(self.max_layer)).rev() {
            let candidates = self.search_layer(&to_new, &entries, self.params.ef_construction, l);
            let chosen = self.select(&candidates, self.params.m, between);
            for &Scored(_, neighbour) in &chosen {
                self.links[row as usize][l].push(neighbour);
                self.links[neighbour as usize][l].push(row);
                if self.links[neighbour as usize][l].len() > self.max_links(l) {
                    self.prune(neighbour, l, between);
                }
            }
            entries = candidates.iter().map(|s| s.1).collect();
        }
        if layer > self.max_layer {
            self.max_layer = layer;
            self.entry = Some(row);
        }
    }

    fn prune(&mut self, node: u32, layer: usize, between: &dyn Fn(u32, u32) -> f32) {
        let mut scored: Vec<Scored> = self.links[node as usize][layer]
            .iter()
            .map(|&n| Scored(between(node, n), n))
            .collect();
        scored.sort_by(|a, b| b.cmp(a));
        let kept = self.select(&scored, self.max_links(layer), between);
        self.links[node as usize][layer] = kept.iter().map(|s| s.1).collect();
    }

    /// The neighbour-selection heuristic: keep a candidate only if it is
    /// closer to the base than to every neighbour kept so far, which spreads
    /// links over directions; fill up with the nearest rejected ones.
    /// `candidates` is sorted best first.
    fn select(
        &self,
        candidates: &[Scored],
        limit: usize,
        between: &dyn Fn(u32, u32) -> f32,
    ) -> Vec<Scored> {
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

    /// Reads [`Hnsw::to_bytes`] output; `None` when it is truncated or
    /// inconsistent (the caller then rebuilds the graph).
    pub fn from_bytes(bytes: &[u8]) -> Option<Hnsw> {
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        let mut words = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut next = || words.next();
        let m = next()? as usize;
        let ef_construction = next()? as usize;
        let rows = next()?;
        let entry = next()?;
        let max_layer = next()? as usize;
        let mut links = Vec::with_capacity(rows as usize);
        for _ in 0..rows {
            let layer_count = next()? as usize;
            if layer_count == 0 || layer_count > 17 {
                return None;
            }
            let mut layers = Vec::with_capacity(layer_count);
            for _ in 0..layer_count {
                let count = next()? as usize;
                let neighbours = (0..count).map(|_| next()).collect::<Option<Vec<u32>>>()?;
                if neighbours.iter().any(|&n| n >= rows) {
                    return None;
                }
                layers.push(neighbours);
            }
            links.push(layers);
        }
        if next().is_some() || m < 2 {
            return None;
        }
        let entry = if entry == u32::MAX { None } else { Some(entry) };
        if entry.is_some_and(|e| e >= rows || links[e as usize].len() != max_layer + 1) {
            return None;
        }
        Some(Hnsw {
            params: HnswParams { m, ef_construction },
            links,
            entry,
            max_layer,
        })
    }
}
