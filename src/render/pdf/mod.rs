//! PDF letters, typeset in-process by Typst: the same Markdown as every other format, turned into
//! Typst markup ([`markup`]) and set in lettermerge's letter layout (`letter.typ`), with the
//! `sender` and `address` blocks of the template placed as a letterhead and in the envelope's
//! window.

pub mod markup;
mod world;

use std::sync::Mutex;

use serde_json::{Map, Value};

use super::{Format, Renderer};
use crate::campaign::settings::{Paper, Settings};
use crate::campaign::Recipient;
use crate::diagnostic::Problem;
use crate::template::Letter;
use markup::string_literal as string;
use world::{Failure, Typesetter, PRELUDE};

/// The serif that Typst carries with it: every letter can fall back on it.
const BUILT_IN_SERIF: &str = "Libertinus Serif";

/// The file `--combined` writes.
pub const COMBINED: &str = "letters.pdf";

pub struct Pdf {
    typesetter: Typesetter,
    paper: Paper,
    fonts: Vec<String>,
    /// With `--combined`: each letter's call of the layout, by its place in the recipients file.
    combined: Option<Mutex<Vec<(usize, String)>>>,
    /// In the combined file, each letter starts on an odd page.
    duplex: bool,
    /// The sender's name (the PDF's author) and return line for the window.
    author: String,
    return_line: String,
    /// `[letter]` and `[sender]`, to name the field a word that cannot be set comes from.
    shared: Vec<(&'static str, Map<String, Value>)>,
}

impl Pdf {
    /// Finds the fonts (once) and reads `[pdf]` and `[sender]`. With `combined`, [`Renderer::finish`]
    /// gives every letter in one file as well. A font folder or family that is not there is a
    /// problem: letters set in a fallback font would not be what the campaign asked for.
    pub fn new(settings: &Settings, combined: bool) -> Result<Pdf, Problem> {
        let file = settings
            .path
            .clone()
            .unwrap_or_else(|| crate::campaign::settings::SETTINGS_FILE.into());
        if let Some(dir) = settings.pdf.font_dirs.iter().find(|d| !d.is_dir()) {
            return Err(Problem::error(format!(
                "the font folder {} does not exist",
                dir.display()
            ))
            .in_file(&file)
            .hint("fix [pdf] font_dirs: folders are relative to the campaign folder"));
        }
        let sender = &settings.sender;
        let text = |key: &str| sender.get(key).and_then(Value::as_str).unwrap_or_default();
        let who = [text("organization"), text("name")]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let mut parts = vec![who.to_string()];
        parts.extend(lines(sender.get("address")));
        let typesetter = Typesetter::new(&settings.pdf.font_dirs);
        if let Some(missing) = settings
            .pdf
            .fonts
            .iter()
            .find(|f| !typesetter.has_family(f))
        {
            return Err(Problem::error(format!(
                "the font {missing:?} named in [pdf] fonts is not on this computer"
            ))
            .in_file(&file)
            .hint("install it, put its files in a folder named in [pdf] font_dirs, or remove it from fonts (`fc-list : family` lists the installed families)"));
        }
        Ok(Pdf {
            typesetter,
            paper: settings.pdf.paper.unwrap_or_default(),
            fonts: settings.pdf.fonts.clone(),
            combined: combined.then(|| Mutex::new(Vec::new())),
            duplex: settings.pdf.duplex,
            author: text("name").to_string(),
            return_line: parts
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            shared: vec![
                ("letter", settings.letter.clone()),
                ("sender", settings.sender.clone()),
            ],
        })
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
        let (call, pdf) = self.typeset(letter, recipient, true)?;
        if let Some(letters) = &self.combined {
            letters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((recipient.span.start, call));
        }
        Ok(Some(pdf))
    }

    /// The letter laid out as `render` would set it, with the same checks, without making the
    /// PDF: about half the time of [`Renderer::render`].
    fn check(&self, letter: &Letter, recipient: &Recipient) -> Result<(), Problem> {
        self.typeset(letter, recipient, false).map(drop)
    }

    /// With `--combined`: every letter in one file, in the recipients' order, each from a new page
    /// (an odd one with `duplex`), for one print job.
    fn finish(&self) -> Result<Option<(String, Vec<u8>)>, Problem> {
        let Some(letters) = &self.combined else {
            return Ok(None);
        };
        let mut letters = std::mem::take(&mut *letters.lock().unwrap_or_else(|e| e.into_inner()));
        if letters.is_empty() {
            return Ok(None);
        }
        letters.sort_by_key(|(at, _)| *at);
        let to = if self.duplex { "to: \"odd\", " } else { "" };
        let mut document = format!("{PRELUDE}{}", self.document("Letters"));
        for (i, (_, call)) in letters.iter().enumerate() {
            if i > 0 {
                document.push_str(&format!("#pagebreak({to}weak: true)\n"));
            }
            document.push_str(call);
        }
        let pdf = self.typesetter.pdf(document).map_err(|e| {
            Problem::error(format!("cannot typeset {COMBINED}: {e}"))
                .hint("each letter's own PDF was written; render without --combined to skip it")
        })?;
        Ok(Some((COMBINED.to_string(), pdf)))
    }
}

/// How many times a letter is set again with more of its words made breakable before a word
/// that still sticks out is an error.
const ATTEMPTS: usize = 4;

impl Pdf {
    /// The letter's call of the layout, and its PDF (empty unless `export`).
    ///
    /// Lines break at spaces and where Unicode allows, URLs after their slashes. A word longer
    /// than its line (a 200-character address line, a long code in a demand) would stick out of
    /// the page or the envelope's window: then the letter is set again with that word breakable
    /// between any two of its characters, and only that word, so the rest of the letter is set as
    /// before. Nothing is ever cut off silently: what still sticks out is an error that names
    /// the field.
    fn typeset(
        &self,
        letter: &Letter,
        recipient: &Recipient,
        export: bool,
    ) -> Result<(String, Vec<u8>), Problem> {
        let call = self.call(letter, recipient);
        let title = if letter.subject.is_empty() {
            recipient.name.as_str()
        } else {
            letter.subject.as_str()
        };
        let cannot = |e: String| {
            Problem::error(format!(
                "cannot typeset the PDF for `{}`: {e}",
                recipient.id
            ))
            .recipient(recipient.id.as_str())
        };
        let mut breakable: Vec<String> = Vec::new();
        for _ in 0..ATTEMPTS {
            let scoped = if breakable.is_empty() {
                call.clone()
            } else {
                let rules: String = breakable
                    .iter()
                    .map(|w| format!("#show {}: breakable\n", string(w)))
                    .collect();
                format!("#[\n{rules}{call}]\n")
            };
            let document = format!("{PRELUDE}{}{scoped}", self.document(title));
            let typeset = if export {
                self.typesetter.pdf(document)
            } else {
                self.typesetter.lay_out(document).map(|()| Vec::new())
            };
            let runs = match typeset {
                Ok(pdf) => return Ok((scoped, pdf)),
                Err(Failure::Typst(e)) => return Err(cannot(e)),
                Err(Failure::Overflow(runs)) => runs,
            };
            let words: Vec<String> = runs
                .iter()
                .filter_map(|run| longest_word(run))
                .filter(|w| !breakable.iter().any(|b| b == w))
                .collect();
            if words.is_empty() {
                return Err(self.too_long(&runs, recipient, cannot));
            }
            breakable.extend(words);
            breakable.sort();
            breakable.dedup();
        }
        Err(self.too_long(&breakable, recipient, cannot))
    }

    /// The problem of text that sticks out however it is broken: which field it comes from.
    fn too_long(
        &self,
        runs: &[String],
        recipient: &Recipient,
        cannot: impl Fn(String) -> Problem,
    ) -> Problem {
        let word = runs
            .iter()
            .filter_map(|r| longest_word(r))
            .max_by_key(|w| w.chars().count())
            .unwrap_or_default();
        let shown: String = word.chars().take(40).collect();
        let more = if shown.len() < word.len() { "…" } else { "" };
        let field = field_with(&word, recipient, &self.shared);
        let from = field
            .as_deref()
            .map(|f| format!(" (from {f})"))
            .unwrap_or_default();
        cannot(format!(
            "the text \"{shown}{more}\"{from} does not fit its line and would be cut off"
        ))
        .hint(match field {
            Some(f) => format!("shorten {f}, or put spaces in it"),
            None => "shorten that text, or put spaces in it".to_string(),
        })
    }

    /// The letter's call of the layout: its paper, language, fonts, blocks and body.
    fn call(&self, letter: &Letter, recipient: &Recipient) -> String {
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
        let families = self.families(&language, region.as_deref());
        format!(
            "#letter((\n  paper: {},\n  lang: {},\n  region: {},\n  fonts: ({}),\n  sender: {},\n  address: {},\n  return-line: {},\n))[\n{}\n]\n",
            string(paper.typst_name()),
            string(&language),
            region.as_deref().map_or("none".into(), string),
            families.iter().map(|f| string(f) + ",").collect::<String>(),
            content(sender.as_deref()),
            content(address.as_deref()),
            content(Some(&markup::escape(&self.return_line))),
            markup::to_markup(&body),
        )
    }

    /// The document's title and author, as PDF readers show them.
    fn document(&self, title: &str) -> String {
        format!(
            "#set document(title: {}, author: {})\n",
            string(title),
            string(&self.author)
        )
    }
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

/// The longest word of a run of text.
fn longest_word(run: &str) -> Option<String> {
    run.split_whitespace()
        .max_by_key(|w| w.chars().count())
        .map(str::to_string)
}

/// Where a word of the letter comes from, as a template names it: `recipient.address[1]`,
/// `letter.demands[0]`, `sender.email`.
fn field_with(
    word: &str,
    recipient: &Recipient,
    shared: &[(&str, Map<String, Value>)],
) -> Option<String> {
    if recipient.name.contains(word) {
        return Some("recipient.name".into());
    }
    let tables = [
        ("recipient", &recipient.fields),
        ("letter", &recipient.letter),
    ]
    .into_iter()
    .chain(shared.iter().map(|(name, table)| (*name, table)));
    for (name, table) in tables {
        for (key, value) in table {
            if let Some(path) = path_to(word, value, format!("{name}.{key}")) {
                return Some(path);
            }
        }
    }
    None
}

/// The path within `value` of the first text that holds `word`.
fn path_to(word: &str, value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) => s.contains(word).then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| path_to(word, v, format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| path_to(word, v, format!("{path}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::recipient::{Language, RecipientId};

    #[test]
    fn a_word_is_traced_to_the_field_it_comes_from() {
        let object = |json: serde_json::Value| match json {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let recipient = Recipient {
            id: RecipientId::parse("ana").unwrap(),
            name: "Ana Ambassador".into(),
            email: None,
            cc: Vec::new(),
            bcc: Vec::new(),
            language: Language::english(),
            timezone: None,
            letter: object(serde_json::json!({ "demands": ["short", "a LONGWORD here"] })),
            fields: object(serde_json::json!({ "address": ["Street 1", "Flat 12 XYZXYZ"] })),
            span: 0..0,
            places: Vec::new(),
        };
        let shared = [(
            "sender",
            object(serde_json::json!({ "email": "SENDERWORD@example.org" })),
        )];
        let find = |word| field_with(word, &recipient, &shared);
        assert_eq!(find("XYZXYZ").as_deref(), Some("recipient.address[1]"));
        assert_eq!(find("LONGWORD").as_deref(), Some("letter.demands[1]"));
        assert_eq!(
            find("SENDERWORD@example.org").as_deref(),
            Some("sender.email")
        );
        assert_eq!(find("Ambassador").as_deref(), Some("recipient.name"));
        assert_eq!(find("nowhere"), None);
        assert_eq!(longest_word("a bb cccc dd").as_deref(), Some("cccc"));
    }
}
