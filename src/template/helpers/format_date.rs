//! `{{format_date date}}`: the long date in the recipient's language.

use chrono::NaiveDate;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};

use super::{language, param, plain_text};
use crate::template::locale::long_date;

pub fn format_date(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    ctx: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = plain_text(param(h, 0, "format_date")?.value());
    let date = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        RenderError::from(RenderErrorReason::Other(format!(
            "format_date needs a date like 2026-12-10, not {value:?}"
        )))
    })?;
    super::write(out, &long_date(date, &language(h, ctx)))?;
    Ok(())
}
