//! Problems found in a campaign, reported the way a person can act on them: the file, line and
//! column with a caret under the spot, the recipient concerned, and what to do about it.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

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
        match &self.location {
            Some(loc) => write!(f, "{}: {}", loc.file.display(), self.message)?,
            None => write!(f, "{}", self.message)?,
        }
        if let Some(id) = &self.recipient {
            write!(f, " (recipient `{id}`)")?;
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
}

/// Renders problems as text with source snippets, reading each file once.
#[derive(Default)]
pub struct Reporter {
    files: SimpleFiles<String, String>,
    ids: HashMap<PathBuf, usize>,
}

impl Reporter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a file's text known without reading it from disk (for text already in memory).
    pub fn add_source(&mut self, path: &Path, text: String) {
        let id = self.files.add(path.display().to_string(), text);
        self.ids.insert(path.to_path_buf(), id);
    }

    fn file_id(&mut self, path: &Path) -> Option<usize> {
        if let Some(id) = self.ids.get(path) {
            return Some(*id);
        }
        // Only what the campaign would read itself: never a pipe or a device.
        let text = crate::input::read_text(path, crate::input::RECIPIENTS_LIMIT).ok()?;
        self.add_source(path, text);
        self.ids.get(path).copied()
    }

    /// The 1-based line and column a problem points at, when it points inside a file.
    pub fn line_column(&mut self, problem: &Problem) -> Option<(usize, usize)> {
        use codespan_reporting::files::Files;
        let loc = problem.location.as_ref()?;
        if loc.span.is_empty() && loc.span.start == 0 {
            return None;
        }
        let id = self.file_id(&loc.file)?;
        let place = self.files.location(id, loc.span.start).ok()?;
        Some((place.line_number, place.column_number))
    }

    /// The problem as the text a person reads: `error: …` then `┌─ file:line:col` and a caret.
    pub fn render(&mut self, problem: &Problem) -> String {
        let mut diagnostic = match problem.severity {
            Severity::Error => Diagnostic::error(),
            Severity::Warning => Diagnostic::warning(),
        }
        .with_message(&problem.message);
        let mut notes = Vec::new();
        if let Some(id) = &problem.recipient {
            notes.push(format!("recipient: {id}"));
        }
        if let Some(hint) = &problem.hint {
            notes.push(format!("hint: {hint}"));
        }
        let mut file_only = None;
        if let Some(loc) = &problem.location {
            match self.file_id(&loc.file) {
                Some(id) if !(loc.span.is_empty() && loc.span.start == 0) => {
                    let text = self.files.get(id).map(|f| f.source().len()).unwrap_or(0);
                    let start = loc.span.start.min(text);
                    let end = loc.span.end.clamp(start, text);
                    let label = Label::primary(id, start..end)
                        .with_message(problem.label.clone().unwrap_or_default());
                    diagnostic = diagnostic.with_labels(vec![label]);
                }
                _ => file_only = Some(loc.file.display().to_string()),
            }
        }
        if let Some(file) = file_only {
            notes.insert(0, format!("in {file}"));
        }
        let diagnostic = diagnostic.with_notes(notes);
        let config = term::Config::default();
        term::emit_into_string(&config, &self.files, &diagnostic)
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
