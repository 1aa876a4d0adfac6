//! Compiled templates made safe to merge (see [`super::guard`]).
//!
//! Before a template is compiled, [`nesting`] refuses one that nests blocks or `(…)` deeper than
//! a letter ever needs: parsing, merging and even freeing such a template recurse once per level.
//! After, [`instrument`] places the guard's helpers in it: `{{__step pieces bytes}}` first in the
//! template and in every block of it, `{{#__partial}}…{{/__partial}}` around every Handlebars
//! partial (`{{> name arg key=value}}`, `{{#> name}}…{{/name}}`, `{{> (lookup …)}}`),
//! `{{#__content}}…{{/__content}}` around the content of a partial block, and
//! `{{__count value}}` before every `{{{value}}}`. None of them writes anything, and Handlebars
//! keeps its state around a helper that writes nothing, so the letter merges to the same text.
//! A placed helper has the place of the piece it stands for, so errors point there.

use std::sync::OnceLock;

use handlebars::template::{Parameter, Subexpression, Template, TemplateElement, TemplateMapping};
use serde_json::Value;

use super::guard;

/// Blocks inside blocks, and `(…)` inside `(…)`, one template may nest.
pub const MAX_NESTING: usize = 64;

/// Where a template nests too deep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// The offset of the tag that goes one level too deep.
    pub offset: usize,
    /// What nests: "blocks" or "`(…)`".
    pub what: &'static str,
}

/// The first place where `text` nests blocks or subexpressions more than [`MAX_NESTING`] deep.
/// Comments, raw blocks and `\{{` are not tags.
pub fn nesting(text: &str) -> Option<TooDeep> {
    let mut depth = 0usize;
    let mut offset = 0;
    while let Some(found) = memchr::memmem::find(&text.as_bytes()[offset..], b"{{") {
        let at = offset + found;
        let rest = &text[at..];
        if at > 0 && text.as_bytes()[at - 1] == b'\\' {
            offset = at + 2;
            continue;
        }
        let skip_to = |end: &str| rest.find(end).map_or(rest.len(), |e| e + end.len());
        if rest.starts_with("{{!--") {
            offset = at + skip_to("--}}");
            continue;
        }
        if rest.starts_with("{{!") {
            offset = at + skip_to("}}");
            continue;
        }
        if rest.starts_with("{{{{") {
            // A raw block: its content is text, up to the closing `{{{{/name}}}}`.
            let close = rest.find("{{{{/").map_or(rest.len(), |c| {
                c + rest[c..].find("}}}}").map_or(rest.len() - c, |e| e + 4)
            });
            offset = at + close;
            continue;
        }
        let end = rest[2..].find("}}").map_or(rest.len(), |e| e + 2);
        let tag = &rest[2..end];
        let inner = tag.trim_start_matches(['~', '{']).trim_start();
        match inner.as_bytes().first() {
            Some(b'#') => depth += 1,
            Some(b'^') if !inner[1..].trim_matches(['~', ' ']).is_empty() => depth += 1,
            Some(b'/') => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_NESTING {
            return Some(TooDeep {
                offset: at,
                what: "blocks",
            });
        }
        if parentheses(tag) > MAX_NESTING {
            return Some(TooDeep {
                offset: at,
                what: "`(…)`",
            });
        }
        offset = at + (end + 2).min(rest.len());
    }
    None
}

/// How deep `(…)` nest in a tag, outside its quoted strings.
fn parentheses(tag: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0);
    let mut quote = None;
    for c in tag.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

/// The placed helpers as Handlebars compiles them, to copy.
struct Prototypes {
    step: TemplateElement,
    count: TemplateElement,
    partial: TemplateElement,
    content: TemplateElement,
    /// Line 1, column 1.
    start: TemplateMapping,
}

fn prototypes() -> &'static Prototypes {
    static PROTOTYPES: OnceLock<Prototypes> = OnceLock::new();
    PROTOTYPES.get_or_init(|| {
        // Text around each: none is standalone, so none changes how lines are indented.
        let source = format!(
            "a{{{{{step} 0 0}}}}b{{{{{count} x}}}}c{{{{#{partial}}}}}{{{{/{partial}}}}}d{{{{#{content}}}}}{{{{/{content}}}}}e",
            step = guard::STEP,
            count = guard::COUNT,
            partial = guard::PARTIAL,
            content = guard::CONTENT,
        );
        let compiled = Template::compile(&source).expect("the guard's own helpers compile");
        let find = |name: &str| {
            compiled
                .elements
                .iter()
                .find(|e| match e {
                    TemplateElement::Expression(ht) | TemplateElement::HelperBlock(ht) => {
                        ht.name.as_name() == Some(name)
                    }
                    _ => false,
                })
                .cloned()
                .expect("each helper is in the source")
        };
        Prototypes {
            step: find(guard::STEP),
            count: find(guard::COUNT),
            partial: find(guard::PARTIAL),
            content: find(guard::CONTENT),
            start: compiled.mapping.first().cloned().expect("the source has pieces"),
        }
    })
}

/// Places the guard's helpers in a compiled template and all its blocks.
pub fn instrument(template: &mut Template) {
    let start = prototypes().start.clone();
    walk(template, &start);
}

/// `at`: where the template starts, for one without pieces of its own.
fn walk(template: &mut Template, at: &TemplateMapping) {
    let elements = std::mem::take(&mut template.elements);
    let mut mapping = std::mem::take(&mut template.mapping).into_iter();
    let pieces = elements.len() as u64 + 1;
    let text: u64 = elements
        .iter()
        .map(|e| match e {
            TemplateElement::RawString(s) => s.len() as u64,
            _ => 0,
        })
        .sum();
    let places: Vec<TemplateMapping> = elements
        .iter()
        .map(|_| mapping.next().unwrap_or_else(|| at.clone()))
        .collect();
    let first = places.first().unwrap_or(at).clone();
    template.elements.push(step(pieces, text));
    template.mapping.push(first);
    for (element, place) in elements.into_iter().zip(places) {
        let element = match element {
            TemplateElement::HelperBlock(mut ht) => {
                for block in [ht.template.as_mut(), ht.inverse.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    walk(block, &place);
                }
                TemplateElement::HelperBlock(ht)
            }
            TemplateElement::DecoratorBlock(mut dt) => {
                if let Some(block) = dt.template.as_mut() {
                    walk(block, &place);
                }
                TemplateElement::DecoratorBlock(dt)
            }
            TemplateElement::PartialBlock(mut dt) => {
                if let Some(block) = dt.template.as_mut() {
                    walk(block, &place);
                    content(block);
                }
                partial(
                    TemplateElement::PartialBlock(dt),
                    &place,
                    template.name.clone(),
                )
            }
            element @ TemplateElement::PartialExpression(_) => {
                partial(element, &place, template.name.clone())
            }
            TemplateElement::HtmlExpression(ht) => {
                template.elements.push(count(&ht));
                template.mapping.push(place.clone());
                TemplateElement::HtmlExpression(ht)
            }
            other => other,
        };
        template.elements.push(element);
        template.mapping.push(place);
    }
}

fn step(pieces: u64, text: u64) -> TemplateElement {
    let mut element = prototypes().step.clone();
    if let TemplateElement::Expression(ht) = &mut element {
        ht.params = vec![
            Parameter::Literal(Value::from(pieces)),
            Parameter::Literal(Value::from(text)),
        ];
    }
    element
}

/// `{{__count …}}` of what `{{{…}}}` writes: its value, or its helper's result.
fn count(ht: &handlebars::template::HelperTemplate) -> TemplateElement {
    let value = if ht.params.is_empty() && ht.hash.is_empty() {
        ht.name.clone()
    } else {
        Parameter::Subexpression(Subexpression::new(
            ht.name.clone(),
            ht.params.clone(),
            ht.hash.clone(),
        ))
    };
    let mut element = prototypes().count.clone();
    if let TemplateElement::Expression(count) = &mut element {
        count.params = vec![value];
    }
    element
}

/// A partial block's content inside `{{#__content}}…{{/__content}}`.
fn content(block: &mut Template) {
    let mut inner = Template::new();
    inner.name = block.name.clone();
    inner.elements = std::mem::take(&mut block.elements);
    inner.mapping = std::mem::take(&mut block.mapping);
    let place = inner
        .mapping
        .first()
        .cloned()
        .unwrap_or_else(|| prototypes().start.clone());
    let mut element = prototypes().content.clone();
    if let TemplateElement::HelperBlock(ht) = &mut element {
        ht.template = Some(inner);
    }
    block.elements.push(element);
    block.mapping.push(place);
}

/// `partial` inside `{{#__partial}}…{{/__partial}}`, in a template with the name of the one it
/// stood in (Handlebars gives each block's template no name, the file's its own).
fn partial(
    partial: TemplateElement,
    place: &TemplateMapping,
    name: Option<String>,
) -> TemplateElement {
    let mut inner = Template::new();
    inner.name = name;
    inner.elements.push(partial);
    inner.mapping.push(place.clone());
    let mut element = prototypes().partial.clone();
    if let TemplateElement::HelperBlock(ht) = &mut element {
        ht.template = Some(inner);
    }
    element
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_blocks_and_parentheses_but_not_comments_or_raw_text() {
        let deep = |n: usize| "{{#if x}}".repeat(n) + &"{{/if}}".repeat(n);
        assert_eq!(nesting(&deep(MAX_NESTING)), None);
        let at = nesting(&format!("a\n{}", deep(MAX_NESTING + 1))).unwrap();
        assert_eq!(at.what, "blocks");
        assert_eq!(at.offset, 2 + 9 * MAX_NESTING);
        // Blocks that close do not add up.
        assert_eq!(nesting(&"{{#if x}}{{/if}}".repeat(1000)), None);
        for opener in [
            "{{#each x}}",
            "{{~#if x}}",
            "{{#> p}}",
            "{{#*inline \"p\"}}",
            "{{^if x}}",
        ] {
            assert!(
                nesting(&opener.repeat(MAX_NESTING + 1)).is_some(),
                "{opener}"
            );
        }
        for not_a_block in [
            "{{!-- {{#if x}} --}}",
            "{{! {{#if x}}",
            "\\{{#if x}}",
            "{{^}}",
            "{{else}}",
        ] {
            assert_eq!(
                nesting(&not_a_block.repeat(MAX_NESTING + 1)),
                None,
                "{not_a_block}"
            );
        }
        assert_eq!(
            nesting(&format!(
                "{{{{{{{{raw}}}}}}}}{}{{{{{{{{/raw}}}}}}}}",
                deep(100)
            )),
            None
        );

        let parens = |n: usize| format!("{{{{eq {}1{} 1}}}}", "(eq ".repeat(n), " 1)".repeat(n));
        assert_eq!(nesting(&parens(MAX_NESTING)), None);
        assert_eq!(nesting(&parens(MAX_NESTING + 1)).unwrap().what, "`(…)`");
        assert_eq!(
            nesting(&format!("{{{{eq \"{}\" 1}}}}", "(".repeat(100))),
            None
        );
    }

    fn names(template: &Template) -> Vec<String> {
        template
            .elements
            .iter()
            .map(|e| match e {
                TemplateElement::RawString(s) => format!("text {s:?}"),
                TemplateElement::Expression(ht) | TemplateElement::HelperBlock(ht) => {
                    ht.name.as_name().unwrap_or("?").to_string()
                }
                TemplateElement::HtmlExpression(_) => "{{{…}}}".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_template_starts_with_a_step_and_every_partial_is_wrapped() {
        let mut t = Template::compile_with_name(
            "Hi {{#each l}}{{> p x=1}}{{/each}}\n{{{raw}}}{{#> q}}c{{/q}}",
            "t".into(),
        )
        .unwrap();
        instrument(&mut t);
        assert_eq!(
            names(&t),
            [
                "__step",
                "text \"Hi \"",
                "each",
                "text \"\\n\"",
                "__count",
                "{{{…}}}",
                "__partial"
            ]
        );
        assert_eq!(t.elements.len(), t.mapping.len());
        let TemplateElement::Expression(step) = &t.elements[0] else {
            panic!("{:?}", t.elements[0]);
        };
        // Five pieces and the template itself; "Hi " and "\n".
        assert_eq!(
            step.params,
            [
                Parameter::Literal(Value::from(6)),
                Parameter::Literal(Value::from(4))
            ]
        );
        let TemplateElement::HelperBlock(each) = &t.elements[2] else {
            panic!();
        };
        let body = each.template.as_ref().unwrap();
        assert_eq!(names(body), ["__step", "__partial"]);
        let TemplateElement::HelperBlock(wrapper) = &body.elements[1] else {
            panic!();
        };
        let inner = wrapper.template.as_ref().unwrap();
        assert!(matches!(
            inner.elements[..],
            [TemplateElement::PartialExpression(_)]
        ));
        // The partial's place is kept: line 1, column 15.
        assert_eq!(inner.mapping[0], body.mapping[1]);
        assert_eq!(format!("{:?}", inner.mapping[0]), "TemplateMapping(1, 15)");
        let TemplateElement::HelperBlock(wrapper) = &t.elements[6] else {
            panic!();
        };
        let inner = wrapper.template.as_ref().unwrap();
        assert_eq!(inner.name.as_deref(), Some("t"));
        let TemplateElement::PartialBlock(block) = &inner.elements[0] else {
            panic!();
        };
        let content = block.template.as_ref().unwrap();
        assert_eq!(names(content), ["__content"]);
        let TemplateElement::HelperBlock(content) = &content.elements[0] else {
            panic!();
        };
        assert_eq!(
            names(content.template.as_ref().unwrap()),
            ["__step", "text \"c\""]
        );
    }

    /// A registry as `Letters` builds it, with or without the guard's helpers placed.
    fn registry(templates: &[(&str, &str)], guarded: bool) -> handlebars::Handlebars<'static> {
        let mut registry = handlebars::Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(super::super::escape::escape_markdown);
        super::super::helpers::register(&mut registry);
        for (name, text) in templates {
            let text = super::super::include::rewrite(text);
            let mut t = Template::compile_with_name(text.as_ref(), name.to_string()).unwrap();
            if guarded {
                instrument(&mut t);
            }
            registry.register_template(name, t);
        }
        registry
    }

    /// The guard's helpers write nothing and change nothing around them: every way of writing a
    /// partial, block, indent and standalone line merges to the text it merged to before.
    #[test]
    fn instrumented_templates_merge_to_the_same_text() {
        let templates = [
            (
                "t",
                "{{> head}}\n\nDear {{recipient.name}},\n  {{> lines}}\n\t{{> lines x=1}}\n\
                 {{#each letter.l}}\n  - {{this}} {{> item}}\n{{else}}\nnone\n{{/each}}\n\
                 {{#if recipient.title}}\n  {{> item this}}\n{{/if}}\n\
                 {{#> boxed}}\n  inside {{recipient.name}}\n{{/boxed}}\n\
                 {{#> boxed}}{{#> boxed}}nested{{/boxed}}{{/boxed}}\n\
                 {{#> missing}}fallback {{{letter.raw}}}{{/missing}}\n\
                 {{#*inline \"sig\"}}\n  -- {{sender.name}}\n{{/inline}}\n\
                 {{> sig}}\n    {{> sig}}\n{{> (lookup letter \"part\")}}\n\
                 {{~> item~}} end{{footnote \"a note\"}}\n{{{letter.raw}}} {{{join letter.l}}}\n",
            ),
            ("head", "**{{sender.name}}**\\\n{{lines sender.address}}\n"),
            ("lines", "one\ntwo {{x}}\n{{#if x}}\nthree\n{{/if}}\n"),
            ("item", "[{{this}}]"),
            ("boxed", "<{{> @partial-block}}>\n  {{> @partial-block}}\n"),
        ];
        let ctx = handlebars::Context::wraps(serde_json::json!({
            "recipient": {"name": "Kim *K*", "title": "Dr", "language": "en"},
            "letter": {"l": ["a", "b"], "raw": "*raw*", "part": "item"},
            "sender": {"name": "Ann", "address": ["1 Road", "Town"]},
            "x": "X",
        }))
        .unwrap();
        let plain = registry(&templates, false);
        let guarded = registry(&templates, true);
        let render = |r: &handlebars::Handlebars<'_>| {
            super::super::helpers::footnote::Notes::collect(|| {
                r.render_with_context("t", &ctx).unwrap()
            })
        };
        let want = render(&plain);
        assert!(want.0.contains("  inside Kim"), "{}", want.0);
        assert_eq!(render(&guarded), want);
        let plan = super::super::memo::Plan::new(&guarded);
        let merged = super::super::helpers::footnote::Notes::collect(|| {
            super::super::memo::render(&guarded, &plan, None, "t", &ctx).unwrap()
        });
        assert_eq!(merged, want);
    }
}
