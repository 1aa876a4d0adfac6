//! `{{eq a b}}`: whether two values are equal, for `{{#if (eq recipient.language "fr")}}`.

use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value;

#[derive(Clone, Copy)]
pub struct Eq;

impl HelperDef for Eq {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let a = h.param(0).map(|p| p.value());
        let b = h.param(1).map(|p| p.value());
        Ok(ScopedJson::Derived(Value::Bool(a.is_some() && a == b)))
    }
}
