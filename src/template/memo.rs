//! The parts of a letter that are the same in every letter, merged once.
//!
//! Most of a campaign's letter reads only campaign-wide names: the sender's block, the date, the
//! demands, the signatures. At load time each top-level piece of every template is classed
//! ([`Plan`]): a piece is *fixed* when everything it reads is `letter`, `sender`, `campaign` or
//! `date` (or, inside `{{#each}}`/`{{#with}}` over such a value, that value's own items), and
//! every helper it calls depends only on its parameters and the letter's language. A fixed piece
//! merges to the same text for every recipient who has the same language and no
//! `[recipient.letter]` slots of their own, so its text is kept ([`Memo`]) and written again for
//! the next such recipient instead of being merged again.
//!
//! A footnote with fixed text keeps its text and is numbered afresh in each letter. Anything
//! else that is not plainly fixed is merged for each letter: a partial with arguments, a path
//! that climbs out of its block (`../`, `@root`), a helper not on the list. Handlebars' own state
//! between pieces (whether the last text ended a line, and so on) is recorded with the text and
//! put back, so what follows a kept piece merges exactly as it would have.
//!
//! The pieces are walked here rather than by Handlebars, which also lets the commonest varying
//! ones — a text value, `{{#if}}` on a plain path, a bare partial, the guard's `__step` — be
//! merged directly, as Handlebars would merge them at the top of a template. Kept text written
//! again counts in the letter's text ([`super::guard`]); its steps were counted once.

use std::collections::HashMap;

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::{
    Context, Handlebars, JsonTruthy, Output, Path, PathSeg, RenderContext, RenderError,
    RenderErrorReason, Renderable, StringOutput,
};
use serde_json::Value;

use super::helpers::footnote;
use super::{guard, include};

/// Names every letter shares: a path that starts with one of them reads no recipient data.
const SHARED: [&str; 4] = ["letter", "sender", "campaign", "date"];

/// Helpers whose output depends only on their parameters and on the letter's language.
const PURE_HELPERS: [&str; 21] = [
    super::text::HELPER,
    "if",
    "unless",
    "each",
    "with",
    "lookup",
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
    "default",
    "join",
    "lines",
    "enumerate",
    "format_date",
];

/// Helpers that render their block in the context of their first parameter.
const SCOPING_HELPERS: [&str; 2] = ["each", "with"];

/// What each top-level piece of each template is.
#[derive(Debug, Default)]
pub struct Plan {
    /// By name: the template's number (its place in a [`Memo`]) and its pieces.
    templates: HashMap<String, (usize, Vec<Piece>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Merged for every letter.
    Varying,
    /// The same for every recipient with the same language and no letter slots of their own.
    Fixed,
    /// A bare partial on its own (`{{> name}}`, compiled to `__include`): its own pieces are
    /// classed in turn.
    Include { name: String, standalone: bool },
    /// `{{#footnote}}…{{/footnote}}` whose text is fixed: the text is kept, and the note is
    /// numbered afresh in each letter.
    Note,
}

impl Plan {
    /// Classes the pieces of every template of `registry`.
    pub fn new(registry: &Handlebars<'_>) -> Plan {
        let templates = registry
            .get_templates()
            .iter()
            .enumerate()
            .map(|(i, (name, template))| {
                let pieces = template.elements.iter().map(piece).collect();
                (name.clone(), (i, pieces))
            })
            .collect();
        Plan { templates }
    }

    /// How many pieces of the named template are fixed (for tests).
    #[cfg(test)]
    fn fixed(&self, name: &str) -> usize {
        self.templates
            .get(name)
            .map_or(0, |(_, p)| p.iter().filter(|p| **p == Piece::Fixed).count())
    }
}

/// The kept text of fixed pieces of one [`Plan`]'s templates, for one thread's letters: by
/// language, then template number, then piece.
#[derive(Debug, Default)]
pub struct Memo {
    kept: HashMap<String, Shelf>,
}

/// One language's kept text: by template number, then piece.
type Shelf = Vec<Vec<Option<Kept>>>;

impl Memo {
    fn shelf(&mut self, language: &str) -> &mut Shelf {
        if !self.kept.contains_key(language) {
            self.kept.insert(language.to_string(), Vec::new());
        }
        self.kept.get_mut(language).expect("inserted above")
    }
}

/// A fixed piece's text, with Handlebars' state before and after it.
#[derive(Debug, Clone)]
struct Kept {
    before: State,
    text: String,
    after: State,
}

/// What Handlebars carries from one piece to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    trailing_newline: bool,
    content_produced: bool,
    indent_before_write: bool,
}

impl State {
    fn of(rc: &RenderContext<'_, '_>) -> State {
        State {
            trailing_newline: rc.get_trailine_newline(),
            content_produced: rc.get_content_produced(),
            indent_before_write: rc.get_indent_before_write(),
        }
    }

    /// What Handlebars does before calling a helper: the state to go back to if it writes
    /// nothing.
    fn enter_helper(rc: &mut RenderContext<'_, '_>) -> State {
        let before = State::of(rc);
        rc.set_content_produced(false);
        before
    }

    /// And after: a helper that wrote nothing leaves the state as it was.
    fn leave_helper(self, rc: &mut RenderContext<'_, '_>) {
        if rc.get_content_produced() {
            rc.set_indent_before_write(rc.get_trailine_newline());
        } else {
            rc.set_content_produced(self.content_produced);
            rc.set_indent_before_write(self.indent_before_write);
        }
    }

    fn restore(self, rc: &mut RenderContext<'_, '_>) {
        rc.set_trailing_newline(self.trailing_newline);
        rc.set_content_produced(self.content_produced);
        rc.set_indent_before_write(self.indent_before_write);
    }
}

/// Kept text may be used for this letter: its language, when it has no letter slots of its own.
pub struct Reuse<'m> {
    pub memo: &'m mut Memo,
    pub language: &'m str,
}

/// Merges the named template as Handlebars would, using and filling `reuse`'s kept text.
pub fn render(
    registry: &Handlebars<'_>,
    plan: &Plan,
    reuse: Option<&mut Reuse<'_>>,
    name: &str,
    ctx: &Context,
) -> Result<String, RenderError> {
    let template = registry
        .get_template(name)
        .ok_or_else(|| RenderErrorReason::TemplateNotFound(name.to_string()))?;
    guard::run(|| {
        let mut rc = RenderContext::new(template.name.as_ref());
        rc.set_recursive_lookup(registry.recursive_lookup());
        let mut out = StringOutput::new();
        let mut merge = Merge {
            registry,
            plan,
            ctx,
            shelf: reuse.map(|reuse| reuse.memo.shelf(reuse.language)),
        };
        merge.template(Some(name), template, &mut rc, &mut out)?;
        Ok(out.into_string()?)
    })
}

struct Merge<'a, 'reg> {
    registry: &'reg Handlebars<'reg>,
    plan: &'a Plan,
    ctx: &'a Context,
    /// Kept text that may be used for this letter.
    shelf: Option<&'a mut Shelf>,
}

impl<'a, 'reg> Merge<'a, 'reg> {
    /// One template's pieces in order; errors get the piece's line and column, as Handlebars
    /// gives them. `name` is `None` for a block's template: its pieces are not classed.
    fn template<'rc>(
        &mut self,
        name: Option<&str>,
        template: &'rc Template,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut StringOutput,
    ) -> Result<(), RenderError>
    where
        'reg: 'rc,
        'a: 'rc,
    {
        rc.set_current_template_name(template.name.as_ref());
        let plan = self.plan;
        let (number, pieces) = match name.and_then(|name| plan.templates.get(name)) {
            Some((number, pieces)) => (*number, pieces.as_slice()),
            None => (usize::MAX, &[][..]),
        };
        for (idx, element) in template.elements.iter().enumerate() {
            let piece = pieces.get(idx).unwrap_or(&Piece::Varying);
            self.piece(number, idx, piece, element, rc, out)
                .map_err(|mut e| {
                    if e.line_no.is_none() {
                        if let Some(m) = template.mapping.get(idx) {
                            e.line_no = Some(m.0);
                            e.column_no = Some(m.1);
                        }
                    }
                    if e.template_name.is_none() {
                        e.template_name.clone_from(&template.name);
                    }
                    e
                })?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn piece<'rc>(
        &mut self,
        number: usize,
        idx: usize,
        piece: &Piece,
        element: &'rc TemplateElement,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut StringOutput,
    ) -> Result<(), RenderError>
    where
        'reg: 'rc,
        'a: 'rc,
    {
        match piece {
            Piece::Varying => {
                if self.quick(element, rc, out)? {
                    return Ok(());
                }
                element.render(self.registry, self.ctx, rc, out)
            }
            Piece::Include { name, standalone } => {
                let partial = match self.registry.get_template(name) {
                    // An inline partial of that name comes first; the helper finds it, and
                    // reports a missing partial.
                    Some(partial) if rc.get_partial(name).is_none() => partial,
                    _ => return element.render(self.registry, self.ctx, rc, out),
                };
                let _entered = guard::enter(name)?;
                let before = State::enter_helper(rc);
                let outer = rc.get_current_template_name();
                let mut inner = StringOutput::new();
                self.template(Some(name), partial, rc, &mut inner)?;
                rc.set_current_template_name(outer);
                before.leave_helper(rc);
                include::place(name, inner.into_string()?, *standalone, out)?;
                Ok(())
            }
            Piece::Fixed | Piece::Note => {
                let Some(shelf) = self.shelf.as_deref_mut() else {
                    return element.render(self.registry, self.ctx, rc, out);
                };
                if shelf.len() <= number {
                    shelf.resize(number + 1, Vec::new());
                }
                let before = State::of(rc);
                let slots = &mut shelf[number];
                if let Some(Some(kept)) = slots.get(idx) {
                    if kept.before == before {
                        guard::text(kept.text.len())?;
                        if *piece == Piece::Note {
                            footnote::add(kept.text.clone(), out)?;
                        } else {
                            out.write(&kept.text)?;
                        }
                        kept.after.restore(rc);
                        return Ok(());
                    }
                }
                let mut text = StringOutput::new();
                element.render(self.registry, self.ctx, rc, &mut text)?;
                let mut text = text.into_string()?;
                out.write(&text)?;
                if *piece == Piece::Note {
                    // What is kept is the note itself, not its number.
                    let Some(note) = footnote::last() else {
                        return Ok(());
                    };
                    text = note;
                }
                if slots.len() <= idx {
                    slots.resize(idx + 1, None);
                }
                slots[idx] = Some(Kept {
                    before,
                    text,
                    after: State::of(rc),
                });
                Ok(())
            }
        }
    }

    /// The two commonest pieces that vary, merged without Handlebars' general machinery, exactly
    /// as it would merge them here (at the top of a template, where nothing is indented and the
    /// context is the letter's own): `{{recipient.name}}` with a text value, and
    /// `{{#if recipient.title}}…{{else}}…{{/if}}` (or `unless`) on a plain path. Anything else —
    /// a missing value that must be reported, a number, a path with `this` or `..` — is left to
    /// Handlebars (`false`).
    fn quick<'rc>(
        &mut self,
        element: &'rc TemplateElement,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut StringOutput,
    ) -> Result<bool, RenderError>
    where
        'reg: 'rc,
        'a: 'rc,
    {
        match element {
            TemplateElement::Expression(ht) if ht.name.as_name() == Some(guard::STEP) => {
                let number = |i: usize| match ht.params.get(i) {
                    Some(Parameter::Literal(value)) => value.as_u64().unwrap_or(0),
                    _ => 0,
                };
                guard::step(number(0), number(1))?;
                Ok(true)
            }
            TemplateElement::Expression(ht) => {
                let Some(Parameter::Path(Path::Relative((segs, _)))) = super::text::printed(ht)
                else {
                    return Ok(false);
                };
                // One name could be a helper's.
                if segs.len() < 2 {
                    return Ok(false);
                }
                let Found::Value(Value::String(text)) = find(self.ctx.data(), segs) else {
                    return Ok(false);
                };
                let text = if rc.is_disable_escape() {
                    text.clone()
                } else {
                    (self.registry.get_escape_fn())(text)
                };
                if !text.is_empty() {
                    rc.set_content_produced(true);
                    out.write(&text)?;
                    let trailing = text.ends_with(['\n', '\r']);
                    rc.set_trailing_newline(trailing);
                    rc.set_indent_before_write(trailing);
                }
                Ok(true)
            }
            TemplateElement::HelperBlock(ht) => {
                let positive = match ht.name.as_name() {
                    Some("if") => true,
                    Some("unless") => false,
                    _ => return Ok(false),
                };
                if ht.params.len() != 1 || !ht.hash.is_empty() || ht.block_param.is_some() {
                    return Ok(false);
                }
                let Parameter::Path(Path::Relative((segs, _))) = &ht.params[0] else {
                    return Ok(false);
                };
                let truthy = match find(self.ctx.data(), segs) {
                    Found::Value(value) => value.is_truthy(false),
                    Found::Missing => false,
                    Found::Unsure => return Ok(false),
                };
                let chosen = if truthy == positive {
                    ht.template.as_ref()
                } else {
                    ht.inverse.as_ref()
                };
                let before = State::enter_helper(rc);
                if let Some(chosen) = chosen {
                    self.template(None, chosen, rc, out)?;
                }
                before.leave_helper(rc);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// What a plain path names in the letter's data.
enum Found<'v> {
    Value(&'v Value),
    /// A table along the way has no such key: Handlebars sees a missing value.
    Missing,
    /// Something this shortcut does not decide (`this`, `..`, an index into a list).
    Unsure,
}

fn find<'v>(data: &'v Value, segs: &[PathSeg]) -> Found<'v> {
    let mut at = data;
    for seg in segs {
        let PathSeg::Named(key) = seg else {
            return Found::Unsure;
        };
        let Value::Object(table) = at else {
            return Found::Unsure;
        };
        match table.get(key) {
            Some(value) => at = value,
            None => return Found::Missing,
        }
    }
    Found::Value(at)
}

/// Classes one top-level piece.
fn piece(element: &TemplateElement) -> Piece {
    match element {
        TemplateElement::Expression(ht) => {
            if let Some(include) = bare_include(ht) {
                return include;
            }
            class(fixed_helper(ht, false))
        }
        TemplateElement::HelperBlock(ht) if is_fixed_note(ht) => Piece::Note,
        TemplateElement::HtmlExpression(ht) | TemplateElement::HelperBlock(ht) => {
            class(fixed_helper(ht, false))
        }
        // Plain text costs nothing to merge; decorators and Handlebars' own partials are left
        // to Handlebars.
        _ => Piece::Varying,
    }
}

fn class(fixed: bool) -> Piece {
    if fixed {
        Piece::Fixed
    } else {
        Piece::Varying
    }
}

/// `{{#footnote}}…{{/footnote}}` with a fixed text and nothing else.
fn is_fixed_note(ht: &handlebars::template::HelperTemplate) -> bool {
    ht.name.as_name() == Some("footnote")
        && ht.params.is_empty()
        && ht.hash.is_empty()
        && ht.block_param.is_none()
        && ht.inverse.is_none()
        && ht
            .template
            .as_ref()
            .is_some_and(|t| fixed_template(t, false))
}

/// `{{__include "name"}}` or `{{__include "name" standalone=true}}`, as [`include::rewrite`]
/// writes them.
fn bare_include(ht: &handlebars::template::HelperTemplate) -> Option<Piece> {
    if ht.name.as_name() != Some(include::HELPER) || ht.block || ht.params.len() != 1 {
        return None;
    }
    let Parameter::Literal(serde_json::Value::String(name)) = &ht.params[0] else {
        return None;
    };
    let standalone = match ht.hash.len() {
        0 => false,
        1 => match ht.hash.get("standalone") {
            Some(Parameter::Literal(serde_json::Value::Bool(b))) => *b,
            _ => return None,
        },
        _ => return None,
    };
    Some(Piece::Include {
        name: name.clone(),
        standalone,
    })
}

/// Whether a helper call or value (with its block, if any) reads only shared names. `scoped`:
/// inside a block whose context is a shared value, where relative paths read that value.
fn fixed_helper(ht: &handlebars::template::HelperTemplate, scoped: bool) -> bool {
    let Some(name) = ht.name.as_name() else {
        return false;
    };
    let is_helper = PURE_HELPERS.contains(&name);
    let value_only = !ht.block && ht.params.is_empty() && ht.hash.is_empty();
    if !is_helper {
        // `{{letter.subject}}` is a value; anything else unknown is left to Handlebars.
        return value_only && fixed_path_text(name, scoped);
    }
    if value_only {
        // `{{len}}` and the like: a helper called without parameters reads the context.
        return false;
    }
    if !ht.params.iter().all(|p| fixed_param(p, scoped)) {
        return false;
    }
    if !ht.hash.values().all(|p| fixed_param(p, scoped)) {
        return false;
    }
    let block_scoped = if SCOPING_HELPERS.contains(&name) {
        // Its block reads the value it iterates over; that value was checked above.
        !ht.params.is_empty()
    } else {
        scoped
    };
    if ht.block_param.is_some() && !SCOPING_HELPERS.contains(&name) {
        return false;
    }
    let block_ok = ht
        .template
        .as_ref()
        .is_none_or(|t| fixed_template(t, block_scoped));
    // `{{else}}` renders in the outer context.
    let inverse_ok = ht
        .inverse
        .as_ref()
        .is_none_or(|t| fixed_template(t, scoped));
    block_ok && inverse_ok
}

fn fixed_template(template: &Template, scoped: bool) -> bool {
    template.elements.iter().all(|e| match e {
        TemplateElement::RawString(_) | TemplateElement::Comment(_) => true,
        // The guard's counting writes nothing (see `guard`): what it counts decides.
        TemplateElement::Expression(ht) if ht.name.as_name() == Some(guard::STEP) => true,
        TemplateElement::Expression(ht) if ht.name.as_name() == Some(guard::COUNT) => {
            ht.params.iter().all(|p| fixed_param(p, scoped))
        }
        TemplateElement::Expression(ht)
        | TemplateElement::HtmlExpression(ht)
        | TemplateElement::HelperBlock(ht) => fixed_helper(ht, scoped),
        _ => false,
    })
}

fn fixed_param(param: &Parameter, scoped: bool) -> bool {
    match param {
        Parameter::Literal(_) => true,
        Parameter::Path(Path::Relative((_, raw))) | Parameter::Path(Path::Local((_, _, raw))) => {
            fixed_path_text(raw, scoped)
        }
        Parameter::Name(name) => fixed_path_text(name, scoped),
        Parameter::Subexpression(sub) => match sub.as_element() {
            TemplateElement::Expression(ht) => fixed_helper(ht, scoped),
            _ => false,
        },
        _ => false,
    }
}

/// A path as written: shared names at the top, anything that stays inside a shared block's
/// value within it. Paths that climb out (`../`, `@root`) are never fixed.
fn fixed_path_text(raw: &str, scoped: bool) -> bool {
    if raw.contains("..") || raw.contains("@root") {
        return false;
    }
    if !raw
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '[' | ']' | '@'))
    {
        return false;
    }
    if scoped {
        return true;
    }
    let first = raw.split(['.', '/']).next().unwrap_or("");
    SHARED.contains(&first)
}

#[cfg(test)]
mod tests {
    use super::super::helpers::footnote::Notes;
    use super::*;

    fn plan_of(text: &str) -> (Plan, Handlebars<'static>) {
        plan_with(text, &[])
    }

    /// A registry as `Letters` builds it: bare partials rewritten to `__include`.
    fn plan_with(text: &str, partials: &[(&str, &str)]) -> (Plan, Handlebars<'static>) {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(super::super::escape::escape_markdown);
        super::super::helpers::register(&mut registry);
        registry
            .register_template_string("t", include::rewrite(text).as_ref())
            .unwrap();
        for (name, text) in partials {
            let text = include::rewrite(text);
            registry
                .register_template_string(name, text.as_ref())
                .unwrap();
            registry.register_partial(name, text.as_ref()).unwrap();
        }
        super::super::text::guard(&mut registry, super::super::helpers::is_helper);
        (Plan::new(&registry), registry)
    }

    fn context(name: &str, language: &str) -> Context {
        Context::wraps(serde_json::json!({
            "recipient": {"name": name, "language": language, "cc": [format!("{name}@example.org")],
                          "n": 7, "note": "*a*\r\n# b\n", "title": if language == "ko" { "" } else { "Dr" }},
            "letter": {"subject": "Stop *returns*", "demands": ["Free them", "Let them go"],
                       "signers": [{"name": "A", "title": "Director"}, {"name": "B"}]},
            "sender": {"name": "Ann", "address": ["1 Road", "Town"]},
            "campaign": {"id": "c"},
            "date": "2026-12-10",
        }))
        .unwrap()
    }

    /// Merging with kept text gives what Handlebars gives, letter after letter, with and without
    /// kept text, in every language.
    #[test]
    fn kept_text_merges_like_handlebars() {
        let text = "{{> head}}\n\n{{format_date date}}\n\n{{> to}}\n\
            Re: {{letter.subject}}{{#footnote}}A note.{{/footnote}}\n\n\
            {{enumerate letter.demands style=\"a\"}}\n\n\
            {{#each letter.signers}}\n{{name}}{{#if title}}, {{title}}{{/if}}\n{{/each}}\n\
            {{#if recipient.cc}}\ncc: {{join recipient.cc}}\n{{/if}}\n\
            Mixed notes{{footnote recipient.name}} and{{#footnote}}A second note.{{/footnote}}\n\
            {{#unless recipient.title}}no title{{else}}{{recipient.title}}{{/unless}}\n\
            {{#if recipient.missing}}x{{else if recipient.name}}{{recipient.name}} {{recipient.n}}{{/if}}\n\
            {{#if recipient.cc}}\n{{recipient.note}}\n{{/if}}\n\
            {{#if recipient.cc}}c\n{{/if}}  {{> indented2}}\n\
            {{letter.subject}}\n  {{> indented}}\nend {{> inline}} {{date}}\n";
        let partials = [
            ("head", "**{{sender.name}}**\\\n{{lines sender.address}}\n"),
            (
                "to",
                "{{recipient.name}}\n{{#if recipient.cc}}{{> head}}\n{{/if}}\n",
            ),
            ("indented", "{{sender.name}}\n{{recipient.name}}\n"),
            (
                "indented2",
                "{{#if recipient.cc}}{{sender.name}}\n{{/if}}{{recipient.name}}\n",
            ),
            ("inline", "{{sender.name}}"),
        ];
        let (plan, registry) = plan_with(text, &partials);
        assert!(plan.fixed("t") >= 4, "{plan:?}");
        let mut memo = Memo::default();
        for round in 0..3 {
            for (name, language) in [("Kim", "ko"), ("Li", "zh"), ("Lee", "ko"), ("Ann", "en")] {
                let ctx = context(name, language);
                let want = include::Blocks::collect(|| {
                    Notes::collect(|| registry.render_with_context("t", &ctx).unwrap())
                });
                for reuse in [true, false] {
                    let mut reuse = reuse.then_some(Reuse {
                        memo: &mut memo,
                        language,
                    });
                    let got = include::Blocks::collect(|| {
                        Notes::collect(|| {
                            render(&registry, &plan, reuse.as_mut(), "t", &ctx).unwrap()
                        })
                    });
                    assert_eq!(got, want, "round {round}, {name}");
                }
            }
        }
        let kept = |language: &str, template: &str| {
            memo.kept[language][plan.templates[template].0]
                .iter()
                .flatten()
                .count()
        };
        assert_eq!(
            kept("ko", "t"),
            plan.fixed("t") + 2,
            "and the two fixed notes"
        );
        assert_eq!(kept("en", "head"), 2, "the sender block's two values");
    }

    #[test]
    fn an_error_in_a_kept_piece_points_at_it_every_time() {
        let (plan, registry) = plan_of("line\n{{letter.missing}}\n");
        let mut memo = Memo::default();
        for _ in 0..2 {
            let mut reuse = Reuse {
                memo: &mut memo,
                language: "en",
            };
            let e = render(
                &registry,
                &plan,
                Some(&mut reuse),
                "t",
                &context("Kim", "en"),
            )
            .unwrap_err();
            let plain = registry
                .render_with_context("t", &context("Kim", "en"))
                .unwrap_err();
            assert_eq!((e.line_no, e.column_no), (Some(2), Some(1)));
            assert_eq!((e.line_no, e.column_no), (plain.line_no, plain.column_no));
            assert_eq!(e.template_name.as_deref(), Some("t"));
        }
    }

    #[test]
    fn a_missing_value_is_reported_where_handlebars_reports_it() {
        let (plan, registry) = plan_with(
            "a\n{{#if recipient.name}}\n  x {{recipient.nme}}\n{{/if}}\n",
            &[],
        );
        let ctx = context("Kim", "en");
        let e = render(&registry, &plan, None, "t", &ctx).unwrap_err();
        let plain = registry.render_with_context("t", &ctx).unwrap_err();
        assert_eq!((e.line_no, e.column_no), (plain.line_no, plain.column_no));
        assert_eq!(e.line_no, Some(3));
        assert_eq!(e.to_string(), plain.to_string());
    }

    #[test]
    fn a_partial_that_includes_itself_is_an_error_not_a_crash() {
        let (plan, registry) = plan_with("{{> a}}\n", &[("a", "x\n{{> a}}\n")]);
        let e = render(&registry, &plan, None, "t", &context("Kim", "en")).unwrap_err();
        assert!(e.to_string().contains("includes itself"), "{e}");
    }

    #[test]
    fn only_pieces_that_read_shared_names_are_fixed() {
        for (text, fixed) in [
            ("{{letter.subject}}", 1),
            ("{{date}}", 1),
            ("{{format_date date}}", 1),
            ("{{enumerate letter.demands style=\"1\"}}", 1),
            ("{{#each letter.signers}}{{name}}{{@index}}{{/each}}", 1),
            ("{{#each letter.signers as |s|}}{{s.name}}{{/each}}", 1),
            ("{{#with sender}}{{name}}{{/with}}", 1),
            ("{{#if letter.x}}{{sender.name}}{{else}}{{date}}{{/if}}", 1),
            ("{{recipient.name}}", 0),
            ("{{#if recipient.cc}}{{letter.x}}{{/if}}", 0),
            ("{{#if letter.x}}{{recipient.name}}{{/if}}", 0),
            ("{{#each letter.signers}}{{../recipient.name}}{{/each}}", 0),
            (
                "{{#each letter.signers}}{{@root.recipient.name}}{{/each}}",
                0,
            ),
            ("{{#if letter.x}}{{name}}{{/if}}", 0),
            ("{{#footnote}}A note.{{/footnote}}", 0),
            ("{{footnote letter.note}}", 0),
            ("{{join letter.x (lookup recipient \"cc\")}}", 0),
            ("{{this}}", 0),
            ("{{len}}", 0),
            ("{{unknown letter.x}}", 0),
            ("{{#each letter.signers}}{{> sig}}{{/each}}", 0),
        ] {
            let (plan, _) = plan_of(text);
            assert_eq!(plan.fixed("t"), fixed, "{text}");
        }
    }
}
