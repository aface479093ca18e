//! The progress bar on a terminal: bytes hashed of bytes found so far, so
//! a long init shows life (AIDE's users wait hours without a sign).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar when `secops_common::diag::progress_enabled()`, else nothing.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar when `wanted` and the terminal allows it.
    pub fn new(wanted: bool) -> Progress {
        if !wanted || !secops_common::diag::progress_enabled() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} hashing {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {elapsed}) {msg}",
            )
            .expect("the template is valid"),
        );
        Progress(Some(bar))
    }

    /// A file of `bytes` queued for hashing.
    pub fn found(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc_length(bytes);
        }
    }

    pub fn hashed(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
