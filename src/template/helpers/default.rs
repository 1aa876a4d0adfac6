//! `{{default value "fallback"}}`: the value, or the fallback where the value is missing or empty.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, PathAndJson, RenderContext,
    RenderError, RenderErrorReason, ScopedJson,
};
use serde_json::Value;

#[derive(Clone, Copy)]
pub struct Default;

/// `default` as a parameter of another helper (`{{#each (default a b)}}`): any value, a list too.
struct Chosen;

impl HelperDef for Chosen {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        Ok(ScopedJson::Derived(choose(h)?.value().clone()))
    }
}

impl HelperDef for Default {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        Chosen.call_inner(h, r, ctx, rc)
    }

    /// Printed (`{{default a b}}`), the value must be text, as every value a letter prints.
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        crate::template::text::printable(choose(h)?)?;
        Chosen.call(h, r, ctx, rc, out)
    }
}

/// The parameter `default` gives: the value, or the fallback where it is missing or empty.
fn choose<'a, 'rc>(h: &'a Helper<'rc>) -> Result<&'a PathAndJson<'rc>, RenderError> {
    let fallback = h
        .param(1)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("default", 1))?;
    Ok(match h.param(0) {
        Some(p) if !p.is_value_missing() && !is_empty(p.value()) => p,
        _ => fallback,
    })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}
