//! Template problems in words: the file, line and column, what is wrong, and what to do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use handlebars::TemplateError;

use super::{cycles, guard, instrument, locale, SUBJECT};
use crate::diagnostic::{offset_of, Problem};

/// A limit of [`guard`] that a recipient's letter reached, in words.
pub(super) fn limit_problem(exceeded: &guard::Exceeded, id: &str) -> Problem {
    use guard::Exceeded;
    match exceeded {
        Exceeded::Circle(chain) => {
            let name = chain.last().map_or("", String::as_str);
            Problem::error(format!("the partial `{name}` includes itself"))
                .label(format!("includes `{name}` again"))
                .hint(format!(
                    "{}: a partial cannot include itself, directly or through other partials (here the name is chosen as the letter merges); choose another partial",
                    chain_text(chain)
                ))
        }
        Exceeded::Deep(chain) => Problem::error(format!(
            "partials are nested more than {} deep in the letter for `{id}`",
            guard::MAX_DEPTH
        ))
        .label("one level too deep")
        .hint(format!(
            "{}: a letter needs a few levels of partials; write some of them out in the partial that includes them",
            chain_text(chain)
        )),
        Exceeded::Stack => Problem::error(format!(
            "the letter for `{id}` nests blocks and partials too deep to merge"
        ))
        .label("one level too deep")
        .hint("a letter needs a few levels: does a partial include itself through a name chosen as the letter merges?"),
        Exceeded::Steps => Problem::error(format!(
            "merging the letter for `{id}` takes more than {} steps",
            thousands(guard::MAX_STEPS)
        ))
        .label("in this loop")
        .hint("loops inside loops multiply (1,000 × 1,000 × 1,000 is a billion): loop over shorter lists, or over fewer levels; partials included many times count too"),
        Exceeded::Text => Problem::error(format!(
            "the letter for `{id}` grows past {} MB",
            guard::MAX_TEXT >> 20
        ))
        .label("while merging this")
        .hint("a letter is a few pages: check the {{#each}} loops, and the values and partials repeated in them"),
    }
}

/// `a → b → c → a`, with the middle of a long chain left out.
pub(super) fn chain_text(names: &[String]) -> String {
    if names.len() <= 20 {
        return names.join(" → ");
    }
    let (head, tail) = (&names[..3], &names[names.len() - 2..]);
    format!(
        "{} → … ({} more) → {}",
        head.join(" → "),
        thousands((names.len() - 5) as u64),
        tail.join(" → ")
    )
}

/// 1000000 → "1,000,000".
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The span of the `{{…}}` slot that starts at `offset`, for the caret.
pub(super) fn slot_span(text: &str, offset: usize) -> std::ops::Range<usize> {
    let rest = &text[offset.min(text.len())..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let end = rest[..line_end].find("}}").map_or(line_end, |i| {
        i + 2 + usize::from(rest[i + 2..].starts_with('}'))
    });
    offset..offset + end.max(1).min(rest.len())
}

pub(super) fn too_deep(deep: &instrument::TooDeep, what: &str) -> Problem {
    Problem::error(format!(
        "{what} nests {} more than {} deep",
        deep.what,
        instrument::MAX_NESTING
    ))
    .label("one level too deep")
    .hint("a letter needs a few levels: close the blocks sooner, or move part of the text into a partial")
}

/// A circle of includes, at the include that closes it.
pub(super) fn circle_problem(
    circle: &cycles::Circle,
    files: &HashMap<String, (PathBuf, String)>,
    partials: &[String],
    subject_span: &Option<std::ops::Range<usize>>,
) -> Problem {
    let Some(first) = circle.chain.first() else {
        return Problem::error("a partial includes itself");
    };
    let what = match first {
        cycles::Node::Inline(..) => format!("the inline partial `{}`", first.name()),
        cycles::Node::Template(name) if partials.contains(name) => {
            format!("the partial `{name}`")
        }
        cycles::Node::Template(name) => format!("the template {name}"),
    };
    let mut between: Vec<String> = circle.chain[1..circle.chain.len().saturating_sub(1)]
        .iter()
        .map(|n| format!("`{}`", n.name()))
        .collect();
    if between.len() > 4 {
        let others = between.len() - 3;
        between.truncate(3);
        between.push(format!("{} other partials", thousands(others as u64)));
    }
    let through = if between.is_empty() {
        String::new()
    } else {
        format!(" through {}", locale::join(&between, "en", None))
    };
    let names: Vec<String> = circle.chain.iter().map(|n| n.name().to_string()).collect();
    let problem = Problem::error(format!("{what} includes itself{through}"))
        .label(format!("includes `{}` again", first.name()))
        .hint(format!(
            "{}: a partial cannot include itself, directly or through other partials; remove this include, or write here the text it should add",
            chain_text(&names)
        ));
    match files.get(&circle.template) {
        _ if circle.template == SUBJECT => match files.get(SUBJECT) {
            Some((path, _)) => problem.at(path, subject_span.clone().unwrap_or(0..0)),
            None => problem,
        },
        Some((path, text)) => {
            let at = offset_of(text, circle.line, circle.column);
            problem.at(path, slot_span(text, at))
        }
        None => problem,
    }
}

pub(super) fn template_problem(path: &Path, text: &str, e: &TemplateError) -> Problem {
    if let Some((name, at)) = unclosed_block(text) {
        let line = crate::diagnostic::line_of(text, at);
        return Problem::error(format!(
            "`{{{{#{name}}}}}` opened on line {line} of {} is never closed",
            path.display()
        ))
        .at(path, slot_span(text, at))
        .label("opened here")
        .hint(format!("add {{{{/{name}}}}} where the block should end"));
    }
    let span = match e.pos() {
        Some((line, col)) => {
            let at = offset_of(text, line, col);
            at..(at + 1).min(text.len())
        }
        None => 0..0,
    };
    Problem::error(format!(
        "{} is not a valid template: {}",
        path.display(),
        e.reason()
    ))
    .at(path, span)
    .label("here")
    .hint("check that every {{#block}} has its {{/block}} and every slot is closed with }}")
}

/// The first `{{#block}}` in `text` that is never closed: its name and offset.
pub(super) fn unclosed_block(text: &str) -> Option<(String, usize)> {
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut offset = 0;
    while let Some(i) = text[offset..].find("{{") {
        let at = offset + i;
        let inner = text[at + 2..].trim_start_matches(['~', '{']);
        let name: String = inner
            .get(1..)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        match inner.chars().next() {
            Some('#') => open.push((name, at)),
            Some('/') => {
                if let Some(pos) = open.iter().rposition(|(n, _)| *n == name) {
                    open.truncate(pos);
                }
            }
            _ => {}
        }
        offset = at + 2;
    }
    open.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_circle_is_named_by_its_ends() {
        let chain: Vec<cycles::Node> = (0..1000)
            .chain([0])
            .map(|i| cycles::Node::Template(format!("p{i}")))
            .collect();
        let circle = cycles::Circle {
            chain,
            template: "p999".into(),
            line: 1,
            column: 1,
        };
        let partials: Vec<String> = (0..1000).map(|i| format!("p{i}")).collect();
        let problem = circle_problem(&circle, &HashMap::new(), &partials, &None);
        assert_eq!(
            problem.message,
            "the partial `p0` includes itself through `p1`, `p2`, `p3` and 996 other partials"
        );
        assert_eq!(
            problem.hint.as_deref().unwrap().split(':').next(),
            Some("p0 → p1 → p2 → … (996 more) → p999 → p0")
        );
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn unclosed_blocks_are_found_with_their_place() {
        let text = "a\n{{#if x}}\n{{#each y}}{{/each}}\n";
        assert_eq!(unclosed_block(text), Some(("if".into(), 2)));
        assert_eq!(unclosed_block("{{#if x}}{{/if}}"), None);
    }
}
