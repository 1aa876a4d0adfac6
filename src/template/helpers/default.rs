//! `{{default value "fallback"}}`: the value, or the fallback where the value is missing or empty.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value;

#[derive(Clone, Copy)]
pub struct Default;

impl HelperDef for Default {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let fallback = h
            .param(1)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("default", 1))?;
        let chosen = match h.param(0) {
            Some(p) if !p.is_value_missing() && !is_empty(p.value()) => p.value(),
            _ => fallback.value(),
        };
        Ok(ScopedJson::Derived(chosen.clone()))
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}
