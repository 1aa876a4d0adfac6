//! Fuzzing the campaign files: the example campaigns' settings, recipients and templates,
//! mutated by proptest, through the real binary (`check`, `render`, `send --dry-run`, `status`),
//! so that an abort or a stack overflow fails a case instead of the test runner.
//!
//! Every case must end with exit 0 or 1 (never a signal, never 101), print no panic, finish
//! within [`HANG`], and write nothing outside the campaign's output folder (and its journal).
//! Cases that once failed are kept in `tests/fuzz/corpus/` and replayed by
//! `the_corpus_of_found_cases_still_holds`.
//!
//! `cargo test --test fuzz` runs a few seconds' worth; `.ci/run` runs it for about two minutes
//! with `LETTERMERGE_FUZZ_SECONDS=120`. A failure prints the shrunk case and the command to keep
//! it in the corpus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// How long one command may take before the case counts as a hang.
const HANG: Duration = Duration::from_secs(20);

/// The files of a campaign, by path relative to its folder.
type Files = BTreeMap<String, Vec<u8>>;

/// Text that is hostile or careless in the campaign files' languages: Handlebars, TOML, CSV,
/// Markdown, HTML, paths, control characters, and text that is hard to lay out.
const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{> address}}",
    "  {{> address}}",
    "{{> address x=1}}",
    "{{#> address}}x{{/address}}",
    "{{#each letter.demands}}{{this}}{{/each}}",
    "{{#each recipient}}{{@key}}{{/each}}",
    "{{recipient}}",
    "{{letter}}",
    "{{../../..}}",
    "{{#if}}",
    "{{/if}}",
    "{{else}}",
    "{{footnote \"x\"}}",
    "{{enumerate letter.demands \"(a)\"}}",
    "{{join recipient.cc}}",
    "{{format_date date}}",
    "{{lookup . \"x\"}}",
    "{{{recipient.name}}}",
    "{{!-- --}}",
    "\"",
    "'",
    "\"\"\"",
    "[",
    "]",
    "[[recipient]]",
    "[recipient.letter]",
    "[campaign]",
    "[smtp]",
    "[pdf]",
    "= ",
    " = { a = 1 }",
    " = [[1], [2]]",
    " = 99999999999999999999",
    " = 2026-13-45",
    ",",
    ";",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\0",
    "\\n",
    "\\r\\n",
    "\\u0000",
    "\\u001b[31m",
    "\u{1b}[2J\u{1b}]0;title\u{7}",
    "\u{7f}",
    "\u{9b}",
    "\u{202e}",
    "\u{2028}",
    "\u{feff}",
    "👨‍👩‍👧‍👦",
    "🇰🇵",
    "مرحبا بالعالم",
    "北朝鮮難民",
    "*",
    "_",
    "<script>alert(1)</script>",
    "](javascript:alert(1))",
    "[^1]",
    "# ",
    "../",
    "/etc/passwd",
    "templates/letter.md",
    "out",
    "id = \"x\"",
    "email = \"a@b\"",
    "email = \"not an address\"",
    "language = \"zz-ZZ-invalid\"",
    "timezone = \"Mars/Olympus\"",
    "template = \"/etc/hostname\"",
    "output = \"../escaped\"",
    "recipients = \"/dev/null\"",
];

/// One change to a campaign's files.
#[derive(Debug, Clone)]
enum Mutation {
    /// Inserts a token at a fraction of the file's length.
    Insert { file: usize, at: f64, token: usize },
    /// Inserts a long run of one character (long names, long lines, long words).
    Long {
        file: usize,
        at: f64,
        len: usize,
        ch: char,
    },
    /// Deletes a run of bytes.
    Delete { file: usize, at: f64, len: usize },
    /// Repeats a run of bytes (duplicate keys, columns, recipients).
    Repeat {
        file: usize,
        at: f64,
        len: usize,
        times: usize,
    },
    /// Flips one byte (invalid UTF-8 included).
    Flip { file: usize, at: f64, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let file = 0..16usize;
    let at = 0.0..1.0f64;
    prop_oneof![
        4 => (file.clone(), at.clone(), 0..TOKENS.len())
            .prop_map(|(file, at, token)| Mutation::Insert { file, at, token }),
        1 => (file.clone(), at.clone(), 100..20_000usize, prop::sample::select(vec!['a', 'é', '字', ' ', '{']))
            .prop_map(|(file, at, len, ch)| Mutation::Long { file, at, len, ch }),
        2 => (file.clone(), at.clone(), 1..200usize)
            .prop_map(|(file, at, len)| Mutation::Delete { file, at, len }),
        1 => (file.clone(), at.clone(), 1..400usize, 2..6usize)
            .prop_map(|(file, at, len, times)| Mutation::Repeat { file, at, len, times }),
        2 => (file, at, any::<u8>()).prop_map(|(file, at, byte)| Mutation::Flip { file, at, byte }),
    ]
}

/// A case: which campaign, and what is changed in it.
#[derive(Debug, Clone)]
struct Case {
    campaign: usize,
    mutations: Vec<Mutation>,
    /// Also typeset the PDF (slow: one case in ten).
    pdf: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..campaigns().len(),
        prop::collection::vec(mutation(), 1..6),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(campaign, mutations, pdf)| Case {
            campaign,
            mutations,
            pdf,
        })
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The campaigns mutated: the root campaign and every example.
fn campaigns() -> Vec<PathBuf> {
    let mut found = vec![root()];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("lettermerge.toml").is_file())
        .collect();
    examples.sort();
    found.extend(examples);
    found
}

/// The campaign files of `dir`: settings, recipients and every template.
fn files_of(dir: &Path) -> Files {
    let mut files = Files::new();
    for name in ["lettermerge.toml", "recipients.toml", "recipients.csv"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            files.insert(name.to_string(), bytes);
        }
    }
    let mut stack = vec![dir.join("templates")];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let rel = path.strip_prefix(dir).expect("inside").to_string_lossy();
                files.insert(rel.into_owned(), bytes);
            }
        }
    }
    files
}

fn apply(files: &mut Files, mutations: &[Mutation]) {
    let names: Vec<String> = files.keys().cloned().collect();
    for m in mutations {
        let (file, at) = match m {
            Mutation::Insert { file, at, .. }
            | Mutation::Long { file, at, .. }
            | Mutation::Delete { file, at, .. }
            | Mutation::Repeat { file, at, .. }
            | Mutation::Flip { file, at, .. } => (*file, *at),
        };
        let bytes = files
            .get_mut(&names[file % names.len()])
            .expect("a file of the campaign");
        let at = ((bytes.len() as f64) * at) as usize;
        match m {
            Mutation::Insert { token, .. } => {
                bytes.splice(at..at, TOKENS[*token].bytes());
            }
            Mutation::Long { len, ch, .. } => {
                let run: String = std::iter::repeat_n(*ch, *len).collect();
                bytes.splice(at..at, run.into_bytes());
            }
            Mutation::Delete { len, .. } => {
                let end = (at + len).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Repeat { len, times, .. } => {
                let end = (at + len).min(bytes.len());
                let run = bytes[at..end].to_vec();
                for _ in 1..*times {
                    bytes.splice(end..end, run.iter().copied());
                }
            }
            Mutation::Flip { byte, .. } => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = *byte;
                }
            }
        }
    }
}

/// Every file under `dir` with its size and modification time, but the output folder, the
/// journal and its lock: what a run may change.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<std::time::SystemTime>)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if folder.as_path() == dir.join("campaign")
                && (name == "out" || name.starts_with("lettermerge-journal"))
            {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                // A folder's own time changes with what is made in it (out/, the journal).
                stack.push(path.clone());
                found.insert(path, (0, None));
            } else {
                found.insert(path, (meta.len(), meta.modified().ok()));
            }
        }
    }
    found
}

/// Runs `args` on the campaign at `dir`; an error says how the case failed.
fn run(dir: &Path, args: &[&str]) -> Result<(), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lettermerge"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("LETTERMERGE_NOW", "2026-12-01T10:00:00+00:00")
        .env("NO_COLOR", "1")
        .env_remove("LETTERMERGE_SMTP_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start lettermerge: {e}"))?;
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut text = Vec::new();
        let _ = stderr.take(1 << 20).read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{}` hung (over {HANG:?})", args.join(" ")));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = reader.join().unwrap_or_default();
    let said = || stderr.chars().take(2000).collect::<String>();
    if stderr.contains("panicked") {
        return Err(format!("`{}` panicked:\n{}", args.join(" "), said()));
    }
    match status.code() {
        Some(0 | 1) => Ok(()),
        Some(code) => Err(format!(
            "`{}` exited with {code}:\n{}",
            args.join(" "),
            said()
        )),
        None => Err(format!(
            "`{}` was ended by a signal ({status}): an abort or a crash\n{}",
            args.join(" "),
            said()
        )),
    }
}

/// The commands every case goes through.
const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["render", "--format", "md,txt,html,eml"],
    &["send", "--dry-run"],
    &["status"],
];

/// Writes `files` as a campaign in a new folder and runs every command on it.
fn check_files(files: &Files, pdf: bool) -> Result<(), String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = work.path().join("campaign");
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a folder")).map_err(|e| e.to_string())?;
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    }
    let before = tree(work.path());
    for args in COMMANDS {
        run(&dir, args)?;
    }
    if pdf {
        run(&dir, &["render", "--format", "pdf"])?;
    }
    let after = tree(work.path());
    for (path, was) in &before {
        if after.get(path) != Some(was) {
            return Err(format!("{} was changed or removed", path.display()));
        }
    }
    if let Some(new) = after.keys().find(|p| !before.contains_key(*p)) {
        return Err(format!(
            "{} was written outside the output folder",
            new.display()
        ));
    }
    Ok(())
}

fn seconds() -> u64 {
    std::env::var("LETTERMERGE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6)
}

/// Runs a case: the campaign with the mutations applied, through every command.
fn check_case(originals: &[Files], case: &Case) -> Result<(), String> {
    let mut files = originals[case.campaign].clone();
    apply(&mut files, &case.mutations);
    check_files(&files, case.pdf)
}

#[test]
fn mutated_campaigns_never_crash_hang_or_write_outside_their_folder() {
    use proptest::strategy::ValueTree;
    let campaigns = campaigns();
    let originals: Vec<Files> = campaigns.iter().map(|c| files_of(c)).collect();
    let deadline = Instant::now() + Duration::from_secs(seconds());
    let mut runner = TestRunner::new(Config::default());
    let strategy = case();
    let mut ran = 0usize;
    while Instant::now() < deadline {
        let mut tree = strategy.new_tree(&mut runner).expect("a case");
        ran += 1;
        let Err(first) = check_case(&originals, &tree.current()) else {
            continue;
        };
        // Shrink as proptest does: simpler while it still fails, back when it passes.
        let mut smallest = (tree.current(), first);
        for _ in 0..200 {
            if !tree.simplify() {
                break;
            }
            match check_case(&originals, &tree.current()) {
                Err(e) => smallest = (tree.current(), e),
                Ok(()) => {
                    if !tree.complicate() {
                        break;
                    }
                }
            }
        }
        let (case, error) = smallest;
        panic!(
            "{error}\n\nthe case, shrunk: {} with {:#?}\n\nKeep it: make a folder under \
             tests/fuzz/corpus/ with that campaign's files, the mutations applied",
            campaigns[case.campaign].display(),
            case.mutations
        );
    }
    eprintln!("fuzz: {ran} mutated campaigns, each through check, render, send --dry-run, status");
}

#[test]
fn the_corpus_of_found_cases_still_holds() {
    let corpus = root().join("tests/fuzz/corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("tests/fuzz/corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "the corpus has cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check_files(&files_of(case), false)
                .err()
                .map(|e| format!("{}: {e}", case.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
