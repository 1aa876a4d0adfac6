//! What a letter prints must be text. Handlebars prints a table as `[object]`, a list as
//! `[a, b]` and true as `true`, silently; here each is an error that names the value.
//!
//! Every `{{path}}` that prints a value is compiled as `{{__text path}}` ([`guard`]), whose helper
//! prints text and numbers exactly as Handlebars would and refuses anything else with
//! [`NotText`]. Helpers that print lists (`join`, `lines`, `enumerate`) check their items with
//! [`item_text`]. Lists and tables still go wherever a template reads them as such:
//! `{{#each}}`, `{{#with}}`, `{{#if}}`, a helper's parameter.

use std::fmt;

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, PathAndJson, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::Value;

/// The helper every printed value goes through.
pub const HELPER: &str = "__text";

/// A value printed where a letter needs text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotText {
    /// Where the value is in the letter's data, `["letter", "demands", "1"]`, when it comes
    /// from there; else the path as the template writes it.
    pub path: Vec<String>,
    /// "a table", "a list", "true/false".
    pub found: &'static str,
}

impl NotText {
    /// The top-level name and key the value was set under (`letter.demands`), when known.
    pub fn key(&self) -> Option<(&str, &str)> {
        match self.path.as_slice() {
            [table, key, ..]
                if matches!(
                    table.as_str(),
                    "recipient" | "letter" | "sender" | "campaign"
                ) =>
            {
                Some((table, key))
            }
            _ => None,
        }
    }

    /// The value as a person names it: "`letter.subject`", "`letter.demands` item 2",
    /// "`name` of `letter.signers` item 1".
    pub fn name(&self) -> String {
        let mut parts = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for segment in &self.path {
            match segment.parse::<usize>() {
                Ok(i) if names.is_empty() => parts.push(format!("item {}", i + 1)),
                Ok(i) => {
                    parts.push(format!("`{}` item {}", names.join("."), i + 1));
                    names.clear();
                }
                Err(_) => names.push(segment),
            }
        }
        if !names.is_empty() || parts.is_empty() {
            parts.push(format!("`{}`", names.join(".")));
        }
        parts.reverse();
        parts.join(" of ")
    }

    /// What to do about it.
    pub fn remedy(&self) -> &'static str {
        match self.found {
            "a list" => "write it as text in quotes, or print the list with {{join …}}, {{lines …}}, {{enumerate …}} or {{#each …}}",
            "a table" => "write it as text in quotes, or print the table's keys one by one (e.g. {{#each …}}{{@key}}: {{this}}{{/each}})",
            _ => "true/false is for {{#if …}}: to print it, write text in quotes",
        }
    }

    fn error(self) -> RenderError {
        RenderErrorReason::NestedError(Box::new(self)).into()
    }
}

impl fmt::Display for NotText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must be text, found {}", self.name(), self.found)
    }
}

impl std::error::Error for NotText {}

/// What kind of value `value` is, when it is not one a letter can print.
fn not_text(value: &Value) -> Option<&'static str> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Null => None,
        Value::Bool(_) => Some("true/false"),
        Value::Array(_) => Some("a list"),
        Value::Object(_) => Some("a table"),
    }
}

/// Where a helper's parameter is in the letter's data, or the path as written.
fn path_of(param: &PathAndJson<'_>) -> Vec<String> {
    match (param.context_path(), param.relative_path()) {
        (Some(path), _) => path.clone(),
        (None, Some(written)) => written.split(['.', '/']).map(str::to_string).collect(),
        (None, None) => Vec::new(),
    }
}

/// `param`'s value when it is printable: an error naming it otherwise.
pub fn printable<'a>(param: &'a PathAndJson<'_>) -> Result<&'a Value, RenderError> {
    let value = param.value();
    match not_text(value) {
        None => Ok(value),
        Some(found) => Err(NotText {
            path: path_of(param),
            found,
        }
        .error()),
    }
}

/// Item `index` of the list `param` holds (or `param` itself, a list of one, when `index` is
/// `None`), when it is printable.
pub fn item_text<'v>(
    param: &PathAndJson<'_>,
    item: &'v Value,
    index: Option<usize>,
) -> Result<&'v Value, RenderError> {
    match not_text(item) {
        None => Ok(item),
        Some(found) => {
            let mut path = path_of(param);
            path.extend(index.map(|i| i.to_string()));
            Err(NotText { path, found }.error())
        }
    }
}

/// `{{__text path}}`: the value, as Handlebars prints it, when it is text or a number.
#[derive(Clone, Copy)]
pub struct Text;

impl HelperDef for Text {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex(HELPER, 0))?;
        if param.is_value_missing() {
            return Err(RenderError::strict_error(param.relative_path()));
        }
        Ok(ScopedJson::Derived(printable(param)?.clone()))
    }
}

/// Makes every value printed by the templates of `registry` go through [`Text`]. Names that are
/// helpers (`{{len}}` calls `len`) are left as they are.
pub fn guard(registry: &mut Handlebars<'_>, is_helper: impl Fn(&str) -> bool) {
    let guarded: Vec<(String, Template)> = registry
        .get_templates()
        .iter()
        .map(|(name, template)| {
            let mut template = template.clone();
            guard_template(&mut template, &is_helper);
            (name.clone(), template)
        })
        .collect();
    for (name, template) in guarded {
        registry.register_template(&name, template);
    }
    registry.register_helper(HELPER, Box::new(Text));
}

fn guard_template(template: &mut Template, is_helper: &impl Fn(&str) -> bool) {
    for element in &mut template.elements {
        match element {
            TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht) => {
                let value_only = !ht.block && ht.params.is_empty() && ht.hash.is_empty();
                if let (true, Parameter::Path(_), Some(name)) =
                    (value_only, &ht.name, ht.name.as_name())
                {
                    if !is_helper(name) {
                        let printed =
                            std::mem::replace(&mut ht.name, Parameter::Name(HELPER.into()));
                        ht.params.push(printed);
                    }
                }
            }
            TemplateElement::HelperBlock(ht) => {
                for inner in [&mut ht.template, &mut ht.inverse].into_iter().flatten() {
                    guard_template(inner, is_helper);
                }
            }
            TemplateElement::DecoratorBlock(dt) | TemplateElement::PartialBlock(dt) => {
                if let Some(inner) = &mut dt.template {
                    guard_template(inner, is_helper);
                }
            }
            _ => {}
        }
    }
}

/// The parameter a value expression prints: `{{path}}` as Handlebars parses it, or as [`guard`]
/// rewrites it.
pub fn printed(ht: &handlebars::template::HelperTemplate) -> Option<&Parameter> {
    if ht.block || !ht.hash.is_empty() {
        return None;
    }
    match (ht.name.as_name(), ht.params.as_slice()) {
        (Some(HELPER), [param]) => Some(param),
        (_, []) => Some(&ht.name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_text(path: &[&str]) -> String {
        NotText {
            path: path.iter().map(|s| s.to_string()).collect(),
            found: "a list",
        }
        .to_string()
    }

    #[test]
    fn a_value_is_named_as_a_person_names_it() {
        assert_eq!(
            not_text(&["letter", "subject"]),
            "`letter.subject` must be text, found a list"
        );
        assert_eq!(
            not_text(&["letter", "demands", "1"]),
            "`letter.demands` item 2 must be text, found a list"
        );
        assert_eq!(
            not_text(&["letter", "signers", "0", "name"]),
            "`name` of `letter.signers` item 1 must be text, found a list"
        );
        assert_eq!(
            not_text(&["recipient", "address", "0", "2"]),
            "item 3 of `recipient.address` item 1 must be text, found a list"
        );
        assert_eq!(not_text(&["this"]), "`this` must be text, found a list");
    }

    #[test]
    fn printed_values_are_guarded_and_helpers_left_alone() {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry
            .register_template_string(
                "t",
                "{{a.b}} {{{a.b}}} {{len a.list}}{{#each a.list}}{{this}}{{else}}{{a.b}}{{/each}}",
            )
            .unwrap();
        guard(&mut registry, |name| ["len", "each"].contains(&name));
        let guarded = |element: &TemplateElement| match element {
            TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht) => {
                ht.name.as_name() == Some(HELPER)
            }
            _ => false,
        };
        let t = registry.get_template("t").unwrap();
        let marks: Vec<bool> = t.elements.iter().map(guarded).collect();
        assert_eq!(marks, [true, false, true, false, false, false], "{t:#?}");
        let TemplateElement::HelperBlock(each) = &t.elements[5] else {
            panic!("{t:#?}");
        };
        assert!(guarded(&each.template.as_ref().unwrap().elements[0]));
        assert!(guarded(&each.inverse.as_ref().unwrap().elements[0]));
        let data = serde_json::json!({"a": {"b": "x & y", "list": [1, 2]}});
        assert_eq!(registry.render("t", &data).unwrap(), "x &amp; y x & y 212");
        let table = serde_json::json!({"a": {"b": {"c": 1}, "list": []}});
        let e = registry.render("t", &table).unwrap_err();
        assert!(
            e.to_string().contains("`a.b` must be text, found a table"),
            "{e}"
        );
        let missing = registry
            .render("t", &serde_json::json!({"a": {}}))
            .unwrap_err();
        assert!(
            matches!(missing.reason(), RenderErrorReason::MissingVariable(Some(p)) if p == "a.b"),
            "{missing}"
        );
    }
}
