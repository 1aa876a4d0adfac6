//! `lettermerge init`: a starter campaign that renders as it is.

use std::path::{Path, PathBuf};

use clap::Args;

use super::Output;
use crate::diagnostic::Problem;

/// Write a working starter campaign into DIR (default: the -C folder).
///
/// The starter is the built-in appeal: settings, recipients in four languages and the templates.
/// Existing files are never overwritten.
#[derive(Debug, Args)]
pub struct Init {
    /// Folder to create the campaign in.
    pub target: Option<PathBuf>,
}

/// The starter campaign's files, as shipped in the repository root.
pub const STARTER: &[(&str, &str)] = &[
    ("lettermerge.toml", include_str!("../../lettermerge.toml")),
    ("recipients.toml", include_str!("../../recipients.toml")),
    (
        "templates/letter.md",
        include_str!("../../templates/letter.md"),
    ),
    (
        "templates/letter.fr.md",
        include_str!("../../templates/letter.fr.md"),
    ),
    (
        "templates/letter.ko.md",
        include_str!("../../templates/letter.ko.md"),
    ),
    (
        "templates/letter.zh.md",
        include_str!("../../templates/letter.zh.md"),
    ),
    (
        "templates/partials/address.md",
        include_str!("../../templates/partials/address.md"),
    ),
    (
        "templates/partials/sender.md",
        include_str!("../../templates/partials/sender.md"),
    ),
    (
        "templates/partials/signature.md",
        include_str!("../../templates/partials/signature.md"),
    ),
];

impl Init {
    pub fn execute(self, dir: &Path, out: &mut Output) -> bool {
        let target = match &self.target {
            Some(t) => dir.join(t),
            None => dir.to_path_buf(),
        };
        match write_starter(&target) {
            Ok(()) => {
                out.say(format!(
                    "created a campaign in {}: edit recipients.toml and templates/letter.md, then run\n  lettermerge -C {} check\n  lettermerge -C {} render",
                    target.display(),
                    target.display(),
                    target.display()
                ));
                true
            }
            Err(problem) => {
                out.problems(&[problem]);
                false
            }
        }
    }
}

/// Writes the starter files into `target`, refusing if any already exists.
pub fn write_starter(target: &Path) -> Result<(), Problem> {
    let existing: Vec<String> = STARTER
        .iter()
        .filter(|(name, _)| target.join(name).exists())
        .map(|(name, _)| name.to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Problem::error(format!(
            "{} already has a campaign: {}",
            target.display(),
            existing.join(", ")
        ))
        .hint("choose an empty folder: lettermerge init NEW-FOLDER"));
    }
    for (name, text) in STARTER {
        let path = target.join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::render::write_atomic(&path, text.as_bytes()));
        if let Err(e) = written {
            return Err(
                Problem::error(format!("cannot write {}: {e}", path.display()))
                    .hint("check that the folder is writable"),
            );
        }
    }
    Ok(())
}
