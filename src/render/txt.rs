//! Plain text, wrapped for email: the letter's words without markup.

use pulldown_cmark::{Event, LinkType, Parser, Tag, TagEnd};
use textwrap::core::{display_width, Fragment};
use textwrap::wrap_algorithms::wrap_first_fit;

use super::markdown_options;

/// Column at which plain-text letters wrap.
pub const WIDTH: usize = 72;

/// The letter as plain text: paragraphs wrapped at `width`, line breaks kept, lists marked,
/// footnote marks as `[1]` and the notes after a rule at the end.
pub fn to_text(markdown: &str, width: usize) -> String {
    let mut w = TextWriter::new(width);
    for event in Parser::new_ext(markdown, markdown_options()) {
        w.event(event);
    }
    w.finish()
}

struct TextWriter {
    width: usize,
    out: String,
    /// Inline text of the block being read.
    line: String,
    /// Indent of the current block's first line and of the lines after it.
    first_indent: String,
    rest_indent: String,
    lists: Vec<Option<u64>>,
    quote: usize,
    links: Vec<String>,
    in_notes: bool,
    blank_before: bool,
    tight: bool,
}

impl TextWriter {
    fn new(width: usize) -> Self {
        TextWriter {
            width,
            out: String::new(),
            line: String::new(),
            first_indent: String::new(),
            rest_indent: String::new(),
            lists: Vec::new(),
            quote: 0,
            links: Vec::new(),
            in_notes: false,
            blank_before: false,
            tight: false,
        }
    }

    fn base_indent(&self) -> String {
        let mut s = "> ".repeat(self.quote);
        s.push_str(&"   ".repeat(self.lists.len().saturating_sub(1)));
        s
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                self.line.push_str(&t)
            }
            Event::SoftBreak => self.line.push(' '),
            Event::HardBreak => self.line.push('\n'),
            Event::FootnoteReference(label) => {
                self.line.push('[');
                self.line.push_str(&label);
                self.line.push(']');
            }
            Event::Rule => {
                self.flush();
                self.block_gap();
                self.out.push_str(&"-".repeat(20));
                self.out.push('\n');
                self.blank_before = true;
            }
            Event::TaskListMarker(done) => self.line.push_str(if done { "[x] " } else { "[ ] " }),
            Event::Html(_) | Event::InlineHtml(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::Heading { .. } | Tag::CodeBlock(_)
                if self.first_indent.is_empty() && self.rest_indent.is_empty() =>
            {
                let base = self.base_indent();
                self.first_indent.clone_from(&base);
                self.rest_indent = base;
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.quote += 1;
            }
            Tag::List(start) => {
                self.flush();
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                let base = self.base_indent();
                let mark = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "- ".to_string(),
                };
                self.rest_indent = format!("{base}{}", " ".repeat(mark.chars().count()));
                self.first_indent = format!("{base}{mark}");
                self.tight = true;
            }
            Tag::FootnoteDefinition(label) => {
                self.flush();
                if !self.in_notes {
                    self.in_notes = true;
                    self.block_gap();
                    self.out.push_str(&"-".repeat(20));
                    self.out.push('\n');
                    self.blank_before = true;
                }
                let mark = format!("[{label}] ");
                self.rest_indent = " ".repeat(mark.chars().count());
                self.first_indent = mark;
            }
            Tag::Link {
                link_type,
                dest_url,
                ..
            }
            | Tag::Image {
                link_type,
                dest_url,
                ..
            } => {
                let shown = matches!(link_type, LinkType::Autolink | LinkType::Email);
                self.links.push(if shown {
                    String::new()
                } else {
                    dest_url.to_string()
                });
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock => {
                self.tight = false;
                self.flush();
                self.blank_before = true;
            }
            TagEnd::Item => {
                self.flush();
                self.blank_before = !self.tight;
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.blank_before = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quote = self.quote.saturating_sub(1);
                self.blank_before = true;
            }
            TagEnd::FootnoteDefinition => {
                self.flush();
                self.blank_before = false;
            }
            TagEnd::Link | TagEnd::Image => {
                if let Some(url) = self.links.pop() {
                    if !url.is_empty() && url != self.line.trim_end() {
                        self.line.push_str(&format!(" <{url}>"));
                    }
                }
            }
            _ => {}
        }
    }

    fn block_gap(&mut self) {
        if self.blank_before && !self.out.is_empty() {
            self.out.push('\n');
        }
        self.blank_before = false;
    }

    /// Writes the block read so far, wrapped, with its indents.
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.line);
        if text.trim().is_empty() {
            return;
        }
        self.block_gap();
        let mut first = std::mem::take(&mut self.first_indent);
        let rest = std::mem::take(&mut self.rest_indent);
        if first.is_empty() && rest.is_empty() {
            first = self.base_indent();
        }
        let rest = if rest.is_empty() { first.clone() } else { rest };
        for (i, line) in text.split('\n').enumerate() {
            let indent = if i == 0 {
                first.as_str()
            } else {
                rest.as_str()
            };
            let line = line.trim_end();
            // Most lines of a letter's head (addresses, dates) fit: no need to wrap them.
            let fits = if line.is_ascii() {
                indent.len() + line.len() <= self.width
            } else {
                // No character is wider than two columns.
                indent.len() + 2 * line.chars().count() <= self.width
            };
            if fits {
                let whole = format!("{indent}{line}");
                self.out.push_str(whole.trim_end());
                self.out.push('\n');
                continue;
            }
            let widths =
                [columns(indent), columns(&rest)].map(|w| self.width.saturating_sub(w) as f64);
            let pieces = pieces(line);
            for (n, wrapped) in wrap_first_fit(&pieces, &widths).into_iter().enumerate() {
                let (Some(first_piece), Some(last)) = (wrapped.first(), wrapped.last()) else {
                    continue;
                };
                let start = self.out.len();
                self.out
                    .push_str(if n == 0 { indent } else { rest.as_str() });
                self.out.push_str(&line[first_piece.start..last.end]);
                let kept = start + self.out[start..].trim_end().len();
                self.out.truncate(kept);
                self.out.push('\n');
            }
        }
        self.first_indent.clear();
        self.rest_indent.clear();
    }

    fn finish(mut self) -> String {
        self.flush();
        self.out
    }
}

/// A word of a line and the spaces after it, as byte offsets into the line, with its width in
/// columns: what textwrap's first-fit algorithm places, without a `Word` built per word.
#[derive(Debug)]
struct Piece {
    start: usize,
    end: usize,
    width: f64,
    space: f64,
}

impl Fragment for Piece {
    fn width(&self) -> f64 {
        self.width
    }

    fn whitespace_width(&self) -> f64 {
        self.space
    }

    fn penalty_width(&self) -> f64 {
        0.0
    }
}

/// Columns a piece of text takes: its length for ASCII, else each character's display width.
fn columns(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        display_width(s)
    }
}

/// Where a line of a letter may break: at spaces, and around Chinese and Japanese characters,
/// which are written without spaces; never inside a URL, a document number or a Korean word, and
/// never before a closing mark such as `，` or `。`.
fn pieces(line: &str) -> Vec<Piece> {
    let mut pieces = Vec::with_capacity(line.len() / 5 + 1);
    let mut at = 0;
    while at < line.len() {
        let rest = &line[at..];
        let word = rest.find(' ').unwrap_or(rest.len());
        let spaces = rest[word..].len() - rest[word..].trim_start_matches(' ').len();
        let text = &rest[..word];
        if !text.is_ascii() && text.chars().any(is_ideographic) {
            let mut start = at;
            for segment in cjk_segments(text) {
                pieces.push(Piece {
                    start,
                    end: start + segment.len(),
                    width: columns(segment) as f64,
                    space: 0.0,
                });
                start += segment.len();
            }
            if let Some(last) = pieces.last_mut() {
                last.space = spaces as f64;
            }
        } else {
            pieces.push(Piece {
                start: at,
                end: at + word,
                width: columns(text) as f64,
                space: spaces as f64,
            });
        }
        at += word + spaces;
    }
    pieces
}

/// Splits a run of text without spaces where a line may break.
fn cjk_segments(token: &str) -> impl Iterator<Item = &str> {
    let mut cuts = vec![0];
    let mut prev: Option<char> = None;
    for (i, c) in token.char_indices() {
        if let Some(p) = prev {
            let around_ideograph = (is_ideographic(c) && !is_closing(c))
                || is_opening(c)
                || is_ideographic(p)
                || is_closing(p);
            if around_ideograph && !is_closing(c) && !is_opening(p) {
                cuts.push(i);
            }
        }
        prev = Some(c);
    }
    cuts.push(token.len());
    (0..cuts.len() - 1).map(move |k| &token[cuts[k]..cuts[k + 1]])
}

/// Han ideographs, kana and CJK punctuation: scripts written without spaces between words.
fn is_ideographic(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFF60
        | 0x20000..=0x3FFFF)
}

/// Marks a line must not start with.
fn is_closing(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '；'
            | '：'
            | '？'
            | '！'
            | '）'
            | '」'
            | '』'
            | '》'
            | '〉'
            | '】'
            | '”'
            | '’'
            | ','
            | '.'
            | ';'
            | ':'
            | '?'
            | '!'
            | ')'
            | ']'
    )
}

/// Marks a line must not end with.
fn is_opening(c: char) -> bool {
    matches!(
        c,
        '（' | '「' | '『' | '《' | '〈' | '【' | '“' | '‘' | '(' | '['
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_wrap_and_line_breaks_stay() {
        let md = "To:\\\nThe Ambassador\\\nOslo\n\nA long sentence that goes on and on well past the width of a plain text email so it must wrap.\n";
        let text = to_text(md, 40);
        assert!(
            text.starts_with("To:\nThe Ambassador\nOslo\n\nA long"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }

    #[test]
    fn lines_are_filled_first_fit_and_long_words_stay_whole() {
        let md = "one two three four five six seven eight nine ten https://example.org/a/very/long/path/that/cannot/break eleven\n";
        let text = to_text(md, 20);
        assert_eq!(
            text,
            "one two three four\nfive six seven eight\nnine ten\nhttps://example.org/a/very/long/path/that/cannot/break\neleven\n"
        );
        // Indents count against the width; list items hang under their text.
        let text = to_text("- alpha beta gamma delta epsilon\n", 16);
        assert_eq!(text, "- alpha beta\n  gamma delta\n  epsilon\n", "{text}");
    }

    #[test]
    fn lists_and_footnotes_are_marked() {
        let md = "Demands:\n\n1. Stop\n2. Allow\n\n- x\n\nSee this.[^1]\n\n[^1]: A report <https://example.org/r>.\n";
        let text = to_text(md, 72);
        assert!(text.contains("1. Stop\n2. Allow\n"), "{text}");
        assert!(text.contains("- x\n"), "{text}");
        assert!(text.contains("See this.[1]"), "{text}");
        assert!(
            text.contains("[1] A report https://example.org/r."),
            "{text}"
        );
    }

    #[test]
    fn urls_and_korean_words_are_never_split() {
        let md = "See https://x.org/north-korean-defectors-10122023.html non-refoulement https://undocs.org/fr/A/HRC/25/63 and A/HRC/25/CRP.1 now.\n\n조선민주주의인민공화국 정부에 감사하겠습니다 감사하겠습니다\n";
        let text = to_text(md, 24);
        assert!(text.contains("https://undocs.org/fr/A/HRC/25/63"), "{text}");
        assert!(
            text.contains("https://x.org/north-korean-defectors-10122023.html"),
            "{text}"
        );
        assert!(text.contains("non-refoulement"), "{text}");
        assert!(text.contains("A/HRC/25/CRP.1"), "{text}");
        assert!(text.contains("조선민주주의인민공화국"), "{text}");
    }

    #[test]
    fn mixed_chinese_keeps_document_numbers_and_punctuation_whole() {
        let parts: Vec<&str> = cjk_segments("文件A/HRC/25/63，2014年（中国）").collect();
        assert!(parts.contains(&"A/HRC/25/63，"), "{parts:?}");
        assert!(
            parts
                .iter()
                .all(|p| !p.starts_with('，') && !p.ends_with('（')),
            "{parts:?}"
        );
        assert_eq!(parts.concat(), "文件A/HRC/25/63，2014年（中国）");
    }

    #[test]
    fn chinese_wraps_between_characters() {
        let md = "中华人民共和国政府应当立即停止强制遣返脱北者并允许联合国难民署接触他们\n";
        let text = to_text(md, 20);
        assert!(text.lines().count() > 1, "{text}");
        assert_eq!(text.replace('\n', ""), md.trim_end());
    }

    #[test]
    fn escaped_data_prints_as_written() {
        let md = crate::template::escape::escape_markdown("*Kim* <script> {{x}} 1. _y_");
        assert_eq!(to_text(&md, 72), "*Kim* <script> {{x}} 1. _y_\n");
    }
}
