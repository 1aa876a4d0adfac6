//! Letter templates: Handlebars over Markdown, compiled once, rendered strictly per recipient.

pub mod escape;
pub mod helpers;
pub mod include;
pub mod locale;
pub mod memo;
pub mod text;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use handlebars::{Context, Handlebars, RenderError, RenderErrorReason, TemplateError};
use serde_json::{Map, Value};

use crate::campaign::recipient::header_safe;
use crate::campaign::{Recipient, Settings};
use crate::diagnostic::{offset_of, Problem};
use helpers::footnote::Notes;

/// Name of the email subject template in its registry.
const SUBJECT: &str = "[email] subject";

/// One recipient's letter, merged: Markdown ready for every output format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub markdown: String,
    /// The email subject, one line, safe for a header.
    pub subject: String,
    /// The Markdown each partial on a line of its own (`{{> address}}`) wrote, by name, in
    /// order: the PDF places the `sender` and `address` blocks.
    pub blocks: Vec<(String, String)>,
}

/// The campaign's templates, compiled once and shared by every letter.
pub struct Letters {
    letters: Handlebars<'static>,
    subject: Handlebars<'static>,
    main: String,
    /// Language variants: lowercase tag (`fr`, `zh-hant`) → template name.
    variants: HashMap<String, String>,
    /// Template (or partial) name → its file and text, to point errors at them.
    files: HashMap<String, (PathBuf, String)>,
    /// Campaign-wide names every letter sees: `letter`, `sender`, `campaign`, `date`.
    shared: Map<String, Value>,
    settings_file: PathBuf,
    /// The campaign folder and its recipients file, to say where a value is set.
    dir: PathBuf,
    recipients_file: PathBuf,
    /// Where each key of `[campaign]`, `[sender]` and `[letter]` is written (`letter.subject`).
    places: HashMap<String, std::ops::Range<usize>>,
    /// Where `[email] subject` stands in the settings file, when it is written there.
    subject_span: Option<std::ops::Range<usize>>,
    /// Which pieces of each template are the same in every letter, and of the subject.
    plan: memo::Plan,
    subject_plan: memo::Plan,
    /// Contexts holding `shared`, reused letter after letter (one per thread at most).
    contexts: Mutex<Vec<Pooled>>,
}

/// A context holding the campaign's names, with what it has kept of the letters merged in it.
struct Pooled {
    context: Context,
    /// Its `letter` carries the last recipient's own slots.
    overridden: bool,
    /// Kept text of the letter's templates, and of the subject's.
    memo: memo::Memo,
    subject_memo: memo::Memo,
}

impl Letters {
    /// Compiles the letter, its language variants and partials, and the email subject. Every
    /// template that fails to compile is reported.
    pub fn load(dir: &Path, settings: &Settings) -> Result<Letters, Vec<Problem>> {
        let main_path = dir.join(&settings.campaign.template);
        let mut letters = Handlebars::new();
        letters.set_strict_mode(true);
        letters.register_escape_fn(escape::escape_markdown);
        helpers::register(&mut letters);
        let mut problems = Vec::new();
        let mut files = HashMap::new();

        if !main_path.exists() {
            return Err(vec![Problem::error(format!(
                "the letter template {} does not exist",
                main_path.display()
            ))
            .hint(
                "create it, or set `template` in [campaign] of lettermerge.toml",
            )]);
        }
        let main = display_name(dir, &main_path);
        let mut load = |name: &str, path: &Path, partial: bool| {
            let text = match crate::input::read_text(path, crate::input::TEMPLATE_LIMIT) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(
                        Problem::error(format!("cannot read {}: {e}", path.display()))
                            .in_file(path)
                            .hint(e.hint().unwrap_or("check that the file is readable")),
                    );
                    return;
                }
            };
            let compiled = include::rewrite(&text);
            let mut result = letters.register_template_string(name, compiled.as_ref());
            if partial && result.is_ok() {
                // Kept as a partial too, for `{{> name arg key=value}}`.
                result = letters.register_partial(name, compiled.as_ref());
            }
            if let Err(e) = result {
                problems.push(template_problem(path, &text, &e));
            }
            files.insert(name.to_string(), (path.to_path_buf(), text));
        };
        load(&main, &main_path, false);
        let mut variants = HashMap::new();
        for (tag, path) in language_variants(&main_path) {
            let name = display_name(dir, &path);
            load(&name, &path, false);
            variants.insert(tag, name);
        }
        let partials_dir = main_path
            .parent()
            .unwrap_or(Path::new("."))
            .join("partials");
        for (name, path) in partials(&partials_dir) {
            load(&name, &path, true);
        }

        let settings_file = dir.join(crate::campaign::settings::SETTINGS_FILE);
        let mut subject = Handlebars::new();
        subject.set_strict_mode(true);
        subject.register_escape_fn(handlebars::no_escape);
        helpers::register(&mut subject);
        if let Err(e) = subject.register_template_string(SUBJECT, &settings.email.subject) {
            problems.push(
                Problem::error(format!(
                    "the email subject template is not valid: {}",
                    e.reason()
                ))
                .at(
                    &settings_file,
                    settings.email.subject_span.clone().unwrap_or(0..0),
                )
                .label("in this subject")
                .hint("check the {{…}} slots in [email] subject"),
            );
        }
        files.insert(
            SUBJECT.to_string(),
            (settings_file.clone(), settings.email.subject.clone()),
        );

        if !problems.is_empty() {
            return Err(problems);
        }
        // What the templates print must be text: each printed value is checked as it is merged.
        text::guard(&mut letters, helpers::is_helper);
        text::guard(&mut subject, helpers::is_helper);
        let mut shared = Map::new();
        shared.insert("letter".into(), Value::Object(settings.letter.clone()));
        shared.insert("sender".into(), Value::Object(settings.sender.clone()));
        shared.insert(
            "campaign".into(),
            Value::Object(settings.campaign.fields.clone()),
        );
        shared.insert(
            "date".into(),
            Value::String(settings.campaign.date.to_string()),
        );
        Ok(Letters {
            plan: memo::Plan::new(&letters),
            subject_plan: memo::Plan::new(&subject),
            letters,
            subject,
            main,
            variants,
            files,
            shared,
            settings_file,
            dir: dir.to_path_buf(),
            recipients_file: dir.join(&settings.campaign.recipients),
            places: settings.places.clone(),
            subject_span: settings.email.subject_span.clone(),
            contexts: Mutex::new(Vec::new()),
        })
    }

    /// The template a recipient's letter uses: exact language tag, then primary language, then
    /// the plain letter.
    pub fn template_for(&self, recipient: &Recipient) -> &str {
        let tag = recipient.language.tag().to_ascii_lowercase();
        self.variants
            .get(&tag)
            .or_else(|| self.variants.get(&recipient.language.primary()))
            .unwrap_or(&self.main)
    }

    /// Every template's text, for checks that look at what templates read.
    pub fn sources(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files.values().map(|(p, t)| (p.as_path(), t.as_str()))
    }

    /// Merges one recipient's letter. A slot the data lacks is an error naming the template's
    /// file, line and column, the recipient and the missing name.
    pub fn render(&self, recipient: &Recipient) -> Result<Letter, Problem> {
        self.render_fields(recipient, recipient.fields.clone()).0
    }

    /// [`Letters::render`], lending the recipient's fields to the merge instead of copying
    /// them; they are back in place when it returns.
    pub fn render_mut(&self, recipient: &mut Recipient) -> Result<Letter, Problem> {
        let fields = std::mem::take(&mut recipient.fields);
        let (letter, fields) = self.render_fields(recipient, fields);
        recipient.fields = fields;
        letter
    }

    /// Merges `recipient`'s letter with `fields` as its `recipient`; gives the fields back.
    fn render_fields(
        &self,
        recipient: &Recipient,
        fields: Map<String, Value>,
    ) -> (Result<Letter, Problem>, Map<String, Value>) {
        let mut pooled = self.contexts.lock().map_or(None, |mut pool| pool.pop());
        let slot = pooled.get_or_insert_with(|| Pooled {
            context: Context::from(Value::Object(self.shared.clone())),
            overridden: false,
            memo: memo::Memo::default(),
            subject_memo: memo::Memo::default(),
        });
        self.fill(&mut slot.context, &mut slot.overridden, recipient, fields);
        // Text kept from earlier letters is only right for letters with the campaign's slots,
        // in the same language (helpers read `recipient.language`, which is this tag, and
        // English without one).
        let language = recipient.language.tag();
        let reuse = recipient.letter.is_empty().then_some((
            memo::Reuse {
                memo: &mut slot.memo,
                language,
            },
            memo::Reuse {
                memo: &mut slot.subject_memo,
                language,
            },
        ));
        let letter = self.render_in(&slot.context, reuse, recipient);
        let fields = match slot.context.data_mut() {
            Value::Object(data) => match data.remove("recipient") {
                Some(Value::Object(fields)) => fields,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        if let (Ok(mut pool), Some(pooled)) = (self.contexts.lock(), pooled) {
            pool.push(pooled);
        }
        (letter, fields)
    }

    fn render_in(
        &self,
        context: &Context,
        reuse: Option<(memo::Reuse<'_>, memo::Reuse<'_>)>,
        recipient: &Recipient,
    ) -> Result<Letter, Problem> {
        let (mut reuse, mut reuse_subject) = reuse.unzip();
        let name = self.template_for(recipient);
        let ((body, notes), blocks) = include::Blocks::collect(|| {
            Notes::collect(|| {
                memo::render(&self.letters, &self.plan, reuse.as_mut(), name, context)
            })
        });
        let mut markdown = body.map_err(|e| self.render_problem(&e, recipient, name))?;
        if !notes.is_empty() {
            if !markdown.ends_with('\n') {
                markdown.push('\n');
            }
            markdown.push('\n');
            markdown.push_str(&Notes::definitions(&notes));
        }
        let (subject, _) = Notes::collect(|| {
            memo::render(
                &self.subject,
                &self.subject_plan,
                reuse_subject.as_mut(),
                SUBJECT,
                context,
            )
        });
        let subject = subject.map_err(|e| self.render_problem(&e, recipient, SUBJECT))?;
        Ok(Letter {
            markdown,
            subject: header_safe(&subject),
            blocks,
        })
    }

    /// Makes a context built from the campaign's names this recipient's: their fields, and their
    /// own letter slots over the campaign's. Only what differs from letter to letter is copied.
    fn fill(
        &self,
        context: &mut Context,
        overridden: &mut bool,
        recipient: &Recipient,
        fields: Map<String, Value>,
    ) {
        let Value::Object(data) = context.data_mut() else {
            unreachable!("a letter's context is built as an object");
        };
        data.insert("recipient".into(), Value::Object(fields));
        if !*overridden && recipient.letter.is_empty() {
            return;
        }
        let mut letter = self
            .shared
            .get("letter")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in &recipient.letter {
            letter.insert(k.clone(), v.clone());
        }
        data.insert("letter".into(), Value::Object(letter));
        *overridden = !recipient.letter.is_empty();
    }

    fn render_problem(&self, e: &RenderError, recipient: &Recipient, name: &str) -> Problem {
        let template = e.template_name.as_deref().unwrap_or(name);
        let (path, text) = match self.files.get(template) {
            Some((p, t)) => (p.clone(), t.as_str()),
            None => (PathBuf::from(template), ""),
        };
        let span = match (e.line_no, e.column_no) {
            // The subject is a value inside lettermerge.toml: point at the value.
            _ if template == SUBJECT => self.subject_span.clone().unwrap_or(0..0),
            (Some(line), Some(col)) if !text.is_empty() => {
                slot_span(text, offset_of(text, line, col))
            }
            _ => 0..0,
        };
        let id = recipient.id.to_string();
        if let RenderErrorReason::NestedError(inner) = e.reason() {
            if let Some(not_text) = inner.downcast_ref::<text::NotText>() {
                let printed = match (template, e.line_no, e.column_no) {
                    (SUBJECT, _, _) if self.subject_span.is_none() => {
                        "the email's Subject line (`{{letter.subject}}` unless [email] subject says otherwise)".to_string()
                    }
                    (SUBJECT, _, _) => "[email] subject".to_string(),
                    (_, Some(line), Some(col)) => {
                        format!("{}:{line}:{col}", display_name(&self.dir, &path))
                    }
                    _ => display_name(&self.dir, &path),
                };
                return self
                    .not_text_problem(not_text, recipient, &printed)
                    .unwrap_or_else(|problem| problem.at(path, span).label("printed here"));
            }
        }
        let problem = match e.reason() {
            RenderErrorReason::MissingVariable(missing) => {
                let missing = missing.clone().unwrap_or_else(|| "a value".into());
                Problem::error(format!("`{missing}` is missing for recipient `{id}`"))
                    .label(format!("`{missing}` has no value"))
                    .hint(self.missing_hint(&missing, &id))
            }
            RenderErrorReason::PartialNotFound(partial) => {
                Problem::error(format!("the partial `{partial}` does not exist"))
                    .label("no such partial")
                    .hint(format!("create templates/partials/{partial}.md, or correct the name"))
            }
            RenderErrorReason::HelperNotFound(helper) => {
                Problem::error(format!("`{helper}` is not a helper lettermerge knows"))
                    .label("unknown helper")
                    .hint("see docs/templates.md for the helpers: format_date, join, lines, enumerate, footnote, eq, default")
            }
            other => Problem::error(format!("cannot merge the letter for `{id}`: {other}"))
                .hint("see docs/templates.md for how slots and helpers are written"),
        };
        problem.at(path, span).recipient(id)
    }

    /// A value printed where text is needed, pointed at where it is set (its line in
    /// lettermerge.toml or the recipients file); `Err` with the problem still to be placed, at
    /// the template, when where it is set is not known.
    fn not_text_problem(
        &self,
        not_text: &text::NotText,
        recipient: &Recipient,
        printed: &str,
    ) -> Result<Problem, Problem> {
        let id = recipient.id.to_string();
        let problem = Problem::error(not_text.to_string()).recipient(id);
        let in_recipient = |key: &str| {
            let (_, span) = recipient.places.iter().find(|(k, _)| k == key)?;
            Some((self.recipients_file.clone(), span.clone()))
        };
        let in_settings = |table: &str, key: &str| {
            let span = self.places.get(&format!("{table}.{key}"))?;
            Some((self.settings_file.clone(), span.clone()))
        };
        let set = match not_text.key() {
            Some(("recipient", key)) => in_recipient(key),
            Some(("letter", key)) if recipient.letter.contains_key(key) => in_recipient("letter"),
            Some((table, key)) => in_settings(table, key),
            None => None,
        };
        let hint = format!("{printed} prints it; {}", not_text.remedy());
        match set {
            Some((file, span)) => Ok(problem
                .at(file, span)
                .label(format!("set here: {}, not text", not_text.found))
                .hint(hint)),
            None => Err(problem.hint(not_text.remedy())),
        }
    }

    fn missing_hint(&self, missing: &str, id: &str) -> String {
        let wrap = format!("or make it optional with {{{{#if {missing}}}}}…{{{{/if}}}}");
        if let Some(key) = missing.strip_prefix("recipient.") {
            let example = if matches!(key, "address" | "cc" | "bcc") {
                "[\"…\", \"…\"]"
            } else {
                "\"…\""
            };
            format!("add `{key} = {example}` to recipient `{id}`, {wrap}")
        } else if let Some(key) = missing.strip_prefix("letter.") {
            format!(
                "add `{key}` to [letter] in {} (or to this recipient's [recipient.letter]), {wrap}",
                self.settings_file.display()
            )
        } else if let Some(key) = missing.strip_prefix("sender.") {
            format!(
                "add `{key}` to [sender] in {}",
                self.settings_file.display()
            )
        } else {
            format!("check the spelling of `{missing}`; templates see recipient, letter, sender, campaign and date, {wrap}")
        }
    }
}

/// The span of the `{{…}}` slot that starts at `offset`, for the caret.
fn slot_span(text: &str, offset: usize) -> std::ops::Range<usize> {
    let rest = &text[offset.min(text.len())..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let end = rest[..line_end].find("}}").map_or(line_end, |i| {
        i + 2 + usize::from(rest[i + 2..].starts_with('}'))
    });
    offset..offset + end.max(1).min(rest.len())
}

fn template_problem(path: &Path, text: &str, e: &TemplateError) -> Problem {
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
fn unclosed_block(text: &str) -> Option<(String, usize)> {
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

/// `templates/letter.fr.md` → ("fr", path) for every variant beside the main template.
fn language_variants(main: &Path) -> Vec<(String, PathBuf)> {
    let (Some(dir), Some(stem), Some(ext)) = (
        main.parent(),
        main.file_stem().and_then(|s| s.to_str()),
        main.extension().and_then(|s| s.to_str()),
    ) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = read_dir_sorted(dir)
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let tag = name
                .strip_prefix(stem)?
                .strip_prefix('.')?
                .strip_suffix(ext)?
                .strip_suffix('.')?;
            crate::campaign::Language::parse(tag)?;
            Some((tag.to_ascii_lowercase(), path))
        })
        .collect();
    found.sort();
    found
}

/// Partials: every file in `templates/partials/`, named by its stem (one that is not a regular
/// file is an error when it is read, not a partial that silently does not exist).
fn partials(dir: &Path) -> Vec<(String, PathBuf)> {
    read_dir_sorted(dir)
        .into_iter()
        .filter(|p| !p.is_dir())
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_string();
            (!stem.starts_with('.')).then_some((stem, p))
        })
        .collect()
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

/// A path as the user would write it: relative to the campaign folder.
fn display_name(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclosed_blocks_are_found_with_their_place() {
        let text = "a\n{{#if x}}\n{{#each y}}{{/each}}\n";
        assert_eq!(unclosed_block(text), Some(("if".into(), 2)));
        assert_eq!(unclosed_block("{{#if x}}{{/if}}"), None);
    }
}
