//! The second suite: the emails of every example campaign, of the root campaign and of `init`'s
//! starter through SpamAssassin, as a recipient's mail server would score them. Built only with
//! `--features system-tests`; without `spamassassin` (Debian's package, which `.ci/run`
//! installs) the test fails, never skips.
//!
//! SpamAssassin runs on the rules its package ships, with local tests only: no DNS, no network,
//! no Bayes and no learning, so a score depends on the message alone. Each campaign is scored as
//! it is and again with every recipient's `salutation` removed, so that each template's fallback
//! greeting is scored too. One control letter opens "Dear Sir or Madam," and must be caught:
//! the rules are there and working.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{header, Test};

/// The most a letter may score; SpamAssassin calls 5.0 spam.
const LIMIT: f64 = 1.0;

/// SpamAssassin's verdict, one header per message: Message-ID, score, and each rule that hit
/// with its points.
const VERDICT: &str = "Lettermerge";

/// One email to score.
struct Email {
    /// `campaign/file.eml`, for people.
    label: String,
    path: PathBuf,
    message_id: String,
}

/// What SpamAssassin said of one email.
struct Verdict {
    score: f64,
    /// `RULE=points,…`
    rules: String,
}

#[test]
fn no_email_of_any_campaign_looks_like_spam() {
    let started = std::time::Instant::now();
    let mut rendered = Vec::new();
    let mut emails = Vec::new();
    for fallback in [false, true] {
        for (name, test) in campaigns() {
            if fallback {
                remove_salutations(&test.path());
            }
            let ran = test.args(["render", "--format", "eml"]).run();
            let name = if fallback {
                format!("{name} (no salutations)")
            } else {
                name
            };
            emails.extend(emails_in(&ran.path().join("out"), &name));
            rendered.push(ran);
        }
    }
    let control = Test::campaign()
        .template("Dear Sir or Madam,\n\nWe write to you about {{letter.subject}}.\n")
        .args(["render", "--format", "eml", "--only", "alice"])
        .run();
    emails.extend(emails_in(&control.path().join("out"), "control"));

    let verdicts = spamassassin(&emails);
    let mut over = Vec::new();
    for (email, verdict) in emails.iter().zip(&verdicts) {
        println!("{:5.1}  {}  {}", verdict.score, email.label, verdict.rules);
        if email.label.starts_with("control/") {
            assert!(
                verdict.rules.contains("DEAR_SOMETHING="),
                "SpamAssassin's rules did not catch \"Dear Sir or Madam\" in {}: {}",
                email.label,
                verdict.rules
            );
        } else if verdict.score > LIMIT {
            over.push(format!(
                "{}: {:.1} points ({})",
                email.label, verdict.score, verdict.rules
            ));
        }
    }
    println!(
        "{} emails scored in {:.1} s",
        emails.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        over.is_empty(),
        "{} of {} emails score above {LIMIT:.1} with SpamAssassin:\n{}",
        over.len(),
        emails.len() - 1,
        over.join("\n")
    );
}

/// Every campaign, each in a folder of its own: the root, `init`'s starter and `examples/*`.
fn campaigns() -> Vec<(String, Test)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = vec![
        ("root".to_string(), Test::root_campaign()),
        (
            "init".to_string(),
            Test::new().args(["init", "."]).run().again(),
        ),
    ];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("read examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("templates").is_dir())
        .collect();
    examples.sort();
    found.extend(examples.iter().map(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        (name, Test::copy_of(p))
    }));
    found
}

/// Removes `salutation` from every recipient in `recipients.toml` or `recipients.csv`.
fn remove_salutations(dir: &Path) {
    let toml_path = dir.join("recipients.toml");
    let csv_path = dir.join("recipients.csv");
    if toml_path.exists() {
        let text = std::fs::read_to_string(&toml_path).unwrap();
        let mut table: toml::Table = text.parse().expect("recipients.toml parses");
        for recipient in table["recipient"].as_array_mut().expect("[[recipient]]") {
            recipient.as_table_mut().unwrap().remove("salutation");
        }
        std::fs::write(&toml_path, toml::to_string(&table).unwrap()).unwrap();
    } else {
        let mut reader = csv::Reader::from_path(&csv_path).expect("recipients.toml or .csv");
        let headers = reader.headers().unwrap().clone();
        let keep: Vec<usize> = (0..headers.len())
            .filter(|&i| &headers[i] != "salutation")
            .collect();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let mut writer = csv::Writer::from_path(&csv_path).unwrap();
        for row in std::iter::once(&headers).chain(&rows) {
            writer.write_record(keep.iter().map(|&i| &row[i])).unwrap();
        }
        writer.flush().unwrap();
    }
}

/// The `.eml` files in `out`, sorted, labelled `campaign/file`.
fn emails_in(out: &Path, campaign: &str) -> Vec<Email> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap_or_else(|e| panic!("{campaign}: no {}: {e}", out.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{campaign} has no emails");
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            Email {
                label: format!("{campaign}/{}", path.file_name().unwrap().to_string_lossy()),
                message_id: header(&text, "Message-ID").expect("a Message-ID"),
                path,
            }
        })
        .collect()
}

/// Scores every email, a share of them in each of two SpamAssassin processes (it takes a
/// second to start, then a tenth of a second a message).
fn spamassassin(emails: &[Email]) -> Vec<Verdict> {
    let share = emails.len().div_ceil(2);
    std::thread::scope(|scope| {
        let runs: Vec<_> = emails
            .chunks(share)
            .map(|chunk| scope.spawn(|| spamassassin_one_process(chunk)))
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn spamassassin_one_process(emails: &[Email]) -> Vec<Verdict> {
    // Its own home, so that no user's preferences are read and nothing is written to them.
    let home = tempfile::tempdir().unwrap();
    let output = Command::new("spamassassin")
        .args([
            "--local",
            "--nocreate-prefs",
            "--cf=use_bayes 0",
            "--cf=bayes_auto_learn 0",
            &format!("--cf=add_header all {VERDICT} _HEADER(Message-ID)_ _SCORE_ _TESTSSCORES(,)_"),
        ])
        .args(emails.iter().map(|e| &e.path))
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run spamassassin ({e}): the second suite needs it \
                 (.ci/run installs it: apt-get install spamassassin)"
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "spamassassin failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let verdicts = verdicts(&stdout);
    assert_eq!(
        verdicts.len(),
        emails.len(),
        "spamassassin scored {} of {} emails:\n{stderr}",
        verdicts.len(),
        emails.len()
    );
    // SpamAssassin writes the messages back in the order given: each verdict names its letter.
    emails
        .iter()
        .zip(verdicts)
        .map(|(email, (message_id, verdict))| {
            assert_eq!(
                message_id, email.message_id,
                "{}: out of order",
                email.label
            );
            verdict
        })
        .collect()
}

/// `(Message-ID, verdict)` from each X-Spam-Lettermerge header in SpamAssassin's output, in order.
fn verdicts(output: &str) -> Vec<(String, Verdict)> {
    let name = format!("X-Spam-{VERDICT}:");
    let mut lines = output.lines().peekable();
    let mut found = Vec::new();
    while let Some(line) = lines.next() {
        let Some(value) = line.strip_prefix(name.as_str()) else {
            continue;
        };
        let mut value = value.trim().to_string();
        while let Some(folded) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
            value.push(' ');
            value.push_str(folded.trim());
        }
        let mut words = value.split_whitespace();
        let message_id = words.next().unwrap_or_default().to_string();
        let score = words
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no score in {name} {value}"));
        let rules = words.collect::<Vec<_>>().join("");
        found.push((message_id, Verdict { score, rules }));
    }
    found
}
