//! `--json`: machine-readable output for programs that drive the CLI (the Blender add-on, scripts).
//!
//! With the global `--json` flag every command writes its results to stdout as JSON documents, one per line
//! (JSON Lines), each an object with a `"kind"` naming its shape; diagnostics stay on stderr as text. A
//! failure is the document `{"kind":"error","error":"<the text message>"}` on stdout (the same words as without
//! `--json`) and exit status 1. The shapes are listed in docs/cli.md; fields are only ever added.
//!
//! Amounts are decimal strings of the token's smallest unit (wei), so that no reader loses digits to
//! floating point; times are unix seconds; addresses are lowercase 0x-hex.

use serde_json::Value;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

/// Turns JSON output on for the rest of the process.
pub(crate) fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether `--json` was given.
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Writes one document as one line of stdout and flushes it, so that a reader following a pipe sees each
/// document as soon as it is known (`job status --watch`).
///
/// When the reader has gone (the pipe is closed), nobody can learn anything more from this process: it
/// exits with status 141 (as a shell reports SIGPIPE) instead of watching on for no one.
pub(crate) fn emit(doc: &Value) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{doc}").and_then(|()| out.flush()).is_err() {
        std::process::exit(141);
    }
}

/// Prints `text` as a line of stdout unless `--json` is on, in which case `doc` is emitted instead.
pub(crate) fn say(text: impl FnOnce() -> String, doc: impl FnOnce() -> Value) {
    if on() {
        emit(&doc());
    } else {
        println!("{}", text());
    }
}

/// The error document of a failed command.
pub(crate) fn error(message: &str) -> Value {
    serde_json::json!({ "kind": "error", "error": message })
}
