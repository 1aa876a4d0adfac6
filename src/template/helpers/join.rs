//! `{{join list}}`: "A, B and C" with the conjunction of the recipient's language.

use handlebars::{Context, Handlebars, Helper, HelperResult, Output, RenderContext};

use super::{escaped_items, language, param};
use crate::template::locale;

pub fn join(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    ctx: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let items = escaped_items(param(h, 0, "join")?)?;
    let conj = h.hash_get("conj").and_then(|v| v.value().as_str());
    super::write(out, &locale::join(&items, &language(h, ctx), conj))?;
    Ok(())
}
