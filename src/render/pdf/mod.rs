//! PDF letters, typeset in-process by Typst: the same Markdown as every other format, turned into
//! Typst markup ([`markup`]) and set in lettermerge's letter layout (`letter.typ`), with the
//! `sender` and `address` blocks of the template placed as a letterhead and in the envelope's
//! window.

pub mod markup;
mod world;

use std::sync::Mutex;

use serde_json::Value;

use super::{Format, Renderer};
use crate::campaign::settings::{Paper, Settings};
use crate::campaign::Recipient;
use crate::diagnostic::Problem;
use crate::template::Letter;
use markup::string_literal as string;
use world::{Typesetter, PRELUDE};

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
        let call = format!(
            "#letter((\n  paper: {},\n  lang: {},\n  region: {},\n  fonts: ({}),\n  sender: {},\n  address: {},\n  return-line: {},\n))[\n{}\n]\n",
            string(paper.typst_name()),
            string(&language),
            region.as_deref().map_or("none".into(), string),
            families.iter().map(|f| string(f) + ",").collect::<String>(),
            content(sender.as_deref()),
            content(address.as_deref()),
            content(Some(&markup::escape(&self.return_line))),
            markup::to_markup(&body),
        );
        let pdf = self
            .typesetter
            .pdf(format!("{PRELUDE}{}{call}", self.document(&title)))
            .map_err(|e| {
                Problem::error(format!(
                    "cannot typeset the PDF for `{}`: {e}",
                    recipient.id
                ))
                .recipient(recipient.id.as_str())
            })?;
        if let Some(letters) = &self.combined {
            letters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((recipient.span.start, call));
        }
        Ok(Some(pdf))
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

impl Pdf {
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
