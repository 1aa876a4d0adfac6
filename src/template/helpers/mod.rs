//! Handlebars helpers that letters need, one per file.

use std::cell::RefCell;
use std::thread::LocalKey;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, PathAndJson, RenderError, RenderErrorReason,
};
use serde_json::Value;

use super::escape::escape_markdown;
use super::text;

pub mod default;
pub mod enumerate;
pub mod eq;
pub mod footnote;
pub mod format_date;
pub mod join;
pub mod lines;

/// Registers every helper on `registry`.
pub fn register(registry: &mut Handlebars<'_>) {
    registry.register_helper("format_date", Box::new(format_date::format_date));
    registry.register_helper("join", Box::new(join::join));
    registry.register_helper("lines", Box::new(lines::lines));
    registry.register_helper("enumerate", Box::new(enumerate::enumerate));
    registry.register_helper("footnote", Box::new(footnote::footnote));
    registry.register_helper("eq", Box::new(eq::Eq));
    registry.register_helper("default", Box::new(default::Default));
    registry.register_helper(
        crate::template::include::HELPER,
        Box::new(crate::template::include::include),
    );
    use crate::template::guard;
    registry.register_helper(guard::STEP, Box::new(guard::step_helper));
    registry.register_helper(guard::PARTIAL, Box::new(guard::partial_helper));
    registry.register_helper(guard::COUNT, Box::new(guard::count_helper));
    registry.register_helper(guard::CONTENT, Box::new(guard::content_helper));
    // A helper added here is added to NAMES too.
}

/// Writes what a helper made, counted in the letter's text (see [`crate::template::guard`]).
pub(crate) fn write(out: &mut dyn Output, text: &str) -> HelperResult {
    crate::template::guard::text(text.len())?;
    out.write(text)?;
    Ok(())
}

/// Every helper of a registry that [`register`] filled, Handlebars' own first: `{{name}}` calls
/// one of these rather than printing a value. A helper registered above is named here too.
const NAMES: [&str; 24] = [
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "raw",
    "log",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
    "format_date",
    "join",
    "lines",
    "enumerate",
    "footnote",
    "default",
    crate::template::include::HELPER,
];

/// Whether `{{name}}` calls a helper (see [`NAMES`]).
pub fn is_helper(name: &str) -> bool {
    use crate::template::guard;
    NAMES.contains(&name)
        || name == crate::template::text::HELPER
        || [guard::STEP, guard::PARTIAL, guard::COUNT, guard::CONTENT].contains(&name)
}

/// The helper's `i`th parameter; a missing value is an error, as everywhere in a letter.
pub(crate) fn param<'a, 'rc>(
    h: &'a Helper<'rc>,
    i: usize,
    helper: &'static str,
) -> Result<&'a PathAndJson<'rc>, RenderError> {
    let p = h
        .param(i)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(helper, i))?;
    if p.is_value_missing() {
        return Err(RenderError::strict_error(p.relative_path()));
    }
    Ok(p)
}

/// The language the letter is written in: the `lang` hash, else the recipient's, else English.
pub(crate) fn language(h: &Helper<'_>, ctx: &Context) -> String {
    h.hash_get("lang")
        .and_then(|v| v.value().as_str())
        .or_else(|| ctx.data().pointer("/recipient/language")?.as_str())
        .unwrap_or("en")
        .to_string()
}

/// A list parameter as items of escaped text; a single value is a list of one. An item that is
/// not text (a table, a list, true/false) is an error that names it.
pub(crate) fn escaped_items(param: &PathAndJson<'_>) -> Result<Vec<String>, RenderError> {
    match param.value() {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| Ok(escaped_text(text::item_text(param, item, Some(i))?)))
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![escaped_text(text::item_text(param, other, None)?)]),
    }
}

/// A value as Markdown-safe text.
pub(crate) fn escaped_text(value: &Value) -> String {
    escape_markdown(&plain_text(value))
}

/// A value as plain text (strings without quotes; numbers as written).
pub(crate) fn plain_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(plain_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// What helpers gather while one letter renders on this thread (its footnotes, its blocks): the
/// list is emptied before `render` and taken after. A letter renders on one thread, start to end.
pub(crate) fn collect<T, I: 'static>(
    list: &'static LocalKey<RefCell<Vec<I>>>,
    render: impl FnOnce() -> T,
) -> (T, Vec<I>) {
    list.with(|l| l.borrow_mut().clear());
    let result = render();
    let items = list.with(|l| std::mem::take(&mut *l.borrow_mut()));
    (result, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_called_a_helper_is_one() {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        register(&mut registry);
        let reason = |name: &str| {
            registry
                .render_template(&format!("{{{{{name}}}}}"), &serde_json::json!({}))
                .err()
                .map(|e| e.reason().to_string())
        };
        for name in NAMES {
            let missing = reason(name).is_some_and(|r| r.contains("Failed to access variable"));
            assert!(!missing, "{name} is read as a value: {:?}", reason(name));
        }
        assert!(reason("letter").is_some_and(|r| r.contains("Failed to access variable")));
    }
}
