//! `lettermerge.toml`: campaign settings, every key defaulted, parsed and checked in one place.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use lettre::message::Mailbox;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::schedule::{parse_zone, At, RawSchedule, ScheduleSettings, Zone};
use super::smtp::SmtpSettings;
use super::value::Fields;
use crate::diagnostic::Problem;

pub const SETTINGS_FILE: &str = "lettermerge.toml";

/// The email subject when `[email] subject` is not set: the letter's subject, if it has one.
pub const DEFAULT_SUBJECT: &str = "{{#if letter.subject}}{{letter.subject}}{{/if}}";

/// Everything `lettermerge.toml` says, with defaults filled in and values checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub campaign: CampaignSettings,
    /// `[sender]` as templates see it.
    pub sender: Map<String, Value>,
    /// The sender's address, when `[sender] email` is given.
    pub from: Option<Mailbox>,
    /// `[letter]`: the shared slots.
    pub letter: Map<String, Value>,
    pub email: EmailSettings,
    /// `[smtp]`, when the campaign sends email.
    pub smtp: Option<SmtpSettings>,
    /// `[schedule]`, when the campaign has one.
    pub schedule: Option<ScheduleSettings>,
    pub pdf: PdfSettings,
    /// The settings file, when the campaign has one.
    pub path: Option<PathBuf>,
    /// Where each key of `[campaign]`, `[sender]` and `[letter]` is written, by its name as
    /// templates read it (`letter.subject`).
    pub places: HashMap<String, Range<usize>>,
    /// Every path the settings file writes, with its place.
    pub written_paths: Vec<super::paths::WrittenPath>,
}

#[derive(Debug, Clone)]
pub struct CampaignSettings {
    pub id: String,
    pub template: PathBuf,
    pub recipients: PathBuf,
    pub date: NaiveDate,
    pub output: PathBuf,
    /// `[campaign] timezone`: the zone of recipients who name none.
    pub timezone: Option<Tz>,
    /// `[campaign]` as templates see it.
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// Handlebars source of the subject line.
    pub subject: String,
    /// Where `[email] subject` is written, when it is.
    pub subject_span: Option<Range<usize>>,
    pub attach_pdf: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawSettings {
    campaign: Fields,
    sender: Fields,
    letter: Fields,
    email: RawEmail,
    smtp: Option<super::smtp::RawSmtp>,
    schedule: Option<RawSchedule>,
    pdf: RawPdf,
}

/// `[pdf]`: how PDF letters are typeset.
#[derive(Debug, Clone, Default)]
pub struct PdfSettings {
    /// `paper`: "a4" (the default) or "us-letter"; a recipient's own `paper` wins.
    pub paper: Option<Paper>,
    /// `fonts`: families to set the letters in, before the built-in ones.
    pub fonts: Vec<String>,
    /// `font_dirs`: folders with more fonts, relative to the campaign.
    pub font_dirs: Vec<PathBuf>,
    /// `duplex`: in `letters.pdf`, each letter starts on an odd page.
    pub duplex: bool,
}

/// A paper size letters are printed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    #[default]
    A4,
    UsLetter,
}

impl Paper {
    /// "a4", "A4", "us-letter", "letter".
    pub fn parse(text: &str) -> Option<Paper> {
        match text.trim().to_ascii_lowercase().as_str() {
            "a4" => Some(Paper::A4),
            "us-letter" | "letter" | "us letter" => Some(Paper::UsLetter),
            _ => None,
        }
    }

    /// The name Typst knows it by.
    pub fn typst_name(self) -> &'static str {
        match self {
            Paper::A4 => "a4",
            Paper::UsLetter => "us-letter",
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawPdf {
    paper: Option<toml::Spanned<String>>,
    fonts: Vec<String>,
    font_dirs: Vec<PathBuf>,
    duplex: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawEmail {
    subject: Option<toml::Spanned<String>>,
    attach_pdf: bool,
}

impl Settings {
    /// Reads `lettermerge.toml` in `dir` (defaults when it is absent). When the file names no
    /// date, the letters are dated `scheduled` (the day of `send --at`), else the day of
    /// `[schedule] at`, else `today`.
    pub fn load(
        dir: &Path,
        today: NaiveDate,
        scheduled: Option<NaiveDate>,
    ) -> Result<Settings, Vec<Problem>> {
        let path = dir.join(SETTINGS_FILE);
        let text = match crate::input::read_text(&path, crate::input::SETTINGS_LIMIT) {
            Ok(text) => Some(text),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                return Err(vec![Problem::error(format!(
                    "cannot read {}: {e}",
                    path.display()
                ))
                .in_file(&path)
                .hint(e.hint().unwrap_or("check the file's permissions"))])
            }
        };
        let raw: RawSettings = match &text {
            Some(text) => toml::from_str(text).map_err(|e| vec![toml_problem(&path, text, &e)])?,
            None => RawSettings::default(),
        };
        let file = text.is_some().then_some(path);
        let mut settings = Settings::from_raw(dir, raw, file, today, scheduled)?;
        settings.written_paths = text
            .as_deref()
            .map(super::paths::written)
            .unwrap_or_default();
        Ok(settings)
    }

    fn from_raw(
        dir: &Path,
        raw: RawSettings,
        path: Option<PathBuf>,
        today: NaiveDate,
        scheduled: Option<NaiveDate>,
    ) -> Result<Settings, Vec<Problem>> {
        let file = path.clone().unwrap_or_else(|| dir.join(SETTINGS_FILE));
        let mut problems = Vec::new();
        let schedule = raw
            .schedule
            .map(|s| ScheduleSettings::from_raw(s, &file, &mut problems));
        // A scheduled letter is dated the day it is due, unless the campaign names a date.
        let today = match (scheduled, schedule.as_ref().and_then(|s| s.at)) {
            (Some(day), _) => day,
            (None, Some(At::Wall(t))) => t.date(),
            (None, Some(At::Instant(t))) => t.date_naive(),
            (None, None) => today,
        };
        let campaign = campaign_settings(dir, &raw.campaign, &file, today, &mut problems);
        let from = sender_mailbox(&raw.sender, &file, &mut problems);
        let smtp = raw.smtp.and_then(|s| {
            let domain = from.as_ref().map(|f| f.email.domain());
            SmtpSettings::from_raw(s, dir, &file, domain, &mut problems)
        });
        let paper = raw.pdf.paper.and_then(|p| match Paper::parse(p.get_ref()) {
            Some(paper) => Some(paper),
            None => {
                problems.push(
                    Problem::error(format!("{:?} is not a paper size", p.get_ref()))
                        .at(&file, p.span())
                        .label("unknown paper")
                        .hint("write paper = \"a4\" or paper = \"us-letter\""),
                );
                None
            }
        });
        let pdf = PdfSettings {
            paper,
            fonts: raw.pdf.fonts,
            font_dirs: raw.pdf.font_dirs.iter().map(|d| dir.join(d)).collect(),
            duplex: raw.pdf.duplex,
        };
        let places = [
            ("campaign", &raw.campaign),
            ("sender", &raw.sender),
            ("letter", &raw.letter),
        ]
        .into_iter()
        .flat_map(|(table, fields)| {
            fields
                .0
                .iter()
                .map(move |(key, value)| (format!("{table}.{key}"), value.span()))
        })
        .collect();
        let settings = Settings {
            places,
            written_paths: Vec::new(),
            pdf,
            campaign,
            sender: raw.sender.to_json(),
            from,
            letter: raw.letter.to_json(),
            email: EmailSettings {
                subject_span: raw.email.subject.as_ref().map(|s| s.span()),
                subject: raw
                    .email
                    .subject
                    .map_or_else(|| DEFAULT_SUBJECT.to_string(), toml::Spanned::into_inner),
                attach_pdf: raw.email.attach_pdf,
            },
            smtp,
            schedule,
            path,
        };
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }

    /// The folder letters are written to, unless the command line names another.
    pub fn output_dir(&self, dir: &Path) -> PathBuf {
        dir.join(&self.campaign.output)
    }
}

fn campaign_settings(
    dir: &Path,
    fields: &Fields,
    file: &Path,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> CampaignSettings {
    let id = match fields.get("id") {
        None => default_campaign_id(dir),
        Some(v) => match v.get_ref().as_str() {
            Some(id) if super::recipient::is_valid_id(id) => id.to_string(),
            _ => {
                problems.push(
                    Problem::error("the campaign id must be lowercase letters, digits and '-'")
                        .at(file, v.span())
                        .label("not a valid campaign id")
                        .hint("write e.g. id = \"forced-repatriation-2026\"; it names Message-IDs and journal rows, so keep it stable"),
                );
                default_campaign_id(dir)
            }
        },
    };
    let path_of = |key: &str, default: &str, problems: &mut Vec<Problem>| -> PathBuf {
        match fields.get(key) {
            None => PathBuf::from(default),
            Some(v) => match v.get_ref().as_str() {
                Some(s) if !s.trim().is_empty() => PathBuf::from(s),
                _ => {
                    problems.push(
                        Problem::error(format!("`campaign.{key}` must be a path in quotes"))
                            .at(file, v.span())
                            .hint(format!("write e.g. {key} = \"{default}\"")),
                    );
                    PathBuf::from(default)
                }
            },
        }
    };
    let template = path_of("template", "templates/letter.md", problems);
    let recipients = path_of("recipients", "recipients.toml", problems);
    let output = path_of("output", "out", problems);
    let timezone = fields.get("timezone").and_then(|v| {
        let text = v.get_ref().as_str().unwrap_or_default();
        match parse_zone(text) {
            Ok(Zone::Named(tz)) => Some(tz),
            _ => {
                let hint = match super::recipient::suggest_timezone(text) {
                    Some(s) => format!("did you mean \"{s}\"? Time zones are IANA names"),
                    None => "write an IANA zone such as timezone = \"Europe/Oslo\": recipients without a timezone of their own use it".into(),
                };
                problems.push(
                    Problem::error("`campaign.timezone` is not a time zone")
                        .at(file, v.span())
                        .label("unknown zone")
                        .hint(hint),
                );
                None
            }
        }
    });
    let date = match fields.get("date") {
        None => today,
        Some(v) => parse_date(v.get_ref()).unwrap_or_else(|| {
            problems.push(
                Problem::error("`campaign.date` is not a date")
                    .at(file, v.span())
                    .label("expected a date like 2026-12-10")
                    .hint("write date = 2026-12-10 (year-month-day), or remove it to use today's date"),
            );
            today
        }),
    };
    let mut json = fields.to_json();
    json.insert("id".into(), Value::String(id.clone()));
    json.insert("date".into(), Value::String(date.to_string()));
    CampaignSettings {
        id,
        template,
        recipients,
        date,
        output,
        timezone,
        fields: json,
    }
}

fn parse_date(value: &toml::Value) -> Option<NaiveDate> {
    match value {
        toml::Value::Datetime(dt) if dt.time.is_none() => {
            let d = dt.date?;
            NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
        }
        toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn sender_mailbox(sender: &Fields, file: &Path, problems: &mut Vec<Problem>) -> Option<Mailbox> {
    let email = sender.get("email")?;
    let name = sender.get("name").and_then(|v| v.get_ref().as_str());
    match email.get_ref().as_str().map(str::parse) {
        // The name is written as the letters write it: a line break in it is a space.
        Some(Ok(address)) => Some(super::recipient::mailbox(name, address)),
        _ => {
            problems.push(
                Problem::error("`sender.email` is not a valid email address")
                    .at(file, email.span())
                    .label("not an email address")
                    .hint("write e.g. email = \"campaigns@example.org\""),
            );
            None
        }
    }
}

/// A campaign folder's name as an id: `My Campaign` → `my-campaign`.
fn default_campaign_id(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-').to_string();
    if slug.is_empty() {
        "campaign".into()
    } else {
        slug
    }
}

/// A TOML syntax or type error in `text`, the file at `path`, as a problem pointing into it.
///
/// A line whose key looks like a secret (`pasword = "…"`, a misspelt `password_env`) is named by
/// its number only: its snippet would print the secret back to the terminal, and into whatever
/// log or chat the output is pasted.
pub fn toml_problem(path: &Path, text: &str, error: &toml::de::Error) -> Problem {
    let span: Range<usize> = error.span().unwrap_or(0..0);
    let message = error.message().trim().to_string();
    let hint = if message.contains("unknown field") {
        "check the spelling; the keys lettermerge knows are listed in the README"
    } else if message.contains("duplicate key") {
        "a key is set once in each table, and here it is set again: delete the line you do not mean (the other is above it)"
    } else {
        "fix the TOML syntax here: strings need \"quotes\", lists [brackets], tables [names]"
    };
    let what = format!("{} is not valid: {message}", path_name(path));
    match secret_line(text, span.start) {
        Some(line) => Problem::error(format!(
            "{what} (line {line}, not shown: it may hold a secret)"
        ))
        .in_file(path)
        .hint(hint),
        None => Problem::error(what).at(path, span).hint(hint),
    }
}

/// The 1-based number of the line at `offset` when its key looks like a password, token or
/// other secret.
fn secret_line(text: &str, offset: usize) -> Option<usize> {
    let before = text.get(..offset)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or_default();
    let key = line
        .split('=')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let secret = [
        "pass",
        "pasw",
        "word",
        "pwd",
        "secret",
        "token",
        "credential",
        "auth",
    ]
    .iter()
    .any(|word| key.contains(word));
    secret.then(|| crate::diagnostic::line_of(text, offset))
}

fn path_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
