//! Finds a paper's project page in its abstract or comments field.
//!
//! Authors write `Project page: https://x.github.io/`, `Webpage:
//! https://…`, `project page is available at x.github.io`, or just drop a
//! `*.github.io` link. A labelled link wins, whatever its host (some label
//! a GitHub repository as their project page). Without a label, only hosts
//! that serve project sites count (GitHub/GitLab Pages, Google Sites,
//! Vercel, Netlify, Cloudflare Pages): a bare link to a dataset or a
//! company is not a project page. Links to arXiv itself never are.

use std::sync::LazyLock;

use regex::Regex;

/// A label, then "is available at", "can be found at", ":" and the like,
/// then the link (scheme optional).
static LABELLED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:project\s*(?:page|website|site|homepage)|web\s*page|website|homepage|demo\s*page)s?\b[^a-z0-9]{0,4}(?:(?:is|are|will\s+be)\s+)?(?:(?:available|released|hosted|found|accessible)\s+)?(?:(?:at|on|in|via|under)(?:\s*:\s*|\s+))?[:\-]?\s*((?:https?://)?(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s<>()\[\]{}\x22']*)?)",
    )
    .ok()
});

/// Any link (scheme optional) on a host that serves project sites.
static SITE_LINK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)((?:https?://)?(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:github\.io|gitlab\.io|vercel\.app|netlify\.app|pages\.dev)(?:/[^\s<>()\[\]{}\x22']*)?|https?://sites\.google\.com/[^\s<>()\[\]{}\x22']+)",
    )
    .ok()
});

/// Cheap substrings one of which every candidate text contains.
const HINTS: &[&str] = &[
    "page", "Page", "PAGE", "site", "Site", "SITE", ".io", ".app", ".dev",
];

/// The canonical URL of the project page named in `texts`, if any.
pub fn find_project_url<'a>(texts: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
    let candidates = |re: &Option<Regex>| -> Option<String> {
        let re = re.as_ref()?;
        for text in texts.clone() {
            if !HINTS.iter().any(|h| text.contains(h)) {
                continue;
            }
            let text = text.replace("\\_", "_").replace("\\~", "~");
            for caps in re.captures_iter(&text) {
                if let Some(url) = caps.get(1).and_then(|m| canonical(m.as_str())) {
                    return Some(url);
                }
            }
        }
        None
    };
    candidates(&LABELLED).or_else(|| candidates(&SITE_LINK))
}

/// `raw` with a scheme, without trailing punctuation; none for arXiv's own
/// links or something that is no host.
fn canonical(raw: &str) -> Option<String> {
    let trimmed = raw.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '*', '`']);
    let url = if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let host = url
        .split("://")
        .nth(1)?
        .split('/')
        .next()?
        .to_ascii_lowercase();
    let arxiv = host == "arxiv.org" || host.ends_with(".arxiv.org");
    (!arxiv && host.contains('.') && !host.starts_with('.') && url.len() <= 300).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_links_from_real_abstracts() {
        for (text, want) in [
            (
                "Project page: https://mmsearch-plus.github.io",
                "https://mmsearch-plus.github.io",
            ),
            (
                "project page is available at https://gennav.vercel.app/.",
                "https://gennav.vercel.app/",
            ),
            (
                "Project page:\nhttps://phd-pose.github.io/",
                "https://phd-pose.github.io/",
            ),
            (
                "project page can be found at:\ntree-diffusion-planner.github.io.",
                "https://tree-diffusion-planner.github.io",
            ),
            (
                "Project page:\n  https://sites.google.com/view/junha/lightweightcaptioner",
                "https://sites.google.com/view/junha/lightweightcaptioner",
            ),
            (
                "Webpage: https://modomodo-rl.github.io/",
                "https://modomodo-rl.github.io/",
            ),
            (
                "Project Page: https://github.com/camel-ai/owl",
                "https://github.com/camel-ai/owl",
            ),
            (
                "Project Page: https://vistorybench.github.io/, Code:\n  https://github.com/vistorybench/vist",
                "https://vistorybench.github.io/",
            ),
            (
                "project page: swing-bench.github.io",
                "https://swing-bench.github.io",
            ),
            ("Project page: inria.fr/proj", "https://inria.fr/proj"),
        ] {
            assert_eq!(find_project_url([text]).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn unlabelled_links_count_only_on_site_hosts() {
        assert_eq!(
            find_project_url(["Videos at https://foo.github.io/bar."]).as_deref(),
            Some("https://foo.github.io/bar")
        );
        assert_eq!(find_project_url(["Data at https://example.com/data"]), None);
        assert_eq!(
            find_project_url(["Code: https://github.com/a/b, 12 pages"]),
            None
        );
        assert_eq!(
            find_project_url(["project page will be available after the paper becomes public"]),
            None
        );
        assert_eq!(
            find_project_url(["Webpage: https://arxiv.org/abs/2501.00001"]),
            None
        );
        assert_eq!(find_project_url(["12 pages, 3 figures"]), None);
    }

    #[test]
    fn the_comments_field_is_read_after_the_abstract() {
        assert_eq!(
            find_project_url(["We propose a method.", "Project page: https://x.github.io"])
                .as_deref(),
            Some("https://x.github.io")
        );
    }
}
