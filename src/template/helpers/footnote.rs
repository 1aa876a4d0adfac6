//! `{{footnote "text"}}` and `{{#footnote}}text{{/footnote}}`: numbered notes, collected in
//! order and written at the end of the letter.
//!
//! The notes of the letter being rendered live in a per-thread list: a letter is rendered on one
//! thread from start to end, and [`Notes::collect`] clears the list before and takes it after.

use std::cell::RefCell;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, Renderable, StringOutput,
};

use super::{escaped_text, param};

thread_local! {
    static NOTES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The footnotes of one letter, in the order they were referenced.
pub struct Notes;

impl Notes {
    /// Runs `render` and returns its result with the footnotes it made.
    pub fn collect<T>(render: impl FnOnce() -> T) -> (T, Vec<String>) {
        super::collect(&NOTES, render)
    }

    /// The notes as Markdown footnote definitions, to append to the letter.
    pub fn definitions(notes: &[String]) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(notes.iter().map(|n| n.len() + 8).sum());
        for (i, text) in notes.iter().enumerate() {
            let gap = if i == 0 { "" } else { "\n" };
            let _ = writeln!(out, "{gap}[^{}]: {text}", i + 1);
        }
        out
    }
}

pub fn footnote<'reg, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    let text = match h.template() {
        Some(block) => {
            let mut inner = StringOutput::new();
            block.render(r, ctx, rc, &mut inner)?;
            inner.into_string()?
        }
        None => {
            let p = param(h, 0, "footnote")?;
            // Words written in the template are Markdown; a value from the data is text.
            let text = match (p.relative_path(), p.value().as_str()) {
                (None, Some(literal)) => literal.to_string(),
                _ => escaped_text(crate::template::text::printable(p)?),
            };
            // A block's text was counted as it was merged; this one is made here.
            crate::template::guard::text(text.len())?;
            text
        }
    };
    add(one_paragraph(text), out)
}

/// Adds a note to the letter being rendered on this thread and writes its mark, `[^2]`.
pub fn add(text: String, out: &mut dyn Output) -> HelperResult {
    let number = NOTES.with(|n| {
        let mut notes = n.borrow_mut();
        notes.push(text);
        notes.len()
    });
    super::write(out, &format!("[^{number}]"))
}

/// The text of the last note added on this thread.
pub fn last() -> Option<String> {
    NOTES.with(|n| n.borrow().last().cloned())
}

/// A note is one paragraph: line breaks and runs of spaces inside it become one space, and it
/// has none at either end. Most notes are written that way already and are kept as they are.
fn one_paragraph(text: String) -> String {
    let plain = !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ")
        && !text.chars().any(|c| c != ' ' && c.is_whitespace());
    if plain {
        return text;
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::one_paragraph;

    #[test]
    fn a_note_is_one_paragraph() {
        for (text, want) in [
            ("Report, 2014.", "Report, 2014."),
            ("  Report,\n  2014.\n", "Report, 2014."),
            ("a  b\tc\r\nd", "a b c d"),
            ("Rapport\u{a0}: 2014", "Rapport : 2014"),
            ("", ""),
        ] {
            assert_eq!(one_paragraph(text.to_string()), want, "{text:?}");
        }
    }
}
