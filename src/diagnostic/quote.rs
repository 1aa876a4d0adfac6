//! Text from a file as a message shows it: control characters escaped, and a name of absurd
//! length cut short, with its length, so one bad cell cannot flood a terminal.

use std::borrow::Cow;
use std::fmt;

use crate::controls::escape;

/// A quoted name or value longer than this many characters is cut.
const NAME_LIMIT: usize = 80;
/// How many characters of a cut name or value a message shows.
const NAME_SHOWN: usize = 40;
/// A word of a message longer than this many characters is cut: a name that no [`quote`] cut.
const WORD_LIMIT: usize = 200;
/// A message, label or note longer than this many characters is cut.
const TEXT_LIMIT: usize = 2_000;

/// A name from a file as a message quotes it: in backticks, control characters escaped, and
/// past 80 characters cut to its first 40 with its length: `` `aaaa…` (1,048,576 characters) ``.
pub fn quote(name: &str) -> Quoted<'_> {
    Quoted {
        text: name,
        debug: false,
    }
}

/// A value from a file as `{:?}` quotes it (`"…"`, with `\"`, `\\` and controls escaped), cut
/// like [`quote`]: `"aaaa…" (1,048,576 characters)`.
pub fn quote_value(value: &str) -> Quoted<'_> {
    Quoted {
        text: value,
        debug: true,
    }
}

/// See [`quote`] and [`quote_value`].
pub struct Quoted<'a> {
    text: &'a str,
    debug: bool,
}

impl Quoted<'_> {
    /// Whether the text is cut short: its end is not shown.
    pub fn is_cut(&self) -> bool {
        cut(self.text, NAME_LIMIT, NAME_SHOWN).is_some()
    }
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shown, total) = match cut(self.text, NAME_LIMIT, NAME_SHOWN) {
            Some((head, total)) => (format!("{head}…"), Some(total)),
            None => (self.text.to_string(), None),
        };
        match self.debug {
            true => write!(f, "{shown:?}")?,
            false => write!(f, "`{}`", escape(&shown))?,
        }
        match total {
            Some(total) => write!(f, " ({} characters)", thousands(total)),
            None => Ok(()),
        }
    }
}

/// When `text` has more than `limit` characters: its first `shown` characters and how many it
/// has.
fn cut(text: &str, limit: usize, shown: usize) -> Option<(&str, usize)> {
    if text.len() <= limit {
        return None;
    }
    let total = text.chars().count();
    if total <= limit {
        return None;
    }
    let end = text
        .char_indices()
        .nth(shown)
        .map_or(text.len(), |(i, _)| i);
    Some((&text[..end], total))
}

/// `1048576` → `1,048,576`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A message, label or note as it is printed, whoever wrote it: a word of more than 200
/// characters is cut like [`quote`] cuts a name, the whole past 2,000 characters, and control
/// characters are escaped. What [`quote`] made passes unchanged.
pub fn shown(text: &str) -> Cow<'_, str> {
    let cut = cut_long(text);
    match escape(&cut) {
        Cow::Borrowed(_) => cut,
        Cow::Owned(escaped) => Cow::Owned(escaped),
    }
}

/// `text` with its long words and its length cut.
fn cut_long(text: &str) -> Cow<'_, str> {
    if text.len() <= WORD_LIMIT {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut changed = false;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end_matches(char::is_whitespace);
        match cut_word(word) {
            Some(short) => {
                out.push_str(&short);
                out.push_str(&piece[word.len()..]);
                changed = true;
            }
            None => out.push_str(piece),
        }
        if out.len() > TEXT_LIMIT * 4 {
            // No need to cut the rest: it is cut off below.
            changed = true;
            break;
        }
    }
    if let Some((head, _)) = cut(&out, TEXT_LIMIT, TEXT_LIMIT) {
        let total = text.chars().count();
        return Cow::Owned(format!("{head}… ({} characters)", thousands(total)));
    }
    match changed {
        true => Cow::Owned(out),
        false => Cow::Borrowed(text),
    }
}

/// A word of more than 200 characters cut to its first 40, the quotes or brackets around it
/// kept: `` `aaaa…` (1,048,576 characters) ``.
fn cut_word(word: &str) -> Option<String> {
    if word.len() <= WORD_LIMIT {
        return None;
    }
    let open = |c: char| matches!(c, '`' | '"' | '\'' | '(' | '[' | '{' | '<');
    let close = |c: char| {
        matches!(
            c,
            '`' | '"' | '\'' | ')' | ']' | '}' | '>' | '.' | ',' | ':' | ';' | '!' | '?'
        )
    };
    let core = word.trim_start_matches(open);
    let lead = &word[..word.len() - core.len()];
    let core = core.trim_end_matches(close);
    let trail = &word[lead.len() + core.len()..];
    let (head, total) = cut(core, WORD_LIMIT, NAME_SHOWN)?;
    Some(format!(
        "{lead}{head}…{trail} ({} characters)",
        thousands(total)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_cut_with_its_length() {
        let long = "a".repeat(1 << 20);
        assert_eq!(
            quote(&long).to_string(),
            format!("`{}…` (1,048,576 characters)", "a".repeat(40))
        );
        assert_eq!(
            quote_value(&long).to_string(),
            format!("\"{}…\" (1,048,576 characters)", "a".repeat(40))
        );
        let eighty = "é".repeat(80);
        assert_eq!(quote(&eighty).to_string(), format!("`{eighty}`"));
        assert_eq!(
            quote(&format!("{eighty}é")).to_string(),
            format!("`{}…` (81 characters)", "é".repeat(40))
        );
    }

    #[test]
    fn quoted_text_shows_controls_escaped() {
        assert_eq!(
            quote("a\u{1b}]0;x\u{7}").to_string(),
            "`a\\u{1b}]0;x\\u{7}`"
        );
        assert_eq!(quote_value("a\u{202e}\"").to_string(), "\"a\\u{202e}\\\"\"");
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_048_576), "1,048,576");
    }

    #[test]
    fn every_long_word_of_a_message_is_cut_keeping_its_quotes() {
        let long = "b".repeat(300);
        let message = format!("field `{long}` (2 recipients): did you mean \"{long}\"?");
        let shown = shown(&message);
        let head = "b".repeat(40);
        assert_eq!(
            shown,
            format!(
                "field `{head}…` (300 characters) (2 recipients): did you mean \"{head}…\"? (300 characters)"
            )
        );
        // What quote made is left as it is.
        let quoted = format!("field {} is not used", quote(&long));
        assert_eq!(self::shown(&quoted), quoted);
    }

    #[test]
    fn a_long_message_of_short_words_is_cut() {
        let message = "word ".repeat(200_000);
        let shown = shown(&message);
        assert!(shown.chars().count() < TEXT_LIMIT + 40, "{}", shown.len());
        assert!(shown.ends_with("… (1,000,000 characters)"), "{shown}");
    }

    #[test]
    fn messages_of_ordinary_length_pass_unchanged() {
        let message = "cannot read /home/ada/campaigns/2026/recipients.csv: no such file";
        assert!(matches!(shown(message), Cow::Borrowed(_)));
        assert_eq!(shown("a\u{7}b"), "a\\u{7}b");
    }
}
