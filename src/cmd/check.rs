//! `lettermerge check`: every problem in the campaign at once.

mod hidden;

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Args;
use rayon::prelude::*;

use super::Output;
use crate::campaign::paths;
use crate::campaign::recipient::{edit_distance, KNOWN_KEYS};
use crate::campaign::schedule::{show_span, Schedule, Shift};
use crate::campaign::{Campaign, Recipient, RecipientId, Recipients};
use crate::clock::Clock;
use crate::diagnostic::{plural, quote, Problem};
use crate::journal::{read_status, State};
use crate::template::Letters;

/// Check settings, recipients and templates for every recipient, and list all problems.
///
/// Each problem names the file, line and column, the recipient, and what to do. Warnings point
/// at likely typos: a recipient field no template reads, or one only some recipients have.
/// When the campaign makes PDFs (`[email] attach_pdf`, or with --pdf), each letter is also laid
/// out as its PDF would be, so an address too tall for the envelope's window, or text no font
/// can show, is found before render or send.
#[derive(Debug, Args)]
pub struct Check {
    /// Lay out every letter's PDF too, as `render --format pdf` would (done anyway with
    /// `[email] attach_pdf`).
    #[arg(long)]
    pub pdf: bool,
}

/// What `check` found.
#[derive(Default)]
pub struct Findings {
    pub problems: Vec<Problem>,
    pub recipients: usize,
    pub with_email: usize,
    /// Whether each letter was laid out as its PDF.
    pub pdf_laid_out: bool,
    /// With [`inspect`]: what was loaded, for a caller that shows the letters (`preview`).
    pub kept: Kept,
}

/// What [`inspect`] keeps of a campaign besides its problems.
#[derive(Default)]
pub struct Kept {
    pub campaign: Option<Campaign>,
    pub letters: Option<Letters>,
    /// Every entry of the recipients file, in file order.
    pub entries: Vec<Entry>,
}

/// One entry of the recipients file.
pub enum Entry {
    /// A recipient whose letter can be merged (its letter may still fail: see the problems).
    Admitted(Box<Recipient>),
    /// An entry with errors: its id when it has a valid one, and where it is in the file.
    Rejected {
        id: Option<String>,
        span: Option<Range<usize>>,
    },
}

impl Check {
    pub fn execute(self, dir: &Path, clock: &Clock, out: &mut Output) -> bool {
        let findings = check(dir, clock, self.pdf);
        out.problems(&findings.problems);
        let pdfs = if findings.pdf_laid_out {
            " and their PDFs"
        } else {
            ""
        };
        out.say(format!(
            "checked {} ({} with email, {} print-only){pdfs}: {}",
            plural(findings.recipients, "recipient"),
            findings.with_email,
            findings.recipients - findings.with_email,
            out.tally()
        ));
        out.errors == 0
    }
}

/// Checks a whole campaign: settings, templates, and every recipient's letter, and lays out
/// each letter's PDF when `pdf` is set or the emails attach one.
pub fn check(dir: &Path, clock: &Clock, pdf: bool) -> Findings {
    examine(dir, clock, false, pdf)
}

/// [`check`] without PDFs, keeping the campaign, its templates and every entry when `keep` is
/// set.
pub fn inspect(dir: &Path, clock: &Clock, keep: bool) -> Findings {
    examine(dir, clock, keep, false)
}

fn examine(dir: &Path, clock: &Clock, keep: bool, pdf: bool) -> Findings {
    let mut findings = Findings::default();
    let campaign = match Campaign::load(dir, clock) {
        Ok(c) => c,
        Err(problems) => {
            findings.problems = problems;
            return findings;
        }
    };
    let letters = match Letters::load(dir, &campaign.settings) {
        Ok(l) => Some(l),
        Err(problems) => {
            findings.problems.extend(problems);
            None
        }
    };
    let templates = letters
        .iter()
        .flat_map(|l| l.sources().map(|(path, _)| path));
    findings
        .problems
        .extend(paths::warnings(&campaign, templates));
    let mut recipients = match campaign.recipients() {
        Ok(r) => r,
        Err(p) => {
            findings.problems.push(p);
            if keep {
                findings.kept.campaign = Some(campaign);
                findings.kept.letters = letters;
            }
            return findings;
        }
    };
    // The PDF as render makes it, to lay out each letter: the same problems, found now.
    let typesetter = match (pdf || campaign.settings.email.attach_pdf, &letters) {
        (true, Some(_)) => match super::render::pdf(&campaign, false) {
            Ok(renderer) => Some(renderer),
            Err(problem) => {
                findings.problems.push(problem);
                None
            }
        },
        _ => None,
    };
    findings.pdf_laid_out = typesetter.is_some();
    let mut fields = FieldUse::default();
    let mut hidden = hidden::Hidden::default();
    let path = recipients.path.clone();
    let mut timing = Timing::new(&campaign, clock);
    let envelope = crate::cmd::render::envelope(&campaign, clock.now());
    loop {
        let chunk = recipients.next_chunk();
        if chunk.is_empty() {
            break;
        }
        for item in chunk.iter().flatten() {
            fields.record(item.fields.iter().map(|f| (f.key.as_str(), &f.span)));
            hidden.record(item);
        }
        let checked: Vec<_> = chunk
            .into_par_iter()
            .map(|item| {
                let span = item.as_ref().ok().map(|raw| raw.span.clone());
                (span, Recipients::check(&path, item))
            })
            .collect();
        let mut admitted: Vec<Recipient> = Vec::with_capacity(checked.len());
        for (span, result) in checked {
            let problems = match result.map(|r| recipients.admit(&r).map(|()| r)) {
                Ok(Ok(r)) => {
                    if keep {
                        findings
                            .kept
                            .entries
                            .push(Entry::Admitted(Box::new(r.clone())));
                    }
                    admitted.push(r);
                    continue;
                }
                Ok(Err(p)) => vec![p],
                Err(problems) => problems,
            };
            if keep {
                let id = problems.iter().find_map(|p| p.recipient.clone());
                let span = span.or_else(|| {
                    problems
                        .iter()
                        .find_map(|p| p.location.as_ref())
                        .map(|l| l.span.clone())
                });
                findings.kept.entries.push(Entry::Rejected { id, span });
            }
            findings.problems.extend(problems);
        }
        findings.recipients += admitted.len();
        findings.with_email += admitted.iter().filter(|r| r.has_email()).count();
        for r in admitted.iter().filter(|r| r.has_email()) {
            timing.record(r, &path, &mut findings.problems);
        }
        if let Some(letters) = &letters {
            let failed: Vec<Problem> = admitted
                .par_iter_mut()
                .flat_map_iter(|r| match letters.render_mut(r) {
                    Err(problem) => vec![problem],
                    Ok(letter) => {
                        let mut found = Vec::new();
                        if r.has_email() {
                            found.extend(envelope.check_fields(r, &letter.subject));
                        }
                        if let Some(typesetter) = typesetter.as_ref() {
                            found.extend(typesetter.check(&letter, r).err());
                        }
                        found
                    }
                })
                .collect();
            findings.problems.extend(failed);
        }
    }
    if findings.with_email > 0 && campaign.settings.from.is_none() {
        findings.problems.push(
            Problem::warning("[sender] has no `email`: emails cannot be built or sent")
                .in_file(dir.join(crate::campaign::settings::SETTINGS_FILE))
                .hint("add email = \"you@example.org\" under [sender]"),
        );
    }
    if let Some(letters) = &letters {
        findings.problems.extend(fields.warnings(&path, letters));
    }
    findings.problems.extend(hidden.warnings(&path));
    findings
        .problems
        .extend(hidden_in_campaign(&campaign, letters.as_ref()));
    findings.problems.extend(timing.warnings(&campaign));
    if keep {
        findings.kept.campaign = Some(campaign);
        findings.kept.letters = letters;
    }
    findings
}

/// Control characters in the settings' slots and in the templates.
fn hidden_in_campaign(campaign: &Campaign, letters: Option<&Letters>) -> Vec<Problem> {
    let settings = &campaign.settings;
    let file = campaign.dir.join(crate::campaign::settings::SETTINGS_FILE);
    let subject = serde_json::Map::from_iter([(
        "subject".to_string(),
        serde_json::Value::String(settings.email.subject.clone()),
    )]);
    let tables = [
        ("campaign", &settings.campaign.fields),
        ("sender", &settings.sender),
        ("letter", &settings.letter),
        ("email", &subject),
    ];
    let mut problems = hidden::in_settings(&tables, &file);
    if let Some(letters) = letters {
        problems.extend(hidden::in_templates(letters.sources(), &file));
    }
    problems
}

/// What `check` notices about the schedule: recipients without a zone (errors, from
/// [`Schedule::due`]), times the clocks skip or repeat, and letters already past their grace.
struct Timing {
    schedule: Option<Schedule>,
    now: DateTime<Utc>,
    /// Zones where the scheduled time is skipped or happens twice, with how many letters.
    shifted: BTreeMap<(String, &'static str), usize>,
    late: usize,
    /// Letters whose fate the journal knows: their time no longer matters.
    done: HashSet<RecipientId>,
}

impl Timing {
    fn new(campaign: &Campaign, clock: &Clock) -> Timing {
        let done = read_status(&campaign.dir, &campaign.settings.campaign.id)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| !matches!(r.state, State::Pending | State::Scheduled))
            .map(|r| r.recipient)
            .collect();
        Timing {
            done,
            schedule: Schedule::of(&campaign.settings, None, None),
            now: clock.now(),
            shifted: BTreeMap::new(),
            late: 0,
        }
    }

    fn record(&mut self, recipient: &Recipient, path: &Path, problems: &mut Vec<Problem>) {
        let Some(schedule) = &self.schedule else {
            return;
        };
        if self.done.contains(&recipient.id) {
            return;
        }
        match schedule.due(recipient, path) {
            Err(p) => problems.push(p),
            Ok(due) => {
                if let Some(shift) = due.shift {
                    let what = match shift {
                        Shift::Gap => "does not exist there (the clocks skip it); those letters go the length of the gap later",
                        Shift::Twice => "happens twice there (the clocks go back); those letters go at the first",
                    };
                    *self
                        .shifted
                        .entry((due.zone.name().to_string(), what))
                        .or_default() += 1;
                }
                if self.now - due.at > schedule.grace {
                    self.late += 1;
                }
            }
        }
    }

    fn warnings(self, campaign: &Campaign) -> Vec<Problem> {
        let file = campaign.dir.join(crate::campaign::settings::SETTINGS_FILE);
        let span = campaign
            .settings
            .schedule
            .as_ref()
            .and_then(|s| s.at_span.clone());
        let at = |p: Problem| match &span {
            Some(span) => p.at(&file, span.clone()),
            None => p.in_file(&file),
        };
        let mut warnings = Vec::new();
        let Some(schedule) = &self.schedule else {
            if campaign.settings.schedule.is_some() {
                warnings.push(at(Problem::warning(
                    "[schedule] has no `at`: nothing is scheduled",
                )
                .hint("add at = \"2026-12-10T09:00\", or give the time with send --at")));
            }
            return warnings;
        };
        for ((zone, what), n) in self.shifted {
            warnings.push(at(Problem::warning(format!(
                "the scheduled time {what}: in {zone}, for {}",
                plural(n, "letter")
            ))
            .hint("pick a time clear of the clock change if that matters; `send --dry-run` shows each letter's time")));
        }
        if self.late > 0 {
            warnings.push(at(Problem::warning(format!(
                "the schedule has passed by more than its grace ({}) for {}",
                show_span(schedule.grace),
                plural(self.late, "letter")
            ))
            .hint("send holds them as late: send them with `send --send-late`, or set a new time in [schedule] at")));
        }
        warnings
    }
}

/// Which campaign-specific fields recipients set, to spot likely typos.
#[derive(Default)]
struct FieldUse {
    recipients: usize,
    /// key → (how many recipients set it, where it was first set)
    keys: BTreeMap<String, (usize, Range<usize>)>,
}

impl FieldUse {
    fn record<'a>(&mut self, fields: impl Iterator<Item = (&'a str, &'a Range<usize>)>) {
        self.recipients += 1;
        for (key, span) in fields {
            if KNOWN_KEYS.contains(&key) {
                continue;
            }
            self.keys
                .entry(key.to_string())
                .or_insert_with(|| (0, span.clone()))
                .0 += 1;
        }
    }

    fn warnings(&self, path: &PathBuf, letters: &Letters) -> Vec<Problem> {
        let words = template_words(letters);
        let mut problems = Vec::new();
        for (key, (count, span)) in &self.keys {
            // A name cut short in the message cannot be copied into a template.
            let slot = |opener: &str| match quote(key).is_cut() {
                true => format!("{{{{{opener}recipient.…}}}}"),
                false => format!("{{{{{opener}recipient.{key}}}}}"),
            };
            if !words.contains(key.as_str()) {
                // A misspelt known key is likelier than a word from the templates' prose.
                let near = nearest(key, KNOWN_KEYS.iter().copied())
                    .or_else(|| nearest(key, words.iter().copied()));
                let hint = match near {
                    Some(w) => format!("did you mean {}? No template reads this one", quote(w)),
                    None => format!("no template reads it: use it as {} or remove it", slot("")),
                };
                problems.push(
                    Problem::warning(format!(
                        "field {} ({}) is not used by any template",
                        quote(key),
                        plural(*count, "recipient")
                    ))
                    .at(path, span.clone())
                    .label("set here")
                    .hint(hint),
                );
            } else if *count < self.recipients && !guarded(letters, key) {
                problems.push(
                    Problem::warning(format!(
                        "field {} is set for only {} of {} recipients",
                        quote(key),
                        count,
                        self.recipients
                    ))
                    .at(path, span.clone())
                    .label("set here")
                    .hint(format!(
                        "add it to the others, or make the template treat it as optional with {}",
                        slot("#if ")
                    )),
                );
            }
        }
        problems
    }
}

/// Every identifier-like word in the templates: a field they could read.
fn template_words(letters: &Letters) -> HashSet<&str> {
    letters
        .sources()
        .flat_map(|(_, text)| text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The candidate closest to `key` within two edits, if any.
fn nearest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .filter_map(|w| Some((edit_distance(key, w, 2).filter(|d| *d > 0)?, w)))
        .min()
        .map(|(_, w)| w)
}

/// Whether a template treats `recipient.<key>` as optional (`{{#if recipient.key}}`, …).
fn guarded(letters: &Letters, key: &str) -> bool {
    let path = format!("recipient.{key}");
    letters.sources().any(|(_, text)| {
        ["#if ", "#unless ", "#with ", "(default "]
            .iter()
            .any(|opener| {
                text.match_indices(opener).any(|(i, _)| {
                    let rest = text[i + opener.len()..].trim_start();
                    rest.starts_with(&path)
                        && !rest[path.len()..]
                            .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            })
    })
}
