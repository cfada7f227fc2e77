//! The other commands: `papers show`, `stats`, `--help`, data-dir resolution.

use serde_json::Value;

use crate::util::{TestDir, fixture, int};

#[test]
fn stats_json_has_totals_categories_months_and_last_import() {
    let t = TestDir::new();
    let (summary, _, _) = t.import(&[&fixture("snapshot/arxiv-metadata-oai-snapshot.json")]);
    let out = t.cmd().args(["stats", "--json"]).output().unwrap();
    assert!(out.status.success());
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(int(&stats, "papers"), 200);
    assert!(int(&stats["by_category"], "hep-ph") > 0);
    let months: u64 = stats["by_month"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(months, 200);
    assert!(int(&stats["by_month"], "2007-04") > 100);
    assert_eq!(stats["last_import"]["new"], summary["new"]);
    assert_eq!(stats["last_import"]["status"], "completed");

    let text = t.cmd().arg("stats").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("200 papers in "), "{text}");
}

#[test]
fn papers_show_accepts_any_id_shape_and_explains_misses() {
    let t = TestDir::new();
    t.import(&[&fixture("arxiv-api/id_list=1111.2011v2.xml")]);
    for id in [
        "1111.2011",
        "1111.2011v2",
        "arXiv:1111.2011",
        "https://arxiv.org/abs/1111.2011v1",
    ] {
        let out = t.cmd().args(["papers", "show", id]).output().unwrap();
        assert!(out.status.success(), "{id}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with("1111.2011v2  Quantum Criticality"),
            "{text}"
        );
        assert!(text.contains("https://arxiv.org/pdf/1111.2011"), "{text}");
    }
    let out = t
        .cmd()
        .args(["papers", "show", "2101.00001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not in the catalog"));
    let out = t
        .cmd()
        .args(["papers", "show", "2101.0001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2101 ids have 5 digits after the dot"),);
}

#[test]
fn help_explains_every_command() {
    let t = TestDir::new();
    let out = t.cmd().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["import", "papers", "stats", "demo", "bench", "--data-dir"] {
        assert!(help.contains(command), "{command} missing from --help");
    }
    let out = t.cmd().args(["import", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--json", "--strict", "--batch-size", ".gz", "stdin"] {
        assert!(help.contains(flag), "{flag} missing from import --help");
    }
}

#[test]
fn data_dir_comes_from_the_environment_or_xdg() {
    let t = TestDir::new();
    let env_dir = t.file("from-env");
    let mut cmd = assert_cmd::Command::cargo_bin("paperhub").unwrap();
    let out = cmd
        .env("PAPERHUB_DATA_DIR", &env_dir)
        .args(["import", "--json"])
        .arg(fixture("snapshot/arxiv-metadata-oai-snapshot.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(env_dir.join("paperhub.sqlite3").exists());

    let xdg = t.file("xdg");
    let mut cmd = assert_cmd::Command::cargo_bin("paperhub").unwrap();
    let out = cmd
        .env_remove("PAPERHUB_DATA_DIR")
        .env("XDG_DATA_HOME", &xdg)
        .args(["stats", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(xdg.join("paperhub/paperhub.sqlite3").exists());
}

/// The mode bits of `path` (permissions only).
#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The data directory and the catalog (with its `-wal` and `-shm`) are
/// private to their owner whatever the umask; a directory and database
/// left readable by others are tightened, with a warning. See: #13
#[cfg(unix)]
#[test]
fn the_data_directory_and_catalog_are_private_to_their_owner() {
    let t = TestDir::new();
    // Under umask 000 anything left to the default comes out world-writable.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .args(["import", "--json"])
        .arg(fixture("snapshot/arxiv-metadata-oai-snapshot.json"))
        .env_remove("PAPERHUB_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = t.data_dir().join("paperhub.sqlite3");
    assert_eq!(mode(&t.data_dir()), 0o700);
    assert_eq!(mode(&db), 0o600);
    // SQLite creates -wal and -shm while a connection is open (and removes
    // them at the last close), with the database file's mode.
    let store = t.store();
    for suffix in ["-wal", "-shm"] {
        let path = t.data_dir().join(format!("paperhub.sqlite3{suffix}"));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    drop(store);

    // What an older build left behind: readable by everyone.
    use std::os::unix::fs::PermissionsExt;
    let open = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    open(&t.data_dir(), 0o755);
    open(&db, 0o644);
    let out = t.cmd().args(["stats", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!((mode(&t.data_dir()), mode(&db)), (0o700, 0o600));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("readable by other users").count(),
        2,
        "one warning for the directory, one for the database: {stderr}"
    );
}
