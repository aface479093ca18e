//! Diagnostics on stderr: `tool: message`, filtered by `-q` / `-v`. stdout
//! carries only records, so everything a human should read goes here.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI8, Ordering};

static TOOL: OnceLock<&'static str> = OnceLock::new();
/// -1 quiet, 0 normal, 1 and up verbose.
static LEVEL: AtomicI8 = AtomicI8::new(0);

/// Sets the tool name that prefixes every line and the verbosity.
pub fn init(tool: &'static str, quiet: bool, verbose: u8) {
    let _ = TOOL.set(tool);
    let level = if quiet {
        -1
    } else {
        verbose.min(i8::MAX as u8) as i8
    };
    LEVEL.store(level, Ordering::Relaxed);
}

/// True when `-v` was given at least `level` times.
pub fn verbose(level: i8) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level
}

/// True when progress may be drawn: not quiet, and stderr is a terminal.
pub fn progress_enabled() -> bool {
    LEVEL.load(Ordering::Relaxed) >= 0 && std::io::stderr().is_terminal()
}

/// Prints one line unconditionally (errors).
pub fn error(args: fmt::Arguments<'_>) {
    emit("error: ", args);
}

/// Prints one line unless `-q` (problems that did not stop the run).
pub fn warn(args: fmt::Arguments<'_>) {
    if verbose(0) {
        emit("warning: ", args);
    }
}

/// Prints one line with `-v` (what the tool is doing).
pub fn info(args: fmt::Arguments<'_>) {
    if verbose(1) {
        emit("", args);
    }
}

fn emit(label: &str, args: fmt::Arguments<'_>) {
    let tool = TOOL.get().copied().unwrap_or("secops");
    // One write per line, so lines from parallel workers never interleave.
    let line = format!("{tool}: {label}{args}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `warn!("...")`: a warning on stderr unless `-q`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::diag::warn(format_args!($($arg)*)) };
}

/// `info!("...")`: a progress note on stderr with `-v`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::diag::info(format_args!($($arg)*)) };
}
