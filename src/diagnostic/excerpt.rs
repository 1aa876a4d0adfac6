//! The lines of a file a problem's snippet shows, made safe to print: a long line is cut to a
//! window around the spot, control characters are escaped, and codespan-reporting is handed these
//! few lines instead of the whole file, with the real line and column to show.

use std::ops::Range;

use codespan_reporting::files::{Error, Files, Location};

use super::LineIndex;
use crate::controls::escape;

/// A line longer than this many characters is shown as a window of this many.
const LINE_SHOWN: usize = 120;
/// How many characters of a long line are shown before the spot.
const BEFORE: usize = 40;
/// A span over more lines than this is shown over its first this many.
const MAX_LINES: usize = 40;

/// A file's text with its line starts found once.
pub(super) struct Source {
    pub text: String,
    pub lines: LineIndex,
}

impl Source {
    pub fn new(text: String) -> Source {
        Source {
            lines: LineIndex::new(&text),
            text,
        }
    }

    /// The 1-based line and column (in characters) of a byte offset, as codespan-reporting
    /// counts them.
    pub fn place(&self, offset: usize) -> (usize, usize) {
        let offset = floor_boundary(&self.text, offset);
        let line = self.lines.line(offset);
        let start = self.lines.start(line);
        (line, self.text[start..offset].chars().count() + 1)
    }

    /// The byte range of a 1-based line, without its line end (LF or CR LF).
    fn line_range(&self, line: usize) -> Range<usize> {
        let start = self.lines.start(line);
        let end = self
            .lines
            .start_of_next(line)
            .map_or(self.text.len(), |next| next - 1);
        let end = match self.text[start..end].ends_with('\r') {
            true => end - 1,
            false => end,
        };
        start..end
    }
}

/// The few lines of a file that a snippet shows, cut and escaped (see the module).
pub(super) struct Excerpt {
    name: String,
    text: String,
    /// Where each line of `text` starts.
    starts: Vec<usize>,
    /// The real number of the first line.
    first_line: usize,
    /// The real line and column of the span's start.
    place: (usize, usize),
}

impl Excerpt {
    /// No file: for a problem without a place (codespan-reporting then reads nothing).
    pub fn none() -> Excerpt {
        Excerpt {
            name: String::new(),
            text: String::new(),
            starts: vec![0],
            first_line: 1,
            place: (1, 1),
        }
    }

    /// The lines of `source` under `span` (clamped to the text), and the span within them.
    pub fn of(name: &str, source: &Source, span: Range<usize>) -> (Excerpt, Range<usize>) {
        let text = &source.text;
        let start = floor_boundary(text, span.start.min(text.len()));
        let end = floor_boundary(text, span.end.clamp(start, text.len()));
        let first = source.lines.line(start);
        let last = source.lines.line(end).min(first + MAX_LINES - 1);
        let mut excerpt = Excerpt {
            name: escape(name).into_owned(),
            text: String::new(),
            starts: Vec::new(),
            first_line: first,
            place: source.place(start),
        };
        let mut label = 0..0;
        for line in first..=last {
            let range = source.line_range(line);
            // Beyond the last line shown, the span ends where that line does.
            let end = match line == last {
                true => end.clamp(range.start, range.end),
                false => range.end,
            };
            let start = start.clamp(range.start, range.end);
            let window = match (line == first, line == last) {
                (true, _) => window(text, range.clone(), start, BEFORE),
                (false, true) => window(text, range.clone(), end, LINE_SHOWN - BEFORE),
                (false, false) => window(text, range.clone(), range.start, 0),
            };
            excerpt.starts.push(excerpt.text.len());
            let out = &mut excerpt.text;
            if window.start > range.start {
                out.push('…');
            }
            let at = |i: usize| i.clamp(window.start, window.end);
            out.push_str(&escape(&text[window.start..at(start)]));
            if line == first {
                label.start = out.len();
            }
            out.push_str(&escape(&text[at(start)..at(end)]));
            if line == last {
                label.end = out.len();
            }
            out.push_str(&escape(&text[at(end)..window.end]));
            if window.end < range.end {
                out.push('…');
            }
            out.push('\n');
        }
        (excerpt, label)
    }
}

/// The part of the line `range` a snippet shows: all of a short line; of a long one,
/// [`LINE_SHOWN`] characters from `before` characters ahead of `focus`.
fn window(text: &str, range: Range<usize>, focus: usize, before: usize) -> Range<usize> {
    let line = &text[range.clone()];
    if line.len() <= LINE_SHOWN || line.chars().count() <= LINE_SHOWN {
        return range;
    }
    let start = match before {
        0 => focus,
        n => text[range.start..focus]
            .char_indices()
            .rev()
            .nth(n - 1)
            .map_or(range.start, |(i, _)| range.start + i),
    };
    let end = text[start..range.end]
        .char_indices()
        .nth(LINE_SHOWN)
        .map_or(range.end, |(i, _)| start + i);
    start..end
}

/// The nearest character boundary at or before `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl<'a> Files<'a> for Excerpt {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, (): ()) -> Result<&'a str, Error> {
        Ok(&self.name)
    }

    fn source(&'a self, (): ()) -> Result<&'a str, Error> {
        Ok(&self.text)
    }

    fn line_index(&'a self, (): (), byte_index: usize) -> Result<usize, Error> {
        Ok(self.starts.partition_point(|&s| s <= byte_index).max(1) - 1)
    }

    fn line_number(&'a self, (): (), line_index: usize) -> Result<usize, Error> {
        Ok(self.first_line + line_index)
    }

    /// The real place of the span, whatever was cut before it.
    fn location(&'a self, (): (), _byte_index: usize) -> Result<Location, Error> {
        Ok(Location {
            line_number: self.place.0,
            column_number: self.place.1,
        })
    }

    fn line_range(&'a self, (): (), line_index: usize) -> Result<Range<usize>, Error> {
        let start = *self.starts.get(line_index).ok_or(Error::LineTooLarge {
            given: line_index,
            max: self.starts.len().saturating_sub(1),
        })?;
        let end = self
            .starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(self.text.len());
        Ok(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(text: &str, span: Range<usize>) -> (String, Range<usize>, (usize, usize)) {
        let source = Source::new(text.to_string());
        let (excerpt, label) = Excerpt::of("f", &source, span);
        (excerpt.text, label, excerpt.place)
    }

    #[test]
    fn short_lines_are_shown_whole() {
        let (text, label, place) = excerpt("a = 1\nb = \"x\"\r\nc = 2\n", 10..13);
        assert_eq!(text, "b = \"x\"\n");
        assert_eq!(&text[label], "\"x\"");
        assert_eq!(place, (2, 5));
    }

    #[test]
    fn a_long_line_is_cut_around_the_spot_with_the_real_column() {
        let line = format!("{}XYZ{}\n", "a".repeat(500_000), "b".repeat(500_000));
        let (text, label, place) = excerpt(&line, 500_000..500_003);
        assert_eq!(&text[label], "XYZ");
        assert!(text.chars().count() < LINE_SHOWN + 4, "{}", text.len());
        assert!(text.starts_with('…') && text.ends_with("…\n"), "{text}");
        assert_eq!(place, (1, 500_001));
    }

    #[test]
    fn a_long_span_is_cut_too() {
        let line = format!("key = \"{}\"\n", "é".repeat(1 << 20));
        let (text, label, _) = excerpt(&line, 6..line.len() - 1);
        assert!(text.chars().count() < LINE_SHOWN + 4, "{}", text.len());
        assert!(text[label].starts_with("\"ééé"), "{text}");
    }

    #[test]
    fn controls_are_escaped_and_the_span_follows() {
        let (text, label, place) = excerpt("x\u{1b}[2J = \u{7}\u{202e}y\n", 8..13);
        assert_eq!(text, "x\\u{1b}[2J = \\u{7}\\u{202e}y\n");
        assert_eq!(&text[label], "\\u{7}\\u{202e}y");
        assert_eq!(place, (1, 9));
    }

    #[test]
    fn a_span_over_many_lines_shows_its_first_lines() {
        let text = "x\n".repeat(1000);
        let (shown, label, place) = excerpt(&text, 0..text.len());
        assert_eq!(shown.lines().count(), MAX_LINES);
        assert_eq!(label, 0..shown.len() - 1);
        assert_eq!(place, (1, 1));
    }
}
