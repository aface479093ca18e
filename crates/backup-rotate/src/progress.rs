//! The progress bar on a terminal while `create` reads the sources: bytes
//! read, files stored and the rate, so a long backup run by hand shows
//! life (cron runs have no terminal and get none).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar when `secops_common::diag::progress_enabled()`, else nothing.
#[derive(Clone)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new() -> Progress {
        if !secops_common::diag::progress_enabled() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} backing up: {binary_bytes} read ({binary_bytes_per_sec}, {elapsed}), {msg}",
            )
            .expect("the template is valid"),
        );
        Progress(Some(bar))
    }

    pub fn read(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    /// Another file stored; `files` in all.
    pub fn stored(&self, files: u64) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!("{files} files"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
