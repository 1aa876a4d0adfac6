//! `lettermerge preview`: a local web page showing every letter and its email as they will be
//! sent, with the problems `check` finds, kept up to date as the campaign's files change.
//!
//! A [`Snapshot`] is one reading of the campaign (by [`crate::cmd::check::inspect`], so the page
//! shows exactly what `check` says). [`server`] answers the page's requests from the newest
//! snapshot; [`watch`] makes a new one when a file changes and tells open pages. Nothing here
//! writes a file or opens a connection to a mail server.

pub mod server;
pub mod watch;

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::Value;

use crate::campaign::{Campaign, Recipient};
use crate::clock::Clock;
use crate::cmd::check::{inspect, Entry};
use crate::diagnostic::{self, LineIndex, Problem, Reporter, Severity};
use crate::render::{Email, Renderer};
use crate::template::{Letter, Letters};

/// One reading of the campaign, and everything the page asks of it.
pub struct Snapshot {
    /// Counts up with each reading, so the page knows when it is behind.
    pub version: u64,
    campaign: Option<Campaign>,
    letters: Option<Letters>,
    entries: Vec<Entry>,
    /// Each entry's key (its id, or `@line` for an entry without a valid id) and the line of the
    /// recipients file where it starts, in the order of `entries`.
    places: Vec<(String, Option<usize>)>,
    /// Each key → the index of its (first) entry.
    keys: HashMap<String, usize>,
    /// `/api/campaign`, made once per reading.
    summary: Vec<u8>,
    /// Problems by entry key; those of no entry under "".
    problems: HashMap<String, Vec<ProblemView>>,
    /// The PDF renderer, made (fonts searched) when a PDF is first asked for.
    pdf: OnceLock<Result<Arc<dyn Renderer + Send>, Problem>>,
}

/// A problem as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemView {
    pub severity: &'static str,
    pub message: String,
    /// The file, as `check` names it.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub recipient: Option<String>,
    pub hint: Option<String>,
    /// The whole report as `check` prints it, with the file's line and a caret under the spot.
    pub report: String,
}

/// A line of the recipient list.
#[derive(Debug, Serialize)]
struct EntryView<'a> {
    key: String,
    id: Option<&'a str>,
    name: &'a str,
    country: String,
    email: Option<String>,
    language: Option<&'a str>,
    /// The line of the recipients file where the entry starts.
    line: Option<usize>,
    errors: usize,
    warnings: usize,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    version: u64,
    campaign: Option<&'a str>,
    entries: Vec<EntryView<'a>>,
    errors: usize,
    warnings: usize,
    /// Problems that concern no one recipient: settings, templates, the schedule.
    problems: &'a [ProblemView],
}

/// One entry's letter and email, for `/api/letters/{key}`.
#[derive(Debug, Serialize)]
pub struct LetterView {
    pub key: String,
    pub id: Option<String>,
    pub name: String,
    pub line: Option<usize>,
    pub problems: Vec<ProblemView>,
    /// Absent when the letter cannot be merged (see the problems).
    pub letter: Option<LetterLinks>,
    pub email: Option<EmailView>,
    /// Why there is no email: print-only, or the problem that stops it.
    pub no_email: Option<String>,
    /// Why there is no letter: the entry or its letter has errors.
    pub no_letter: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LetterLinks {
    pub subject: String,
    pub language: String,
    /// The letter as a page on paper.
    pub page: String,
    pub pdf: Option<String>,
    pub eml: Option<String>,
}

/// The email as `send` would send it now.
#[derive(Debug, Serialize)]
pub struct EmailView {
    pub from: String,
    pub to: String,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub date: String,
    pub message_id: String,
    /// The text part, word for word.
    pub text: String,
    /// The attached PDF's file name, with `[email] attach_pdf`.
    pub attachment: Option<String>,
}

/// What a request for one letter's file found.
pub enum Fetched {
    /// No entry has this key.
    Unknown,
    /// The entry has no such file; why.
    Unavailable(String),
    Found(Vec<u8>),
}

impl Snapshot {
    /// Reads the campaign in `dir` as `check` does.
    pub fn load(dir: &Path, clock: &Clock, version: u64) -> Snapshot {
        let findings = inspect(dir, clock, true);
        let kept = findings.kept;
        let recipients_file = kept.campaign.as_ref().map(Campaign::recipients_path);
        let text = recipients_file
            .as_ref()
            .and_then(|p| crate::input::read_text(p, crate::input::RECIPIENTS_LIMIT).ok())
            .unwrap_or_default();
        let lines = LineIndex::new(&text);
        let line = |span: &Range<usize>| lines.line(span.start);
        let places: Vec<(String, Option<usize>)> = kept
            .entries
            .iter()
            .map(|entry| match entry {
                Entry::Admitted(r) => (r.id.to_string(), Some(line(&r.span))),
                Entry::Rejected { id, span } => {
                    let at = span.as_ref().map(line);
                    let key = id
                        .clone()
                        .unwrap_or_else(|| format!("@{}", at.unwrap_or(0)));
                    (key, at)
                }
            })
            .collect();
        let mut keys = HashMap::with_capacity(places.len());
        for (i, (key, _)) in places.iter().enumerate() {
            keys.entry(key.clone()).or_insert(i);
        }
        // Problems of entries without an id belong to the entry they point into.
        let rejected: Vec<(&Range<usize>, &String)> = kept
            .entries
            .iter()
            .zip(&places)
            .filter_map(|(entry, (key, _))| match entry {
                Entry::Rejected {
                    id: None,
                    span: Some(span),
                } => Some((span, key)),
                _ => None,
            })
            .collect();
        let mut reporter = Reporter::new();
        let mut problems: HashMap<String, Vec<ProblemView>> = HashMap::new();
        let mut sorted = findings.problems;
        sorted.sort_by_key(|p| p.severity);
        for problem in &sorted {
            let key = match &problem.recipient {
                Some(id) => id.clone(),
                None => problem
                    .location
                    .as_ref()
                    .filter(|l| Some(&l.file) == recipients_file.as_ref())
                    .and_then(|l| {
                        rejected
                            .iter()
                            .find(|(span, _)| span.contains(&l.span.start))
                            .map(|(_, key)| (*key).clone())
                    })
                    .unwrap_or_default(),
            };
            let view = ProblemView::of(problem, &mut reporter, dir);
            problems.entry(key).or_default().push(view);
        }
        let mut snapshot = Snapshot {
            version,
            campaign: kept.campaign,
            letters: kept.letters,
            entries: kept.entries,
            places,
            keys,
            summary: Vec::new(),
            problems,
            pdf: OnceLock::new(),
        };
        snapshot.summary = snapshot.summarize();
        snapshot
    }

    /// `/api/campaign`: the list and the campaign's own problems, as JSON.
    pub fn summary(&self) -> &[u8] {
        &self.summary
    }

    fn summarize(&self) -> Vec<u8> {
        let entries = self
            .entries
            .iter()
            .zip(&self.places)
            .map(|(entry, (key, line))| {
                let problems = self.problems.get(key).map_or(&[][..], Vec::as_slice);
                let (errors, warnings) = tally(problems);
                let (id, recipient) = match entry {
                    Entry::Admitted(r) => (Some(r.id.as_str()), Some(r)),
                    Entry::Rejected { id, .. } => (id.as_deref(), None),
                };
                EntryView {
                    key: key.clone(),
                    id,
                    name: recipient.map_or("", |r| r.name.as_str()),
                    country: recipient.map(|r| country(r)).unwrap_or_default(),
                    email: recipient.and_then(|r| r.email.as_ref().map(|m| m.email.to_string())),
                    language: recipient.map(|r| r.language.tag()),
                    line: *line,
                    errors,
                    warnings,
                }
            })
            .collect();
        let (_, errors, warnings) = self.counts();
        let summary = Summary {
            version: self.version,
            campaign: self
                .campaign
                .as_ref()
                .map(|c| c.settings.campaign.id.as_str()),
            entries,
            errors,
            warnings,
            problems: self.problems.get("").map_or(&[], Vec::as_slice),
        };
        serde_json::to_vec(&summary).unwrap_or_default()
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.keys.get(key).map(|&i| &self.entries[i])
    }

    /// How many entries, errors and warnings this reading has.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (errors, warnings) = self
            .problems
            .values()
            .map(|ps| tally(ps))
            .fold((0, 0), |(e, w), (de, dw)| (e + de, w + dw));
        (self.entries.len(), errors, warnings)
    }

    fn admitted(&self, key: &str) -> Option<&Recipient> {
        match self.entry(key)? {
            Entry::Admitted(r) => Some(r),
            Entry::Rejected { .. } => None,
        }
    }

    /// The merged letter of an admitted recipient, or why there is none.
    fn letter(&self, recipient: &Recipient) -> Result<Letter, String> {
        let letters = self
            .letters
            .as_ref()
            .ok_or("the templates have errors (listed at the top of the page)")?;
        letters.render(recipient).map_err(|p| p.to_string())
    }

    /// `/api/letters/{key}`: the entry's letter, email and problems; `None` for an unknown key.
    pub fn letter_view(&self, key: &str, clock: &Clock) -> Option<LetterView> {
        let index = *self.keys.get(key)?;
        let entry = &self.entries[index];
        let problems = self.problems.get(key).cloned().unwrap_or_default();
        let mut view = LetterView {
            key: key.to_string(),
            id: None,
            name: String::new(),
            line: self.places[index].1,
            problems,
            letter: None,
            email: None,
            no_email: None,
            no_letter: None,
        };
        let Entry::Admitted(recipient) = entry else {
            if let Entry::Rejected { id, .. } = entry {
                view.id = id.clone();
            }
            view.no_letter = Some("this entry has errors: fix them to see its letter".into());
            return Some(view);
        };
        view.id = Some(recipient.id.to_string());
        view.name = recipient.name.clone();
        let letter = match self.letter(recipient) {
            Ok(letter) => letter,
            Err(why) => {
                view.no_letter = Some(format!("the letter cannot be merged: {why}"));
                return Some(view);
            }
        };
        let query = format!("?v={}", self.version);
        let base = format!("/letters/{}", recipient.id);
        view.letter = Some(LetterLinks {
            subject: letter.subject.clone(),
            language: recipient.language.tag().to_string(),
            page: format!("{base}/page{query}"),
            pdf: cfg!(feature = "pdf").then(|| format!("{base}/pdf{query}")),
            eml: recipient.has_email().then(|| format!("{base}/eml{query}")),
        });
        match self.email(&letter, recipient, clock, false) {
            Ok(Some(message)) => view.email = Some(self.email_view(&letter, recipient, &message)),
            Ok(None) => {
                view.no_email = Some(
                    "no email: this recipient has no address, so the letter is print-only".into(),
                )
            }
            Err(p) => view.no_email = Some(format!("no email: {}", p.message)),
        }
        Some(view)
    }

    /// The email `send` would send now, with its PDF attached when `attach` and the campaign
    /// says so.
    fn email(
        &self,
        letter: &Letter,
        recipient: &Recipient,
        clock: &Clock,
        attach: bool,
    ) -> Result<Option<lettre::Message>, Problem> {
        let Some(campaign) = &self.campaign else {
            return Ok(None);
        };
        let email = if attach {
            crate::cmd::render::email(campaign, clock.now(), self.pdf_renderer()?.as_ref())?
        } else {
            Email::new(crate::cmd::render::envelope(campaign, clock.now()))
        };
        email.message(letter, recipient)
    }

    fn email_view(
        &self,
        letter: &Letter,
        recipient: &Recipient,
        message: &lettre::Message,
    ) -> EmailView {
        let header = |name: &str| {
            message
                .headers()
                .get_raw(name)
                .unwrap_or_default()
                .to_string()
        };
        let list =
            |boxes: &[lettre::message::Mailbox]| boxes.iter().map(|m| m.to_string()).collect();
        let attach = self
            .campaign
            .as_ref()
            .is_some_and(|c| c.settings.email.attach_pdf);
        EmailView {
            from: header("From"),
            to: header("To"),
            cc: list(&recipient.cc),
            bcc: list(&recipient.bcc),
            subject: letter.subject.clone(),
            date: header("Date"),
            message_id: header("Message-ID"),
            text: crate::render::txt::to_text(&letter.markdown, crate::render::txt::WIDTH),
            attachment: attach.then(|| format!("{}.pdf", recipient.id)),
        }
    }

    /// The PDF renderer, made once per reading.
    fn pdf_renderer(&self) -> Result<Option<Arc<dyn Renderer + Send>>, Problem> {
        let Some(campaign) = &self.campaign else {
            return Ok(None);
        };
        self.pdf
            .get_or_init(|| crate::cmd::render::pdf(campaign, false))
            .clone()
            .map(Some)
    }

    /// The letter as a page on paper (the same HTML as the email's HTML part).
    pub fn page(&self, id: &str) -> Fetched {
        self.fetch(id, |letter, r| {
            Ok(crate::render::page(letter, r).into_bytes())
        })
    }

    /// The letter's PDF.
    pub fn pdf(&self, id: &str) -> Fetched {
        self.fetch(id, |letter, r| {
            let renderer = self
                .pdf_renderer()
                .map_err(|p| problem_text(&p))?
                .ok_or("the campaign's settings have errors")?;
            match renderer.render(letter, r) {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err("this letter has no PDF".into()),
                Err(p) => Err(problem_text(&p)),
            }
        })
    }

    /// The email, whole, as `render --format eml` writes it (dated now).
    pub fn eml(&self, id: &str, clock: &Clock) -> Fetched {
        self.fetch(id, |letter, r| match self.email(letter, r, clock, true) {
            Ok(Some(m)) => Ok(m.formatted()),
            Ok(None) => Err("this recipient has no email: the letter is print-only".into()),
            Err(p) => Err(problem_text(&p)),
        })
    }

    fn fetch(
        &self,
        id: &str,
        make: impl FnOnce(&Letter, &Recipient) -> Result<Vec<u8>, String>,
    ) -> Fetched {
        let Some(recipient) = self.admitted(id) else {
            return Fetched::Unknown;
        };
        match self.letter(recipient).and_then(|l| make(&l, recipient)) {
            Ok(bytes) => Fetched::Found(bytes),
            Err(why) => Fetched::Unavailable(why),
        }
    }

    /// The files whose change makes a new reading: settings, recipients, templates, partials.
    pub fn sources(&self, dir: &Path) -> Sources {
        let settings = dir.join(crate::campaign::settings::SETTINGS_FILE);
        let Some(campaign) = &self.campaign else {
            return Sources::new(vec![settings], Vec::new(), dir);
        };
        let template = dir.join(&campaign.settings.campaign.template);
        let templates = parent(&template);
        Sources::new(
            vec![settings, campaign.recipients_path()],
            vec![templates.join("partials"), templates],
            dir,
        )
    }
}

/// What the preview watches, as absolute paths (the way the watcher names changed files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// Files that matter wherever they are: the settings and the recipients.
    pub files: Vec<PathBuf>,
    /// Folders any file of which matters: the templates' and the partials'.
    pub templates: Vec<PathBuf>,
    /// The folders to watch (not their subfolders).
    pub folders: Vec<PathBuf>,
}

impl Sources {
    fn new(files: Vec<PathBuf>, templates: Vec<PathBuf>, dir: &Path) -> Sources {
        let files: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect();
        let templates: Vec<PathBuf> = templates.iter().map(|f| absolute(f)).collect();
        let mut folders: Vec<PathBuf> = files
            .iter()
            .map(|f| parent(f))
            .chain(templates.iter().cloned())
            .chain([absolute(dir)])
            .collect();
        folders.sort();
        folders.dedup();
        Sources {
            files,
            templates,
            folders,
        }
    }
}

/// The path from the root, with links resolved as far as the path exists.
fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => absolute(&parent_or_dot(dir)).join(name),
        _ => std::env::current_dir().unwrap_or_default().join(path),
    }
}

fn parent_or_dot(dir: &Path) -> PathBuf {
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    }
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// How many of `problems` are errors and how many warnings.
fn tally(problems: &[ProblemView]) -> (usize, usize) {
    let errors = problems.iter().filter(|p| p.severity == "error").count();
    (errors, problems.len() - errors)
}

/// The recipient's country: a `country` field, else the last line of the address.
fn country(recipient: &Recipient) -> String {
    match recipient.fields.get("country") {
        Some(Value::String(s)) => s.clone(),
        _ => match recipient.fields.get("address") {
            Some(Value::Array(lines)) => lines
                .last()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        },
    }
}

fn shown(path: &Path, dir: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

fn problem_text(problem: &Problem) -> String {
    match &problem.hint {
        Some(hint) => format!("{problem}\nhint: {}", diagnostic::shown(hint)),
        None => problem.to_string(),
    }
}

impl ProblemView {
    fn of(problem: &Problem, reporter: &mut Reporter, dir: &Path) -> ProblemView {
        let place = reporter.line_column(problem);
        ProblemView {
            severity: match problem.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            // As the terminal shows them: escaped and cut (see `diagnostic`).
            message: diagnostic::shown(&problem.message).into_owned(),
            file: problem.location.as_ref().map(|l| shown(&l.file, dir)),
            line: place.map(|p| p.0),
            column: place.map(|p| p.1),
            recipient: problem.recipient.clone(),
            hint: problem
                .hint
                .as_deref()
                .map(|h| diagnostic::shown(h).into_owned()),
            report: reporter.render(problem),
        }
    }
}
