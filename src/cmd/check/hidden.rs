//! Control characters in what letters are made of, which the letters will show as U+FFFD (see
//! [`crate::template::clean`]): `check` says where, so a volunteer can remove them before a letter
//! goes to an embassy with a � in the ambassador's name.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::campaign::recipient::RawRecipient;
use crate::controls::is_control;
use crate::diagnostic::{plural, quote, Problem};

/// Keys whose values are checked as addresses, tags or names of their own: a control there is
/// an error already.
const CHECKED: &[&str] = &["id", "email", "cc", "bcc", "language", "timezone", "paper"];

/// Where recipients' fields have control characters, by key.
#[derive(Default)]
pub(super) struct Hidden {
    /// key → (how many recipients, the characters found, the first place and its recipient)
    keys: BTreeMap<String, Found>,
}

struct Found {
    recipients: usize,
    chars: Vec<char>,
    span: Range<usize>,
    recipient: Option<String>,
}

impl Hidden {
    /// Notes the fields of one recipient that hold a control character.
    pub fn record(&mut self, raw: &RawRecipient) {
        for field in &raw.fields {
            if CHECKED.contains(&field.key.as_str()) {
                continue;
            }
            match (&field.value, field.key.as_str()) {
                // The recipient's own letter slots, named as templates read them.
                (Value::Object(slots), "letter") => {
                    for (slot, value) in slots {
                        self.note(|| format!("letter.{slot}"), value, &field.span, raw);
                    }
                }
                (value, key) => self.note(|| key.to_string(), value, &field.span, raw),
            }
        }
    }

    fn note(
        &mut self,
        key: impl FnOnce() -> String,
        value: &Value,
        span: &Range<usize>,
        raw: &RawRecipient,
    ) {
        let mut chars = Vec::new();
        controls_in(value, &mut chars);
        if chars.is_empty() {
            return;
        }
        let found = self.keys.entry(key()).or_insert_with(|| Found {
            recipients: 0,
            chars: Vec::new(),
            span: span.clone(),
            recipient: raw
                .fields
                .iter()
                .find(|f| f.key == "id")
                .and_then(|f| f.value.as_str())
                .map(str::to_string),
        });
        found.recipients += 1;
        for c in chars {
            if !found.chars.contains(&c) && found.chars.len() < 4 {
                found.chars.push(c);
            }
        }
    }

    /// A warning per field that has them, pointing at the first.
    pub fn warnings(self, path: &Path) -> Vec<Problem> {
        self.keys
            .into_iter()
            .map(|(key, found)| {
                let problem = Problem::warning(format!(
                    "{} of {} has control characters ({}): letters show U+FFFD (�) in their place",
                    quote(&key),
                    plural(found.recipients, "recipient"),
                    code_points(&found.chars)
                ))
                .at(path, found.span)
                .label("the first")
                .hint("remove them from the data: a spreadsheet cell or pasted text can hold them unseen");
                match found.recipient {
                    Some(id) => problem.recipient(id),
                    None => problem,
                }
            })
            .collect()
    }
}

/// A warning for each template file with control characters, pointing at the first.
pub(super) fn in_templates<'a>(
    sources: impl Iterator<Item = (&'a Path, &'a str)>,
    settings_file: &Path,
) -> Vec<Problem> {
    let mut files: Vec<(PathBuf, &str)> = sources
        // The subject template is a value of the settings, seen there.
        .filter(|(path, _)| *path != settings_file)
        .map(|(path, text)| (path.to_path_buf(), text))
        .collect();
    files.sort();
    let mut problems = Vec::new();
    for (path, text) in files {
        let found: Vec<(usize, char)> = text
            .char_indices()
            .filter(|&(i, c)| match c {
                '\t' | '\n' => false,
                '\r' => !text[i + 1..].starts_with('\n'),
                c => is_control(c),
            })
            .collect();
        let Some(&(first, c)) = found.first() else {
            continue;
        };
        let mut chars: Vec<char> = Vec::new();
        for &(_, c) in &found {
            if !chars.contains(&c) && chars.len() < 4 {
                chars.push(c);
            }
        }
        problems.push(
            Problem::warning(format!(
                "{} has {} ({}): letters show U+FFFD (�) in their place",
                path.display(),
                plural(found.len(), "control character"),
                code_points(&chars)
            ))
            .at(&path, first..first + c.len_utf8())
            .label("the first")
            .hint("remove them: most editors do not show them; this snippet shows them as \\u{…}"),
        );
    }
    problems
}

/// A warning for each value of `[letter]` and `[sender]` with control characters.
pub(super) fn in_settings(tables: &[(&str, &Map<String, Value>)], file: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (table, map) in tables {
        for (key, value) in *map {
            let mut chars = Vec::new();
            controls_in(value, &mut chars);
            if chars.is_empty() {
                continue;
            }
            problems.push(
                Problem::warning(format!(
                    "[{table}] {} has control characters ({}): letters show U+FFFD (�) in their place",
                    quote(key),
                    code_points(&chars)
                ))
                .in_file(file)
                .hint("remove them (TOML writes them as escapes such as \\u001B)"),
            );
        }
    }
    problems
}

/// The control characters of a value's text that a letter shows as U+FFFD, up to four. Line
/// breaks and tabs are not among them: a value's become spaces.
fn controls_in(value: &Value, found: &mut Vec<char>) {
    match value {
        Value::String(s) if crate::controls::has_any(s) => {
            for c in s.chars() {
                let space = matches!(c, '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}');
                if is_control(c) && !space && !found.contains(&c) && found.len() < 4 {
                    found.push(c);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| controls_in(v, found)),
        Value::Object(map) => map.values().for_each(|v| controls_in(v, found)),
        _ => {}
    }
}

/// "U+001B, U+0007".
fn code_points(chars: &[char]) -> String {
    chars
        .iter()
        .map(|&c| format!("U+{:04X}", u32::from(c)))
        .collect::<Vec<_>>()
        .join(", ")
}
