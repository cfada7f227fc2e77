//! Hugging Face's own Python client, `huggingface_hub` (installed by
//! `scripts/install-hf-client`), pointed at a live hub: every paper call,
//! with contents checked by `scripts/hf-client-check.py`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::abuse::{Live, csrf_field, sign_up};

/// A request with the session cookie and CSRF header, through `live`.
fn api(live: &Live, method: &str, target: &str, session: &str, csrf: &str, body: &str) -> u16 {
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Cookie: ph_session={session}\r\nX-CSRF-Token: {csrf}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    live.raw(request.as_bytes()).0
}

#[test]
fn huggingface_hubs_own_client_works_against_the_hub() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/hf-venv/bin/python");
    assert!(
        python.exists(),
        "no huggingface_hub: run scripts/install-hf-client (scripts/test does)"
    );
    let live = Live::start(&[]);
    let session = sign_up(&live, "ada");
    let settings = live.raw(
        format!("GET /settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: ph_session={session}\r\n\r\n")
            .as_bytes(),
    );
    let csrf = csrf_field(&settings.2);
    let (voted, submitted) = ("2503.15621", "2503.15625");
    assert_eq!(
        api(
            &live,
            "PUT",
            &format!("/api/v1/papers/{voted}/vote"),
            &session,
            &csrf,
            ""
        ),
        200
    );
    assert_eq!(
        api(
            &live,
            "POST",
            "/api/v1/papers",
            &session,
            &csrf,
            &format!(r#"{{"id": "{submitted}"}}"#)
        ),
        201
    );
    let (_, _, info) = live.get(&format!("/api/v1/papers/{voted}"));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let facts = json!({
        "day": "2025-03-21",
        "week": "2025-W12",
        "month": "2025-03",
        "voted": { "id": voted, "title": info["paper"]["title"] },
        "submitted": { "id": submitted },
        "submitter": "ada",
        "missing": "2503.99999",
        // Its comments field: "Page:https://freedomgu.github.io/DiffPortrait360
        // Code:https://github.com/FreedomGu/DiffPortrait360/".
        "linked": {
            "id": "2503.15667",
            "project_page": "https://freedomgu.github.io/DiffPortrait360",
            "github_repo": "https://github.com/FreedomGu/DiffPortrait360",
        },
    });
    let out = Command::new(python)
        .arg(root.join("scripts/hf-client-check.py"))
        .arg(format!("http://{}", live.addr))
        .arg(facts.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("ok "),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("huggingface_hub: {stdout}");
}
