//! A render run: recipients read in chunks, each chunk checked and merged on every core, files
//! written by one thread and published whole or not at all ([`super::target`]), problems
//! collected for the end.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::target::{Target, Written};
use super::{Format, Renderer};
use crate::campaign::{Recipient, RecipientId, Recipients};
use crate::diagnostic::Problem;
use crate::template::Letters;

/// Where a run's files go.
#[derive(Debug, Clone)]
pub enum Destination {
    Dir(PathBuf),
    /// Letters are collected in order for printing.
    Stdout,
}

/// A render run over a campaign's recipients.
pub struct Job<'a> {
    pub letters: &'a Letters,
    pub renderers: Vec<Box<dyn Renderer + 'a>>,
    /// Only these recipients, when not empty.
    pub only: Vec<String>,
    pub destination: Destination,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Recipients whose letters were merged.
    pub letters: usize,
    pub files: usize,
    pub problems: Vec<Problem>,
    /// Recipients without email: no `.eml` was written for them.
    pub print_only: Vec<RecipientId>,
    /// With [`Destination::Stdout`]: (file name, bytes) in recipient order.
    pub printed: Vec<(String, Vec<u8>)>,
}

#[derive(Default)]
struct Done {
    files: Vec<(String, Vec<u8>)>,
    print_only: bool,
    /// Formats that failed for this letter (its others are written): one problem each, or one
    /// for several that failed alike (the PDF, and the email that attaches it).
    problems: Vec<Problem>,
}

impl Job<'_> {
    pub fn run(&self, mut recipients: Recipients) -> Summary {
        let mut summary = Summary::default();
        let target = match &self.destination {
            Destination::Dir(dir) => match Target::prepare(dir) {
                Ok(t) => Some(t),
                Err(problem) => {
                    summary.problems.push(problem);
                    return summary;
                }
            },
            Destination::Stdout => None,
        };
        let progress = progress_bar(recipients.len_hint());
        let mut found = vec![false; self.only.len()];
        let path = recipients.path.clone();
        let mut staged = None;
        std::thread::scope(|scope| {
            // One thread creates the files while the others merge letters: threads creating
            // files in one folder queue on its lock.
            let writer = target.as_ref().map(|target| {
                let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Written>>(1);
                let handle = scope.spawn(move || target.write_all(receive));
                (send, handle)
            });
            // Files go to the writer thread, or are kept for printing.
            let mut hand_over = |files: Vec<Written>| match &writer {
                // The writer only stops early by panicking, which the join below reports.
                Some((send, _)) => {
                    let _ = send.send(files);
                }
                None => summary
                    .printed
                    .extend(files.into_iter().map(|f| (f.name, f.bytes))),
            };
            while let Some(checked) = recipients.next_checked() {
                let mut admitted = Vec::with_capacity(checked.len());
                for result in checked {
                    match result {
                        Ok(recipient) => {
                            if self.selected(&recipient, &mut found) {
                                admitted.push(recipient);
                            }
                        }
                        Err(problems) => summary
                            .problems
                            .extend(problems.into_iter().filter(|p| self.reports(p))),
                    }
                }
                let done: Vec<_> = admitted.par_iter_mut().map(|r| self.letter(r)).collect();
                let mut batch = Vec::new();
                for (recipient, result) in admitted.iter().zip(done) {
                    progress.inc(1);
                    match result {
                        Ok(done) => {
                            summary.letters += 1;
                            summary.problems.extend(done.problems);
                            if done.print_only {
                                summary.print_only.push(recipient.id.clone());
                            }
                            batch.extend(done.files.into_iter().map(|(name, bytes)| Written {
                                recipient: Some(recipient.id.to_string()),
                                name,
                                bytes,
                            }));
                        }
                        Err(p) => summary.problems.push(p),
                    }
                }
                hand_over(batch);
            }
            progress.finish_and_clear();
            let mut last = Vec::new();
            for renderer in &self.renderers {
                match renderer.finish() {
                    Ok(Some((name, bytes))) => last.push(Written {
                        recipient: None,
                        name,
                        bytes,
                    }),
                    Ok(None) => {}
                    Err(p) => summary.problems.push(p),
                }
            }
            hand_over(last);
            if let Some((send, handle)) = writer {
                drop(send);
                match handle.join() {
                    Ok(written) => staged = Some(written),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        if let (Some(target), Some(staged)) = (target, staged) {
            let (files, problems) = target.finish(staged);
            summary.files = files;
            summary.problems.extend(problems);
        }
        for (id, found) in self.only.iter().zip(found) {
            if !found {
                summary.problems.push(
                    Problem::error(format!("there is no recipient with id `{id}`"))
                        .in_file(&path)
                        .hint("`lettermerge check` lists the recipients; ids are lowercase"),
                );
            }
        }
        summary
    }

    /// Whether a problem concerns this run: with --only, only the chosen recipients' do.
    fn reports(&self, problem: &Problem) -> bool {
        self.only.is_empty()
            || problem
                .recipient
                .as_ref()
                .is_none_or(|id| self.only.contains(id))
    }

    fn selected(&self, recipient: &Recipient, found: &mut [bool]) -> bool {
        if self.only.is_empty() {
            return true;
        }
        match self.only.iter().position(|id| id == recipient.id.as_str()) {
            Some(i) => {
                found[i] = true;
                true
            }
            None => false,
        }
    }

    /// Merges one letter and renders a file per format. A format that fails costs only its own
    /// file: the letter's other formats are still written.
    fn letter(&self, recipient: &mut Recipient) -> Result<Done, Problem> {
        let mut letter = self.letters.render_mut(recipient)?;
        let mut done = Done::default();
        let mut failed: Vec<(Format, Problem)> = Vec::new();
        let last = self.renderers.len().saturating_sub(1);
        for (i, renderer) in self.renderers.iter().enumerate() {
            let rendered = if i == last {
                renderer.render_last(&mut letter, recipient)
            } else {
                renderer.render(&letter, recipient)
            };
            match rendered {
                Ok(Some(bytes)) => {
                    let name = format!("{}.{}", recipient.id, renderer.format().extension());
                    done.files.push((name, bytes));
                }
                Ok(None) => done.print_only = true,
                Err(problem) => failed.push((renderer.format(), problem)),
            }
        }
        done.problems = not_written(failed, &done.files);
        Ok(done)
    }
}

/// One problem for each way a letter's formats failed, saying which of its files were not
/// written and which were.
fn not_written(failed: Vec<(Format, Problem)>, written: &[(String, Vec<u8>)]) -> Vec<Problem> {
    let mut alike: Vec<(Vec<Format>, Problem)> = Vec::new();
    for (format, problem) in failed {
        match alike.iter_mut().find(|(_, p)| *p == problem) {
            Some((formats, _)) => formats.push(format),
            None => alike.push((vec![format], problem)),
        }
    }
    // ".md, .txt and .html"
    let extensions = |formats: &mut dyn Iterator<Item = &str>, conj| {
        let names: Vec<String> = formats.map(|e| format!(".{e}")).collect();
        (
            crate::template::locale::join(&names, "en", conj),
            names.len(),
        )
    };
    let (kept, kept_count) = extensions(
        &mut written
            .iter()
            .filter_map(|(name, _)| name.rsplit('.').next()),
        None,
    );
    alike
        .into_iter()
        .map(|(formats, problem)| {
            let (lost, _) = extensions(&mut formats.iter().map(|f| f.extension()), Some("or"));
            let mut what = format!("no {lost} was written for this recipient");
            if formats.contains(&Format::Eml) && !formats.contains(&Format::Pdf) {
                what.push_str(" (the email attaches the letter's PDF)");
            }
            match kept_count {
                0 => {}
                1 => what.push_str(&format!("; its {kept} was written")),
                _ => what.push_str(&format!("; its {kept} were written")),
            }
            let hint = match &problem.hint {
                Some(hint) => format!("{hint}; {what}"),
                None => what,
            };
            problem.hint(hint)
        })
        .collect()
}

/// A progress bar on a terminal for long runs; nothing otherwise.
fn progress_bar(total: Option<usize>) -> ProgressBar {
    let long = total.is_none_or(|n| n >= 200);
    if !long || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n as u64),
        None => ProgressBar::no_length(),
    };
    let style = ProgressStyle::with_template(
        "{spinner} {bar:30} {pos}/{len} letters, {elapsed} so far, {eta} left",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
