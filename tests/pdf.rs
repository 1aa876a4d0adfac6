//! PDF letters, read back with poppler's `pdftotext` and `pdfinfo` (part of the second suite:
//! `.ci/run` installs poppler-utils and fonts-noto-cjk). Every campaign of the repository is
//! rendered to PDF and to text: the PDF must say the same words, CJK included, on a sane number of
//! pages.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::Test;

/// The campaigns of the repository: the root and every example.
fn campaigns() -> Vec<(String, Test)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![("root".to_string(), Test::root_campaign())];
    let mut examples: Vec<_> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    examples.sort();
    for dir in examples {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        all.push((name, Test::copy_of(&dir)));
    }
    all
}

/// Runs a poppler tool; a missing one fails the suite (never skips it).
fn poppler(tool: &str, args: &[&Path]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} does not run ({e}): the second suite needs poppler-utils, which .ci/run installs"));
    assert!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// How many times each letter (of any script) occurs: the words without spacing, line breaks,
/// punctuation, digits (page numbers, note marks) or case.
fn letters(text: &str) -> BTreeMap<char, i64> {
    let mut counts = BTreeMap::new();
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        for c in c.to_lowercase() {
            *counts.entry(c).or_default() += 1;
        }
    }
    counts
}

/// What `a` has more of than `b`, as text.
fn surplus(a: &BTreeMap<char, i64>, b: &BTreeMap<char, i64>) -> String {
    a.iter()
        .filter_map(|(c, n)| {
            let extra = n - b.get(c).copied().unwrap_or(0);
            (extra > 0).then(|| format!("{c}×{extra}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The sender's organization (else name) and address, as the PDF's return line has them.
fn return_line(settings: &str) -> String {
    let settings: toml::Table = toml::from_str(settings).unwrap();
    let Some(sender) = settings.get("sender").and_then(|s| s.as_table()) else {
        return String::new();
    };
    let text = |key: &str| sender.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let mut line = if text("organization").is_empty() {
        text("name").to_string()
    } else {
        text("organization").to_string()
    };
    match sender.get("address") {
        Some(toml::Value::Array(lines)) => {
            for l in lines.iter().filter_map(|l| l.as_str()) {
                line.push(' ');
                line.push_str(l);
            }
        }
        Some(toml::Value::String(l)) => line.push_str(l),
        _ => {}
    }
    line
}

#[test]
fn every_campaign_s_pdfs_say_the_words_of_its_text_letters() {
    for (name, test) in campaigns() {
        let ran = test.args(["render", "--format", "txt,pdf"]).run();
        let out = ran.path().join("out");
        let mut pdfs = 0;
        for entry in std::fs::read_dir(&out).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "pdf") {
                continue;
            }
            pdfs += 1;
            let txt = std::fs::read_to_string(path.with_extension("txt")).unwrap();
            let pdf_text = poppler("pdftotext", &[&path, Path::new("-")]);
            // A letter with an address block has the sender's return line above it in the window.
            let return_line = return_line(&ran.read("lettermerge.toml"));
            let mut expected = letters(&txt);
            let got = letters(&pdf_text);
            if got != expected {
                for (c, n) in letters(&return_line) {
                    *expected.entry(c).or_default() += n;
                }
            }
            assert!(
                expected == got,
                "{name}/{}: the PDF differs from the text\nmissing from the PDF: {}\nonly in the PDF: {}\n--- pdftotext:\n{pdf_text}",
                path.file_name().unwrap().to_string_lossy(),
                surplus(&expected, &got),
                surplus(&got, &expected),
            );
            let info = poppler("pdfinfo", &[&path]);
            let pages: usize = info
                .lines()
                .find_map(|l| l.strip_prefix("Pages:"))
                .and_then(|n| n.trim().parse().ok())
                .expect("pdfinfo gives the page count");
            let words = txt.split_whitespace().count();
            assert!(
                pages >= 1 && pages <= words / 150 + 2,
                "{name}: {pages} pages for {words} words"
            );
        }
        assert!(pdfs > 0, "{name}: no PDF was written");
    }
}

#[test]
fn chinese_and_korean_letters_are_set_in_cjk_fonts() {
    let ran = Test::root_campaign()
        .args([
            "render",
            "--format",
            "pdf",
            "--only",
            "cn-embassy-singapore",
            "--only",
            "cn-embassy-south-korea",
        ])
        .run();
    for (id, sample) in [
        ("cn-embassy-singapore", "强制遣返"),
        ("cn-embassy-south-korea", "강제북송"),
    ] {
        let path = ran.path().join("out").join(format!("{id}.pdf"));
        let text = poppler("pdftotext", &[&path, Path::new("-")]);
        let text: String = text.split_whitespace().collect();
        assert!(text.contains(sample), "{id}: no {sample} in\n{text}");
        let fonts = poppler("pdffonts", &[&path]);
        assert!(fonts.contains("NotoSerifCJK"), "{id}: {fonts}");
    }
}

#[test]
fn hostile_data_prints_as_written() {
    let name = r#"#import "x" *bold* _x_ $x^2$ <script> ] [ @ref // not a comment"#;
    let recipients = format!(
        "[[recipient]]\nid = \"eve\"\nname = {}\n",
        toml::Value::String(name.to_string())
    );
    let ran = Test::campaign()
        .recipients(&recipients)
        .args(["render", "--format", "pdf"])
        .run();
    let text = poppler(
        "pdftotext",
        &[&ran.path().join("out/eve.pdf"), Path::new("-")],
    );
    assert!(text.contains(name), "{name:?} not in\n{text}");
}

#[test]
fn duplex_starts_each_letter_of_the_combined_file_on_an_odd_page() {
    let recipients: String = ["ana", "ben", "cy"]
        .iter()
        .map(|id| format!("[[recipient]]\nid = \"{id}\"\nname = \"{id}\"\n\n"))
        .collect();
    let ran = Test::campaign()
        .recipients(&recipients)
        .setting("pdf", "duplex = true")
        .args(["render", "--format", "pdf", "--combined"])
        .run();
    let pages = |file: &str| -> usize {
        poppler("pdfinfo", &[&ran.path().join("out").join(file)])
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap()
    };
    assert_eq!(pages("ana.pdf"), 1);
    // Three one-page letters, each on an odd page: 1, 3, 5.
    assert_eq!(pages("letters.pdf"), 5);
    let second = poppler(
        "pdftotext",
        &[
            Path::new("-f"),
            Path::new("3"),
            Path::new("-l"),
            Path::new("3"),
            &ran.path().join("out/letters.pdf"),
            Path::new("-"),
        ],
    );
    assert!(second.contains("ben"), "{second}");
}

/// The words of a PDF with their boxes, from `pdftotext -bbox`: (page width, xMin, yMin, xMax,
/// word), in points.
fn word_boxes(pdf: &Path) -> Vec<(f64, f64, f64, f64, String)> {
    let html = poppler("pdftotext", &[Path::new("-bbox"), pdf, Path::new("-")]);
    let attribute = |line: &str, name: &str| -> f64 {
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + line[start..].find('"').unwrap();
        line[start..end].parse().unwrap()
    };
    let mut width = 0.0;
    let mut words = Vec::new();
    for line in html.lines().map(str::trim) {
        if line.starts_with("<page ") {
            width = attribute(line, "width");
        } else if line.starts_with("<word ") {
            let text =
                line[line.find('>').unwrap() + 1..line.rfind("</word>").unwrap()].to_string();
            words.push((
                width,
                attribute(line, "xMin"),
                attribute(line, "yMin"),
                attribute(line, "xMax"),
                text,
            ));
        }
    }
    words
}

#[test]
fn a_word_longer_than_its_line_breaks_inside_the_page_and_every_letter_of_it_is_there() {
    // 218 characters without a space: in an address line, the salutation and a URL.
    let long = format!("Flat12Building{}EndOfLine1234", "X".repeat(191));
    let recipients = format!(
        "[[recipient]]\nid = \"long\"\nname = \"H.E. the Ambassador\"\nsalutation = \"Dear {long}\"\naddress = [\"{long}\", \"0244 Oslo\", \"Norway\"]\n\n\
         [recipient.letter]\ndemands = [\"Release https://example.org/cases/{long} now.\"]\n"
    );
    let ran = Test::root_campaign()
        .recipients(&recipients)
        .args(["render", "--format", "pdf", "--out", "out"])
        .stderr_has("wrote 1 file for 1 letter")
        .run();
    let pdf = ran.path().join("out/long.pdf");
    // Every character, in order, of each.
    let text = poppler("pdftotext", &[&pdf, Path::new("-")]).replace('\n', "");
    assert_eq!(text.matches(long.as_str()).count(), 3, "{text}");
    // Nothing off the page, nothing past the right margin (20 mm), and the address within the
    // envelope's window (20 to 105 mm from the left, 50 to 90 mm from the top).
    let mm = 72.0 / 25.4;
    for (width, x_min, y_min, x_max, word) in word_boxes(&pdf) {
        assert!(x_min >= 19.0 * mm, "{word:?} starts at {x_min}");
        assert!(
            x_max <= width - 19.0 * mm,
            "{word:?} ends at {x_max} of {width}"
        );
        if (50.0 * mm..90.0 * mm).contains(&y_min) && x_min < 100.0 * mm {
            assert!(x_max <= 105.5 * mm, "{word:?} leaves the window at {x_max}");
        }
    }
    // The first page as an image, for review beside the CI's.
    let review = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pdf-review");
    std::fs::create_dir_all(&review).unwrap();
    poppler(
        "pdftoppm",
        &[
            Path::new("-png"),
            Path::new("-r"),
            Path::new("70"),
            Path::new("-f"),
            Path::new("1"),
            Path::new("-l"),
            Path::new("1"),
            &pdf,
            &review.join("long-line"),
        ],
    );
}
