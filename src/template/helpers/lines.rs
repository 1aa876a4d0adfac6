//! `{{lines list}}`: each item on its own line, for postal addresses and signatory lists.

use handlebars::{Context, Handlebars, Helper, HelperResult, Output, RenderContext};

use super::{escaped_items, param};

pub fn lines(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let items = escaped_items(param(h, 0, "lines")?)?;
    // A backslash before the newline is Markdown's hard line break.
    super::write(out, &items.join("\\\n"))?;
    Ok(())
}
