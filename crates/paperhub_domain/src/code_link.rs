//! Finds the code repository a paper points to in its abstract or comments.
//!
//! Authors write `Code: https://github.com/org/repo.` or `available at
//! github.com/org/repo)` in free text. We keep the first repository link on a
//! code host (GitHub, GitLab), falling back to a Hugging Face page, because a
//! model card is less useful to a reader than source code.

use std::sync::LazyLock;

use regex::Regex;

static REPO_LINK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:https?://)?(?:www\.)?(github\.com|gitlab\.com|huggingface\.co)/((?:spaces/|datasets/)?[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9_.\-]+)",
    )
    .ok()
});

/// Substrings one of which every repository link contains, as SIMD searchers.
static HOST_HINTS: LazyLock<Vec<memchr::memmem::Finder<'static>>> = LazyLock::new(|| {
    [
        "ithub",
        "ITHUB",
        "itlab",
        "ITLAB",
        "uggingface",
        "UGGINGFACE",
    ]
    .iter()
    .map(|h| memchr::memmem::Finder::new(h.as_bytes()))
    .collect()
});

/// Returns the canonical `https://` URL of the first code repository named in
/// `texts`, preferring GitHub/GitLab over Hugging Face.
pub fn find_code_url<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let re = REPO_LINK.as_ref()?;
    let mut fallback = None;
    for text in texts {
        // Most abstracts name no host; skip the regex for them (it dominated
        // parse time in bulk imports). The first letter is left out so
        // "GitHub" and "github" both match.
        if !HOST_HINTS.iter().any(|h| h.find(text.as_bytes()).is_some()) {
            continue;
        }
        // TeX sources sometimes escape underscores in URLs: \_ .
        let text = text.replace("\\_", "_");
        for caps in re.captures_iter(&text) {
            let host = caps.get(1)?.as_str().to_ascii_lowercase();
            let path = caps.get(2)?.as_str().trim_end_matches(['.', ',', ';', ':']);
            let path = path.strip_suffix(".git").unwrap_or(path);
            let url = format!("https://{host}/{path}");
            if host == "huggingface.co" {
                fallback.get_or_insert(url);
            } else {
                return Some(url);
            }
        }
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links() {
        assert_eq!(
            find_code_url(["Code is at https://github.com/foo/bar."]),
            Some("https://github.com/foo/bar".into())
        );
        assert_eq!(
            find_code_url(["(see github.com/Foo-Lab/bar_baz.git)"]),
            Some("https://github.com/Foo-Lab/bar_baz".into())
        );
        assert_eq!(
            find_code_url([
                "weights at https://huggingface.co/org/model",
                "code: https://gitlab.com/a/b"
            ]),
            Some("https://gitlab.com/a/b".into())
        );
        assert_eq!(
            find_code_url(["demo: https://huggingface.co/spaces/org/demo"]),
            Some("https://huggingface.co/spaces/org/demo".into())
        );
        assert_eq!(find_code_url(["https://foo.github.io/project"]), None);
        assert_eq!(find_code_url(["see github.com/ for more"]), None);
        assert_eq!(
            find_code_url(["https://github.com/a/my\\_repo"]),
            Some("https://github.com/a/my_repo".into())
        );
    }
}
