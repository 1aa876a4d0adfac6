//! Paths that lead outside the campaign folder.
//!
//! A campaign folder is shared and copied, so its settings may name any file on the computer
//! that runs it: `template = "/etc/passwd"` would be rendered as the letter and mailed to the
//! recipients, `output = "../../x"` would replace files elsewhere, a link in `templates/` would
//! do the same. `check` warns about every path that leads outside the folder (followed through
//! links) and about absolute paths; `render` and `send` refuse to use one unless the person
//! running them says so with `--allow-outside` — on the command line, because a setting in the
//! campaign would be written by whoever wrote the path. `render --out DIR` stays the way to write
//! elsewhere. A `sendmail` program named by the campaign is treated the same: it would run.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::Campaign;
use crate::diagnostic::Problem;

/// The command-line flag that lets `render` and `send` use paths outside the folder.
pub const ALLOW: &str = "--allow-outside";

/// A path as `lettermerge.toml` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPath {
    /// The setting: `campaign.template`, `pdf.font_dirs`, `smtp.ca_file` …
    pub key: &'static str,
    pub path: PathBuf,
    pub span: Range<usize>,
}

/// Every path the settings text writes, with its place. A setting that is not a path in quotes
/// is left to the settings' own checks.
pub fn written(text: &str) -> Vec<WrittenPath> {
    let Ok(document) = DeTable::parse(text) else {
        return Vec::new();
    };
    let document = document.into_inner();
    let mut paths = Vec::new();
    for (key, table, name) in [
        ("campaign.template", "campaign", "template"),
        ("campaign.recipients", "campaign", "recipients"),
        ("campaign.output", "campaign", "output"),
        ("smtp.ca_file", "smtp", "ca_file"),
        ("smtp.sendmail", "smtp", "sendmail"),
        ("pdf.font_dirs", "pdf", "font_dirs"),
    ] {
        let Some(DeValue::Table(table)) = document.get(table).map(Spanned::get_ref) else {
            continue;
        };
        let Some(value) = table.get(name) else {
            continue;
        };
        let items = match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        paths.extend(items.into_iter().filter_map(|item| match item.get_ref() {
            DeValue::String(path) => Some(WrittenPath {
                key,
                path: PathBuf::from(path.as_ref()),
                span: item.span(),
            }),
            _ => None,
        }));
    }
    paths
}

/// What a path is for, which decides which commands it matters to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Template,
    Recipients,
    Output,
    Fonts,
    Certificates,
    Sendmail,
    /// A language variant or partial of the letter, found in its folder.
    Part,
}

impl Kind {
    fn of(key: &str) -> Kind {
        match key {
            "campaign.template" => Kind::Template,
            "campaign.recipients" => Kind::Recipients,
            "campaign.output" => Kind::Output,
            "pdf.font_dirs" => Kind::Fonts,
            "smtp.ca_file" => Kind::Certificates,
            "smtp.sendmail" => Kind::Sendmail,
            _ => Kind::Part,
        }
    }

    /// What the program does with it, in words.
    fn role(self) -> &'static str {
        match self {
            Kind::Template => "it is the letter's text, printed and sent to every recipient",
            Kind::Recipients => "it says who the letters go to, and what they say to each",
            Kind::Output => "letters are written there, replacing files of the same name",
            Kind::Fonts => "the PDF letters' fonts are read from there",
            Kind::Certificates => "send trusts the mail server these certificates vouch for",
            Kind::Sendmail => "send would run it, and hand it every letter",
            Kind::Part => "it is part of the letter, printed and sent",
        }
    }

    /// The commands that use it.
    fn used_by(self) -> &'static [Command] {
        match self {
            Kind::Output => &[Command::Render],
            Kind::Certificates | Kind::Sendmail => &[Command::Send],
            _ => &[Command::Render, Command::Send],
        }
    }
}

/// A command that refuses paths outside the folder unless allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `render`: its output folder counts when it writes there (not with `--out` or `--stdout`).
    Render,
    Send,
}

/// Where the paths of `campaign` (and the template files it loaded, `templates`) lead outside
/// its folder, as warnings for `check`. Absolute paths that stay inside are warned about too: the
/// campaign breaks when the folder is copied.
pub fn warnings<'a>(
    campaign: &Campaign,
    templates: impl Iterator<Item = &'a Path>,
) -> Vec<Problem> {
    found(campaign, templates, true)
        .into_iter()
        .map(|found| found.problem(None))
        .collect()
}

/// For `command`: the paths it would use that lead outside, as errors, unless `allowed`. With
/// `output`, `render` writes into the campaign's output folder.
pub fn refused<'a>(
    campaign: &Campaign,
    templates: impl Iterator<Item = &'a Path>,
    command: Command,
    output: bool,
    allowed: bool,
) -> Result<(), Vec<Problem>> {
    if allowed {
        return Ok(());
    }
    let refused: Vec<Problem> = found(campaign, templates, output)
        .into_iter()
        .filter(|found| found.outside.is_some() && found.kind.used_by().contains(&command))
        .map(|found| found.problem(Some(command)))
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(refused)
    }
}

/// One path worth a word.
struct Found {
    /// The setting, or the file when no setting names it.
    what: String,
    /// Where the setting is written, else the file itself.
    at: (PathBuf, Range<usize>),
    written: PathBuf,
    kind: Kind,
    /// Where it leads, when that is outside the folder.
    outside: Option<PathBuf>,
}

impl Found {
    /// The warning (`check`), or the error of the command that refuses it.
    fn problem(&self, refusing: Option<Command>) -> Problem {
        let shown = self.written.display();
        let (message, label) = match &self.outside {
            _ if self.kind == Kind::Sendmail => (
                format!("`{}` runs {shown}, a program the campaign names", self.what),
                "a program to run",
            ),
            Some(to) if to != &self.written => (
                format!(
                    "`{}` leads outside the campaign folder, to {}",
                    self.what,
                    to.display()
                ),
                "outside the campaign folder",
            ),
            Some(_) => (
                format!("`{}` leads outside the campaign folder", self.what),
                "outside the campaign folder",
            ),
            None => (format!("`{}` is an absolute path", self.what), "absolute"),
        };
        let role = self.kind.role();
        let commands = match self.kind.used_by() {
            [Command::Render] => "render uses",
            [Command::Send] => "send uses",
            _ => "render and send use",
        };
        let instead = match self.kind {
            Kind::Sendmail => "remove the line to use the computer's own sendmail",
            _ => "else name a path inside the campaign folder",
        };
        let hint = match (&self.outside, refusing) {
            (None, _) => "write it relative to the campaign folder, so the campaign still works when the folder is copied".to_string(),
            (Some(_), None) => format!("{role}: {commands} it only with {ALLOW}, if it is meant; {instead}"),
            (Some(_), Some(_)) => format!(
                "{role}; a campaign folder may come from anyone, so it reaches no other file or program of this computer unless you say so: if this is meant, run again with {ALLOW}"
            ),
        };
        let problem = match refusing {
            Some(_) => Problem::error(message),
            None => Problem::warning(message),
        };
        problem
            .at(&self.at.0, self.at.1.clone())
            .label(label)
            .hint(hint)
    }
}

fn found<'a>(
    campaign: &Campaign,
    templates: impl Iterator<Item = &'a Path>,
    output: bool,
) -> Vec<Found> {
    let dir = &campaign.dir;
    let home = canonical(dir);
    let settings_file = dir.join(super::settings::SETTINGS_FILE);
    let written = &campaign.settings.written_paths;
    let mut found = Vec::new();
    for path in written {
        let kind = Kind::of(path.key);
        if kind == Kind::Output && !output {
            continue;
        }
        let outside = match kind {
            // Wherever it is: a campaign names no program that runs unasked.
            Kind::Sendmail => Some(path.path.clone()),
            _ => leads_outside(&home, dir, &path.path),
        };
        if outside.is_some() || path.path.is_absolute() {
            found.push(Found {
                what: path.key.to_string(),
                at: (settings_file.clone(), path.span.clone()),
                written: path.path.clone(),
                kind,
                outside,
            });
        }
    }
    // The files used without a setting naming them: the default template, recipients and
    // output folder, and every variant and partial, any of which may be a link elsewhere.
    let settings = &campaign.settings.campaign;
    let named = |key: &str| written.iter().any(|p| p.key == key);
    let template = dir.join(&settings.template);
    let mut files: Vec<(PathBuf, Kind)> = Vec::new();
    if !named("campaign.recipients") {
        files.push((dir.join(&settings.recipients), Kind::Recipients));
    }
    if output && !named("campaign.output") {
        files.push((dir.join(&settings.output), Kind::Output));
    }
    for file in templates {
        if file != template {
            files.push((file.to_path_buf(), Kind::Part));
        } else if !named("campaign.template") {
            files.push((file.to_path_buf(), Kind::Template));
        }
    }
    for (file, kind) in files {
        let Some(to) = leads_outside(&home, dir, &file) else {
            continue;
        };
        let shown = file.strip_prefix(dir).unwrap_or(&file).to_path_buf();
        found.push(Found {
            what: shown.display().to_string(),
            at: (file, 0..0),
            written: shown,
            kind,
            outside: Some(to),
        });
    }
    found
}

/// Where `path` (relative to `dir`, or absolute) leads, when that is not inside `home`, the
/// campaign folder as the file system has it. Links are followed as far as they exist; the rest
/// of the path is taken as written, `..` and all.
fn leads_outside(home: &Path, dir: &Path, path: &Path) -> Option<PathBuf> {
    let to = resolve(&dir.join(path));
    (!to.starts_with(home)).then_some(to)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| normal(path))
}

/// The path with its links resolved: the longest part of it that exists, made canonical, and
/// the rest after it.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut full = real;
            full.extend(rest.iter().rev());
            return normal(&full);
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            // `..` at the end, or nothing left that exists: as written.
            _ => return normal(path),
        }
    }
}

/// `a/./b/../c` → `a/c`, without the file system.
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_resolved_as_the_file_system_would() {
        let dir = tempfile::tempdir().unwrap();
        let home = canonical(dir.path());
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        for (path, outside) in [
            ("templates/letter.md", false),
            ("templates/../recipients.toml", false),
            ("./out", false),
            ("new/folder/not/yet/made", false),
            ("../x", true),
            ("templates/../../x", true),
            ("out/../../../etc", true),
            ("/etc/passwd", true),
        ] {
            let got = leads_outside(&home, dir.path(), Path::new(path));
            assert_eq!(got.is_some(), outside, "{path}: {got:?}");
        }
        let inside_but_absolute = home.join("templates/letter.md");
        assert_eq!(leads_outside(&home, dir.path(), &inside_but_absolute), None);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", dir.path().join("templates/etc")).unwrap();
            let through = leads_outside(&home, dir.path(), Path::new("templates/etc/passwd"));
            assert_eq!(through, Some(canonical(Path::new("/etc")).join("passwd")));
            std::os::unix::fs::symlink("letter.md", dir.path().join("templates/link.md")).unwrap();
            assert_eq!(
                leads_outside(&home, dir.path(), Path::new("templates/link.md")),
                None
            );
        }
    }

    #[test]
    fn every_path_setting_is_found_with_its_place() {
        let text = "[campaign]\ntemplate = \"/etc/passwd\"\nrecipients = 5\noutput = \"../x\"\n\
                    [pdf]\nfont_dirs = [\"fonts\", \"/usr/share/fonts\"]\n\
                    [smtp]\nhost = \"h\"\nca_file = \"ca.pem\"\nsendmail = \"/bin/sh\"\n";
        let keys: Vec<(&str, String, &str)> = written(text)
            .iter()
            .map(|p| (p.key, p.path.display().to_string(), &text[p.span.clone()]))
            .collect();
        assert_eq!(
            keys,
            [
                ("campaign.template", "/etc/passwd".into(), "\"/etc/passwd\""),
                ("campaign.output", "../x".into(), "\"../x\""),
                ("smtp.ca_file", "ca.pem".into(), "\"ca.pem\""),
                ("smtp.sendmail", "/bin/sh".into(), "\"/bin/sh\""),
                ("pdf.font_dirs", "fonts".into(), "\"fonts\""),
                (
                    "pdf.font_dirs",
                    "/usr/share/fonts".into(),
                    "\"/usr/share/fonts\""
                ),
            ]
        );
    }
}
