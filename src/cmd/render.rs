//! `lettermerge render`: one file per recipient and format.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::Args;
use lettre::message::Mailbox;

use super::Output;
use crate::campaign::recipient::header_safe;
use crate::campaign::{paths, Campaign};
use crate::clock::Clock;
use crate::diagnostic::{first_of, plural, Problem};
use crate::render::eml::Envelope;
use crate::render::job::{Destination, Job};
use crate::render::{Email, Format, Html, Markdown, PlainText, Renderer};
use crate::template::Letters;

/// Write each recipient's letter: out/<id>.md, .txt, .html and .eml (and .pdf when asked).
///
/// Every format comes from the same merged letter, so each says the same words. A run's files
/// take their names only once every one of them is written and on the disk: if a write fails
/// (a full disk), nothing in the output folder changes. A letter with a problem is reported and
/// the others are written; a PDF that cannot be made costs only that PDF.
#[derive(Debug, Args)]
pub struct Render {
    /// Formats to write, separated by commas: md, txt, html, pdf, eml.
    #[arg(long, value_delimiter = ',', default_value = "md,txt,html,eml")]
    pub format: Vec<Format>,

    /// With pdf: also write letters.pdf, every letter from a new page, for one print job.
    #[arg(long)]
    pub combined: bool,

    /// Only this recipient (repeat for more).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,

    /// Write into this folder instead of the campaign's `output` (default out/).
    #[arg(long, value_name = "DIR", conflicts_with = "stdout")]
    pub out: Option<PathBuf>,

    /// Print the letters instead of writing files.
    #[arg(long)]
    pub stdout: bool,

    /// Use the campaign's paths that lead outside its folder (`check` lists them): a template
    /// or recipients file elsewhere, an `output` folder elsewhere.
    #[arg(long)]
    pub allow_outside: bool,
}

impl Render {
    pub fn execute(self, dir: &Path, clock: &Clock, out: &mut Output) -> bool {
        let campaign = match Campaign::load(dir, clock) {
            Ok(c) => c,
            Err(problems) => return fail(out, &problems),
        };
        let letters = match Letters::load(dir, &campaign.settings) {
            Ok(l) => l,
            Err(problems) => return fail(out, &problems),
        };
        let writes = self.out.is_none() && !self.stdout;
        let templates = letters.sources().map(|(path, _)| path);
        let command = paths::Command::Render;
        let allowed = self.allow_outside;
        if let Err(problems) = paths::refused(&campaign, templates, command, writes, allowed) {
            return fail(out, &problems);
        }
        if self.combined && !self.format.contains(&Format::Pdf) {
            return fail(
                out,
                &[Problem::error(
                    "--combined makes one PDF of every letter, so it needs pdf among the formats",
                )
                .hint("add it: render --format pdf --combined")],
            );
        }
        let renderers = match renderers(&self.format, self.combined, &campaign, clock) {
            Ok(r) => r,
            Err(problem) => return fail(out, &[problem]),
        };
        let recipients = match campaign.recipients() {
            Ok(r) => r,
            Err(problem) => return fail(out, &[problem]),
        };
        let out_dir = self
            .out
            .clone()
            .unwrap_or_else(|| campaign.settings.output_dir(dir));
        let job = Job {
            letters: &letters,
            renderers,
            only: self.only.clone(),
            destination: if self.stdout {
                Destination::Stdout
            } else {
                Destination::Dir(out_dir.clone())
            },
        };
        let summary = job.run(recipients);
        if self.stdout {
            print_letters(&summary.printed);
        }
        out.problems(&summary.problems);
        if !summary.print_only.is_empty() && self.format.contains(&Format::Eml) {
            out.say(format!(
                "note: no .eml for {} without email (print-only): {}",
                plural(summary.print_only.len(), "recipient"),
                first_of(summary.print_only.iter(), 12)
            ));
        }
        let failed = summary.problems.iter().filter(|p| p.is_error()).count();
        // Never a line that reads as success beside an error.
        if failed == 0 {
            if !self.stdout {
                out.say(format!(
                    "wrote {} for {} to {}",
                    plural(summary.files, "file"),
                    plural(summary.letters, "letter"),
                    out_dir.display()
                ));
            }
        } else {
            let written = match (self.stdout, summary.files) {
                (true, _) => String::new(),
                (false, 0) => format!("; nothing was written to {}", out_dir.display()),
                (false, 1) => format!("; 1 file was written to {}", out_dir.display()),
                (false, n) => format!("; {n} files were written to {}", out_dir.display()),
            };
            let them = if failed == 1 { "it" } else { "them" };
            out.say(format!(
                "{}: fix {them} and run render again (`lettermerge check` lists every problem){written}",
                plural(failed, "problem")
            ));
        }
        failed == 0
    }
}

fn renderers<'a>(
    formats: &[Format],
    combined: bool,
    campaign: &Campaign,
    clock: &Clock,
) -> Result<Vec<Box<dyn Renderer + 'a>>, Problem> {
    let mut formats = formats.to_vec();
    formats.sort();
    formats.dedup();
    // One PDF renderer (one font search) for the .pdf files and the emails' attachments.
    let wants_pdf = formats.contains(&Format::Pdf)
        || (formats.contains(&Format::Eml) && campaign.settings.email.attach_pdf);
    let shared = wants_pdf.then(|| pdf(campaign, combined)).transpose()?;
    formats
        .into_iter()
        .map(|f| -> Result<Box<dyn Renderer>, Problem> {
            Ok(match f {
                Format::Md => Box::new(Markdown),
                Format::Txt => Box::new(PlainText),
                Format::Html => Box::new(Html),
                Format::Pdf => Box::new(shared.clone().ok_or_else(no_pdf)?),
                // A renderer that collects letters.pdf must not also make the attachments.
                Format::Eml => Box::new(email(
                    campaign,
                    clock.started(),
                    shared.as_ref().filter(|_| !combined),
                )?),
            })
        })
        .collect()
}

/// The PDF renderer: it finds the fonts once for the whole run.
#[cfg(feature = "pdf")]
pub fn pdf(campaign: &Campaign, combined: bool) -> Result<Arc<dyn Renderer + Send>, Problem> {
    Ok(Arc::new(crate::render::pdf::Pdf::new(
        &campaign.settings,
        combined,
    )?))
}

/// Without the `pdf` feature there is no PDF renderer.
#[cfg(not(feature = "pdf"))]
pub fn pdf(_: &Campaign, _combined: bool) -> Result<Arc<dyn Renderer + Send>, Problem> {
    Err(no_pdf())
}

fn no_pdf() -> Problem {
    Problem::error("this lettermerge was built without PDF output").hint(
        "build it with the default features (cargo build --release), or set attach_pdf = false",
    )
}

/// The campaign's emails, dated `date`, with the letter's PDF attached when `[email] attach_pdf`
/// says so (made by `pdf` when given, so a run searches the fonts once).
pub fn email(
    campaign: &Campaign,
    date: DateTime<Utc>,
    pdf_renderer: Option<&Arc<dyn Renderer + Send>>,
) -> Result<Email, Problem> {
    let mut email = Email::new(envelope(campaign, date));
    if campaign.settings.email.attach_pdf {
        email.attach = Some(match pdf_renderer {
            Some(shared) => Arc::clone(shared),
            None => pdf(campaign, false)?,
        });
    }
    Ok(email)
}

/// What every email of the campaign shares, dated `date`.
pub fn envelope(campaign: &Campaign, date: DateTime<Utc>) -> Envelope {
    let settings = &campaign.settings;
    // The sender's name goes into a header: no line break or control character may reach it.
    let from = settings
        .from
        .as_ref()
        .map(|from| Mailbox::new(from.name.as_deref().map(header_safe), from.email.clone()));
    Envelope {
        campaign_id: settings.campaign.id.clone(),
        from,
        date: date.into(),
        settings_file: campaign.dir.join(crate::campaign::settings::SETTINGS_FILE),
    }
}

fn print_letters(printed: &[(String, Vec<u8>)]) {
    let many = printed.len() > 1;
    for (i, (name, bytes)) in printed.iter().enumerate() {
        if many {
            let gap = if i == 0 { "" } else { "\n" };
            crate::console::data(format_args!("{gap}==> {name} <=="));
        }
        crate::console::data_bytes(bytes);
    }
}

fn fail(out: &mut Output, problems: &[Problem]) -> bool {
    out.problems(problems);
    out.say(format!("nothing was rendered: {}", out.tally()));
    false
}
