//! Where lines go: data to stdout, messages to stderr, and never a panic when the reader is gone.
//!
//! `println!` panics when stdout is a pipe whose reader has exited (`lettermerge status | head -1`).
//! A command whose output is data ([`data`]) then ends quietly with success, as ripgrep and just
//! do: the reader has all it wanted. Messages ([`message`]) and a running send's news ([`news`])
//! are dropped instead, so a closed terminal never stops letters half-way.
//!
//! Lines quote campaign files, recipients' data and servers' replies: every line printed here
//! shows control characters and bidirectional overrides escaped ([`crate::controls::escape`]),
//! so none can retitle, clear or rewrite the terminal. Only [`data_bytes`] writes bytes as they
//! are: a rendered letter, which has none ([`crate::template::clean`]).

use std::borrow::Cow;
use std::fmt::Arguments;
use std::io::{ErrorKind, Write};

use crate::controls::escape;

/// The line as it may be printed: formatted, with control characters escaped.
fn safe(line: Arguments<'_>) -> Cow<'_, str> {
    let text = match line.as_str() {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(line.to_string()),
    };
    match escape(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => Cow::Owned(escaped),
    }
}

/// Writes a line of data to stdout. When the reader has gone away, the process exits with
/// success at once: nothing this command would still print could be read.
pub fn data(line: Arguments<'_>) {
    let line = safe(line);
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Writes bytes as they are to stdout (a rendered letter); like [`data`] when the reader is gone.
pub fn data_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Writes a line to stdout that a running command gives as news (what goes next and when); lost
/// quietly when nobody reads it, for the command goes on.
pub fn news(line: Arguments<'_>) {
    let line = safe(line);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Writes a message to stderr, without the line break when `line_end` is false (a question);
/// lost quietly when stderr is closed.
pub fn message(text: Arguments<'_>, line_end: bool) {
    let text = safe(text);
    let mut err = std::io::stderr().lock();
    let _ = match line_end {
        true => writeln!(err, "{text}"),
        false => write!(err, "{text}").and_then(|()| err.flush()),
    };
}
