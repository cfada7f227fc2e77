//! Progress bars for long work (embedding, model downloads): drawn on a
//! terminal, invisible when stderr is a file or a pipe.
//!
//! A leaf module, so the command line, the indexer thread and the model
//! fetcher share one look without depending on each other.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn hidden_unless_terminal() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A progress bar of `total` steps with an ETA on a terminal, invisible
/// otherwise; `template` is indicatif's, after the bar.
pub fn progress_bar(total: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), hidden_unless_terminal());
    bar.set_style(
        ProgressStyle::with_template(&format!("{{spinner}} [{{bar:30}}] {template}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}
