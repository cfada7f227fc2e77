//! `paperhub bench synth-vectors`: vectors for a full-size catalog without
//! embedding it (2.7 million abstracts take days on two cores).
//!
//! The synthetic snapshot (`scripts/make-synthetic-snapshot.py`) gives
//! paper `j` (in import order) the text of real listing paper `j mod n`.
//! Its vector here is that paper's real all-MiniLM-L6-v2 vector mixed with
//! two other real vectors and Gaussian noise, then normalised:
//!
//! `v_j = normalise(r[j mod n] + mix * normalise(r[a] + r[b]) + noise * g / sqrt(dims))`
//!
//! with `a` and `b` drawn at random per paper and `g` standard normal, all
//! from a fixed seed. Without the mix the 66 copies of each real vector
//! would be near-duplicates, which is not what 2.7 million distinct
//! papers look like. Whether the generated set is as hard for HNSW as the
//! real one is checked by `paperhub bench vectors` on both (recorded in
//! docs/BENCHMARKS.md). The output is a vectors exchange file for
//! `paperhub vectors import`, under the real vectors' model fingerprint.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use paperhub_search::VectorIndex;
use paperhub_search::vectors_file::Writer;

use crate::config::Config;
use crate::data_dir::DataDir;

/// Arguments of `paperhub bench synth-vectors`.
#[derive(Debug, clap::Args)]
pub struct SynthVectorsArgs {
    /// A vector index directory holding the real vectors
    /// (`<data dir>/index/vectors-<fingerprint>`).
    #[arg(long, value_name = "DIR")]
    pub real: PathBuf,
    /// The exchange file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Weight of the two other real vectors mixed in.
    #[arg(long, default_value_t = 0.5)]
    pub mix: f32,
    /// Norm of the noise.
    #[arg(long, default_value_t = 0.3)]
    pub noise: f32,
    /// Only the first N papers of the catalog (default: all).
    #[arg(long)]
    pub limit: Option<usize>,
    /// The listing directory the synthetic snapshot was made from: paper
    /// `j` then starts from the real vector of the listing paper whose text
    /// it has (the script's order: `*.jsonl` files sorted, first copy of
    /// each id), so hybrid search fuses matching text and vectors.
    #[arg(long, value_name = "DIR")]
    pub listings: Option<PathBuf>,
}

/// The listing ids in `make-synthetic-snapshot.py`'s order.
fn listing_ids(dir: &Path) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let record: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}: not JSON", file.display()))?;
            if let Some(id) = record["id"].as_str()
                && seen.insert(id.to_owned())
            {
                ids.push(id.to_owned());
            }
        }
    }
    Ok(ids)
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

fn read_real(dir: &Path) -> Result<VectorIndex> {
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("meta.json"))
            .with_context(|| format!("no vector index in {}", dir.display()))?,
    )?;
    let dims = meta["dims"].as_u64().context("meta.json: dims")? as usize;
    let model = meta["model"].as_str().context("meta.json: model")?;
    Ok(VectorIndex::open_or_create(dir, dims, model)?)
}

/// Runs the generator.
///
/// # Errors
/// The real index or the catalog cannot be read, or the file cannot be written.
pub fn synth_vectors(data_dir: &DataDir, config: &Config, args: &SynthVectorsArgs) -> Result<()> {
    let real = read_real(&args.real)?;
    let rows: Vec<std::borrow::Cow<'_, [f32]>> = match &args.listings {
        None => real.live_rows().map(|(_, v)| v).collect(),
        Some(dir) => {
            let ids = listing_ids(dir)?;
            let rows: Vec<std::borrow::Cow<'_, [f32]>> =
                ids.iter().filter_map(|id| real.vector(id)).collect();
            if rows.len() != ids.len() {
                bail!(
                    "{} of the {} listing papers have no vector in {}",
                    ids.len() - rows.len(),
                    ids.len(),
                    args.real.display()
                );
            }
            rows
        }
    };
    if rows.len() < 3 {
        bail!("{} holds too few vectors to mix", args.real.display());
    }
    let dims = real.dims();
    let store = crate::app::store::open(data_dir, &config.database)?;
    let mut keys = Vec::new();
    crate::indexing::for_each_changed_day(store.as_ref(), None, |c| keys.push(c.id.to_string()))?;
    keys.truncate(args.limit.unwrap_or(usize::MAX));
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut writer = Writer::start(
        BufWriter::with_capacity(1 << 20, file),
        real.model(),
        dims,
        &refs,
    )?;
    let mut rng = super::Rng(0x9E37_79B9_7F4A_7C15);
    let scale = args.noise / (dims as f32).sqrt();
    let mut other = vec![0.0f32; dims];
    let mut v = vec![0.0f32; dims];
    for j in 0..keys.len() {
        let (a, b) = (rng.below(rows.len()), rng.below(rows.len()));
        for d in 0..dims {
            other[d] = rows[a][d] + rows[b][d];
        }
        normalise(&mut other);
        let base = &rows[j % rows.len()];
        for d in 0..dims {
            v[d] = base[d] + args.mix * other[d] + scale * rng.normal();
        }
        normalise(&mut v);
        writer.row(&v)?;
    }
    writer.finish()?;
    println!(
        "Wrote {} vectors ({} dimensions, model {}) mixed from {} real ones to {}.",
        keys.len(),
        dims,
        real.model(),
        rows.len(),
        args.out.display()
    );
    Ok(())
}
