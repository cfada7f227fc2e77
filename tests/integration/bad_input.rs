//! Bad input gets one clear sentence, no panic, and never damages what is stored.

use std::io::Write;

use crate::util::{TestDir, fixture, int, read_text};

/// A catalog with the 03-21 listing in it, and its paper count.
fn seeded() -> (TestDir, u64) {
    let t = TestDir::new();
    let (summary, code, _) = t.import(&[&fixture("listings/2025-03-21.jsonl")]);
    assert_eq!(code, 0);
    (t, int(&summary, "new"))
}

#[test]
fn corrupted_lines_are_reported_by_number_and_the_rest_imported() {
    let t = TestDir::new();
    let good = read_text(&fixture("listings/2025-03-21.jsonl"));
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    let total = lines.len();
    lines[4] = "{\"id\": \"2503.99999\", \"title\": ".into(); // truncated JSON
    lines[9] = lines[9].replace("\"id\": \"", "\"id\": \"not-an-id-"); // invalid id
    lines[14] = "{\"id\": \"2503.99998\", \"summary\": \"no title\"}".into(); // missing title
    lines[19] = "\u{0}\u{1}garbage".into();
    let path = t.file("2025-03-21.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();

    let (summary, code, stderr) = t.import(&[&path]);
    assert_eq!(code, 0, "good lines were imported, so success: {stderr}");
    assert_eq!(int(&summary, "skipped"), 4);
    assert_eq!(int(&summary, "records"), (total - 4) as u64);
    assert_eq!(int(&summary, "new"), t.count());
    for (line, reason) in [
        (5, "invalid JSON"),
        (10, "invalid arXiv id"),
        (15, "missing required field 'title'"),
        (20, "invalid JSON"),
    ] {
        let expected = format!("2025-03-21.jsonl: line {line}: ");
        let hit = stderr.lines().find(|l| l.contains(&expected));
        assert!(
            hit.is_some_and(|l| l.contains(reason)),
            "line {line} should be reported with '{reason}':\n{stderr}"
        );
    }
    assert_eq!(summary["skipped_by_reason"]["invalid JSON"], 2);

    // --strict turns any skip into exit code 1, still importing the good lines.
    let t2 = TestDir::new();
    let out = t2
        .cmd()
        .args(["import", "--strict"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(t2.count(), t.count());
}

#[test]
fn truncated_gzip_keeps_whole_records_and_says_so() {
    let (t, before) = seeded();
    let gz = std::fs::read(fixture("listings/2025-03-18.jsonl.gz")).unwrap();
    let path = t.file("2025-03-18.jsonl.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    let (summary, _, stderr) = t.import(&[&path]);
    assert!(
        stderr.contains("2025-03-18.jsonl.gz: read failed after"),
        "{stderr}"
    );
    assert_eq!(int(&summary, "failed_inputs"), 1);
    // Every stored paper is whole: the store reads back without error.
    let store = t.store();
    assert!(t.count() >= before);
    assert_eq!(store.stats().unwrap().papers, t.count());
}

#[test]
fn empty_binary_unknown_and_missing_inputs() {
    let (t, before) = seeded();
    let empty = t.file("empty.jsonl");
    std::fs::write(&empty, b"").unwrap();
    let binary = t.file("binary.json");
    std::fs::write(
        &binary,
        (0u8..=255).cycle().take(10_000).collect::<Vec<_>>(),
    )
    .unwrap();
    let csv = t.file("papers.json");
    std::fs::write(&csv, "id,title\n2101.00001,x\n").unwrap();

    for (path, sentence) in [
        (&empty, "empty.jsonl: the file is empty"),
        (
            &binary,
            "binary.json: this looks like a binary file, not arXiv metadata",
        ),
        (&csv, "papers.json: unrecognised format"),
    ] {
        let (_, code, stderr) = t.import(&[path]);
        assert_eq!(code, 1, "nothing imported must exit 1: {stderr}");
        assert!(
            stderr.contains(sentence),
            "expected '{sentence}' in:\n{stderr}"
        );
        assert!(
            stderr.contains("error: nothing could be imported"),
            "{stderr}"
        );
        assert_eq!(t.count(), before);
    }

    let missing = t.file("no/such/file.jsonl");
    let out = t.cmd().arg("import").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read") && stderr.contains("no/such/file.jsonl"),
        "{stderr}"
    );
    assert_eq!(t.count(), before);
}

#[test]
fn a_single_100_mb_line_is_skipped_in_bounded_memory() {
    let (t, before) = seeded();
    let path = t.file("huge.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(b"{\"id\": \"2501.00001\", \"title\": \"")
            .unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\"}\n").unwrap();
        let good = read_text(&fixture("listings/2025-03-19.jsonl"));
        f.write_all(good.lines().next().unwrap().as_bytes())
            .unwrap();
        f.write_all(b"\n").unwrap();
    }
    let (summary, code, stderr) = t.import(&[&path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("huge.jsonl: line 1: record is"), "{stderr}");
    assert!(stderr.contains("over the 16777216-byte limit"), "{stderr}");
    assert_eq!(int(&summary, "skipped"), 1);
    assert_eq!(int(&summary, "new"), 1);
    assert_eq!(t.count(), before + 1);
}

#[test]
fn malformed_xml_record_is_skipped_and_the_rest_imported() {
    let t = TestDir::new();
    let xml = std::fs::read_to_string(fixture("oai-pmh/ListRecordsResponse.xml")).unwrap();
    let broken = xml.replacen("</title>", "</titel>", 1);
    let path = t.file("broken.xml");
    std::fs::write(&path, &broken).unwrap();
    let (summary, code, stderr) = t.import(&[&path]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(int(&summary, "skipped"), 1);
    assert!(
        stderr.contains("broken.xml: line ") && stderr.contains("malformed XML"),
        "{stderr}"
    );
    assert_eq!(int(&summary, "new"), 5);
}
