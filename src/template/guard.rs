//! Limits on merging one letter, so that no template can take the process down.
//!
//! A campaign's templates are edited by many hands, and a template is a small program: a partial
//! can include itself (the stack overflows and the process aborts), and nested `{{#each}}` over
//! long lists can run for hours or fill the memory. Every merge ([`run`]) therefore keeps, on its
//! own thread:
//!
//! - **steps**: each template entered (the letter, a partial, one turn of a loop, a block) adds
//!   its number of pieces. A letter may take [`MAX_STEPS`].
//! - **text**: the bytes of text made: template text entered, every value written, what helpers
//!   write, and the copies `{{> @partial-block}}` makes. A letter may make [`MAX_TEXT`].
//! - **the chain of partials** being merged: a partial that is already on it includes itself,
//!   however it was named (a dynamic `{{> (lookup …)}}` too); the chain may be [`MAX_DEPTH`]
//!   long.
//! - **the stack** used since the merge began: past [`STACK`], the merge stops before the thread
//!   runs out. Threads that merge letters have at least 2 MiB of stack (the default of Rust's,
//!   rayon's and tokio's threads), and between two checks a merge uses a few kilobytes, so the
//!   process never meets the end of its stack.
//!
//! The checks run from helpers that [`super::instrument`] places in the compiled templates:
//! `__step` at the start of every template, `__partial` around every Handlebars partial (and
//! `__content` around a partial block's content), and `__count` before every `{{{triple}}}`
//! value. A limit reached is an [`Exceeded`] error, which
//! the letter's problem turns into words.

use std::cell::{Cell, RefCell};
use std::fmt;

use handlebars::template::TemplateElement;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, JsonRender, Output, RenderContext, RenderError,
    RenderErrorReason, Renderable, StringOutput,
};

/// Steps one letter may take: a letter of a few pages takes a few thousand.
pub const MAX_STEPS: u64 = 1_000_000;
/// Text one letter may make, in bytes (1 MB): a long letter with a thousand signatories makes
/// a tenth of it.
pub const MAX_TEXT: u64 = 1 << 20;
/// Partials inside partials: letters need three or four levels.
pub const MAX_DEPTH: usize = 16;
/// Stack one merge may use, in bytes.
pub const STACK: usize = 512 << 10;

/// The helpers [`super::instrument`] places.
pub const STEP: &str = "__step";
pub const PARTIAL: &str = "__partial";
pub const COUNT: &str = "__count";
pub const CONTENT: &str = "__content";

/// What the partial block's content is called where a partial writes it.
const PARTIAL_BLOCK: &str = "@partial-block";

/// A limit a merge reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exceeded {
    /// A partial was included while it was being merged: the chain, from its first inclusion to
    /// the one that repeats it (`["a", "b", "a"]`).
    Circle(Vec<String>),
    /// Partials nested deeper than [`MAX_DEPTH`], outermost first.
    Deep(Vec<String>),
    /// Blocks and partials nested so deep that the stack would run out.
    Stack,
    Steps,
    Text,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::Circle(chain) => write!(
                f,
                "the partial `{}` includes itself ({})",
                chain.last().map_or("", String::as_str),
                chain.join(" → ")
            ),
            Exceeded::Deep(chain) => write!(
                f,
                "partials are nested more than {MAX_DEPTH} deep ({})",
                chain.join(" → ")
            ),
            Exceeded::Stack => f.write_str("blocks and partials are nested too deep to merge"),
            Exceeded::Steps => write!(f, "merging takes more than {MAX_STEPS} steps"),
            Exceeded::Text => write!(f, "the text grows past {} MB", MAX_TEXT >> 20),
        }
    }
}

impl std::error::Error for Exceeded {}

impl Exceeded {
    /// The limit in `e`, if it is one of these.
    pub fn of(e: &RenderError) -> Option<&Exceeded> {
        match e.reason() {
            RenderErrorReason::NestedError(inner) => inner.downcast_ref::<Exceeded>(),
            _ => None,
        }
    }

    fn error(self) -> RenderError {
        RenderErrorReason::NestedError(Box::new(self)).into()
    }
}

/// One thread's merge in progress.
struct Merge {
    /// Where the stack was when the merge began; 0 outside a merge.
    base: Cell<usize>,
    steps: Cell<u64>,
    text: Cell<u64>,
    /// Partials being merged, outermost first, each with whether its own text is being merged
    /// (`false` while Handlebars merges the content of `{{#> name}}content{{/name}}`, which
    /// comes before the partial's text and belongs to the template around it).
    chain: RefCell<Vec<(String, bool)>>,
}

thread_local! {
    static MERGE: Merge = const {
        Merge {
            base: Cell::new(0),
            steps: Cell::new(0),
            text: Cell::new(0),
            chain: RefCell::new(Vec::new()),
        }
    };
}

/// Runs one merge with fresh limits; the text it made is checked once more at the end.
pub fn run<T>(merge: impl FnOnce() -> Result<T, RenderError>) -> Result<T, RenderError> {
    let outer = MERGE.with(|m| {
        (
            m.base.replace(stack_address()),
            m.steps.replace(0),
            m.text.replace(0),
            m.chain.take(),
        )
    });
    let result = merge().and_then(|value| {
        let text = MERGE.with(|m| m.text.get());
        if text > MAX_TEXT {
            return Err(Exceeded::Text.error());
        }
        Ok(value)
    });
    MERGE.with(|m| {
        m.base.set(outer.0);
        m.steps.set(outer.1);
        m.text.set(outer.2);
        *m.chain.borrow_mut() = outer.3;
    });
    result
}

/// A template is entered: `steps` pieces, `text` bytes of its own text. Outside a merge (a test
/// rendering with Handlebars directly) nothing is counted.
pub fn step(steps: u64, text: u64) -> Result<(), RenderError> {
    MERGE.with(|m| {
        let base = m.base.get();
        if base == 0 {
            return Ok(());
        }
        let steps = m.steps.get() + steps;
        m.steps.set(steps);
        let text = m.text.get() + text;
        m.text.set(text);
        if steps > MAX_STEPS {
            return Err(Exceeded::Steps.error());
        }
        if text > MAX_TEXT {
            return Err(Exceeded::Text.error());
        }
        check_stack(base)
    })
}

/// Text made outside a template's own text: a value, a helper's output. Checked at the next
/// step, and at the end of the merge.
pub fn made(bytes: usize) {
    MERGE.with(|m| m.text.set(m.text.get().saturating_add(bytes as u64)));
}

/// [`made`], stopping at once when the text is past its limit.
pub fn text(bytes: usize) -> Result<(), RenderError> {
    made(bytes);
    MERGE.with(|m| {
        if m.base.get() != 0 && m.text.get() > MAX_TEXT {
            return Err(Exceeded::Text.error());
        }
        Ok(())
    })
}

/// The partial `name` is about to be merged; it is on the chain until the guard is dropped.
pub fn enter(name: &str) -> Result<Entered, RenderError> {
    MERGE.with(|m| {
        let base = m.base.get();
        if base == 0 {
            return Ok(Entered { counted: false });
        }
        let mut chain = m.chain.borrow_mut();
        let names = |from: usize| -> Vec<String> {
            let mut names: Vec<String> = chain[from..].iter().map(|(n, _)| n.clone()).collect();
            names.push(name.to_string());
            names
        };
        if let Some(first) = chain.iter().position(|(n, own)| *own && n == name) {
            return Err(Exceeded::Circle(names(first)).error());
        }
        if chain.len() >= MAX_DEPTH {
            return Err(Exceeded::Deep(names(0)).error());
        }
        check_stack(base)?;
        chain.push((name.to_string(), true));
        Ok(Entered { counted: true })
    })
}

/// A partial on the chain; dropping it takes the partial off.
pub struct Entered {
    counted: bool,
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.counted {
            MERGE.with(|m| m.chain.borrow_mut().pop());
        }
    }
}

fn check_stack(base: usize) -> Result<(), RenderError> {
    if base.abs_diff(stack_address()) > STACK {
        return Err(Exceeded::Stack.error());
    }
    Ok(())
}

/// Roughly where the stack is now: the address of a local of this very function.
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Marks the innermost partial as merging its own text (`true`) or the content of its block.
fn own_text(own: bool) {
    MERGE.with(|m| {
        if let Some(last) = m.chain.borrow_mut().last_mut() {
            last.1 = own;
        }
    });
}

/// `{{__step pieces bytes}}`, at the start of every template.
pub fn step_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    _: &mut dyn Output,
) -> HelperResult {
    let number = |i: usize| h.param(i).and_then(|p| p.value().as_u64()).unwrap_or(0);
    step(number(0), number(1))
}

/// `{{__count value}}`, before `{{{value}}}`: counts the text it will write. A missing value is
/// reported by the slot itself.
pub fn count_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    _: &mut dyn Output,
) -> HelperResult {
    if let Some(p) = h.param(0) {
        if !p.is_value_missing() {
            text(p.value().render().len())?;
        }
    }
    Ok(())
}

/// `{{#__partial}}{{> name …}}{{/__partial}}`: a Handlebars partial, merged with the partial on
/// the chain. What `{{> @partial-block}}` writes is a copy of text made before: it is counted
/// again.
pub fn partial_helper<'reg, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    let Some(inner) = h.template() else {
        return Ok(());
    };
    let name = match inner.elements.first() {
        Some(TemplateElement::PartialExpression(dt) | TemplateElement::PartialBlock(dt)) => {
            match &dt.name {
                handlebars::template::Parameter::Literal(value) => value.render(),
                name => name.expand_as_name(r, ctx, rc)?.into_owned(),
            }
        }
        _ => String::new(),
    };
    if name == PARTIAL_BLOCK {
        let mut copy = StringOutput::new();
        inner.render(r, ctx, rc, &mut copy)?;
        let copy = copy.into_string()?;
        text(copy.len())?;
        out.write(&copy)?;
        return Ok(());
    }
    let _entered = enter(&name)?;
    inner.render(r, ctx, rc, out)
}

/// `{{#__content}}…{{/__content}}`: the content of a `{{#> name}}…{{/name}}` block, which
/// Handlebars merges before the partial's own text: the partial is not yet including anything.
pub fn content_helper<'reg, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    let Some(inner) = h.template() else {
        return Ok(());
    };
    own_text(false);
    let merged = inner.render(r, ctx, rc, out);
    own_text(true);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_on_the_chain_is_a_circle_and_leaves_it_when_done() {
        let result: Result<(), RenderError> = run(|| {
            let a = enter("a")?;
            let b = enter("b")?;
            drop(b);
            let again = enter("b").map(|_| ());
            assert!(again.is_ok(), "b left the chain");
            let e = enter("a").map(|_| ()).unwrap_err();
            drop(a);
            Err(e)
        });
        let e = result.unwrap_err();
        assert_eq!(
            Exceeded::of(&e),
            Some(&Exceeded::Circle(vec!["a".into(), "a".into()]))
        );
    }

    #[test]
    fn a_partial_blocks_content_is_not_inside_the_partial() {
        let result = run(|| {
            let _box = enter("box")?;
            own_text(false);
            // `{{#> box}}{{#> box}}…{{/box}}{{/box}}`: the inner box is in the outer's content.
            let inner = enter("box")?;
            own_text(false);
            own_text(true);
            drop(inner);
            own_text(true);
            enter("box").map(|_| ())
        });
        let e = result.unwrap_err();
        assert!(matches!(Exceeded::of(&e), Some(Exceeded::Circle(_))));
    }

    #[test]
    fn the_chain_has_a_length_and_steps_and_text_have_limits() {
        let e = run(|| {
            let mut held = Vec::new();
            for i in 0..=MAX_DEPTH {
                held.push(enter(&format!("p{i}"))?);
            }
            Ok(())
        })
        .unwrap_err();
        assert!(
            matches!(Exceeded::of(&e), Some(Exceeded::Deep(chain)) if chain.len() == MAX_DEPTH + 1)
        );

        let e = run(|| step(MAX_STEPS + 1, 0)).unwrap_err();
        assert_eq!(Exceeded::of(&e), Some(&Exceeded::Steps));
        let e = run(|| text(MAX_TEXT as usize + 1)).unwrap_err();
        assert_eq!(Exceeded::of(&e), Some(&Exceeded::Text));
        // Text made without a check is caught when the merge ends.
        let e = run(|| {
            made(MAX_TEXT as usize + 1);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(Exceeded::of(&e), Some(&Exceeded::Text));
        // Each merge starts afresh.
        assert!(run(|| step(MAX_STEPS, 0)).is_ok());
        assert!(run(|| step(MAX_STEPS, 0)).is_ok());
    }

    #[test]
    fn nothing_is_counted_outside_a_merge() {
        assert!(step(MAX_STEPS * 2, 0).is_ok());
        assert!(enter("a").is_ok() && enter("a").is_ok());
    }
}
