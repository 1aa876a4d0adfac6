//! Watches the campaign's files and makes a new reading when one changes.
//!
//! Only the folders that hold the settings, the recipients file, the templates and their
//! partials are watched, each without its subfolders: a campaign kept in a bigger folder (a
//! repository with a `target/`) costs a handful of watches, and writing `out/` changes nothing.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::server::Preview;
use super::Sources;

/// How long the files must be quiet before they are read: an editor's save (write a copy,
/// rename it over the file) is one change, not three.
pub const QUIET: Duration = Duration::from_millis(50);

/// Starts watching; each change makes a new reading and tells the open pages. Runs until the
/// process ends.
pub fn start(preview: Preview) -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<Vec<PathBuf>>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        if let Ok(event) = event {
            if writes(&event.kind) {
                let _ = tx.send(event.paths);
            }
        }
    })
    .map_err(|e| format!("cannot watch the campaign's files: {e}"))?;
    let mut sources = preview.snapshot().sources(preview.dir());
    let mut watched = Watched {
        watcher,
        folders: Vec::new(),
    };
    watched.follow(&sources)?;
    std::thread::Builder::new()
        .name("preview-watch".into())
        .spawn(move || {
            while let Ok(mut paths) = rx.recv() {
                // Everything that changes until the files are quiet is one reading.
                while let Ok(more) = rx.recv_timeout(QUIET) {
                    paths.extend(more);
                }
                if !paths.iter().any(|p| matters(p, &sources)) {
                    continue;
                }
                sources = preview.reload().sources(preview.dir());
                // New settings may name other files; a partials folder may have been made.
                if let Err(e) = watched.follow(&sources) {
                    crate::console::message(format_args!("warning: {e}"), true);
                }
            }
        })
        .map_err(|e| format!("cannot start watching: {e}"))?;
    Ok(())
}

/// Whether an event can change a file's contents. Opening and reading are not changes: the
/// preview's own reading of the files must not start another.
fn writes(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// The watcher and the folders it watches.
struct Watched {
    watcher: RecommendedWatcher,
    folders: Vec<PathBuf>,
}

impl Watched {
    /// Watches the folders of `sources` that exist (a folder made later is seen when its parent
    /// changes), and no others.
    fn follow(&mut self, sources: &Sources) -> Result<(), String> {
        let wanted: Vec<PathBuf> = sources
            .folders
            .iter()
            .filter(|f| f.is_dir())
            .cloned()
            .collect();
        for folder in self.folders.iter().filter(|f| !wanted.contains(f)) {
            let _ = self.watcher.unwatch(folder);
        }
        for folder in wanted.iter().filter(|f| !self.folders.contains(f)) {
            self.watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .map_err(|e| format!("cannot watch {}: {e}", folder.display()))?;
        }
        self.folders = wanted;
        Ok(())
    }
}

/// Whether a change to `path` can change a letter: the settings or recipients file, or a file
/// in a template folder that is not an editor's scratch file.
fn matters(path: &Path, sources: &Sources) -> bool {
    if sources.files.iter().any(|f| f == path) {
        return true;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let scratch = name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.chars().all(|c| c.is_ascii_digit());
    let in_templates = path
        .parent()
        .is_some_and(|parent| sources.templates.iter().any(|t| t == parent));
    // The partials folder itself appearing or going.
    !scratch && (in_templates || sources.templates.iter().any(|t| t == path))
}
