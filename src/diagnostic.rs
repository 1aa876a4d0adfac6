//! Problems found in a campaign, reported the way a person can act on them: the file, line and
//! column with a caret under the spot, the recipient concerned, and what to do about it.
//!
//! Everything a problem says may quote a file, and files come from strangers: what is printed
//! shows control characters escaped and cuts names of absurd length ([`quote`], [`shown`]), and a
//! snippet shows a window of a long line, never the whole of it.

mod excerpt;
mod quote;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::term;

use excerpt::{Excerpt, Source};
pub use quote::{quote, quote_value, shown, thousands, Quoted};

/// How serious a problem is: errors stop a letter, warnings only draw attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a campaign file: a byte range of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub span: Range<usize>,
}

/// One problem with a campaign, with everything a person needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    /// The label under the caret, when it says more than the message.
    pub label: Option<String>,
    pub recipient: Option<String>,
    pub hint: Option<String>,
}

impl Problem {
    pub fn error(message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            message: message.into(),
            location: None,
            label: None,
            recipient: None,
            hint: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(message)
        }
    }

    pub fn at(mut self, file: impl Into<PathBuf>, span: Range<usize>) -> Self {
        self.location = Some(Location {
            file: file.into(),
            span,
        });
        self
    }

    /// Points at a whole file, without a place in it.
    pub fn in_file(self, file: impl Into<PathBuf>) -> Self {
        self.at(file, 0..0)
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn recipient(mut self, id: impl Into<String>) -> Self {
        self.recipient = Some(id.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = shown(&self.message);
        match &self.location {
            Some(loc) => write!(f, "{}: {message}", shown(&loc.file.display().to_string()))?,
            None => write!(f, "{message}")?,
        }
        if let Some(id) = &self.recipient {
            write!(f, " (recipient {})", quote(id))?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// Byte offset of a 1-based line and column (counted in characters) in `text`.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    let col = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    line_start + col
}

/// 1-based line number of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// 1-based line numbers of many offsets in one text, its line starts found once (where
/// [`line_of`] counts from the start each time).
pub struct LineIndex(Vec<usize>);

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex(starts)
    }

    /// The line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }

    /// The byte offset where a 1-based line starts (for a line past the last, the last's).
    pub fn start(&self, line: usize) -> usize {
        self.0[line.clamp(1, self.0.len()) - 1]
    }

    /// Where the line after `line` starts, when there is one.
    pub fn start_of_next(&self, line: usize) -> Option<usize> {
        self.0.get(line).copied()
    }
}

/// Renders problems as text with source snippets, reading each file once.
#[derive(Default)]
pub struct Reporter {
    files: Vec<Source>,
    ids: HashMap<PathBuf, usize>,
}

impl Reporter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a file's text known without reading it from disk (for text already in memory).
    pub fn add_source(&mut self, path: &Path, text: String) {
        self.files.push(Source::new(text));
        self.ids.insert(path.to_path_buf(), self.files.len() - 1);
    }

    /// The text of a problem's file, read once: only what the campaign would read itself,
    /// never a pipe or a device.
    fn source(&mut self, path: &Path) -> Option<&Source> {
        if !self.ids.contains_key(path) {
            let text = crate::input::read_text(path, crate::input::RECIPIENTS_LIMIT).ok()?;
            self.add_source(path, text);
        }
        self.ids.get(path).map(|&id| &self.files[id])
    }

    /// The 1-based line and column a problem points at, when it points inside a file.
    pub fn line_column(&mut self, problem: &Problem) -> Option<(usize, usize)> {
        let loc = problem.location.as_ref()?;
        if loc.span.is_empty() && loc.span.start == 0 {
            return None;
        }
        let source = self.source(&loc.file)?;
        (loc.span.start <= source.text.len()).then(|| source.place(loc.span.start))
    }

    /// The problem as the text a person reads: `error: …` then `┌─ file:line:col` and a caret
    /// under a snippet of the line. Text from files is shown escaped and cut (see the module).
    pub fn render(&mut self, problem: &Problem) -> String {
        let mut diagnostic = match problem.severity {
            Severity::Error => Diagnostic::error(),
            Severity::Warning => Diagnostic::warning(),
        }
        .with_message(shown(&problem.message));
        let mut notes = Vec::new();
        if let Some(id) = &problem.recipient {
            notes.push(format!("recipient: {}", shown(id)));
        }
        if let Some(hint) = &problem.hint {
            notes.push(format!("hint: {}", shown(hint)));
        }
        let mut excerpt = Excerpt::none();
        if let Some(loc) = &problem.location {
            let name = loc.file.display().to_string();
            match self.source(&loc.file) {
                Some(source) if !(loc.span.is_empty() && loc.span.start == 0) => {
                    let (shown_lines, span) = Excerpt::of(&name, source, loc.span.clone());
                    excerpt = shown_lines;
                    let label = Label::primary((), span)
                        .with_message(shown(problem.label.as_deref().unwrap_or_default()));
                    diagnostic = diagnostic.with_labels(vec![label]);
                }
                _ => notes.insert(0, format!("in {}", shown(&name))),
            }
        }
        let diagnostic = diagnostic.with_notes(notes);
        let config = term::Config::default();
        term::emit_into_string(&config, &excerpt, &diagnostic)
            .unwrap_or_else(|_| format!("{problem}\n"))
    }
}

/// "1 letter", "2 letters": counts that read as English.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else if let Some(stem) = word.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else {
        format!("{n} {word}s")
    }
}

/// "a, b, c and 9 more": the first `shown` of a list that may be thousands long.
pub fn first_of<T: std::fmt::Display>(
    items: impl ExactSizeIterator<Item = T>,
    shown: usize,
) -> String {
    let total = items.len();
    let mut list = items
        .take(shown)
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if total > shown {
        list.push_str(&format!(" and {} more", total - shown));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_name_the_first_and_count_the_rest() {
        assert_eq!(first_of(["a", "b"].iter(), 3), "a, b");
        assert_eq!(first_of(["a", "b", "c"].iter(), 3), "a, b, c");
        assert_eq!(
            first_of(["a", "b", "c", "d", "e"].iter(), 3),
            "a, b, c and 2 more"
        );
    }

    #[test]
    fn offsets_round_trip_lines_and_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(offset_of(text, 1, 1), 0);
        assert_eq!(offset_of(text, 2, 3), 5);
        assert_eq!(offset_of(text, 3, 1), 8);
        assert_eq!(line_of(text, 5), 2);
        let index = LineIndex::new(text);
        for offset in 0..=text.len() {
            assert_eq!(index.line(offset), line_of(text, offset), "{offset}");
        }
    }

    #[test]
    fn report_shows_file_line_and_caret() {
        let mut reporter = Reporter::new();
        reporter.add_source(Path::new("r.toml"), "id = 1\nemail = \"x\"\n".into());
        let p = Problem::error("bad email")
            .at("r.toml", 15..18)
            .recipient("a")
            .hint("write name@example.org");
        let text = reporter.render(&p);
        assert!(text.contains("r.toml:2:9"), "{text}");
        assert!(text.contains("^^^"), "{text}");
        assert!(text.contains("recipient: a"), "{text}");
        assert!(text.contains("hint: write"), "{text}");
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(plural(1, "letter"), "1 letter");
        assert_eq!(plural(2, "letter"), "2 letters");
        assert_eq!(plural(3, "body"), "3 bodies");
    }
}
