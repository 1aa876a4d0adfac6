//! No letter carries a control character: a merged letter comes out of [`super::Letters`] with
//! each character of [`crate::controls`]'s class (C0 and C1 controls, DEL, the bidirectional
//! overrides and isolates) replaced by U+FFFD; tab and line breaks stay. Every user of a merged
//! letter (render's formats, send, the preview, check's PDF layout) sees the same clean text.
//!
//! The merged letter is the one place that holds all the text a letter is made of: recipients'
//! data, `[letter]` and `[sender]` from `lettermerge.toml`, and the template's own text, which
//! volunteers edit and paste into. U+FFFD rather than nothing, because a letter that silently
//! lost a character could say something its writer never saw; the replacement character shows
//! in every format, in the preview too, that something was there, at the very place, and reads
//! the same in each (CommonMark replaces a NUL with it for the same reason).

use std::borrow::Cow;

use crate::controls::{self, is_control};
use crate::template::Letter;

/// Cleans a merged letter in place: its Markdown, subject and blocks (see the module). A
/// numeric character reference to a control (`&#27;`, `&#x202E;`), which Markdown would turn into
/// the character itself, becomes `&#xFFFD;`.
pub fn letter(letter: &mut Letter) {
    replace(&mut letter.markdown);
    if let Cow::Owned(markdown) = references(&letter.markdown) {
        letter.markdown = markdown;
    }
    replace(&mut letter.subject);
    for (_, text) in &mut letter.blocks {
        replace(text);
    }
}

fn replace(text: &mut String) {
    if let Cow::Owned(clean) = controls::replace(text) {
        *text = clean;
    }
}

/// `markdown` with each numeric character reference to a control but tab and line feed
/// (`&#27;`, `&#x1B;`, `&#8238;`) written `&#xFFFD;`.
fn references(markdown: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    for at in memchr::memmem::find_iter(markdown.as_bytes(), b"&#") {
        // `\&#27;` is the text "&#27;" (data is escaped so): not a reference.
        let backslashes = markdown.as_bytes()[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if at < copied || backslashes % 2 == 1 {
            continue;
        }
        let Some((c, len)) = reference(&markdown[at + 2..]) else {
            continue;
        };
        if is_control(c) && !matches!(c, '\t' | '\n') {
            out.push_str(&markdown[copied..at]);
            out.push_str("&#xFFFD;");
            copied = at + 2 + len;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(markdown);
    }
    out.push_str(&markdown[copied..]);
    Cow::Owned(out)
}

/// The character a numeric reference names, from just after its `&#` (`27;`, `x1B;`), and the
/// length of that rest: up to 7 decimal or 6 hexadecimal digits and `;`, as CommonMark reads them.
fn reference(rest: &str) -> Option<(char, usize)> {
    let (digits, radix, skip) = match rest.as_bytes().first()? {
        b'x' | b'X' => (&rest[1..], 16, 1),
        _ => (rest, 10, 0),
    };
    let most = if radix == 16 { 6 } else { 7 };
    let count = digits
        .bytes()
        .take(most + 1)
        .take_while(|b| char::from(*b).is_digit(radix))
        .count();
    if count == 0 || count > most || digits.as_bytes().get(count) != Some(&b';') {
        return None;
    }
    let code = u32::from_str_radix(&digits[..count], radix).ok()?;
    Some((char::from_u32(code)?, skip + count + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(markdown: &str, subject: &str) -> Letter {
        Letter {
            markdown: markdown.into(),
            subject: subject.into(),
            blocks: vec![("address".into(), markdown.into())],
        }
    }

    #[test]
    fn a_clean_letter_is_left_as_it_is() {
        let mut letter = merged(
            "Dear « Ambassador » — “quoted” …\r\n\tDone &amp; &#233;\n",
            "S",
        );
        let before = letter.clone();
        self::letter(&mut letter);
        assert_eq!(letter, before);
    }

    #[test]
    fn controls_become_the_replacement_character_everywhere_in_the_letter() {
        let letter = merged(
            "Dear A\u{1b}[2J\u{7}\0l\ri\u{7f}\u{9b}\u{202e}ce,\r\n",
            "S\u{2066}",
        );
        let mut clean = letter;
        self::letter(&mut clean);
        let expected = "Dear A\u{FFFD}[2J\u{FFFD}\u{FFFD}l\u{FFFD}i\u{FFFD}\u{FFFD}\u{FFFD}ce,\r\n";
        assert_eq!(clean.markdown, expected);
        assert_eq!(clean.blocks[0].1, expected);
        assert_eq!(clean.subject, "S\u{FFFD}");
    }

    #[test]
    fn references_to_controls_are_replaced_and_others_kept() {
        let text =
            "a&#27;b&#x1B;c&#X202e;d&#8238;e&#9;f&#10;g&#233;h&#x20AC;i&#27j&#;&#x;&#12345678;";
        assert_eq!(
            references(text),
            "a&#xFFFD;b&#xFFFD;c&#xFFFD;d&#xFFFD;e&#9;f&#10;g&#233;h&#x20AC;i&#27j&#;&#x;&#12345678;"
        );
        assert!(matches!(references("&#233; &amp;"), Cow::Borrowed(_)));
        // Escaped, it is text (as recipients' data is written), and stays as it is.
        assert!(matches!(
            references("\\&#27; \\\\\\&#27;"),
            Cow::Borrowed(_)
        ));
        assert_eq!(references("\\\\&#27;"), "\\\\&#xFFFD;");
    }
}
