//! A standalone HTML page that looks like a letter on paper.

use pulldown_cmark::{html, Parser};

use super::markdown_options;

/// The letter's body as HTML (no page around it): what the email's HTML part carries.
pub fn body(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(markdown, markdown_options()));
    out
}

/// A whole page: A4 paper on screen, the letter alone when printed.
pub fn page(markdown: &str, title: &str, lang: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main class=\"letter\">\n{body}</main>\n</body>\n</html>\n",
        lang = escape_html(lang),
        title = escape_html(title),
        body = body(markdown),
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"@page { size: A4; margin: 20mm 20mm 25mm 25mm; }
html { background: #e8e6e1; }
body { margin: 0; padding: 2rem 1rem; color: #1a1a1a;
  font: 11pt/1.45 "Noto Serif", "Noto Serif CJK SC", "Noto Serif CJK KR", Georgia, "Times New Roman", serif; }
.letter { box-sizing: border-box; background: #fff; max-width: 210mm; min-height: 297mm;
  margin: 0 auto; padding: 20mm 20mm 25mm 25mm; box-shadow: 0 1px 6px rgba(0,0,0,.25); }
.letter p { margin: 0 0 0.9em; text-align: left; hyphens: auto; }
.letter h1, .letter h2, .letter h3, .letter h4 { font-size: 1.05em; margin: 1.2em 0 0.6em; }
.letter ul, .letter ol { margin: 0 0 0.9em; padding-left: 1.6em; }
.letter li { margin-bottom: 0.35em; }
.letter a { color: inherit; word-break: break-word; }
.letter hr { border: 0; border-top: 1px solid #999; width: 35%; margin: 1.5em 0 1em; }
.letter sup.footnote-reference { font-size: 0.7em; line-height: 0; }
.letter sup.footnote-reference a { text-decoration: none; }
.letter :not(.footnote-definition) + .footnote-definition { margin-top: 2em; padding-top: 0.6em;
  border-top: 1px solid #999; }
.letter .footnote-definition { font-size: 0.85em; display: flex; gap: 0.4em; }
.letter .footnote-definition p { margin: 0 0 0.3em; }
.letter .footnote-definition-label { font-size: 1em; vertical-align: baseline; }
.letter .footnote-definition-label::after { content: "."; }
@media print {
  html, body { background: none; padding: 0; }
  .letter { box-shadow: none; padding: 0; max-width: none; min-height: 0; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_standalone_and_escapes_title() {
        let html = page("Dear *friend*,\n", "<Re>", "fr");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<html lang=\"fr\">"));
        assert!(html.contains("<title>&lt;Re&gt;</title>"));
        assert!(html.contains("<em>friend</em>"));
    }

    #[test]
    fn escaped_data_never_becomes_html() {
        let md = crate::template::escape::escape_markdown("<script>alert(1)</script> *x*");
        let html = body(&md);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
