//! Recipient data is text, never markup: escaping values for the Markdown of a letter.

/// Escapes `s` so that Markdown shows it exactly as written.
///
/// Characters that always mean something in Markdown (`\ ` * _ [ ] < > &`) are escaped
/// everywhere; line-start markers (`- + = #` and the `.`/`)` of `1.`) only where they could start
/// a block; line breaks, tabs and Unicode separators become spaces so a value can never open a
/// new block (a heading, a list, a raw HTML line).
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    // Text is copied a run at a time: `s[copied..]` has not been written yet.
    let mut copied = 0;
    let mut at_start = true;
    // `1.` or `1)` starts a list only at the start of a line: a value that begins with digits.
    let mut digits_only = true;
    for (i, c) in s.char_indices() {
        if c == '\r' && s.as_bytes().get(i + 1) == Some(&b'\n') {
            // CRLF is one line break: one space
            out.push_str(&s[copied..i]);
            copied = i + 1;
            continue;
        }
        let space = matches!(
            c,
            '\r' | '\n' | '\t' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        );
        let shown = if space { ' ' } else { c };
        let escape = match shown {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' => true,
            '-' | '+' | '=' | '#' => at_start,
            '.' | ')' => digits_only,
            _ => false,
        };
        if space || escape {
            out.push_str(&s[copied..i]);
            if escape {
                out.push('\\');
            }
            out.push(shown);
            copied = i + c.len_utf8();
        }
        digits_only &= shown.is_ascii_digit();
        at_start = shown == ' ';
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulldown_cmark::{html, Parser};

    fn as_html(md: &str) -> String {
        let mut out = String::new();
        html::push_html(&mut out, Parser::new(md));
        out
    }

    /// The rules one character at a time, as first written: the run-copying version must agree.
    fn one_char_at_a_time(s: &str) -> String {
        let mut out = String::new();
        let mut prev: Option<char> = None;
        let mut digits_only = true;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' && chars.peek() == Some(&'\n') {
                continue;
            }
            let c = match c {
                '\r' | '\n' | '\t' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                    ' '
                }
                c => c,
            };
            let at_start = prev.is_none_or(|p| p == ' ');
            let escape = match c {
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' => true,
                '-' | '+' | '=' | '#' => at_start,
                '.' | ')' => digits_only,
                _ => false,
            };
            if escape {
                out.push('\\');
            }
            out.push(c);
            digits_only &= c.is_ascii_digit();
            prev = Some(c);
        }
        out
    }

    #[test]
    fn copying_runs_changes_nothing() {
        let samples = [
            "",
            "plain words, nothing to do",
            "1982. Then 12) and - + = # at the start of words: -a +b =c #d",
            "a\r\n- b\r\r\n\n+ c\t# d\u{0b}\u{0c}e\u{85}f\u{2028}g\u{2029}h",
            "\r\n1.",
            "trailing\r",
            "대사님 *강조* _밑줄_ [링크](x) <b> & \\ `코드`",
            "中华人民共和国驻挪威王国大使馆。2026年12月10日",
            "Genève – «Haut-Commissariat» 1er.",
            "***___[[]]<<>>&&",
        ];
        for s in samples {
            assert_eq!(escape_markdown(s), one_char_at_a_time(s), "{s:?}");
        }
    }

    #[test]
    fn hostile_values_stay_text() {
        for hostile in [
            "*bold* _it_",
            "<script>alert(1)</script>",
            "{{recipient.name}}",
            "# Heading",
            "1. not a list",
            "- not a bullet",
            "line\r\nbreak",
            "\r\n# after a break",
            "[link](http://x)",
            "&amp; entity",
            "`code`",
            "===",
        ] {
            let html = as_html(&escape_markdown(hostile));
            assert!(html.starts_with("<p>"), "{hostile:?} became {html}");
            assert!(!html.contains("<em>") && !html.contains("<script") && !html.contains("<a "));
            assert!(!html.contains("<code>") && !html.contains("<h1>"));
        }
    }

    #[test]
    fn ordinary_text_is_left_readable() {
        assert_eq!(escape_markdown("H.E. Mrs. Hou Yue"), "H.E. Mrs. Hou Yue");
        assert_eq!(escape_markdown("Jean-Pierre"), "Jean-Pierre");
        assert_eq!(escape_markdown("대사님"), "대사님");
        assert_eq!(escape_markdown("a\r\nb\nc"), "a b c");
        assert_eq!(escape_markdown("since 1982."), "since 1982.");
        assert_eq!(escape_markdown("1982. Then"), "1982\\. Then");
    }
}
