//! The server's search: the current [`Retriever`] and the thread that keeps
//! the indexes up to date behind it.
//!
//! Handlers take the current retriever (an `Arc`, swapped atomically) and
//! never wait for indexing. One indexer thread owns all index writes in the
//! process (tantivy allows one writer): at start when asked (the demo builds
//! its vectors this way while the site already serves, in lexical mode), and
//! whenever a harvest or a submission brought new papers. After each run it
//! opens a fresh retriever and swaps it in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

use crate::app::store::SharedStore;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::indexing;
use crate::retrieval::Retriever;

/// Papers embedded before the first swap; each later round is twice the
/// one before.
const FIRST_ROUND: u64 = 2_000;

/// Progress of a vector build, for the search page's notice.
#[derive(Debug, Default)]
pub struct Progress {
    building: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

/// What the indexer thread does.
#[derive(Debug, Clone, Copy)]
pub struct IndexerOptions {
    /// Run once at start, not only when woken.
    pub build_now: bool,
    /// Show the vector build in the terminal.
    pub progress_bar: bool,
    /// Build vectors when a model is on disk (else BM25 only).
    pub embed: bool,
}

/// See the module docs.
pub struct Searcher {
    store: SharedStore,
    /// The change position the indexes have reached, for following other
    /// nodes' writes ([`Searcher::behind`]).
    indexed_head: std::sync::atomic::AtomicI64,
    current: RwLock<Arc<Retriever>>,
    generation: AtomicU64,
    progress: Progress,
    wake: Mutex<Option<Sender<()>>>,
    /// Index updates asked for and finished, for [`Searcher::is_busy`].
    requested: AtomicU64,
    finished: AtomicU64,
}

impl Searcher {
    /// Opens the indexes as they are.
    ///
    /// # Errors
    /// The lexical index or a present model cannot be opened.
    pub fn open(data_dir: &DataDir, config: &Config, store: SharedStore) -> Result<Arc<Searcher>> {
        Ok(Arc::new(Searcher {
            store,
            indexed_head: std::sync::atomic::AtomicI64::new(-1),
            current: RwLock::new(Arc::new(Retriever::open(data_dir, config)?)),
            generation: AtomicU64::new(0),
            progress: Progress::default(),
            wake: Mutex::new(None),
            requested: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        }))
    }

    /// The retriever to search with now.
    pub fn get(&self) -> Arc<Retriever> {
        match self.current.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Counts index swaps (pages built before one are stale).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// A notice while vectors are being built.
    pub fn notice(&self) -> Option<String> {
        if !self.progress.building.load(Ordering::Relaxed) {
            return None;
        }
        let done = self.progress.done.load(Ordering::Relaxed);
        let total = self.progress.total.load(Ordering::Relaxed);
        Some(if total > 0 {
            format!(
                "The semantic index is being built ({done} of {total} papers embedded); until it is ready, search uses keyword (BM25) matching."
            )
        } else {
            "The semantic index is being built; until it is ready, search uses keyword (BM25) matching.".to_owned()
        })
    }

    /// Asks the indexer to bring the indexes up to date (no-op without one).
    pub fn refresh(&self) {
        if let Ok(wake) = self.wake.lock()
            && let Some(tx) = wake.as_ref()
        {
            self.requested.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(());
        }
    }

    /// Whether the catalog changed since the indexes were last updated (a
    /// harvest or submission on another node, an import from the command
    /// line), so the caller should [`refresh`](Searcher::refresh). Reads the
    /// store's change head: call it from a blocking thread.
    ///
    /// # Errors
    /// The store fails.
    pub fn behind(&self) -> Result<bool> {
        let head = self.store.change_head()?.0;
        Ok(head > self.indexed_head.load(Ordering::SeqCst) && !self.is_busy())
    }

    /// Whether an index update was asked for and has not finished: digests
    /// wait for it, so they match the papers just harvested.
    pub fn is_busy(&self) -> bool {
        self.finished.load(Ordering::SeqCst) < self.requested.load(Ordering::SeqCst)
    }

    /// Starts the indexer thread.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start_indexer(
        self: &Arc<Self>,
        data_dir: DataDir,
        config: Config,
        options: IndexerOptions,
    ) -> Result<JoinHandle<()>> {
        let (tx, rx) = channel();
        if options.build_now {
            self.requested.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(());
        }
        if let Ok(mut wake) = self.wake.lock() {
            *wake = Some(tx);
        }
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("indexer".into())
            .spawn(move || me.indexer_loop(&rx, &data_dir, &config, options))
            .context("starting the indexer thread")
    }

    /// Stops the indexer after its current run.
    pub fn stop_indexer(&self) {
        if let Ok(mut wake) = self.wake.lock() {
            *wake = None;
        }
    }

    fn indexer_loop(
        &self,
        rx: &Receiver<()>,
        data_dir: &DataDir,
        config: &Config,
        options: IndexerOptions,
    ) {
        while rx.recv().is_ok() {
            let target = self.requested.load(Ordering::SeqCst);
            // Coalesce requests that arrived while waiting.
            while rx.try_recv().is_ok() {}
            if let Err(e) = self.update(data_dir, config, options) {
                tracing::error!("updating the search indexes failed: {e:#}");
            }
            self.finished.fetch_max(target, Ordering::SeqCst);
        }
    }

    fn update(&self, data_dir: &DataDir, config: &Config, options: IndexerOptions) -> Result<()> {
        let progress_bar = options.progress_bar;
        let store = Arc::clone(&self.store);
        // Read before indexing: a change made meanwhile lies beyond it.
        let head = store.change_head()?.0;
        let lexical =
            paperhub_search::LexicalIndex::open_or_create(&indexing::lexical_dir(data_dir))?;
        let indexed = indexing::update_lexical(store.as_ref(), &lexical, false, &mut |_| {})?;
        self.indexed_head.fetch_max(head, Ordering::SeqCst);
        if indexed > 0 {
            tracing::info!("indexed {indexed} new or changed papers");
            eprintln!("indexed {indexed} new or changed papers");
            // Show the new papers to keyword search before embedding them.
            self.swap(data_dir, config)?;
        }
        if !options.embed {
            return Ok(());
        }
        let Some(dir) = crate::models::locate(&config.embedding, data_dir) else {
            return Ok(());
        };
        let embedder = crate::models::load(&config.embedding, &dir)?;
        let mut vectors = crate::retrieval::open_vectors(data_dir, &embedder)?;
        // Rounds that double in size, newest papers first, each followed by
        // a swap: search turns hybrid for the newest papers within the first
        // round instead of after the whole backfill (days at full arXiv
        // size), and a swap's reload stays small beside the round before it.
        let waiting = paperhub_store::CatalogStore::count_papers(store.as_ref())?
            .saturating_sub(vectors.len() as u64);
        self.progress.done.store(0, Ordering::Relaxed);
        self.progress.total.store(waiting, Ordering::Relaxed);
        let bar = (progress_bar && waiting > 0)
            .then(|| crate::progress::progress_bar(waiting, "embedding"));
        let mut round = FIRST_ROUND;
        let mut embedded = 0u64;
        loop {
            let result = indexing::update_vectors(
                store.as_ref(),
                &mut vectors,
                &embedder,
                config.embedding.threads,
                indexing::VectorRun {
                    since: None,
                    limit: Some(round),
                },
                &mut |done, _| {
                    self.progress.building.store(true, Ordering::Relaxed);
                    self.progress.done.store(embedded + done, Ordering::Relaxed);
                    if let Some(bar) = &bar {
                        bar.set_position(embedded + done);
                    }
                },
            );
            let report = match result {
                Ok(report) => report,
                Err(e) => {
                    self.progress.building.store(false, Ordering::Relaxed);
                    return Err(e);
                }
            };
            if embedded == 0 {
                self.progress.total.store(report.waiting, Ordering::Relaxed);
                if let Some(bar) = &bar {
                    bar.set_length(report.waiting);
                }
            }
            embedded += report.embedded;
            if report.embedded > 0 {
                self.swap(data_dir, config)?;
            }
            if report.backfill.is_none() || report.embedded == 0 {
                break;
            }
            round = round.saturating_mul(2);
        }
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        self.progress.building.store(false, Ordering::Relaxed);
        tracing::info!("embedded {embedded} new or changed papers");
        if progress_bar && embedded > 0 {
            eprintln!("Semantic index ready: {embedded} papers embedded; search is hybrid now.");
        }
        Ok(())
    }

    fn swap(&self, data_dir: &DataDir, config: &Config) -> Result<()> {
        let fresh = Arc::new(Retriever::open(data_dir, config)?);
        if let Ok(mut current) = self.current.write() {
            *current = fresh;
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
