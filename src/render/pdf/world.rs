//! Typst as a library: the standard library and the fonts are loaded once per run and shared; each
//! document is a small world of two sources — the layout (`letter.typ`, part of lettermerge) and
//! the document itself, which calls it for one letter or for many.

use std::path::PathBuf;

use typst::diag::{FileError, FileResult, SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime};
use typst::layout::{Frame, FrameItem};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_kit::fonts::FontStore;
use typst_layout::PagedDocument;
use typst_pdf::PdfOptions;

/// The letter layout, written in Typst.
const LAYOUT: &str = include_str!("letter.typ");

/// What a document starts with: the layout's functions, `letter(data)[body]` and `breakable`
/// (for `#show "word": breakable`).
pub const PRELUDE: &str = "#import \"/letter.typ\": letter, breakable\n";

/// What every letter of a run shares: the standard library, the fonts and the layout.
pub struct Typesetter {
    library: LazyHash<Library>,
    fonts: FontStore,
    layout: Source,
    /// Where letters are typeset: a pool of its own, with stacks deep enough for Typst's layout.
    /// Measured (bench/pdf.sh, 2 cores): 1,000 letters peak at ~250 MB here, against ~320 MB
    /// typeset on the pool that merges the letters.
    pool: rayon::ThreadPool,
}

impl Typesetter {
    /// Loads the library and finds the fonts: this computer's, those in `font_dirs`, and the
    /// ones built into Typst.
    pub fn new(font_dirs: &[PathBuf]) -> Typesetter {
        let mut fonts = FontStore::new();
        for dir in font_dirs {
            fonts.extend(typst_kit::fonts::scan(dir));
        }
        fonts.extend(typst_kit::fonts::system());
        fonts.extend(typst_kit::fonts::embedded());
        Typesetter {
            library: LazyHash::new(Library::default()),
            fonts,
            layout: Source::new(file("/letter.typ"), LAYOUT.to_string()),
            pool: rayon::ThreadPoolBuilder::new()
                .num_threads(typesetting_threads())
                .thread_name(|i| format!("typeset-{i}"))
                // Typst's layout recurses deeply.
                .stack_size(16 << 20)
                .build()
                .expect("a thread pool starts"),
        }
    }

    /// Whether a font family is known, by its name as Typst reads it ("Noto Serif CJK SC").
    pub fn has_family(&self, family: &str) -> bool {
        let family = family.to_lowercase();
        self.fonts
            .book()
            .families()
            .any(|(name, _)| name.to_lowercase() == family)
    }

    /// Typesets a document: [`PRELUDE`] and calls of `letter`. The error says what Typst said,
    /// which characters no font could show, or which text would stick out of its place.
    pub fn pdf(&self, document: String) -> Result<Vec<u8>, Failure> {
        self.pool.install(|| self.typeset(document, true))
    }

    /// Lays out a document as [`Typesetter::pdf`] does, with the same checks, without making the
    /// PDF: what `check` needs to know whether it would typeset.
    pub fn lay_out(&self, document: String) -> Result<(), Failure> {
        self.pool
            .install(|| self.typeset(document, false).map(drop))
    }

    fn typeset(&self, document: String, export: bool) -> Result<Vec<u8>, Failure> {
        let world = Letter {
            typesetter: self,
            main: Source::new(file("/main.typ"), document),
        };
        let Warned { output, .. } = typst::compile::<PagedDocument>(&world);
        // Typst memoizes across compilations; without this its cache grows with every letter.
        let _evict = Evict;
        let document = output.map_err(|errors| Failure::Typst(describe(&world, &errors)))?;
        let mut missing = String::new();
        let mut overflow = Vec::new();
        for page in document.pages() {
            missing_glyphs(&page.frame, &mut missing);
            sticking_out(&page.frame, &mut overflow);
        }
        if !missing.is_empty() {
            return Err(Failure::Typst(format!(
                "no font has a glyph for {missing:?}: install one that does (for Chinese, Japanese and Korean: fonts-noto-cjk) or name one under [pdf] fonts"
            )));
        }
        if !overflow.is_empty() {
            return Err(Failure::Overflow(overflow));
        }
        if !export {
            return Ok(Vec::new());
        }
        typst_pdf::pdf(&document, &PdfOptions::default())
            .map_err(|errors| Failure::Typst(describe(&world, &errors)))
    }
}

/// Why a document was not typeset.
#[derive(Debug)]
pub enum Failure {
    /// What Typst said, or which characters no font has.
    Typst(String),
    /// Runs of text that stick out of the block that holds them (off the page, or out of the
    /// envelope's window): their text.
    Overflow(Vec<String>),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Typst(e) => f.write_str(e),
            Failure::Overflow(runs) => write!(
                f,
                "text would stick out of the page: {:?}",
                runs.first().map(String::as_str).unwrap_or_default()
            ),
        }
    }
}

/// Lets Typst forget all but its recent work when a document is done, however it ended.
struct Evict;

impl Drop for Evict {
    fn drop(&mut self) {
        comemo::evict(10);
    }
}

/// How far a run of text may pass the edge of its block, in ems of its size: hanging
/// punctuation at a line's end (Typst hangs `.` and `,` by 0.8 of their width, `-` by 0.55)
/// passes it by about 0.2 em.
const OVERHANG: f64 = 0.5;

/// The text of each run that sticks out, left or right, of the block or page that holds it. A
/// word longer than the line is set beyond the edge: off the page, or behind the envelope where
/// the window ends, and so never read.
fn sticking_out(frame: &Frame, out: &mut Vec<String>) {
    let width = frame.width();
    for (at, item) in frame.items() {
        match item {
            FrameItem::Group(group) => sticking_out(&group.frame, out),
            FrameItem::Text(text) => {
                let slack = text.size * OVERHANG;
                if at.x < -slack || at.x + text.width() > width + slack {
                    out.push(text.text.to_string());
                }
            }
            _ => {}
        }
    }
}

/// One per core.
fn typesetting_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn file(path: &str) -> FileId {
    RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new(path).expect("a valid virtual path"),
    )
    .intern()
}

/// One letter's world.
struct Letter<'a> {
    typesetter: &'a Typesetter,
    main: Source,
}

impl World for Letter<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.typesetter.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        self.typesetter.fonts.book()
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        [&self.main, &self.typesetter.layout]
            .into_iter()
            .find(|s| s.id() == id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.vpath().get_without_slash().into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        Err(FileError::NotFound(id.vpath().get_without_slash().into()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.typesetter.fonts.font(index)
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        None
    }
}

/// Typst's errors, with the line of our sources they point at.
fn describe(world: &Letter, errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .map(|e| {
            let at = e.span.id().and_then(|id| {
                let source = world.source(id).ok()?;
                let range = world.range(e.span)?;
                let line = source.lines().byte_to_line(range.start)? + 1;
                Some(format!(" ({}:{line})", id.vpath().get_without_slash()))
            });
            format!("{}{}", e.message, at.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The characters set in a font that lacks them (glyph 0, drawn as an empty box).
fn missing_glyphs(frame: &Frame, missing: &mut String) {
    for (_, item) in frame.items() {
        match item {
            FrameItem::Group(group) => missing_glyphs(&group.frame, missing),
            FrameItem::Text(text) => {
                for glyph in text.glyphs.iter().filter(|g| g.id == 0) {
                    if let Some(c) = text.text.get(glyph.range()) {
                        for ch in c.chars().filter(|c| !c.is_whitespace()) {
                            if !missing.contains(ch) {
                                missing.push(ch);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(rules: &str, body: &str) -> String {
        format!(
            "{PRELUDE}#letter((paper: \"a4\", lang: \"en\", region: none, fonts: (\"Libertinus Serif\",), sender: none, address: none, return-line: none))[\n{rules}{body}\n]\n"
        )
    }

    #[test]
    fn a_word_longer_than_the_line_sticks_out_until_it_is_made_breakable() {
        let typesetter = Typesetter::new(&[]);
        let word = format!("Flat12{}", "X".repeat(150));
        match typesetter.lay_out(document("", &format!("Dear {word} and friends"))) {
            Err(Failure::Overflow(runs)) => {
                assert!(runs.iter().any(|r| r.contains(&word)), "{runs:?}")
            }
            other => panic!("not an overflow: {other:?}"),
        }
        let rule = format!(
            "#show {}: breakable\n",
            crate::render::pdf::markup::string_literal(&word)
        );
        typesetter
            .lay_out(document(&rule, &format!("Dear {word} and friends")))
            .unwrap();
        // Ordinary text, hanging punctuation at the ends of its lines included, fits.
        let prose = "Words, words and more words, each of them short. ".repeat(40);
        typesetter.lay_out(document("", &prose)).unwrap();
    }
}
