//! [`Embedder`]: text in, unit vectors out. Owns the tokenizer and the
//! encoder, sorts a request's texts by length and packs them into batches,
//! and spreads the batches over worker threads that each keep their own
//! scratch buffers.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::{Bert, Scratch};
use crate::error::{EmbedError, Result};
use crate::kernels::Kernel;
use crate::model::{ModelDir, Pooling};

/// Most tokens packed into one batch. Large enough that every linear layer
/// is one big matrix product, small enough that the buffers stay in the
/// tens of megabytes.
const BATCH_TOKENS: usize = 8192;
/// Most texts in one batch.
const BATCH_TEXTS: usize = 64;
/// Tokens a query must keep after the model's query prompt.
const MIN_QUERY_TOKENS: usize = 32;

/// A loaded sentence-embedding model.
pub struct Embedder {
    model: ModelDir,
    tokenizer: Tokenizer,
    bert: Bert,
    fingerprint: u64,
    scratch: Mutex<Vec<Scratch>>,
    /// Queries waiting for the next combined forward pass.
    waiting: Mutex<Vec<(Vec<u32>, Arc<Slot>)>>,
    /// Held by the caller running a combined pass.
    leader: Mutex<()>,
}

/// Where a combined pass leaves one query's vector.
#[derive(Default)]
struct Slot {
    vector: Mutex<Option<Vec<f32>>>,
    ready: Condvar,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &self.model.path)
            .field("dimensions", &self.dimensions())
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the sentence-transformers model in `dir` (see [`ModelDir`]) for
    /// the kernel path `PAPERHUB__EMBEDDING__KERNEL` names, else the fastest
    /// this CPU has ([`Kernel::from_env`]).
    ///
    /// # Errors
    /// Missing or malformed files, unsupported architectures, weights that do
    /// not match the configuration, a kernel path this CPU cannot run.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with_kernel(dir, Kernel::from_env().map_err(EmbedError::Kernel)?)
    }

    /// Loads the model in `dir` for one kernel path.
    ///
    /// # Errors
    /// As [`Embedder::load`].
    pub fn load_with_kernel(dir: &Path, kernel: Kernel) -> Result<Self> {
        if !kernel.is_supported() {
            return Err(EmbedError::Kernel(format!(
                "this CPU cannot run the {kernel} kernel path"
            )));
        }
        let model = ModelDir::open(dir)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_error = |message: String| EmbedError::Tokenizer {
            path: tokenizer_path.clone(),
            message,
        };
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|err| tokenizer_error(err.to_string()))?;
        // The tokenizer.json of all-MiniLM-L6-v2 truncates and pads to 128;
        // sentence-transformers truncates at max_seq_length and pads per batch.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: model.max_seq_length,
                ..TruncationParams::default()
            }))
            .map_err(|err| tokenizer_error(err.to_string()))?;
        tokenizer.with_padding(None);

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|source| EmbedError::Io {
            path: weights_path.clone(),
            source,
        })?;
        let bert = Bert::load(&weights_path, &weights, &model.encoder, kernel)?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > bert.vocab() {
            return Err(tokenizer_error(format!(
                "the tokenizer has {vocab} tokens but the weights only {}",
                bert.vocab()
            )));
        }
        if !model.query_prompt.is_empty() {
            // Truncation cuts from the end, so a prompt that fills the
            // window would leave every query the same vector.
            let prompt_tokens = tokenizer
                .encode(model.query_prompt.as_str(), true)
                .map_err(|err| tokenizer_error(err.to_string()))?
                .get_ids()
                .len();
            if prompt_tokens + MIN_QUERY_TOKENS > model.max_seq_length {
                return Err(EmbedError::Unsupported {
                    path: dir.join("config_sentence_transformers.json"),
                    message: format!(
                        "the query prompt takes {prompt_tokens} of the {} tokens a text may have, leaving a query fewer than {MIN_QUERY_TOKENS}",
                        model.max_seq_length
                    ),
                });
            }
        }
        let fingerprint = fingerprint(dir, &weights)?;
        drop(weights);
        Ok(Self {
            model,
            tokenizer,
            bert,
            fingerprint,
            scratch: Mutex::new(Vec::new()),
            waiting: Mutex::new(Vec::new()),
            leader: Mutex::new(()),
        })
    }

    /// The kernel path the encoder runs on.
    pub fn kernel(&self) -> Kernel {
        self.bert.kernel()
    }

    /// Length of every vector.
    pub fn dimensions(&self) -> usize {
        self.bert.hidden()
    }

    /// The model's configuration.
    pub fn model(&self) -> &ModelDir {
        &self.model
    }

    /// A hash of the model's files: vectors made by models with different
    /// fingerprints must not be mixed.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Number of tokens `text` is encoded as, after truncation.
    ///
    /// # Errors
    /// When the tokenizer fails.
    pub fn token_count(&self, text: &str) -> Result<usize> {
        Ok(self.tokenize(text)?.len())
    }

    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|err| EmbedError::Tokenizer {
                path: self.model.path.join("tokenizer.json"),
                message: err.to_string(),
            })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Embeds one text on the calling thread.
    ///
    /// # Errors
    /// When the tokenizer fails.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let ids = self.tokenize(text)?;
        let mut out = vec![0.0; self.dimensions()];
        let mut scratch = self.take_scratch();
        self.bert
            .encode(&[&ids], self.model.pooling, &mut scratch, &mut out);
        self.return_scratch(scratch);
        self.finish(&mut out);
        Ok(out)
    }

    /// Embeds one search query (with the model's query prompt, if it has
    /// one), combining it with queries other threads are embedding at the
    /// same moment into one forward pass.
    ///
    /// A single query is bound by reading the weights (tens of megabytes)
    /// from memory, not by arithmetic; a pass over many short queries reads
    /// them once. The first caller to find no pass running leads: it takes
    /// every waiting query, runs one packed pass and hands each caller its
    /// vector. Alone, a query costs what [`Embedder::embed_one`] costs.
    ///
    /// # Errors
    /// When the tokenizer fails.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        let slot = Arc::new(Slot::default());
        let ids = self.tokenize(&self.query_text(text))?;
        lock(&self.waiting).push((ids, Arc::clone(&slot)));
        loop {
            if let Some(v) = lock(&slot.vector).take() {
                return Ok(v);
            }
            let leading = lock(&self.leader);
            if let Some(v) = lock(&slot.vector).take() {
                return Ok(v);
            }
            let batch = std::mem::take(&mut *lock(&self.waiting));
            if batch.is_empty() {
                // Another leader took ours and is about to deliver it.
                drop(leading);
                let mut vector = lock(&slot.vector);
                while vector.is_none() {
                    vector = slot
                        .ready
                        .wait(vector)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                return Ok(vector.take().unwrap_or_default());
            }
            let dims = self.dimensions();
            let mut out = vec![0.0; batch.len() * dims];
            let refs: Vec<&[u32]> = batch.iter().map(|(ids, _)| ids.as_slice()).collect();
            let mut scratch = self.take_scratch();
            self.bert
                .encode(&refs, self.model.pooling, &mut scratch, &mut out);
            self.return_scratch(scratch);
            for ((_, waiter), vector) in batch.iter().zip(out.chunks_exact_mut(dims)) {
                self.finish(vector);
                *lock(&waiter.vector) = Some(vector.to_vec());
                waiter.ready.notify_all();
            }
            drop(leading);
        }
    }

    /// Embeds search queries as [`Embedder::embed`] embeds texts, each with
    /// the model's query prompt first (if it has one).
    ///
    /// # Errors
    /// When the tokenizer fails on a text.
    pub fn embed_queries(&self, queries: &[&str], threads: usize) -> Result<Vec<f32>> {
        let prompted: Vec<std::borrow::Cow<'_, str>> =
            queries.iter().map(|q| self.query_text(q)).collect();
        let refs: Vec<&str> = prompted.iter().map(|q| q.as_ref()).collect();
        self.embed(&refs, threads)
    }

    /// `query` as the model wants a search query: after its query prompt.
    pub fn query_text<'a>(&self, query: &'a str) -> std::borrow::Cow<'a, str> {
        if self.model.query_prompt.is_empty() {
            std::borrow::Cow::Borrowed(query)
        } else {
            std::borrow::Cow::Owned(format!("{}{query}", self.model.query_prompt))
        }
    }

    /// Embeds `texts` with up to `threads` worker threads (0 = one per core)
    /// and returns the vectors end to end, `texts.len() × dimensions()`.
    ///
    /// # Errors
    /// When the tokenizer fails on a text.
    pub fn embed(&self, texts: &[&str], threads: usize) -> Result<Vec<f32>> {
        let dims = self.dimensions();
        let ids = texts
            .iter()
            .map(|text| self.tokenize(text))
            .collect::<Result<Vec<_>>>()?;
        // Longest first, so batches hold texts of similar length and the
        // slowest batches start first.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut batches: Vec<&[usize]> = Vec::new();
        let mut begin = 0;
        let mut tokens = 0;
        for (n, &i) in order.iter().enumerate() {
            if n > begin && (tokens + ids[i].len() > BATCH_TOKENS || n - begin >= BATCH_TEXTS) {
                batches.push(&order[begin..n]);
                begin = n;
                tokens = 0;
            }
            tokens += ids[i].len();
        }
        if begin < order.len() {
            batches.push(&order[begin..]);
        }

        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
        .min(batches.len())
        .max(1);
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, Vec<f32>)>> = Mutex::new(Vec::with_capacity(batches.len()));
        let work = || {
            let mut scratch = self.take_scratch();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(b) else { break };
                let sequences: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
                let mut out = vec![0.0; batch.len() * dims];
                self.bert
                    .encode(&sequences, self.model.pooling, &mut scratch, &mut out);
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((b, out));
            }
            self.return_scratch(scratch);
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(work);
            }
            work();
        });

        let mut vectors = vec![0.0; texts.len() * dims];
        for (b, out) in results
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            for (&i, vector) in batches[b].iter().zip(out.chunks_exact(dims)) {
                let dst = &mut vectors[i * dims..(i + 1) * dims];
                dst.copy_from_slice(vector);
                self.finish(dst);
            }
        }
        Ok(vectors)
    }

    fn finish(&self, vector: &mut [f32]) {
        if self.model.normalize {
            normalize(vector);
        }
    }

    fn take_scratch(&self) -> Scratch {
        self.scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    fn return_scratch(&self, scratch: Scratch) {
        self.scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(scratch);
    }

    /// Pooling mode in use.
    pub fn pooling(&self) -> Pooling {
        self.model.pooling
    }
}

/// Scales `vector` to unit length (a zero vector stays zero).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for v in vector.iter_mut() {
            *v /= norm;
        }
    }
}

/// FNV-1a over what determines the vectors: the configuration files, the
/// tokenizer and the weights (already in memory; hashed eight bytes at a
/// time, once per load).
fn fingerprint(dir: &Path, weights: &[u8]) -> Result<u64> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut add = |bytes: &[u8]| {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0; 8];
            buf.copy_from_slice(word);
            hash = (hash ^ u64::from_le_bytes(buf)).wrapping_mul(0x0100_0000_01b3);
        }
        for &byte in words.remainder() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash = (hash ^ bytes.len() as u64).wrapping_mul(0x0100_0000_01b3);
    };
    for name in [
        "config.json",
        "tokenizer.json",
        "sentence_bert_config.json",
        "modules.json",
        "1_Pooling/config.json",
    ] {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => add(&bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => add(&[]),
            Err(source) => return Err(EmbedError::Io { path, source }),
        }
    }
    add(weights);
    Ok(hash)
}

/// Locks `m`, carrying on after a panic elsewhere (the data stays valid:
/// every critical section here only moves whole values).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
