//! Absurd input (issue 22, item 6): a name or value of a million characters, as a TOML key, a
//! CSV header, a value or a template line. `check` stays quick (the preview runs it on every
//! save), and what it prints quotes such a name cut short, with its length, and shows a window
//! of such a line under an error: never the megabyte itself.

mod common;

use std::time::{Duration, Instant};

use common::{Ran, Test};

/// A million characters, and how the messages count them.
const SIZE: usize = 1 << 20;
/// A template line as long as a letter may be (a merged letter stops past 1 MB).
const LINE: usize = 900 * 1024;
const COUNTED: &str = "(1,048,576 characters)";

/// Far more than `check` needs for a megabyte, even in a debug build; far less than the minute
/// the typo hint took before.
const QUICK: Duration = Duration::from_secs(10);

/// What a message shows of a cut name: its first 40 characters and an ellipsis.
fn cut(c: char) -> String {
    format!("{}…", c.to_string().repeat(40))
}

/// Runs `check`, and asserts it was quick and printed a few lines, not the megabyte.
fn check(test: Test, status: i32) -> Ran {
    let started = Instant::now();
    let ran = test.args(["check"]).status(status).run();
    let took = started.elapsed();
    assert!(took < QUICK, "check took {took:?}\n{}", ran.report());
    assert!(
        ran.stderr.len() < 4_000,
        "check printed {} bytes:\n{}",
        ran.stderr.len(),
        &ran.stderr[..ran.stderr.len().min(2_000)]
    );
    ran
}

#[test]
fn a_megabyte_toml_key_is_checked_quickly_and_named_cut_short() {
    let key = "a".repeat(SIZE);
    let ran = check(
        Test::campaign().recipients(&format!(
            "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\n{key} = \"x\"\n"
        )),
        0,
    );
    let expected = format!(
        "warning: field `{}` {COUNTED} (1 recipient) is not used",
        cut('a')
    );
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
    // Its place is its real one, past the megabyte; the snippet is a window of the line.
    assert!(
        ran.stderr.contains(&format!(":4:{}", SIZE + 4)),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(&format!("…{} = \"x\"", "a".repeat(37))),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_megabyte_csv_header_is_checked_quickly_and_named_cut_short() {
    let header = "b".repeat(SIZE);
    let ran = check(
        Test::campaign()
            .file(
                "recipients.csv",
                &format!("id,name,{header}\nalice,Alice,x\nbob,Bob,y\n"),
            )
            .setting("campaign", "recipients = \"recipients.csv\""),
        0,
    );
    let expected = format!(
        "warning: field `{}` {COUNTED} (2 recipients) is not used",
        cut('b')
    );
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
}

#[test]
fn a_megabyte_key_one_edit_from_a_megabyte_template_word_is_checked_quickly() {
    // The typo hint compares the two: within two edits of each other, in a few milliseconds.
    let word = "c".repeat(LINE);
    let ran = check(
        Test::campaign()
            .template(&format!("Dear {{{{recipient.name}}}}, {word}\n"))
            .recipients(&format!(
                "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\n{word}d = \"x\"\n"
            )),
        0,
    );
    let expected = format!("did you mean `{}` (921,600 characters)?", cut('c'));
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("field `{}` (921,601 characters)", cut('c'))),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_syntax_error_past_a_megabyte_on_its_line_shows_a_window_at_its_real_column() {
    let ran = check(
        Test::campaign().recipients(&format!(
            "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\nnote = \"{}\" junk\n",
            "d".repeat(SIZE)
        )),
        1,
    );
    let column: usize = ran
        .stderr
        .split_once(":4:")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no place on line 4:\n{}", ran.stderr));
    assert!(
        (SIZE + 9..=SIZE + 12).contains(&column),
        "column {column}\n{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains(&format!("│ …{}\" junk\n", "d".repeat(38))),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_megabyte_email_value_is_quoted_cut_with_a_window_under_it() {
    let email = format!("{}@example.org", "d".repeat(SIZE));
    let ran = check(
        Test::campaign().recipients(&format!(
            "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\nemail = \"{email}\"\n"
        )),
        1,
    );
    let expected = format!(
        "error: \"{}\" (1,048,588 characters) is not a valid email address",
        cut('d')
    );
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
    assert!(ran.stderr.contains(":4:9"), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("│ email = \"{}…\n", "d".repeat(111))),
        "{}",
        ran.stderr
    );
}

#[test]
fn megabyte_values_of_short_words_are_cut_in_their_messages() {
    // No word is long, but the value is: its message is cut all the same.
    let words = "word ".repeat(SIZE / 5);
    let ran = check(
        Test::campaign().recipients(&format!(
            "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\nemail = \"alice@example.org\"\n\
             timezone = \"{words}\"\nlanguage = \"{words}\"\n"
        )),
        1,
    );
    for message in ["is not a time zone", "is not a language tag"] {
        assert!(
            ran.stderr.contains(&format!(
                "{}…\" (1,048,575 characters) {message}",
                "word ".repeat(8)
            )),
            "{message}:\n{}",
            ran.stderr
        );
    }
}

#[test]
fn a_missing_slot_at_the_end_of_a_megabyte_template_line_shows_a_window() {
    let line = format!("{} {{{{recipient.missing}}}}\n", "e".repeat(LINE));
    let ran = check(Test::campaign().template(&line), 1);
    assert!(
        ran.stderr.contains("`recipient.missing` is missing"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(&format!(":1:{}", LINE + 2)),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains(&format!("…{} {{{{recipient.missing}}}}", "e".repeat(39))),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_megabyte_recipient_id_gets_a_hint_without_it() {
    let id = "F".repeat(SIZE);
    let ran = check(
        Test::campaign().recipients(&format!("[[recipient]]\nid = \"{id}\"\nname = \"Alice\"\n")),
        1,
    );
    assert!(
        ran.stderr.contains(&format!(
            "recipient id \"{}\" {COUNTED} is not valid",
            cut('F')
        )),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("write a shorter id"), "{}", ran.stderr);
}
