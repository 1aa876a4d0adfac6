//! Output formats: every format comes from the same merged Markdown, so each says the same words.

pub mod eml;
pub mod header;
pub mod html;
pub mod job;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod target;
pub mod txt;

pub use target::write_atomic;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use pulldown_cmark::Options;

use crate::campaign::Recipient;
use crate::diagnostic::Problem;
use crate::template::Letter;

/// A kind of file `render` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Md,
    Txt,
    Html,
    Pdf,
    Eml,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Md,
        Format::Txt,
        Format::Html,
        Format::Pdf,
        Format::Eml,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Txt => "txt",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Eml => "eml",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown format {s:?}: choose from md, txt, html, pdf, eml"))
    }
}

/// The Markdown features letters use: footnotes, and nothing that could turn data into markup.
pub(crate) fn markdown_options() -> Options {
    Options::ENABLE_FOOTNOTES
}

/// Turns a merged letter into the bytes of one format.
pub trait Renderer: Sync {
    fn format(&self) -> Format;

    /// The file's bytes; `None` when this format does not apply (an email for a print-only
    /// recipient).
    fn render(&self, letter: &Letter, recipient: &Recipient) -> Result<Option<Vec<u8>>, Problem>;

    /// [`Renderer::render`] as the last format of the letter, which may take what it needs out
    /// of `letter` instead of copying it.
    fn render_last(
        &self,
        letter: &mut Letter,
        recipient: &Recipient,
    ) -> Result<Option<Vec<u8>>, Problem> {
        self.render(letter, recipient)
    }

    /// Whether [`Renderer::render`] would succeed, for `check`: the same problem it would give,
    /// found as cheaply as this format allows (the PDF is laid out but not made).
    fn check(&self, letter: &Letter, recipient: &Recipient) -> Result<(), Problem> {
        self.render(letter, recipient).map(drop)
    }

    /// After the last letter: one more file made of them all, if this format makes one (the
    /// combined PDF), by name.
    fn finish(&self) -> Result<Option<(String, Vec<u8>)>, Problem> {
        Ok(None)
    }
}

pub struct Markdown;

impl Renderer for Markdown {
    fn format(&self) -> Format {
        Format::Md
    }

    fn render(&self, letter: &Letter, _: &Recipient) -> Result<Option<Vec<u8>>, Problem> {
        Ok(Some(letter.markdown.clone().into_bytes()))
    }

    fn render_last(&self, letter: &mut Letter, _: &Recipient) -> Result<Option<Vec<u8>>, Problem> {
        Ok(Some(std::mem::take(&mut letter.markdown).into_bytes()))
    }
}

pub struct PlainText;

impl Renderer for PlainText {
    fn format(&self) -> Format {
        Format::Txt
    }

    fn render(&self, letter: &Letter, _: &Recipient) -> Result<Option<Vec<u8>>, Problem> {
        Ok(Some(
            txt::to_text(&letter.markdown, txt::WIDTH).into_bytes(),
        ))
    }
}

pub struct Html;

impl Renderer for Html {
    fn format(&self) -> Format {
        Format::Html
    }

    fn render(&self, letter: &Letter, recipient: &Recipient) -> Result<Option<Vec<u8>>, Problem> {
        Ok(Some(page(letter, recipient).into_bytes()))
    }
}

/// The email of each letter, as `render --format eml` writes it and `send` sends it.
pub struct Email {
    pub envelope: eml::Envelope,
    /// With `[email] attach_pdf`: what makes the letter's PDF, attached to the email.
    pub attach: Option<Arc<dyn Renderer + Send>>,
}

impl Email {
    pub fn new(envelope: eml::Envelope) -> Email {
        Email {
            envelope,
            attach: None,
        }
    }

    /// The letter as the email `send` sends: its text and its page (and its PDF, attached).
    /// `None` for a print-only recipient.
    pub fn message(
        &self,
        letter: &Letter,
        recipient: &Recipient,
    ) -> Result<Option<lettre::Message>, Problem> {
        if recipient.email.is_none() {
            return Ok(None);
        }
        self.copy(letter, recipient, None)
    }

    /// [`Email::message`], or with `test` its test copy (`send --test-to`).
    pub fn copy(
        &self,
        letter: &Letter,
        recipient: &Recipient,
        test: Option<&eml::TestCopy>,
    ) -> Result<Option<lettre::Message>, Problem> {
        if recipient.email.is_none() {
            return Ok(None);
        }
        let attachment = match &self.attach {
            Some(renderer) => renderer.render(letter, recipient)?.map(|bytes| {
                let name = format!("{}.{}", recipient.id, renderer.format().extension());
                (name, bytes)
            }),
            None => None,
        };
        let body = eml::Body {
            text: txt::to_text(&letter.markdown, txt::WIDTH),
            html: page(letter, recipient),
            attachment,
        };
        self.envelope
            .message(recipient, &letter.subject, body, test)
    }
}

/// A renderer shared between two uses (the PDF as a file and as an attachment).
impl<T: Renderer + Send + ?Sized> Renderer for Arc<T> {
    fn format(&self) -> Format {
        (**self).format()
    }

    fn render(&self, letter: &Letter, recipient: &Recipient) -> Result<Option<Vec<u8>>, Problem> {
        (**self).render(letter, recipient)
    }

    fn render_last(
        &self,
        letter: &mut Letter,
        recipient: &Recipient,
    ) -> Result<Option<Vec<u8>>, Problem> {
        (**self).render_last(letter, recipient)
    }

    fn check(&self, letter: &Letter, recipient: &Recipient) -> Result<(), Problem> {
        (**self).check(letter, recipient)
    }

    fn finish(&self) -> Result<Option<(String, Vec<u8>)>, Problem> {
        (**self).finish()
    }
}

impl Renderer for Email {
    fn format(&self) -> Format {
        Format::Eml
    }

    fn render(&self, letter: &Letter, recipient: &Recipient) -> Result<Option<Vec<u8>>, Problem> {
        Ok(self.message(letter, recipient)?.map(|m| m.formatted()))
    }
}

/// The letter as a page, titled by its subject (or, without one, its addressee).
pub(crate) fn page(letter: &Letter, recipient: &Recipient) -> String {
    let title = if letter.subject.is_empty() {
        recipient.name.as_str()
    } else {
        letter.subject.as_str()
    };
    html::page(&letter.markdown, title, recipient.language.tag())
}
