//! Partials without copies: `{{> name}}` is compiled as `{{__include "name"}}`, which renders the
//! partial in the letter's own context.
//!
//! Handlebars gives every `{{> partial}}` a copy of the whole context; a letter with three
//! partials copied its data three times, a quarter of the time of a large render. A bare
//! `{{> name}}` needs no copy, so it is rewritten; partials with arguments stay partials. Lines
//! and columns before the tag are unchanged, so errors still point at the right place.

use std::borrow::Cow;
use std::cell::RefCell;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
    Renderable, StringOutput,
};

/// The helper's name: not one a template would use by accident.
pub const HELPER: &str = "__include";

thread_local! {
    static BLOCKS: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// What each partial included on a line of its own wrote, by name and in order, for the letter
/// rendered on this thread: the PDF places the `sender` and `address` blocks where a letter has
/// them. Like footnotes, collected per thread around one letter's render.
pub struct Blocks;

impl Blocks {
    pub fn collect<T>(render: impl FnOnce() -> T) -> (T, Vec<(String, String)>) {
        super::helpers::collect(&BLOCKS, render)
    }
}

/// Rewrites each bare `{{> name}}`. A tag alone on its line is marked standalone: Handlebars
/// drops such a line's own line break, so the helper drops the partial's last one instead.
pub fn rewrite(text: &str) -> Cow<'_, str> {
    if !text.contains("{{>") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let indented = body.starts_with([' ', '\t']);
        match bare_partial(body.trim_start()) {
            // Handlebars indents every line of an indented partial: leave those to it.
            Some(_) if indented => out.push_str(body),
            Some(name) => out.push_str(&format!("{{{{{HELPER} \"{name}\" standalone=true}}}}")),
            None => out.push_str(&rewrite_inline(body)),
        }
        out.push_str(ending);
    }
    Cow::Owned(out)
}

/// `{{> name}}` alone on a line (no indent): the partial's name.
fn bare_partial(line: &str) -> Option<&str> {
    let name = line.strip_prefix("{{>")?.strip_suffix("}}")?.trim();
    is_name(name).then_some(name)
}

/// Bare `{{> name}}` tags inside a line of text.
fn rewrite_inline(line: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("{{>") {
        let Some(end) = rest[i..].find("}}") else {
            break;
        };
        let name = rest[i + 3..i + end].trim();
        out.push_str(&rest[..i]);
        if is_name(name) {
            out.push_str(&format!("{{{{{HELPER} \"{name}\"}}}}"));
        } else {
            out.push_str(&rest[i..i + end + 2]);
        }
        rest = &rest[i + end + 2..];
    }
    if out.is_empty() {
        return Cow::Borrowed(line);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
}

/// Renders the named partial in place, in the current context: an inline partial of that name
/// first (`{{#*inline "name"}}`), as Handlebars would, then a file's. The partial is on the
/// merge's chain while it renders ([`super::guard`]).
pub fn include<'reg, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    let name = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(HELPER, 0))?;
    let template = rc
        .get_partial(name)
        .or_else(|| r.get_template(name))
        .ok_or_else(|| RenderErrorReason::PartialNotFound(name.to_string()))?;
    let standalone = h
        .hash_get("standalone")
        .and_then(|v| v.value().as_bool())
        .unwrap_or(false);
    let _entered = super::guard::enter(name)?;
    let outer = rc.get_current_template_name();
    if !standalone {
        template.render(r, ctx, rc, out)?;
        rc.set_current_template_name(outer);
        return Ok(());
    }
    let mut inner = StringOutput::new();
    template.render(r, ctx, rc, &mut inner)?;
    rc.set_current_template_name(outer);
    place(name, inner.into_string()?, standalone, out)
}

/// Writes what a partial merged to. A partial on a line of its own loses its last line break
/// (the line's own is dropped by Handlebars), and its text is noted as a block.
pub fn place(name: &str, text: String, standalone: bool, out: &mut dyn Output) -> HelperResult {
    if !standalone {
        out.write(&text)?;
        return Ok(());
    }
    let text = text.strip_suffix('\n').unwrap_or(&text);
    out.write(text)?;
    BLOCKS.with(|b| b.borrow_mut().push((name.to_string(), text.to_string())));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_partials_become_includes_and_others_stay() {
        let text = "{{> sender}}\n\nDear {{> name}},\n{{> sig this}}\n  {{> indented}}\n";
        let rewritten = rewrite(text);
        assert_eq!(
            rewritten,
            "{{__include \"sender\" standalone=true}}\n\nDear {{__include \"name\"}},\n{{> sig this}}\n  {{> indented}}\n"
        );
        assert_eq!(rewritten.lines().count(), text.lines().count());
    }
}
