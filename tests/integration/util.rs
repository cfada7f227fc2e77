//! Helpers: a temporary data directory and the `paperhub` binary bound to it.

use std::io::Read;
use std::path::{Path, PathBuf};

use paperhub::app::store::SharedStore;
use serde_json::Value;

/// The real all-MiniLM-L6-v2 directory the tests use: `$PAPERHUB_TEST_MODEL`,
/// else `target/models/all-MiniLM-L6-v2` (both filled by scripts/fetch-test-model).
pub fn test_model_dir() -> PathBuf {
    let dir = std::env::var_os("PAPERHUB_TEST_MODEL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/models/all-MiniLM-L6-v2"),
        PathBuf::from,
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "no test model in {}: run scripts/fetch-test-model (scripts/test does)",
        dir.display()
    );
    dir
}

/// A fresh data directory, deleted at the end of the test.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Path for a scratch file inside the test directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `paperhub --data-dir <this>` ready for arguments.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("paperhub").unwrap();
        cmd.arg("--data-dir").arg(self.data_dir());
        cmd.env_remove("PAPERHUB_DATA_DIR");
        // The real model from scripts/fetch-test-model; no test downloads it,
        // and the model sources point at a closed loopback port.
        cmd.env("PAPERHUB__EMBEDDING__MODEL_DIR", test_model_dir());
        cmd.env("PAPERHUB__EMBEDDING__HUB_URL", "http://127.0.0.1:9");
        cmd.env("PAPERHUB__EMBEDDING__PYPI_URL", "http://127.0.0.1:9");
        cmd
    }

    /// Runs `import --json PATHS`; returns the summary and the exit code.
    pub fn import(&self, paths: &[&Path]) -> (Value, i32, String) {
        let out = self
            .cmd()
            .arg("import")
            .arg("--json")
            .args(paths)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (summary, out.status.code().unwrap_or(-1), stderr)
    }

    pub fn store(&self) -> SharedStore {
        paperhub::app::store::open_sqlite(&self.data_dir().join("paperhub.sqlite3")).unwrap()
    }

    pub fn count(&self) -> u64 {
        self.store().count_papers().unwrap()
    }
}

/// A path under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A path under the repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Reads a file, decompressing .gz and .zst, for independent checks.
pub fn read_text(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap();
    let mut out = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut out)
            .unwrap();
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::Decoder::new(&raw[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
    } else {
        out = String::from_utf8(raw).unwrap();
    }
    out
}

/// The integer field `name` of a JSON summary.
pub fn int(summary: &Value, name: &str) -> u64 {
    summary[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer {name} in {summary}"))
}
