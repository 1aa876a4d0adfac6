//! PDF letters, typeset in-process by Typst: the same Markdown as every other format, turned into
//! Typst markup ([`markup`]) and set in lettermerge's letter layout (`letter.typ`), with the
//! `sender` and `address` blocks of the template placed as a letterhead and in the envelope's
//! window.

pub mod markup;
mod world;

use serde_json::Value;

use super::{Format, Renderer};
use crate::campaign::settings::{Paper, Settings};
use crate::campaign::Recipient;
use crate::diagnostic::Problem;
use crate::template::Letter;
use world::Typesetter;

/// The serif that Typst carries with it: every letter can fall back on it.
const BUILT_IN_SERIF: &str = "Libertinus Serif";

pub struct Pdf {
    typesetter: Typesetter,
    paper: Paper,
    fonts: Vec<String>,
    /// The sender's name (the PDF's author) and return line for the window.
    author: String,
    return_line: String,
}

impl Pdf {
    /// Finds the fonts (once) and reads `[pdf]` and `[sender]`.
    pub fn new(settings: &Settings) -> Pdf {
        let sender = &settings.sender;
        let text = |key: &str| sender.get(key).and_then(Value::as_str).unwrap_or_default();
        let who = [text("organization"), text("name")]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let mut parts = vec![who.to_string()];
        parts.extend(lines(sender.get("address")));
        Pdf {
            typesetter: Typesetter::new(&settings.pdf.font_dirs),
            paper: settings.pdf.paper.unwrap_or_default(),
            fonts: settings.pdf.fonts.clone(),
            author: text("name").to_string(),
            return_line: parts
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
        }
    }

    /// The font families for a letter in `language`: the campaign's, the built-in serif, then the
    /// CJK families this computer has, the language's own first (Chinese letters in Chinese glyph
    /// forms, not Japanese ones).
    fn families(&self, language: &str, region: Option<&str>) -> Vec<String> {
        let cjk: &[&str] = match (language, region) {
            ("zh", Some("TW" | "HK" | "MO")) => &["TC", "SC", "KR", "JP"],
            ("zh", _) => &["SC", "TC", "KR", "JP"],
            ("ko", _) => &["KR", "SC", "TC", "JP"],
            ("ja", _) => &["JP", "SC", "TC", "KR"],
            _ => &["SC", "TC", "KR", "JP"],
        };
        let mut families: Vec<String> = self.fonts.clone();
        families.push(BUILT_IN_SERIF.into());
        for script in cjk {
            families.push(format!("Noto Serif CJK {script}"));
        }
        families.retain(|f| self.typesetter.has_family(f));
        families
    }
}

impl Renderer for Pdf {
    fn format(&self) -> Format {
        Format::Pdf
    }

    fn render(&self, letter: &Letter, recipient: &Recipient) -> Result<Option<Vec<u8>>, Problem> {
        let mut body = letter.markdown.clone();
        let mut block = |name: &str| -> Option<String> {
            let (_, text) = letter.blocks.iter().find(|(n, _)| n == name)?;
            let at = body.find(text.as_str())?;
            body.replace_range(at..at + text.len(), "");
            Some(markup::to_markup(text))
        };
        let sender = block("sender");
        let address = block("address");
        let tag = recipient.language.tag();
        let mut subtags = tag.split('-');
        let language = subtags.next().unwrap_or("en").to_ascii_lowercase();
        let region = subtags.find(|s| s.len() == 2).map(str::to_ascii_uppercase);
        let paper = recipient
            .fields
            .get("paper")
            .and_then(Value::as_str)
            .and_then(Paper::parse)
            .unwrap_or(self.paper);
        let title = if letter.subject.is_empty() {
            recipient.name.clone()
        } else {
            letter.subject.clone()
        };
        let families = self.families(&language, region.as_deref());
        let data = format!(
            "#let data = (\n  paper: {},\n  lang: {},\n  region: {},\n  fonts: ({}),\n  title: {},\n  author: {},\n  sender: {},\n  address: {},\n  return-line: {},\n)\n",
            string(paper.typst_name()),
            string(&language),
            region.as_deref().map_or("none".into(), string),
            families.iter().map(|f| string(f) + ",").collect::<String>(),
            string(&title),
            string(&self.author),
            content(sender.as_deref()),
            content(address.as_deref()),
            content(Some(&markup::escape(&self.return_line))),
        );
        self.typesetter
            .pdf(data, markup::to_markup(&body))
            .map(Some)
            .map_err(|e| {
                Problem::error(format!(
                    "cannot typeset the PDF for `{}`: {e}",
                    recipient.id
                ))
                .recipient(recipient.id.as_str())
            })
    }
}

/// A Typst string literal.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Typst markup as a content value, or `none`.
fn content(markup: Option<&str>) -> String {
    match markup {
        Some(m) if !m.trim().is_empty() => format!("[{m}]"),
        _ => "none".into(),
    }
}

/// A list of strings (or one string) from the settings.
fn lines(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}
