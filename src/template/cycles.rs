//! Which template includes which, read from the compiled templates before any letter is merged:
//! a partial that includes itself, directly or through other partials, is found here with the
//! file, line and column of the include that closes the circle.
//!
//! Every way of naming a partial in the text is read: `{{> name}}` (bare, compiled to
//! `__include`), with a context or hash arguments, `{{#> name}}…{{/name}}`, and the inline
//! partials a template defines with `{{#*inline "name"}}`. A name chosen while merging
//! (`{{> (lookup …)}}`) cannot be read here; [`super::guard`] stops that circle as it happens.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use handlebars::template::{Parameter, Template, TemplateElement};

use super::include;

/// A template of the campaign, or an inline partial that one defines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Template(String),
    /// `{{#*inline "name"}}` in the template named first.
    Inline(String, String),
}

impl Node {
    /// The name templates use for it.
    pub fn name(&self) -> &str {
        match self {
            Node::Template(name) | Node::Inline(_, name) => name,
        }
    }

    /// The template whose text holds it.
    pub fn template(&self) -> &str {
        match self {
            Node::Template(name) | Node::Inline(name, _) => name,
        }
    }
}

/// An include that closes a circle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    /// From the node included again to itself: `[a, b, a]`.
    pub chain: Vec<Node>,
    /// Where the last include is written: its template, line and column.
    pub template: String,
    pub line: usize,
    pub column: usize,
}

/// One include: what it names, and where it is written.
struct Include {
    to: Node,
    template: String,
    line: usize,
    column: usize,
}

/// Every circle of includes among `templates` (by name), each found once.
pub fn circles<'a>(templates: impl IntoIterator<Item = (&'a str, &'a Template)>) -> Vec<Circle> {
    let templates: BTreeMap<&str, &Template> = templates.into_iter().collect();
    let mut graph: BTreeMap<Node, Vec<Include>> = BTreeMap::new();
    for (&name, template) in &templates {
        let mut inline = BTreeSet::new();
        inlines(template, &mut inline);
        let reader = Reader {
            template: name,
            inline: &inline,
            known: &templates,
        };
        graph.entry(Node::Template(name.to_string())).or_default();
        reader.read(template, &Node::Template(name.to_string()), &mut graph);
    }
    let mut search = Search {
        graph: &graph,
        state: HashMap::new(),
        path: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        search.visit(node);
    }
    search.found
}

/// Names of the inline partials a template defines, anywhere in it.
fn inlines(template: &Template, names: &mut BTreeSet<String>) {
    for element in &template.elements {
        if let Some(name) = inline_name(element) {
            names.insert(name.to_string());
        }
        for block in blocks(element) {
            inlines(block, names);
        }
    }
}

/// `{{#*inline "name"}}`: its name.
fn inline_name(element: &TemplateElement) -> Option<&str> {
    let TemplateElement::DecoratorBlock(dt) = element else {
        return None;
    };
    if dt.name.as_name() != Some("inline") {
        return None;
    }
    match dt.params.first() {
        Some(Parameter::Literal(serde_json::Value::String(name))) => Some(name),
        _ => None,
    }
}

/// The templates inside an element: a block's and its `{{else}}`, a partial block's content, an
/// inline partial's text.
fn blocks(element: &TemplateElement) -> Vec<&Template> {
    match element {
        TemplateElement::HelperBlock(ht) => ht.template.iter().chain(ht.inverse.iter()).collect(),
        TemplateElement::DecoratorBlock(dt) | TemplateElement::PartialBlock(dt) => {
            dt.template.iter().collect()
        }
        _ => Vec::new(),
    }
}

struct Reader<'a> {
    template: &'a str,
    inline: &'a BTreeSet<String>,
    known: &'a BTreeMap<&'a str, &'a Template>,
}

impl Reader<'_> {
    /// Records the includes in `template` (part of `self.template`) as made by `from`.
    fn read(&self, template: &Template, from: &Node, graph: &mut BTreeMap<Node, Vec<Include>>) {
        for (idx, element) in template.elements.iter().enumerate() {
            let (line, column) = template.mapping.get(idx).map_or((1, 1), |m| (m.0, m.1));
            if let Some(name) = included(element) {
                if let Some(to) = self.resolve(name) {
                    graph.entry(from.clone()).or_default().push(Include {
                        to,
                        template: self.template.to_string(),
                        line,
                        column,
                    });
                }
            }
            if let Some(name) = inline_name(element) {
                let node = Node::Inline(self.template.to_string(), name.to_string());
                graph.entry(node.clone()).or_default();
                for block in blocks(element) {
                    self.read(block, &node, graph);
                }
                continue;
            }
            for block in blocks(element) {
                self.read(block, from, graph);
            }
        }
    }

    /// What a name means in this template: its own inline partial first, as in Handlebars.
    fn resolve(&self, name: &str) -> Option<Node> {
        if self.inline.contains(name) {
            return Some(Node::Inline(self.template.to_string(), name.to_string()));
        }
        self.known
            .contains_key(name)
            .then(|| Node::Template(name.to_string()))
    }
}

/// The partial an element includes, when its name is written out.
fn included(element: &TemplateElement) -> Option<&str> {
    match element {
        TemplateElement::Expression(ht) if ht.name.as_name() == Some(include::HELPER) => {
            match ht.params.first() {
                Some(Parameter::Literal(serde_json::Value::String(name))) => Some(name),
                _ => None,
            }
        }
        TemplateElement::PartialExpression(dt) | TemplateElement::PartialBlock(dt) => {
            match &dt.name {
                Parameter::Literal(serde_json::Value::String(name)) => Some(name),
                name => name.as_name(),
            }
        }
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// On the path being searched.
    Open,
    Done,
}

/// A depth-first search: an include of a node on the current path closes a circle. The path is
/// kept in a list, not on the stack: a folder of thousands of partials is searched all the same.
struct Search<'g> {
    graph: &'g BTreeMap<Node, Vec<Include>>,
    state: HashMap<&'g Node, Seen>,
    /// The nodes being searched, each with the number of its includes already followed.
    path: Vec<(&'g Node, usize)>,
    found: Vec<Circle>,
}

impl<'g> Search<'g> {
    fn visit(&mut self, start: &'g Node) {
        if self.state.contains_key(start) {
            return;
        }
        self.state.insert(start, Seen::Open);
        self.path.push((start, 0));
        while let Some((node, next)) = self.path.last_mut() {
            let includes = self.graph.get(*node).map_or(&[][..], Vec::as_slice);
            let Some(include) = includes.get(*next) else {
                self.state.insert(*node, Seen::Done);
                self.path.pop();
                continue;
            };
            *next += 1;
            match self.state.get(&include.to) {
                Some(Seen::Open) => {
                    let first = self
                        .path
                        .iter()
                        .position(|(n, _)| **n == include.to)
                        .unwrap_or(0);
                    let mut chain: Vec<Node> = self.path[first..]
                        .iter()
                        .map(|(n, _)| (*n).clone())
                        .collect();
                    chain.push(include.to.clone());
                    self.found.push(Circle {
                        chain,
                        template: include.template.clone(),
                        line: include.line,
                        column: include.column,
                    });
                }
                Some(Seen::Done) => {}
                None => {
                    if let Some((to, _)) = self.graph.get_key_value(&include.to) {
                        self.state.insert(to, Seen::Open);
                        self.path.push((to, 0));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circles_of(templates: &[(&str, &str)]) -> Vec<(Vec<String>, String, usize, usize)> {
        let compiled: Vec<(String, Template)> = templates
            .iter()
            .map(|(name, text)| {
                let text = include::rewrite(text);
                let t = Template::compile_with_name(text.as_ref(), name.to_string()).unwrap();
                (name.to_string(), t)
            })
            .collect();
        circles(compiled.iter().map(|(n, t)| (n.as_str(), t)))
            .into_iter()
            .map(|c| {
                let chain = c.chain.iter().map(|n| n.name().to_string()).collect();
                (chain, c.template, c.line, c.column)
            })
            .collect()
    }

    fn chain(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_partial_that_includes_itself_is_found_in_every_syntax() {
        for include in [
            "{{> a}}",
            "  {{> a}}",
            "\t{{> a}}",
            "x {{> a}} y",
            "{{> a recipient}}",
            "{{> a x=1}}",
            "{{~> a~}}",
            "{{#> a}}fallback{{/a}}",
            "{{#if x}}\n{{#each y}}{{> a}}{{/each}}{{/if}}",
            "{{#if x}}{{else}}{{> a}}{{/if}}",
            "{{#> b}}{{> a}}{{/b}}",
        ] {
            let text = format!("line one\n{include}\n");
            let found = circles_of(&[("a", &text), ("b", "b"), ("letter.md", "{{> a}}")]);
            assert_eq!(found.len(), 1, "{include}: {found:?}");
            let (names, template, line, _) = &found[0];
            assert_eq!(names, &chain(&["a", "a"]), "{include}");
            assert_eq!(template, "a");
            assert!(*line == 2 || *line == 3, "{include}: line {line}");
        }
    }

    #[test]
    fn partials_that_include_each_other_are_one_circle_found_where_it_closes() {
        let found = circles_of(&[
            ("letter.md", "{{> a}}\n"),
            ("a", "A\n  {{> b x=1}}\n"),
            ("b", "B\n\nthen {{> c}}\n"),
            ("c", "{{#> a}}{{/a}}\n"),
        ]);
        assert_eq!(
            found,
            [(chain(&["a", "b", "c", "a"]), "c".to_string(), 1, 1)]
        );
    }

    #[test]
    fn inline_partials_are_their_own_and_come_before_files() {
        // `x` here is the inline partial, which includes itself; the file `x` is innocent.
        let found = circles_of(&[
            (
                "letter.md",
                "{{#*inline \"x\"}}\n{{> x}}\n{{/inline}}{{> x}}",
            ),
            ("x", "{{> y}}"),
            ("y", "y"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, chain(&["x", "x"]));
        assert_eq!((found[0].1.as_str(), found[0].2), ("letter.md", 2));
        // An inline partial that includes another is no circle.
        assert!(circles_of(&[(
            "t",
            "{{#*inline \"a\"}}{{> b}}{{/inline}}{{#*inline \"b\"}}b{{/inline}}{{> a}}"
        )])
        .is_empty());
    }

    #[test]
    fn a_long_chain_of_partials_is_searched_without_recursion() {
        let texts: Vec<(String, String)> = (0..20_000)
            .map(|i| (format!("p{i}"), format!("{{{{> p{}}}}}", (i + 1) % 20_000)))
            .collect();
        let templates: Vec<(&str, &str)> = texts
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let found = circles_of(&templates);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.len(), 20_001);
    }

    #[test]
    fn templates_without_circles_have_none_and_dynamic_names_are_left_to_the_merge() {
        assert!(circles_of(&[
            ("letter.md", "{{> a}}{{> a}}{{> b}}\n{{> missing}}"),
            ("a", "{{> b}} {{> b x=1}}"),
            ("b", "{{> c}}"),
            ("c", "{{> (lookup this \"a\")}}"),
        ])
        .is_empty());
        // A letter that includes itself by its file name is a circle too.
        let found = circles_of(&[("templates/letter.md", "{{> templates/letter.md}}")]);
        assert_eq!(
            found[0].0,
            chain(&["templates/letter.md", "templates/letter.md"])
        );
    }
}
