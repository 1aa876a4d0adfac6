//! The letter's Markdown as Typst markup.
//!
//! The PDF shows the same words as the txt and html outputs: the Markdown is read with the same
//! parser and options, and every piece of text is escaped, so nothing in a letter (least of all
//! recipient data) can become Typst code, math or markup.
//!
//! Structure is written with function calls (`#emph[..]`, `#enum(..)`) rather than Typst's own
//! markup shorthands, so there is no delimiter to balance. Every call ends with `;`, which Typst
//! takes as the end of the call: text after it can never extend it (`#emph[x](y)` would call the
//! result, `#emph[x].y` would read a field).

use std::collections::HashMap;

use pulldown_cmark::{Event, LinkType, Parser, Tag, TagEnd};

use crate::render::markdown_options;

/// Plain text as Typst markup that displays exactly `text` (no markup, no code, no math).
///
/// Line breaks, tabs and Unicode line separators become spaces, and each run of them one space,
/// as Typst shows them anyway. Every other character shows as written: quotes stay straight,
/// `--` stays two hyphens, `...` three dots. The result stays text at the start of a line, inside
/// a content block and next to other escaped text. After a `#` call, end the call with `;` first:
/// `#emph[x](y)` would call the result.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8 + 2);
    push_escaped(&mut out, text, true, true);
    out
}

/// The letter's Markdown as Typst markup (the body of the letter).
///
/// Paragraphs are separated by blank lines, hard line breaks become Typst line breaks, and
/// emphasis, lists, links, headings, quotes, code and rules become calls of Typst's own functions.
/// A link shows its address after its text, as in the txt output. Raw HTML shows as written.
///
/// A footnote reference becomes `#footnote[..]` with the note's text; the notes are not repeated
/// at the end. When a note is referenced more than once, its footnote gets the label
/// `<lettermerge-note-N>` and the later references point to it: such a body may appear only once
/// in a document.
pub fn to_markup(markdown: &str) -> String {
    let mut flow = Vec::new();
    let mut notes = HashMap::new();
    let mut uses: HashMap<String, usize> = HashMap::new();
    let mut events = Parser::new_ext(markdown, markdown_options());
    while let Some(event) = events.next() {
        match event {
            Event::Start(Tag::FootnoteDefinition(label)) => {
                let mut body = Vec::new();
                let mut depth = 1;
                for event in events.by_ref() {
                    match &event {
                        Event::Start(Tag::FootnoteDefinition(_)) => depth += 1,
                        Event::End(TagEnd::FootnoteDefinition) => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Event::FootnoteReference(l) => *uses.entry(note_key(l)).or_default() += 1,
                        _ => {}
                    }
                    body.push(event);
                }
                let number = notes.len() + 1;
                // The first definition of a label counts, as in the html output.
                notes.entry(note_key(&label)).or_insert(Note {
                    number,
                    body: Some(body),
                    shown: false,
                });
            }
            event => {
                if let Event::FootnoteReference(l) = &event {
                    *uses.entry(note_key(l)).or_default() += 1;
                }
                flow.push(event);
            }
        }
    }
    let mut w = Writer {
        out: String::with_capacity(markdown.len() * 5 / 4),
        text: String::new(),
        line_start: true,
        block_start: true,
        code: None,
        links: Vec::new(),
        notes,
        uses,
    };
    w.render(&flow);
    w.flush_text();
    let mut out = w.out;
    out.truncate(out.trim_end_matches(is_markup_space).len());
    out.push('\n');
    out
}

/// Whitespace that Typst markup reads as a space (or, twice, as a paragraph break).
fn is_markup_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Appends `text` escaped to `out`. `line_start` says whether `out` ends at the start of a line
/// (or of the markup, or of a content block), where `=`, `+`, `-`, `/` and `1.` start blocks.
/// `joinable` says whether text may come right before or after it: then a `.` at its start, and
/// a `-` or `.` at its end, are escaped too (`1` and `. x` make `1. x`, `a-` and `-b` make a
/// dash). Returns whether `out` still ends at the start of a line: `text` was only whitespace.
fn push_escaped(out: &mut String, text: &str, mut line_start: bool, joinable: bool) -> bool {
    let mut in_space = false;
    // Inside a run of digits that began a line: `12.` would start a numbered list.
    let mut lead_digits = false;
    for (i, c) in text.char_indices() {
        if is_markup_space(c) {
            if !in_space {
                out.push(' ');
                in_space = true;
            }
            lead_digits = false;
            continue;
        }
        in_space = false;
        let rest = &text[i + c.len_utf8()..];
        let escape = match c {
            // Markup, code, math, raw text, labels, references, `~` and smart quotes.
            '\\' | '*' | '_' | '`' | '#' | '[' | ']' | '$' | '<' | '>' | '@' | '~' | '{' | '}'
            | '\'' | '"' => true,
            // Comments (`//`, `/*`), which also keep `https://` from becoming a link.
            '/' => line_start || rest.starts_with(['/', '*']),
            // Dashes (`--`, `---`), the soft hyphen `-?` and the minus sign `-1`.
            '-' => {
                line_start
                    || rest.starts_with(['-', '?'])
                    || rest.chars().next().is_some_and(char::is_numeric)
                    || joinable && rest.is_empty()
            }
            // The ellipsis `...` and the `.` of `12.` at the start of a line.
            '.' => {
                lead_digits
                    || rest.starts_with("..")
                    || joinable && (i == 0 || rest.is_empty() || rest == ".")
            }
            // Headings and numbered lists.
            '=' | '+' => line_start,
            _ => false,
        };
        lead_digits = (line_start || lead_digits) && c.is_ascii_digit();
        line_start = false;
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    line_start
}

/// `s` as a Typst string literal, quotes included.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Footnote labels match whatever their case.
fn note_key(label: &str) -> String {
    label.to_lowercase()
}

/// A footnote definition, taken out of the flow.
struct Note<'a> {
    /// Its place among the definitions: its Typst label is `<lettermerge-note-N>`.
    number: usize,
    /// Its content; `None` while it is being written, so a note that refers to itself ends.
    body: Option<Vec<Event<'a>>>,
    /// Whether a `#footnote` already shows it.
    shown: bool,
}

/// A link being written: what to add after its text, as the txt output does.
struct OpenLink {
    /// The address, shown after the text unless the text already is the address.
    url: Option<String>,
    /// The link's plain text so far.
    text: String,
}

/// Writes the markup of a stream of Markdown events.
struct Writer<'a> {
    out: String,
    /// Text read but not yet written: adjacent text events are escaped together, so that `-` and
    /// `-` from two events cannot make a dash.
    text: String,
    /// Whether `out` ends at the start of a line, markup or content block.
    line_start: bool,
    /// Whether `out` ends where a block may start without a blank line before it.
    block_start: bool,
    /// The text of the code block being read.
    code: Option<String>,
    links: Vec<OpenLink>,
    notes: HashMap<String, Note<'a>>,
    /// How many times each footnote is referenced.
    uses: HashMap<String, usize>,
}

impl<'a> Writer<'a> {
    fn render(&mut self, events: &[Event<'a>]) {
        for (i, event) in events.iter().enumerate() {
            match event {
                Event::Start(tag) => self.start(tag, &events[i + 1..]),
                Event::End(tag) => self.end(*tag),
                Event::Text(t) | Event::InlineMath(t) | Event::DisplayMath(t) => self.text(t),
                Event::Html(t) | Event::InlineHtml(t) => self.text(t),
                Event::Code(t) => {
                    self.add_link_text(t);
                    self.call(&format!("#raw({})", string_literal(t)));
                }
                Event::SoftBreak => self.text(" "),
                Event::HardBreak => {
                    self.flush_text();
                    self.out.push_str("\\\n");
                    self.line_start = true;
                    self.block_start = false;
                }
                Event::FootnoteReference(label) => self.footnote(label),
                Event::Rule => {
                    self.block();
                    self.call("#line(length: 100%)");
                }
                Event::TaskListMarker(done) => self.text(if *done { "[x] " } else { "[ ] " }),
            }
        }
    }

    fn start(&mut self, tag: &Tag<'a>, rest: &[Event<'a>]) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.block(),
            Tag::Heading { level, .. } => {
                self.block();
                self.open(&format!("#heading(level: {})[", *level as usize));
            }
            Tag::BlockQuote(_) => {
                self.block();
                self.open("#quote(block: true)[");
            }
            Tag::CodeBlock(_) => {
                self.block();
                self.code = Some(String::new());
            }
            Tag::List(start) => {
                self.block();
                // A loose list (blank lines between items) has its items' text in paragraphs.
                let loose = matches!(
                    rest,
                    [Event::Start(Tag::Item), Event::Start(Tag::Paragraph), ..]
                );
                let mut call = match start {
                    Some(n) => format!("#enum(start: {n}, "),
                    None => "#list(".to_string(),
                };
                if loose {
                    call.push_str("tight: false, ");
                }
                self.out.push_str(call.trim_end());
                self.out.push('\n');
            }
            Tag::Item => self.open("["),
            Tag::Emphasis => self.open("#emph["),
            Tag::Strong => self.open("#strong["),
            Tag::Strikethrough => self.open("#strike["),
            Tag::Superscript => self.open("#super["),
            Tag::Subscript => self.open("#sub["),
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
                let url = match link_type {
                    LinkType::Email if !dest_url.contains(':') => format!("mailto:{dest_url}"),
                    _ => dest_url.to_string(),
                };
                let shown = matches!(link_type, LinkType::Autolink | LinkType::Email);
                self.links.push(OpenLink {
                    url: (!shown && !dest_url.is_empty()).then(|| dest_url.to_string()),
                    text: String::new(),
                });
                // Typst refuses an empty address or one over 8000 bytes: such a link is text.
                if !url.is_empty() && url.len() <= 8000 {
                    self.open(&format!("#link({})[", string_literal(&url)));
                } else {
                    self.open("#[");
                }
            }
            // Notes are taken out of the flow before; tables and the rest are not enabled, and
            // their text shows as text.
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.flush_text(),
            TagEnd::HtmlBlock => {
                // The block's last line break.
                let end = self.text.trim_end_matches(is_markup_space).len();
                self.text.truncate(end);
                self.flush_text();
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                let code = code.strip_suffix('\n').unwrap_or(&code);
                self.call(&format!("#raw(block: true, {})", string_literal(code)));
            }
            TagEnd::List(_) => {
                self.flush_text();
                self.call(")");
            }
            TagEnd::Item => {
                self.flush_text();
                self.out.push_str("],\n");
                self.line_start = true;
                self.block_start = true;
            }
            TagEnd::Heading(_)
            | TagEnd::BlockQuote(_)
            | TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript => self.call("]"),
            TagEnd::Link | TagEnd::Image => {
                self.call("]");
                if let Some(link) = self.links.pop() {
                    if let Some(url) = link.url.filter(|url| *url != link.text.trim()) {
                        self.text(&format!(" <{url}>"));
                    }
                }
            }
            _ => {}
        }
    }

    /// Text to show as written.
    fn text(&mut self, t: &str) {
        if let Some(code) = &mut self.code {
            code.push_str(t);
            return;
        }
        self.add_link_text(t);
        self.text.push_str(t);
    }

    fn add_link_text(&mut self, t: &str) {
        if let Some(link) = self.links.last_mut() {
            link.text.push_str(t);
        }
    }

    /// Writes the text read so far.
    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        // Markup comes before and after (`;`, `[`, `#`, `\`, `]`, a line break): nothing joins.
        self.line_start = push_escaped(&mut self.out, &text, self.line_start, false);
        self.block_start &= self.line_start;
    }

    /// Writes the start of a content block: what follows is at the start of a line.
    fn open(&mut self, s: &str) {
        self.flush_text();
        self.out.push_str(s);
        self.line_start = true;
        self.block_start = true;
    }

    /// Writes the end of a function call, and `;` so that nothing after it extends the call.
    fn call(&mut self, s: &str) {
        self.flush_text();
        self.out.push_str(s);
        self.out.push(';');
        self.line_start = false;
        self.block_start = false;
    }

    /// Starts a block: after a blank line, unless at the start of the markup or a content block.
    fn block(&mut self) {
        self.flush_text();
        if !self.block_start {
            self.out.push_str("\n\n");
            self.line_start = true;
            self.block_start = true;
        }
    }

    /// A footnote: the note's text the first time, a reference to that footnote after.
    fn footnote(&mut self, label: &str) {
        let key = note_key(label);
        let Some(note) = self.notes.get_mut(&key) else {
            self.text(&format!("[{label}]"));
            return;
        };
        let number = note.number;
        if note.body.is_none() {
            // A note within itself.
            self.text(&format!("[{label}]"));
            return;
        }
        if note.shown {
            self.call(&format!("#footnote(<lettermerge-note-{number}>)"));
            return;
        }
        let body = note.body.take().unwrap_or_default();
        note.shown = true;
        self.open("#footnote[");
        let links = std::mem::take(&mut self.links);
        self.render(&body);
        self.links = links;
        self.call("]");
        if self.uses.get(&key).copied().unwrap_or(0) > 1 {
            self.out.push_str(&format!("<lettermerge-note-{number}>"));
        }
        if let Some(note) = self.notes.get_mut(&key) {
            note.body = Some(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use typst::syntax::{ast, parse, SyntaxKind, SyntaxNode};

    /// A small deterministic random number generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() >> 33) as usize % n
        }
    }

    /// Characters that mean something to Typst, or to Markdown, or sit next to such characters.
    const NASTY: &[char] = &[
        '\\', '*', '_', '`', '#', '[', ']', '$', '<', '>', '@', '~', '{', '}', '\'', '"', '/', '-',
        '.', '.', '=', '+', ':', ';', '(', ')', ',', '?', '!', '&', '%', '^', '|', 'h', 't', 'p',
        's', 'a', 'Z', 'u', '0', '1', '9', ' ', ' ', ' ', '\t', '\n', '\r', '\u{2028}', '\u{2029}',
        '\u{85}', '\u{0B}', '\u{0C}', '\u{A0}', '\u{3000}', '中', '国', '한', '국', '，', '。',
        '😀', '²', '٣', '\u{301}',
    ];

    fn random_string(rng: &mut Rng, max_len: usize) -> String {
        let len = rng.below(max_len + 1);
        let mut s = String::with_capacity(len * 2);
        for _ in 0..len {
            // Now and then a whole word that Typst knows, to reach the longer tokens.
            if rng.below(10) == 0 {
                const WORDS: &[&str] = &[
                    "https://", "http://x", "//", "/*", "*/", "...", "---", "-?", "12.", "\\u{41}",
                    "#import", "<a>", "@a", "$x$", "#{", "- ", "+ ", "= ", "/ a: b",
                ];
                s.push_str(WORDS[rng.below(WORDS.len())]);
            } else {
                s.push(NASTY[rng.below(NASTY.len())]);
            }
        }
        s
    }

    /// Each run of whitespace that Typst markup reads as a space, as one space.
    fn collapse_spaces(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut in_space = false;
        for c in s.chars() {
            if is_markup_space(c) {
                if !in_space {
                    out.push(' ');
                }
                in_space = true;
            } else {
                out.push(c);
                in_space = false;
            }
        }
        out
    }

    /// What the markup shows, if it is made only of text, spaces and escapes; else the first
    /// node of another kind.
    fn shown_text(root: &SyntaxNode) -> Result<String, String> {
        let mut out = String::new();
        for node in root.children() {
            match node.kind() {
                SyntaxKind::Text => out.push_str(node.leaf_text()),
                SyntaxKind::Space => out.push(' '),
                SyntaxKind::Escape => out.push(node.cast::<ast::Escape>().unwrap().get()),
                kind => return Err(format!("{kind:?} {:?}", node.full_text())),
            }
        }
        Ok(out)
    }

    fn assert_no_errors(markup: &str) -> SyntaxNode {
        let root = parse(markup);
        let (errors, _) = root.errors_and_warnings();
        assert!(errors.is_empty(), "{errors:?} in\n{markup}");
        root
    }

    /// All the kinds of node in the tree.
    fn kinds(node: &SyntaxNode, into: &mut Vec<SyntaxKind>) {
        into.push(node.kind());
        for child in node.children() {
            kinds(child, into);
        }
    }

    /// Every node of the given kind, as source text.
    fn nodes_of(node: &SyntaxNode, kind: SyntaxKind, into: &mut Vec<String>) {
        if node.kind() == kind {
            into.push(node.full_text().to_string());
        }
        for child in node.children() {
            nodes_of(child, kind, into);
        }
    }

    fn calls(markup: &str) -> Vec<String> {
        let mut out = Vec::new();
        nodes_of(&parse(markup), SyntaxKind::FuncCall, &mut out);
        out
    }

    /// Parses `markup` and checks that it shows `text`, with its whitespace collapsed, and is
    /// nothing but text.
    fn assert_shows(markup: &str, text: &str, case: usize) {
        let root = parse(markup);
        let (errors, _) = root.errors_and_warnings();
        assert!(
            errors.is_empty(),
            "case {case}: {text:?} -> {markup:?}: {errors:?}"
        );
        let shown = shown_text(&root)
            .unwrap_or_else(|e| panic!("case {case}: {text:?} -> {markup:?} has {e}"));
        assert_eq!(shown, collapse_spaces(text), "case {case}: {markup:?}");
    }

    /// The round trip: 100,000 random strings, escaped, parsed by Typst, show what they say; and
    /// so does every other escaped string joined to the one before.
    #[test]
    fn escaped_text_shows_exactly_the_text() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut before = String::new();
        for case in 0..100_000 {
            let input = random_string(&mut rng, 16);
            let markup = escape(&input);
            assert_shows(&markup, &input, case);
            if case % 2 == 0 {
                let joined = format!("{}{markup}", escape(&before));
                assert_shows(&joined, &format!("{before}{input}"), case);
            }
            before = input;
        }
    }

    #[test]
    fn escaped_text_stays_text_inside_a_content_block() {
        let mut rng = Rng(42);
        for _ in 0..5_000 {
            let (a, b) = (random_string(&mut rng, 10), random_string(&mut rng, 10));
            let markup = format!("{}#strong[{}];{}", escape(&a), escape(&b), escape(&a));
            let root = assert_no_errors(&markup);
            assert_eq!(calls(&markup).len(), 1, "{markup:?}");
            let mut strong = Vec::new();
            nodes_of(&root, SyntaxKind::Markup, &mut strong);
            // The whole markup and the strong text: nothing else is markup.
            assert_eq!(strong.len(), 2, "{markup:?}");
            let inner = parse(&strong[1]);
            assert_eq!(shown_text(&inner), Ok(collapse_spaces(&b)), "{markup:?}");
        }
    }

    #[test]
    fn plain_text_is_left_readable() {
        assert_eq!(escape("H.E. Mrs. Hou Yue"), "H.E. Mrs. Hou Yue");
        assert_eq!(escape("H.E."), "H.E\\.");
        assert_eq!(escape(".. non-"), "\\.. non\\-");
        assert_eq!(
            escape("Jean-Pierre, 49-51 Portland"),
            "Jean-Pierre, 49\\-51 Portland"
        );
        assert_eq!(escape("People's"), "People\\'s");
        assert_eq!(escape("a\r\n\r\nb\u{2028}c"), "a b c");
        assert_eq!(escape("1. not a list"), "1\\. not a list");
        assert_eq!(escape("since 1982. Then"), "since 1982. Then");
        assert_eq!(escape("- x -- y -1"), "\\- x \\-- y \\-1");
        assert_eq!(escape("see https://x.org"), "see https:\\//x.org");
        assert_eq!(escape("中华人民共和国，대사님"), "中华人民共和国，대사님");
    }

    /// Recipient data goes through the Markdown escaping of the templates, then through here: it
    /// must come out as the same text and nothing else.
    #[test]
    fn escaped_recipient_data_stays_text() {
        use crate::template::escape::escape_markdown;
        let mut rng = Rng(7);
        for _ in 0..3_000 {
            let data = random_string(&mut rng, 12);
            let md = format!("Dear {},\n", escape_markdown(&data));
            let markup = to_markup(&md);
            let root = assert_no_errors(&markup);
            let shown = shown_text(&root)
                .unwrap_or_else(|e| panic!("{data:?} -> {md:?} -> {markup:?} has {e}"));
            let expected = collapse_spaces(&format!("Dear {data},"));
            assert_eq!(shown.trim_end(), expected, "{md:?} -> {markup:?}");
        }
    }

    #[test]
    fn hostile_data_in_a_paragraph_is_literal() {
        let md = "Dear \\*Kim\\* \\_x\\_ #import \"a\": \\* $x$ \\<script\\> {{x}} @ref \
                  // comment /* c */ a\\]b c:\\\\d https://x.org -- ... ~ 'q' \"q\"\n\
                  = heading-like\n1\\. one\n\\- dash\n\\+ plus\n";
        let markup = to_markup(md);
        let root = assert_no_errors(&markup);
        let shown = shown_text(&root).unwrap_or_else(|e| panic!("{markup:?} has {e}"));
        assert_eq!(
            shown.trim_end(),
            "Dear *Kim* _x_ #import \"a\": * $x$ <script> {{x}} @ref // comment /* c */ a]b \
             c:\\d https://x.org -- ... ~ 'q' \"q\" = heading-like 1. one - dash + plus"
        );
    }

    #[test]
    fn emphasis_inside_a_word() {
        let markup = to_markup("the principle of non-*refoulement*. A refugee *sur place*\n");
        assert_no_errors(&markup);
        assert_eq!(
            markup,
            "the principle of non-#emph[refoulement];. A refugee #emph[sur place];\n"
        );
        assert_eq!(calls(&markup), ["emph[refoulement]", "emph[sur place]"]);
    }

    #[test]
    fn strong_text_is_followed_by_anything() {
        let markup = to_markup("**a**(b) **c**.d **e**[f] **g**;h\n");
        assert_no_errors(&markup);
        assert_eq!(
            calls(&markup),
            ["strong[a]", "strong[c]", "strong[e]", "strong[g]"]
        );
        assert!(markup.contains("#strong[g];;h"), "{markup}");
    }

    #[test]
    fn address_lines_break() {
        let md =
            "To:\\\nH.E. the Ambassador\\\n49-51 Portland Place\\\n\\- 12. Floor\\\nLONDON\n\n\
                  Your Excellency,\n";
        let markup = to_markup(md);
        let root = assert_no_errors(&markup);
        assert_eq!(
            markup,
            "To:\\\nH.E. the Ambassador\\\n49\\-51 Portland Place\\\n\\- 12. Floor\\\nLONDON\n\n\
             Your Excellency,\n"
        );
        let mut all = Vec::new();
        kinds(&root, &mut all);
        assert_eq!(
            all.iter().filter(|k| **k == SyntaxKind::Linebreak).count(),
            4
        );
        assert_eq!(
            all.iter().filter(|k| **k == SyntaxKind::Parbreak).count(),
            1
        );
        assert!(!all.contains(&SyntaxKind::ListItem) && !all.contains(&SyntaxKind::EnumItem));
    }

    #[test]
    fn lone_backslash_lines_leave_space_for_a_signature() {
        let md = "Yours sincerely,\n\n\\\n\\\nSolveig Aas\\\nDirector\n";
        let markup = to_markup(md);
        let root = assert_no_errors(&markup);
        assert_eq!(
            markup,
            "Yours sincerely,\n\n\\\n\\\nSolveig Aas\\\nDirector\n"
        );
        let mut all = Vec::new();
        kinds(&root, &mut all);
        assert_eq!(
            all.iter().filter(|k| **k == SyntaxKind::Linebreak).count(),
            3
        );
    }

    #[test]
    fn ordered_lists_keep_their_start() {
        let markup = to_markup("Steps:\n\n1. Stop\n2. Allow\n\nThen:\n\n3. Protect\n4. Register\n");
        assert_no_errors(&markup);
        assert_eq!(
            markup,
            "Steps:\n\n#enum(start: 1,\n[Stop],\n[Allow],\n);\n\nThen:\n\n\
             #enum(start: 3,\n[Protect],\n[Register],\n);\n"
        );
        assert_eq!(calls(&markup).len(), 2);
    }

    #[test]
    fn bullet_lists_and_loose_items() {
        let markup = to_markup("- a *b*\n- c\n\nText.\n\n- d\n\n- e\n");
        assert_no_errors(&markup);
        assert_eq!(
            markup,
            "#list(\n[a #emph[b];],\n[c],\n);\n\nText.\n\n#list(tight: false,\n[d],\n[e],\n);\n"
        );
    }

    #[test]
    fn lettered_paragraphs_are_text() {
        let markup = to_markup("(A) stop returning;\n\n(B) give access.\n");
        let root = assert_no_errors(&markup);
        assert_eq!(markup, "(A) stop returning;\n\n(B) give access.\n");
        assert!(calls(&markup).is_empty());
        let mut all = Vec::new();
        kinds(&root, &mut all);
        assert!(all.iter().all(|k| matches!(
            k,
            SyntaxKind::Markup | SyntaxKind::Text | SyntaxKind::Space | SyntaxKind::Parbreak
        )));
    }

    #[test]
    fn footnotes_are_written_where_they_are_referenced() {
        let md = "Crimes against humanity.[^1] More.[^2]\n\n\
                  [^1]: United Nations, *Report*, <https://undocs.org/A/HRC/25/63>.\n\n\
                  [^2]: A second note.\n";
        let markup = to_markup(md);
        assert_no_errors(&markup);
        assert_eq!(
            markup,
            "Crimes against humanity.#footnote[United Nations, #emph[Report];, \
             #link(\"https://undocs.org/A/HRC/25/63\")[https:\\//undocs.org/A/HRC/25/63];.]; \
             More.#footnote[A second note.];\n"
        );
        assert_eq!(markup.matches("United Nations").count(), 1);
    }

    #[test]
    fn a_footnote_referenced_twice_is_shown_once() {
        let md = "One.[^a] Two.[^a] Three.[^b]\n\n[^a]: Note a.\n\n[^b]: Note b.[^b]\n";
        let markup = to_markup(md);
        assert_no_errors(&markup);
        assert_eq!(
            markup,
            "One.#footnote[Note a.];<lettermerge-note-1> Two.#footnote(<lettermerge-note-1>); \
             Three.#footnote[Note b.\\[b\\]];<lettermerge-note-2>\n"
        );
    }

    #[test]
    fn links_show_their_address() {
        let md = "Mail <contact@example.org> or see [the report](https://x.org/r?a=\"b\"\\\\) \
                  and <https://undocs.org/zh/A/HRC/25/63>.\n";
        let markup = to_markup(md);
        let root = assert_no_errors(&markup);
        assert_eq!(
            calls(&markup),
            [
                "link(\"mailto:contact@example.org\")[contact\\@example.org]",
                "link(\"https://x.org/r?a=\\\"b\\\"\\\\\")[the report]",
                "link(\"https://undocs.org/zh/A/HRC/25/63\")[https:\\//undocs.org/zh/A/HRC/25/63]",
            ]
        );
        assert!(
            markup.contains("[the report]; \\<https:\\//x.org/r?a=\\\"b\\\"\\\\\\>"),
            "{markup}"
        );
        let mut links = Vec::new();
        nodes_of(&root, SyntaxKind::Link, &mut links);
        assert!(links.is_empty(), "{links:?}");
    }

    #[test]
    fn cjk_text_is_unchanged() {
        let md = "尊敬的中华人民共和国主席：\n\n\
                  值此国际人权日，我们作为难民（UNHCR），给您写这封信。\
                  Article 33 reads: “国家尊重和保障人权。”\n\n\
                  탈북민 강제북송을 멈춰 주십시오\n";
        let markup = to_markup(md);
        assert_no_errors(&markup);
        assert_eq!(markup, md);
    }

    #[test]
    fn headings_quotes_code_rules_and_html() {
        let md = "# An *Open* Letter\n\n## 国际人权日\n\n> Quoted\n> text\n\n\
                  Use `a \"b\" \\c` now.\n\n```\nfn main() {}\n```\n\n---\n\n<div>raw</div>\n\n\
                  a <b>bold</b> b\n";
        let markup = to_markup(md);
        assert_no_errors(&markup);
        assert_eq!(
            markup,
            "#heading(level: 1)[An #emph[Open]; Letter];\n\n#heading(level: 2)[国际人权日];\n\n\
             #quote(block: true)[Quoted text];\n\n\
             Use #raw(\"a \\\"b\\\" \\\\c\"); now.\n\n\
             #raw(block: true, \"fn main() {}\");\n\n#line(length: 100%);\n\n\
             \\<div\\>raw\\</div\\>\n\na \\<b\\>bold\\</b\\> b\n"
        );
    }

    /// Markdown made of random pieces, Markdown syntax included: whatever the template says, the
    /// markup parses, and the only code in it is the calls this module writes.
    #[test]
    fn any_markdown_gives_only_known_calls() {
        const PIECES: &[&str] = &[
            "*",
            "**",
            "_",
            "\\",
            "\\\n",
            "\n",
            "\n\n",
            "- ",
            "1. ",
            "3) ",
            "> ",
            "# ",
            "`",
            "```\n",
            "[^1]",
            "[^1]: ",
            "[a](b)",
            "<https://a.b>",
            "<x@y.z>",
            "<b>",
            "---\n",
            "    ",
            "#",
            "$",
            "@",
            "//",
            "]",
            "[",
            "(",
            ")",
            ".",
            "..",
            "-",
            "word",
            "中文",
            " ",
            "'",
            "\"",
        ];
        let allowed = [
            SyntaxKind::Markup,
            SyntaxKind::Text,
            SyntaxKind::Space,
            SyntaxKind::Escape,
            SyntaxKind::Linebreak,
            SyntaxKind::Parbreak,
            SyntaxKind::Hash,
            SyntaxKind::FuncCall,
            SyntaxKind::Ident,
            SyntaxKind::Args,
            SyntaxKind::Named,
            SyntaxKind::Colon,
            SyntaxKind::Comma,
            SyntaxKind::Semicolon,
            SyntaxKind::LeftParen,
            SyntaxKind::RightParen,
            SyntaxKind::LeftBracket,
            SyntaxKind::RightBracket,
            SyntaxKind::ContentBlock,
            SyntaxKind::Int,
            SyntaxKind::Bool,
            SyntaxKind::Str,
            SyntaxKind::Numeric,
            SyntaxKind::Label,
        ];
        let functions = [
            "emph", "strong", "link", "enum", "list", "footnote", "raw", "heading", "quote",
            "line", "strike", "super", "sub", "start", "tight", "level", "block", "length",
        ];
        let mut rng = Rng(2024);
        for _ in 0..3_000 {
            let len = rng.below(30);
            let md: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            let markup = to_markup(&md);
            let root = assert_no_errors(&markup);
            let mut all = Vec::new();
            kinds(&root, &mut all);
            if let Some(kind) = all.iter().find(|k| !allowed.contains(k)) {
                panic!("{kind:?} from {md:?}:\n{markup}");
            }
            let mut idents = Vec::new();
            nodes_of(&root, SyntaxKind::Ident, &mut idents);
            for ident in idents {
                assert!(functions.contains(&ident.as_str()), "{ident} from {md:?}");
            }
        }
    }
}
