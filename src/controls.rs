//! Characters a campaign's files may carry that must never reach a terminal or a letter as they
//! are.
//!
//! Campaign folders pass through many hands, and spreadsheets come from strangers: a cell can hold
//! an escape sequence that retitles or clears the terminal that prints it, a bell, a NUL, a lone
//! carriage return that writes over the start of a line, or Unicode's bidirectional overrides,
//! which make a line read in another order than it is written ("Trojan source"). The class:
//! the C0 controls (U+0000–U+001F), DEL (U+007F), the C1 controls (U+0080–U+009F), the
//! bidirectional embeddings and overrides (U+202A–U+202E) and isolates (U+2066–U+2069). Tab and
//! line feed are text everywhere; a letter also keeps the CR of a CR LF line end.
//!
//! What a person reads about a file shows them escaped as Rust's `{:?}` does (`\u{1b}`, `\0`,
//! `\r`), so they see what is there and where: [`escape`]. A letter shows U+FFFD, the
//! replacement character, in their place: [`replace`].

use std::borrow::Cow;

/// The replacement character letters show for a character of the class.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Whether `c` is one of the class (tab and line feed included: callers keep those).
pub fn is_control(c: char) -> bool {
    matches!(c, '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character of the class but tab and line feed escaped as `{:?}` shows it:
/// for messages, snippets and anything else printed about a file. Borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    rewrite(text, false, |c, out| out.extend(c.escape_debug()))
}

/// JSON text with every character of the class escaped as JSON writes it (`\u202e`): the same
/// data, safe to print. For JSON from `serde_json`, which escapes C0 controls itself and so leaves
/// the others only inside strings, where such an escape means the character.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    rewrite(json, false, |c, out| {
        out.push_str(&format!("\\u{:04x}", u32::from(c)));
    })
}

/// `text` with every character of the class but tab, line feed and the CR of a CR LF replaced
/// by U+FFFD: for the text of letters. Borrowed when there is none.
pub fn replace(text: &str) -> Cow<'_, str> {
    rewrite(text, true, |_, out| out.push(REPLACEMENT))
}

/// Whether `text` has a character that [`replace`] would replace.
pub fn has_any(text: &str) -> bool {
    next(text.as_bytes(), 0, true).is_some()
}

/// `text` with each character of the class that is not kept written by `write` instead.
fn rewrite(text: &str, keep_crlf: bool, write: impl Fn(char, &mut String)) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let Some((mut at, mut found)) = next(bytes, 0, keep_crlf) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    loop {
        out.push_str(&text[copied..at]);
        write(found, &mut out);
        copied = at + found.len_utf8();
        match next(bytes, copied, keep_crlf) {
            Some((i, c)) => (at, found) = (i, c),
            None => break,
        }
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Whether a byte of UTF-8 may be, or begin, a character of the class: a C0 control but tab and
/// line feed, DEL, and the lead bytes of the C1 controls (0xC2) and of the bidirectional ones
/// (0xE2). Written without branches, so that a block of bytes is tested at once.
#[inline(always)]
fn suspect(b: u8) -> bool {
    ((b < 0x20) & (b != b'\t') & (b != b'\n')) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2)
}

/// The byte offset and character of the first character of the class at or after `from` that is
/// not kept. `bytes` is valid UTF-8 and `from` a character boundary.
fn next(bytes: &[u8], from: usize, keep_crlf: bool) -> Option<(usize, char)> {
    // Letters are long and nearly always clean: a block of bytes none of which is suspect is
    // passed at once, and only the bytes of a block that has one are looked at closely (a
    // French letter's « » and non-breaking spaces begin with 0xC2, typographic quotes with 0xE2).
    const BLOCK: usize = 32;
    let mut i = from;
    while i < bytes.len() {
        let end = (i + BLOCK).min(bytes.len());
        if bytes[i..end].iter().fold(false, |any, &b| any | suspect(b)) {
            for (k, &b) in (i..end).zip(&bytes[i..end]) {
                if suspect(b) {
                    if let Some(c) = at(bytes, k, keep_crlf) {
                        return Some((k, c));
                    }
                }
            }
        }
        i = end;
    }
    None
}

/// The character of the class at `i`, if the suspect byte there begins one that is not kept.
fn at(bytes: &[u8], i: usize, keep_crlf: bool) -> Option<char> {
    let b = bytes[i];
    let next = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
    match b {
        b'\r' if keep_crlf && next(1) == b'\n' => None,
        0x00..=0x1f | 0x7f => Some(char::from(b)),
        // U+0080–U+009F are C2 80 – C2 9F.
        0xc2 => matches!(next(1), 0x80..=0x9f).then(|| char::from(next(1))),
        // U+202A–U+202E are E2 80 AA – E2 80 AE; U+2066–U+2069 are E2 81 A6 – E2 81 A9.
        0xe2 => match (next(1), next(2)) {
            (0x80, c @ 0xaa..=0xae) => char::from_u32(0x2000 + u32::from(c) - 0x80),
            (0x81, c @ 0xa6..=0xa9) => char::from_u32(0x2040 + u32::from(c) - 0x80),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character of the class, as a test sees it.
    fn class() -> impl Iterator<Item = char> {
        (0..=0x10ffff_u32)
            .filter_map(char::from_u32)
            .filter(|&c| is_control(c))
    }

    #[test]
    fn the_class_is_c0_del_c1_and_the_bidi_overrides() {
        let all: Vec<char> = class().collect();
        assert_eq!(all.len(), 32 + 1 + 32 + 5 + 4);
        for c in [
            '\u{1b}', '\u{7}', '\0', '\r', '\u{7f}', '\u{9b}', '\u{202e}', '\u{2066}',
        ] {
            assert!(is_control(c), "{c:?}");
        }
        for c in [
            'a', ' ', 'é', '\u{a0}', '\u{2028}', '\u{200f}', '\u{2065}', '\u{206a}',
        ] {
            assert!(!is_control(c), "{c:?}");
        }
    }

    #[test]
    fn the_fast_scan_agrees_with_the_class_for_every_character() {
        // Each character alone and after a block of clean text, so both scanning paths see it.
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            let kept = matches!(c, '\t' | '\n');
            for text in [c.to_string(), format!("{}{c}x", "a".repeat(40))] {
                let replaced = replace(&text);
                let expected = if is_control(c) && !kept {
                    text.replace(c, "\u{FFFD}")
                } else {
                    text.clone()
                };
                assert_eq!(replaced, expected, "{c:?}");
                assert_eq!(has_any(&text), is_control(c) && !kept, "{c:?}");
            }
        }
    }

    #[test]
    fn messages_show_controls_escaped_as_debug_does() {
        let text = "a\u{1b}]0;x\u{7}b\0\r\n\t\u{7f}\u{9b}\u{202e}\u{2066}é…";
        assert_eq!(
            escape(text),
            "a\\u{1b}]0;x\\u{7}b\\0\\r\n\t\\u{7f}\\u{9b}\\u{202e}\\u{2066}é…"
        );
        assert!(matches!(
            escape("plain, “quoted” — fine…"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn json_keeps_its_data_and_shows_no_control() {
        let value = serde_json::json!({ "reply": "5\u{7f}0\u{9b}0 \u{202e}x\u{1b}\u{7}\r\n" });
        let text = serde_json::to_string_pretty(&value).unwrap();
        let escaped = escape_json(&text);
        assert!(
            !escaped.chars().any(|c| is_control(c) && c != '\n'),
            "{escaped}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&escaped).unwrap(),
            value
        );
    }

    #[test]
    fn letters_keep_tabs_and_line_ends_and_replace_the_rest() {
        assert_eq!(replace("a\r\nb\nc\td"), "a\r\nb\nc\td");
        assert_eq!(
            replace("a\rb\u{1b}[2J\0\u{7f}\u{85}\u{202d}c\r"),
            "a\u{FFFD}b\u{FFFD}[2J\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}c\u{FFFD}"
        );
        assert!(matches!(
            replace("« Très » — “fine” …\r\n"),
            Cow::Borrowed(_)
        ));
    }
}
