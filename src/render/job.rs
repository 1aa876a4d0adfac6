//! A render run: recipients read in chunks, each chunk checked and merged on every core, files
//! written atomically, problems collected for the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::{write_atomic, Renderer};
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

struct Done {
    files: Vec<(String, Vec<u8>)>,
    written: usize,
    print_only: bool,
}

impl Job<'_> {
    pub fn run(&self, mut recipients: Recipients) -> Summary {
        let mut summary = Summary::default();
        if let Destination::Dir(dir) = &self.destination {
            if let Err(e) = std::fs::create_dir_all(dir) {
                summary.problems.push(
                    Problem::error(format!("cannot create the folder {}: {e}", dir.display()))
                        .hint("choose another folder with --out"),
                );
                return summary;
            }
        }
        let progress = progress_bar(recipients.len_hint());
        let mut found = vec![false; self.only.len()];
        let path = recipients.path.clone();
        loop {
            let chunk = recipients.next_chunk();
            if chunk.is_empty() {
                break;
            }
            let checked: Vec<_> = chunk
                .into_par_iter()
                .map(|item| Recipients::check(&path, item))
                .collect();
            let mut admitted = Vec::with_capacity(checked.len());
            for result in checked {
                match result {
                    Ok(recipient) => {
                        let admit = recipients.admit(&recipient);
                        if self.selected(&recipient, &mut found) {
                            match admit {
                                Ok(()) => admitted.push(recipient),
                                Err(p) => summary.problems.push(p),
                            }
                        }
                    }
                    Err(problems) if self.only.is_empty() => summary.problems.extend(problems),
                    Err(problems) => {
                        summary.problems.extend(problems.into_iter().filter(|p| {
                            p.recipient.as_ref().is_none_or(|id| self.only.contains(id))
                        }))
                    }
                }
            }
            let done: Vec<_> = admitted.par_iter().map(|r| self.letter(r)).collect();
            for (recipient, result) in admitted.iter().zip(done) {
                progress.inc(1);
                match result {
                    Ok(done) => {
                        summary.letters += 1;
                        summary.files += done.written;
                        if done.print_only {
                            summary.print_only.push(recipient.id.clone());
                        }
                        summary.printed.extend(done.files);
                    }
                    Err(p) => summary.problems.push(p),
                }
            }
        }
        progress.finish_and_clear();
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

    /// Merges one letter and writes (or keeps) a file per format.
    fn letter(&self, recipient: &Recipient) -> Result<Done, Problem> {
        let letter = self.letters.render(recipient)?;
        let mut done = Done {
            files: Vec::new(),
            written: 0,
            print_only: false,
        };
        for renderer in &self.renderers {
            let Some(bytes) = renderer.render(&letter, recipient)? else {
                done.print_only = true;
                continue;
            };
            let name = format!("{}.{}", recipient.id, renderer.format().extension());
            match &self.destination {
                Destination::Dir(dir) => {
                    write_file(&dir.join(&name), &bytes, recipient)?;
                    done.written += 1;
                }
                Destination::Stdout => done.files.push((name, bytes)),
            }
        }
        Ok(done)
    }
}

fn write_file(path: &Path, bytes: &[u8], recipient: &Recipient) -> Result<(), Problem> {
    write_atomic(path, bytes).map_err(|e| {
        Problem::error(format!("cannot write {}: {e}", path.display()))
            .recipient(recipient.id.to_string())
            .hint("check that the output folder is writable and the disk is not full")
    })
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
