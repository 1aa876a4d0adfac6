//! A render run: recipients read in chunks, each chunk checked and merged on every core, files
//! written atomically, problems collected for the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

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
    print_only: bool,
}

impl Job<'_> {
    pub fn run(&self, mut recipients: Recipients) -> Summary {
        let mut summary = Summary::default();
        let target = match &self.destination {
            Destination::Dir(dir) => match Target::prepare(dir) {
                Ok(t) => Some(t),
                Err(e) => {
                    summary.problems.push(
                        Problem::error(format!("cannot create the folder {}: {e}", dir.display()))
                            .hint("choose another folder with --out"),
                    );
                    return summary;
                }
            },
            Destination::Stdout => None,
        };
        let progress = progress_bar(recipients.len_hint());
        let mut found = vec![false; self.only.len()];
        let path = recipients.path.clone();
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
                    Ok((files, problems)) => {
                        summary.files += files;
                        summary.problems.extend(problems);
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        if let Some(Err(e)) = target.map(Target::finish) {
            summary.problems.push(
                Problem::error(format!("cannot move the letters into place: {e}"))
                    .hint("they are in the hidden folder beside it whose name ends in .partial; move them by hand or render again"),
            );
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

    /// Merges one letter and renders a file per format.
    fn letter(&self, recipient: &mut Recipient) -> Result<Done, Problem> {
        let mut letter = self.letters.render_mut(recipient)?;
        let mut done = Done {
            files: Vec::new(),
            print_only: false,
        };
        let last = self.renderers.len().saturating_sub(1);
        for (i, renderer) in self.renderers.iter().enumerate() {
            let bytes = if i == last {
                renderer.render_last(&mut letter, recipient)?
            } else {
                renderer.render(&letter, recipient)?
            };
            let Some(bytes) = bytes else {
                done.print_only = true;
                continue;
            };
            let name = format!("{}.{}", recipient.id, renderer.format().extension());
            done.files.push((name, bytes));
        }
        Ok(done)
    }
}

/// A file for the writer thread, and whose letter it is (none for a campaign-wide file).
struct Written {
    recipient: Option<String>,
    name: String,
    bytes: Vec<u8>,
}

/// Where a run's files go so that no reader ever sees half a letter.
enum Target {
    /// A new output folder: the letters are written into a hidden folder beside it, which takes
    /// its name when the run ends. One rename instead of one per file.
    Fresh { staging: PathBuf, dir: PathBuf },
    /// A folder that has files already: each file is written aside and renamed over the old one.
    Existing(PathBuf),
}

impl Target {
    fn prepare(dir: &Path) -> std::io::Result<Target> {
        // `out/.` and `out/` name `out`: the staging folder is renamed to the folder itself.
        let dir: PathBuf = dir.components().collect();
        let dir = dir.as_path();
        let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
        if !empty {
            return Ok(Target::Existing(dir.to_path_buf()));
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.is_empty() {
            std::fs::create_dir_all(dir)?;
            return Ok(Target::Existing(dir.to_path_buf()));
        }
        let parent = dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let staging = parent.join(format!(".{name}.{}.partial", std::process::id()));
        std::fs::create_dir_all(&staging)?;
        Ok(Target::Fresh {
            staging,
            dir: dir.to_path_buf(),
        })
    }

    fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Target::Fresh { staging, .. } => std::fs::write(staging.join(name), bytes),
            Target::Existing(dir) => write_atomic(&dir.join(name), bytes),
        }
    }

    /// Writes every file it receives until the sender is dropped: how many were written, and a
    /// problem for each that could not be.
    fn write_all(&self, batches: Receiver<Vec<Written>>) -> (usize, Vec<Problem>) {
        let mut written = 0;
        let mut problems = Vec::new();
        for file in batches.into_iter().flatten() {
            match self.write(&file.name, &file.bytes) {
                Ok(()) => written += 1,
                Err(e) => {
                    let problem = Problem::error(format!("cannot write {}: {e}", file.name))
                        .hint("check that the output folder is writable and the disk is not full");
                    problems.push(match file.recipient {
                        Some(id) => problem.recipient(id),
                        None => problem,
                    });
                }
            }
        }
        (written, problems)
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Target::Fresh { staging, dir } => {
                if dir.is_dir() {
                    std::fs::remove_dir(&dir)?;
                }
                std::fs::rename(&staging, &dir)
            }
            Target::Existing(_) => Ok(()),
        }
    }
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
