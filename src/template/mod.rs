//! Letter templates: Handlebars over Markdown, compiled once, rendered strictly per recipient.

pub mod clean;
pub mod cycles;
pub mod escape;
pub mod guard;
pub mod helpers;
pub mod include;
pub mod instrument;
pub mod locale;
pub mod memo;
mod problems;
pub mod text;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use handlebars::{Context, Handlebars, RenderError, RenderErrorReason, Template};
use serde_json::{Map, Value};

use crate::campaign::recipient::header_safe;
use crate::campaign::{Recipient, Settings};
use crate::diagnostic::{offset_of, Problem};
use helpers::footnote::Notes;
use problems::{circle_problem, limit_problem, slot_span, template_problem, too_deep};

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
    /// template that fails to compile, nests too deep or includes itself is reported.
    pub fn load(dir: &Path, settings: &Settings) -> Result<Letters, Vec<Problem>> {
        let main_path = dir.join(&settings.campaign.template);
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
        let mut compiled: Vec<(String, Template)> = Vec::new();
        let mut partial_names = Vec::new();
        let mut load = |name: &str, path: &Path| {
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
            match compile(name, &text, path) {
                Ok(template) => compiled.push((name.to_string(), template)),
                Err(problem) => problems.push(problem),
            }
            files.insert(name.to_string(), (path.to_path_buf(), text));
        };
        load(&main, &main_path);
        let mut variants = HashMap::new();
        for (tag, path) in language_variants(&main_path) {
            let name = display_name(dir, &path);
            load(&name, &path);
            variants.insert(tag, name);
        }
        let partials_dir = main_path
            .parent()
            .unwrap_or(Path::new("."))
            .join("partials");
        for (name, path) in partials(&partials_dir) {
            load(&name, &path);
            partial_names.push(name);
        }

        let settings_file = dir.join(crate::campaign::settings::SETTINGS_FILE);
        let subject_template = match compile_subject(settings, &settings_file) {
            Ok(template) => Some(template),
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        files.insert(
            SUBJECT.to_string(),
            (settings_file.clone(), settings.email.subject.clone()),
        );
        let circles = cycles::circles(compiled.iter().map(|(n, t)| (n.as_str(), t)))
            .into_iter()
            .chain(
                subject_template
                    .iter()
                    .flat_map(|t| cycles::circles([(SUBJECT, t)])),
            );
        for circle in circles {
            problems.push(circle_problem(
                &circle,
                &files,
                &partial_names,
                &settings.email.subject_span,
            ));
        }
        let mut letters = registry(compiled, escape::escape_markdown);
        let mut subject = registry(
            subject_template.map(|t| (SUBJECT.to_string(), t)),
            str::to_string,
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
        let mut letter = Letter {
            markdown,
            subject: header_safe(&subject),
            blocks,
        };
        clean::letter(&mut letter);
        Ok(letter)
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
        if let Some(exceeded) = guard::Exceeded::of(e) {
            return limit_problem(exceeded, &id).at(path, span).recipient(id);
        }
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
            RenderErrorReason::CannotIncludeSelf => {
                Problem::error(format!("the partial `{template}` includes itself"))
                    .label("included again here")
                    .hint("a partial cannot include itself, directly or through other partials; remove this include")
            }
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

/// The email subject, compiled: a value in lettermerge.toml, where its problems point.
fn compile_subject(settings: &Settings, settings_file: &Path) -> Result<Template, Problem> {
    let subject = &settings.email.subject;
    let place = |problem: Problem| {
        problem.at(
            settings_file,
            settings.email.subject_span.clone().unwrap_or(0..0),
        )
    };
    if let Some(deep) = instrument::nesting(subject) {
        return Err(place(too_deep(&deep, "the email subject")));
    }
    Template::compile_with_name(subject, SUBJECT.to_string()).map_err(|e| {
        place(Problem::error(format!(
            "the email subject template is not valid: {}",
            e.reason()
        )))
        .label("in this subject")
        .hint("check the {{…}} slots in [email] subject")
    })
}

/// A strict registry of `templates`, with the guard's helpers placed in them and every helper
/// registered; `escape` makes a value text, and what it makes counts as the letter's text.
fn registry(
    templates: impl IntoIterator<Item = (String, Template)>,
    escape: fn(&str) -> String,
) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(move |s| {
        guard::made(s.len());
        escape(s)
    });
    helpers::register(&mut registry);
    for (name, mut template) in templates {
        instrument::instrument(&mut template);
        registry.register_template(&name, template);
    }
    registry
}

/// Compiles one template file: refused when it nests too deep, with its bare partials rewritten
/// (see [`include`]).
fn compile(name: &str, text: &str, path: &Path) -> Result<Template, Problem> {
    if let Some(deep) = instrument::nesting(text) {
        return Err(
            too_deep(&deep, &path.display().to_string()).at(path, slot_span(text, deep.offset))
        );
    }
    let rewritten = include::rewrite(text);
    Template::compile_with_name(rewritten.as_ref(), name.to_string())
        .map_err(|e| template_problem(path, text, &e))
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
