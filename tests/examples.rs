//! Every example campaign (and the built-in one at the repository root) renders without a
//! problem, its letters match the reviewed snapshots in every format, and every format says the
//! same words.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use lettermerge::campaign::Campaign;
use lettermerge::clock::Clock;
use lettermerge::cmd::render::envelope;
use lettermerge::render::job::{Destination, Job};
use lettermerge::render::{Email, Html, Markdown, PlainText, Renderer};
use lettermerge::template::Letters;

fn clock() -> Clock {
    Clock::fixed(DateTime::parse_from_rfc3339("2026-12-01T10:00:00+00:00").unwrap())
}

fn campaigns() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = vec![("root".to_string(), root.to_path_buf())];
    let mut examples: Vec<_> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("templates").is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    examples.sort();
    found.extend(examples);
    found
}

/// (file name, text) of every letter of a campaign, in every format.
fn render_all(dir: &Path) -> Vec<(String, String)> {
    let clock = clock();
    let campaign = Campaign::load(dir, &clock).expect("settings load");
    let letters = Letters::load(dir, &campaign.settings).expect("templates compile");
    let mut renderers: Vec<Box<dyn Renderer>> =
        vec![Box::new(Markdown), Box::new(PlainText), Box::new(Html)];
    renderers.push(Box::new(Email::new(envelope(&campaign, clock.started()))));
    let job = Job {
        letters: &letters,
        renderers,
        only: Vec::new(),
        destination: Destination::Stdout,
    };
    let summary = job.run(campaign.recipients().expect("recipients open"));
    assert!(
        summary.problems.is_empty(),
        "{}: {:#?}",
        dir.display(),
        summary.problems
    );
    assert!(summary.letters > 0, "{} has no letters", dir.display());
    summary
        .printed
        .into_iter()
        .map(|(name, bytes)| (name, String::from_utf8(bytes).expect("UTF-8")))
        .collect()
}

#[test]
fn every_campaign_matches_its_snapshots() {
    for (name, dir) in campaigns() {
        for (file, text) in render_all(&dir) {
            let snapshot = format!("{name}__{}", file.replace('.', "_"));
            insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(snapshot, text);
            });
        }
    }
}

#[test]
fn every_format_says_the_same_words() {
    for (name, dir) in campaigns() {
        let letters = render_all(&dir);
        for (file, txt) in letters.iter().filter(|(f, _)| f.ends_with(".txt")) {
            let stem = file.trim_end_matches(".txt");
            let html = &letters
                .iter()
                .find(|(f, _)| *f == format!("{stem}.html"))
                .unwrap()
                .1;
            let body = html.split("<main class=\"letter\">").nth(1).unwrap();
            // HTML numbers an ordered list by itself; the text writes the numbers out.
            assert_eq!(
                words(&without_list_numbers(txt)),
                words(&html_text(body)),
                "{name}/{stem}: txt and html differ"
            );
            if let Some((_, md)) = letters.iter().find(|(f, _)| *f == format!("{stem}.md")) {
                // Markdown keeps its escapes and markers; every word of the letter is there.
                for line in txt.lines() {
                    let w = words(&without_list_numbers(line));
                    assert!(words(md).contains(&w), "{name}/{stem}: {line:?} not in md");
                }
            }
        }
    }
}

/// The letters and digits of a text, in order: what it says, whatever its line breaks.
fn words(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn without_list_numbers(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            match trimmed.split_once(". ") {
                Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
                _ => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Text kept from one letter for the next (template pieces that read only campaign-wide names)
/// changes nothing: every letter merged in one run, three times over and in alternation, equals
/// the same letter merged first by a fresh set of templates.
#[test]
fn kept_text_changes_no_letter() {
    let clock = clock();
    for (name, dir) in campaigns() {
        let campaign = Campaign::load(&dir, &clock).expect("settings load");
        let mut recipients = Vec::new();
        let mut source = campaign.recipients().expect("recipients open");
        while let Some(chunk) = source.next_checked() {
            recipients.extend(chunk.into_iter().map(|r| r.expect("a valid recipient")));
        }
        let fresh: Vec<_> = recipients
            .iter()
            .map(|r| {
                let letters = Letters::load(&dir, &campaign.settings).expect("templates compile");
                letters.render(r).expect("merges")
            })
            .collect();
        let letters = Letters::load(&dir, &campaign.settings).expect("templates compile");
        for round in 0..3 {
            for (recipient, want) in recipients.iter().zip(&fresh) {
                let mut recipient = recipient.clone();
                let got = letters.render_mut(&mut recipient).expect("merges");
                assert_eq!(&got, want, "{name}: {} in round {round}", recipient.id);
                assert_eq!(
                    recipient.fields,
                    recipients
                        .iter()
                        .find(|r| r.id == recipient.id)
                        .unwrap()
                        .fields
                );
            }
        }
    }
}
